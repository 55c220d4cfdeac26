package tree

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// forcePivots sets the sizes that choose the first level's pivot walk
// (small ones make small trees take it) until the returned function
// restores them.
func forcePivots(queries, nodes int) func() {
	q, n := pivotQueries, pivotNodes
	pivotQueries, pivotNodes = queries, nodes
	return func() { pivotQueries, pivotNodes = q, n }
}

// TestPivotWalk: with the pivot walk forced on every group (first levels
// of any size, a pivot per two queries), the tree's answers on every data
// set and metric (all points, predecessors, query sets, 1 and 4 workers)
// equal brute force bit for bit, and the pivots skip pairs in both kinds
// of search.
func TestPivotWalk(t *testing.T) {
	defer forcePivots(2, 1)()
	const n, d = 300, 2
	var skippedAll, skippedSet int64
	pool := streamer.NewPool(4)
	defer pool.Close()
	xq := uniformPoints(150, d, 98)
	for i := range xq {
		xq[i] = 1.6*xq[i] - 0.3
	}
	for _, c := range treeCases(t, n, d) {
		t.Run(c.name, func(t *testing.T) {
			tr := buildOrFail(t, c.m, Options{Workers: 1})
			for _, pred := range []bool{false, true} {
				want, err := BruteAllKNN(context.Background(), c.m, KNNOptions{K: 7, Predecessor: pred, Workers: 1})
				if err != nil {
					t.Fatal(err)
				}
				for _, qb := range []int{16, 64} {
					got, st, err := tr.AllKNN(context.Background(), KNNOptions{K: 7, Predecessor: pred, Pool: pool, QueryBlock: qb})
					if err != nil {
						t.Fatal(err)
					}
					skippedAll += st.PivotSkipped
					if !got.Equal(want) {
						t.Fatalf("pred=%v block %d: %s", pred, qb, firstDiff(got, want))
					}
				}
			}
			qs, err := c.m.Embed(context.Background(), xq, 150)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := BruteKNN(context.Background(), c.m, qs, KNNOptions{K: 5})
			got, st, err := tr.KNN(context.Background(), qs, KNNOptions{K: 5, QueryBlock: 32, Pool: pool})
			if err != nil {
				t.Fatal(err)
			}
			skippedSet += st.PivotSkipped
			if !got.Equal(want) {
				t.Fatalf("query set: %s", firstDiff(got, want))
			}
		})
	}
	if skippedAll == 0 || skippedSet == 0 {
		t.Errorf("pivots skipped %d pairs for the data's points and %d for query sets: the walk did not run", skippedAll, skippedSet)
	}
}

