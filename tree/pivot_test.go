package tree

import (
	"context"
	"testing"

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
// equal brute force bit for bit.
func TestPivotWalk(t *testing.T) {
	defer forcePivots(2, 1)()
	pivotAnswers(t)
}

func pivotAnswers(t *testing.T) {
	const n, d = 300, 2
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
					got, _, err := tr.AllKNN(context.Background(), KNNOptions{K: 7, Predecessor: pred, Pool: pool, QueryBlock: qb})
					if err != nil {
						t.Fatal(err)
					}
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
			got, _, err := tr.KNN(context.Background(), qs, KNNOptions{K: 5, QueryBlock: 32, Pool: pool})
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatalf("query set: %s", firstDiff(got, want))
			}
		})
	}
}

// TestPivotSkips: on the Vecchia job's metric (d = 2, lengthscale 0.1),
// where a tree's first level is much wider than one query's reach, the
// default pivots rule out most query-node pairs of the first level, the
// walk computes fewer distances than the dense first level, and the
// answers are brute force's.
func TestPivotSkips(t *testing.T) {
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
	if !got.Equal(want) || !dense.Equal(want) {
		t.Fatalf("pivots: %s; dense: %s", firstDiff(got, want), firstDiff(dense, want))
	}
}