// TestPivotSkips: on the Vecchia job's metric (d = 2, lengthscale 0.1),
// where a tree's first level is much wider than one query's reach, the
// default pivots rule out most query-node pairs of the first level, the
// walk computes fewer distances than the dense first level, and the
// answers are brute force's.
func TestPivotSkips(t *testing.T) {
	if raceDetector {
		t.Skip("distance counts; TestPivotWalk runs the pivot walk on several workers under -race")
	}
	n := 20000
	if testing.Short() {
		n = 8000
	}
	x := uniformPoints(n, 2, 11)
	m, err := metric.NewResidual(context.Background(), x, n, 2, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 128, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	tr := buildOrFail(t, m, Options{})
	opt := KNNOptions{K: 10, Predecessor: true, Workers: 2}
	got, st, err := tr.AllKNN(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	restore := forcePivots(pivotQueries, 1<<30)
	dense, sd, err := tr.AllKNN(context.Background(), opt)
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if sd.PivotSkipped != 0 {
		t.Errorf("pivots off: %d pairs skipped", sd.PivotSkipped)
	}
	if st.PivotSkipped == 0 || st.Distances >= sd.Distances {
		t.Errorf("pivots skipped %d first-level pairs, distances %d against %d without", st.PivotSkipped, st.Distances, sd.Distances)
	}
	t.Logf("n = %d: %d first-level pairs skipped; distances %d with pivots, %d without", n, st.PivotSkipped, st.Distances, sd.Distances)
	want, err := BruteAllKNN(context.Background(), m, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Fatalf("pivots: %s", firstDiff(got, want))
	}
	if !dense.Equal(want) {
		t.Fatalf("dense first level: %s", firstDiff(dense, want))
	}
	// Through the search entry point (auto walks a sample of the groups
	// first, then the rest): the same answers and every skip counted.
	for _, s := range []Search{SearchAuto, SearchTree} {
		nb, rep, err := AllKNNSearch(context.Background(), m, opt, s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !nb.Equal(want) {
			t.Fatalf("%v: %s", s, firstDiff(nb, want))
		}
		if rep.Method != SearchTree || rep.Query.PivotSkipped != st.PivotSkipped || rep.Query.Distances != st.Distances {
			t.Errorf("%v: method %v, %d pairs skipped and %d distances, want the tree's %d and %d", s, rep.Method, rep.Query.PivotSkipped, rep.Query.Distances, st.PivotSkipped, st.Distances)
		}
	}
}

// TestKeepFor: a block keeps node j when some query's window around its
// pivot distance, |d(p, z) - d(q, p)| <= kth + rad, can hold it, and keeps
// everything a NaN or an empty row (k-th distance +Inf) leaves undecided.
func TestKeepFor(t *testing.T) {
	tr := &Tree{}
	qw := &queryWorker{}
	pv := &qw.piv
	pv.first = []int32{10, 11, 12, 13, 14}
	pv.rad = []float64{0.1, 0.1, 0.1, 0.1, 0.1}
	// Two pivots (queries 0 and 1) and their rows against the nodes.
	pv.idx = []int{0, 1}
	pv.prows = []float64{
		0.17, 0.5, 0.9, 1.0, math.NaN(), // pivot 0
		1.0, 1.0, 0.3, 0.6, 1.0, // pivot 1
	}
	g := &group{qids: []int32{0, 1, 2, 3}, rows: []int32{0, 1, 2, 3}}
	best := kernels.NewKBest(4, 1)
	for i, kth := range []float64{0.05, 0.05, 0.1, 0.05} {
		best.Push(i, 99, kth)
	}
	pv.near = []int{0, 1, 0, 1}
	// dq[i*np+p]: query 2 at 0.4 from pivot 0, query 3 at 0.1 from pivot 1.
	pv.dq = []float64{0, 1, 1, 0, 0.4, 1, 1, 0.1}
	cases := []struct {
		name  string
		block []int
		want  []int
	}{
		// Pivot 0 alone: window [-0.05, 0.05] widened by 0.1: node 0
		// (0.17) is out, the NaN column is kept.
		{"pivot 0", []int{0}, []int{4}},
		// Query 2 (pivot 0): [0.3, 0.5] +- 0.1: nodes 1 (0.5) and the NaN.
		{"query 2", []int{2}, []int{1, 4}},
		// Queries 0 and 2 share pivot 0: the hull [-0.05, 0.5] +- 0.1
		// keeps node 0 too.
		{"pivot 0 and query 2", []int{0, 2}, []int{0, 1, 4}},
		// Query 3 (pivot 1): [0.05, 0.15] +- 0.1 keeps nothing of pivot
		// 1's row (0.3 is 0.05 too far); with pivot 1 itself the same.
		{"pivot 1 and query 3", []int{3, 1}, nil},
	}
	for _, c := range cases {
		got := tr.keepFor(qw, g, best, c.block)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: kept %v, want %v", c.name, got, c.want)
		}
	}
	// An empty row (k-th distance +Inf) and a NaN distance to the pivot
	// keep every column.
	best.ResetRow(3)
	if got := tr.keepFor(qw, g, best, []int{3}); len(got) != 5 {
		t.Errorf("empty row: kept %v, want all", got)
	}
	best.Push(3, 99, 0.05)
	pv.dq[7] = math.NaN()
	if got := tr.keepFor(qw, g, best, []int{3}); len(got) != 5 {
		t.Errorf("NaN d(q, p): kept %v, want all", got)
	}
}
