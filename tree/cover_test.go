package tree

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest/every"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// treeCase is a data set and a metric over it.
type treeCase struct {
	name string
	m    metric.Metric
}

// shapes returns the test data sets of dimension d: uniform, clustered,
// points on a line, many duplicates, all points equal.
func shapes(n, d int, seed uint64) map[string][]float64 {
	r := rand.New(rand.NewPCG(seed, 7))
	out := map[string][]float64{}
	out["uniform"] = uniformPoints(n, d, seed)
	cl := make([]float64, n*d)
	centres := uniformPoints(5, d, seed+1)
	for i := range n {
		c := r.IntN(5)
		for k := range d {
			cl[i*d+k] = centres[c*d+k] + 0.02*r.NormFloat64()
		}
	}
	out["clustered"] = cl
	line := make([]float64, n*d)
	for i := range n {
		tt := r.Float64()
		for k := range d {
			line[i*d+k] = tt * float64(k+1)
		}
	}
	out["line"] = line
	dup := uniformPoints(n, d, seed+2)
	for i := range n {
		j := r.IntN(max(1, n/10))
		copy(dup[i*d:(i+1)*d], dup[j*d:(j+1)*d])
	}
	out["duplicates"] = dup
	eq := make([]float64, n*d)
	for i := range eq {
		eq[i] = 0.25
	}
	out["all-equal"] = eq
	return out
}

func treeCases(t *testing.T, n, d int) []treeCase {
	t.Helper()
	var cases []treeCase
	ls := make([]float64, d)
	for k := range ls {
		ls[k] = 0.1 * float64(k+1)
	}
	names := []string{"uniform", "clustered", "line", "duplicates", "all-equal"}
	configs := []struct {
		what string
		cfg  metric.ResidualConfig
	}{
		{"rbf-l0.1", metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: min(40, n), Seed: 3}},
		{"matern-perdim", metric.ResidualConfig{Kernel: metric.Matern52, Lengthscale: ls, Inducing: min(30, n), Seed: 3}},
		{"rbf-l1e-3", metric.ResidualConfig{Lengthscale: []float64{1e-3}, Inducing: min(20, n), Seed: 3}},
		{"rbf-l100", metric.ResidualConfig{Lengthscale: []float64{100}, Inducing: min(20, n), Seed: 3}},
	}
	if raceDetector { // concurrency, not every data set: see race_test.go
		names, configs = []string{"uniform", "duplicates"}, configs[:2]
	}
	for _, name := range names {
		x := shapes(n, d, 5)[name]
		for _, c := range configs {
			m, err := metric.NewResidual(context.Background(), x, n, d, c.cfg)
			if err != nil {
				t.Fatalf("%s %s: %v", name, c.what, err)
			}
			cases = append(cases, treeCase{name + "/" + c.what, m})
		}
		e, err := metric.NewEuclidean(x, n, d)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, treeCase{name + "/euclidean", e})
	}
	return cases
}

func buildOrFail(t *testing.T, m metric.Metric, opt Options) *Tree {
	t.Helper()
	tr, err := Build(context.Background(), m, opt)
	if err != nil {
		t.Fatal(err)
	}
	if errs := tr.Check(); len(errs) > 0 {
		t.Fatalf("Check: %d violations, first %v", len(errs), errs)
	}
	return tr
}

// sameTree reports the first difference between two trees' arrays.
func sameTree(a, b *Tree) error {
	switch {
	case !slices.Equal(a.level, b.level):
		return fmt.Errorf("levels differ")
	case !slices.Equal(a.parent, b.parent):
		return fmt.Errorf("parents differ")
	case !slices.Equal(a.radius, b.radius) || !slices.Equal(a.dparent, b.dparent) || !slices.Equal(a.reach, b.reach):
		return fmt.Errorf("distances differ")
	case !slices.Equal(a.child, b.child) || !slices.Equal(a.childOff, b.childOff):
		return fmt.Errorf("children differ")
	case !slices.Equal(a.order, b.order) || !slices.Equal(a.minDesc, b.minDesc) || !slices.Equal(a.scale, b.scale):
		return fmt.Errorf("order, minDesc or scale differ")
	}
	return nil
}

// TestTreeAgainstBrute: on every data set and metric the tree is sound,
// the same for 1, 2, 4 and 16 workers, and its k-NN answers (all points,
// predecessor, a query set) equal brute force bit for bit.
func TestTreeAgainstBrute(t *testing.T) {
	const n, d = 300, 2
	pools := map[int]*streamer.Pool{}
	for _, w := range []int{1, 2, 4, 16} {
		pools[w] = streamer.NewPool(w)
		defer pools[w].Close()
	}
	xq := uniformPoints(37, d, 99)
	for _, c := range treeCases(t, n, d) {
		t.Run(c.name, func(t *testing.T) {
			tr := buildOrFail(t, c.m, Options{Pool: pools[1]})
			for _, w := range []int{2, 4, 16} {
				other := buildOrFail(t, c.m, Options{Pool: pools[w], NetBatch: 8})
				if err := sameTree(tr, other); err != nil {
					// NetBatch changes tiles, not the greedy choice.
					t.Fatalf("workers %d, batch 8: %v", w, err)
				}
			}
			for _, k := range []int{1, 7} {
				for _, pred := range []bool{false, true} {
					want, err := BruteAllKNN(context.Background(), c.m, KNNOptions{K: k, Predecessor: pred, Workers: 1})
					if err != nil {
						t.Fatal(err)
					}
					for _, w := range []int{1, 4} {
						got, _, err := tr.AllKNN(context.Background(), KNNOptions{K: k, Predecessor: pred, Pool: pools[w], QueryBlock: 16})
						if err != nil {
							t.Fatal(err)
						}
						if !got.Equal(want) {
							t.Fatalf("k=%d pred=%v workers=%d: %s", k, pred, w, firstDiff(got, want))
						}
					}
				}
			}
			qs, err := c.m.Embed(context.Background(), xq, 37)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := BruteKNN(context.Background(), c.m, qs, KNNOptions{K: 5})
			got, _, err := tr.KNN(context.Background(), qs, KNNOptions{K: 5, QueryBlock: 8})
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatalf("query set: %s", firstDiff(got, want))
			}
			// More queries than a group, partly outside the data's
			// bounding box (their seeds come from its clamped grid).
			wide := uniformPoints(150, d, 98)
			for i := range wide {
				wide[i] = 1.6*wide[i] - 0.3
			}
			qw, err := c.m.Embed(context.Background(), wide, 150)
			if err != nil {
				t.Fatal(err)
			}
			want, _ = BruteKNN(context.Background(), c.m, qw, KNNOptions{K: 7})
			for _, qb := range []int{8, 0} {
				got, _, err = tr.KNN(context.Background(), qw, KNNOptions{K: 7, QueryBlock: qb, Pool: pools[4]})
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(want) {
					t.Fatalf("wide query set, block %d: %s", qb, firstDiff(got, want))
				}
			}
		})
	}
}

func firstDiff(got, want *Neighbours) string {
	for i := 0; i < want.N(); i++ {
		gi, gd := got.Row(i)
		wi, wd := want.Row(i)
		if !slices.Equal(gi, wi) || !slices.Equal(gd, wd) {
			return fmt.Sprintf("row %d = %v %v, want %v %v", i, gi, gd, wi, wd)
		}
	}
	return "shapes differ"
}

// TestTreeEveryImpl: the tree is sound and exact under each kernel
// implementation (d = 3, residual and Euclidean).
func TestTreeEveryImpl(t *testing.T) {
	every.Impl(t, func(t *testing.T) {
		for _, m := range testMetrics(t, 400, 3) {
			tr := buildOrFail(t, m, Options{Workers: 2})
			for _, pred := range []bool{false, true} {
				want, _ := BruteAllKNN(context.Background(), m, KNNOptions{K: 6, Predecessor: pred})
				got, _, err := tr.AllKNN(context.Background(), KNNOptions{K: 6, Predecessor: pred})
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(want) {
					t.Fatalf("%s pred=%v: %s", m.Name(), pred, firstDiff(got, want))
				}
			}
		}
	})
}

// TestTreeSmall: n <= k and tiny trees pad like brute force.
func TestTreeSmall(t *testing.T) {
	for _, n := range []int{1, 2, 3, 9} {
		x := uniformPoints(n, 2, uint64(n))
		e, _ := metric.NewEuclidean(x, n, 2)
		r, err := metric.NewResidual(context.Background(), x, n, 2, metric.ResidualConfig{Lengthscale: []float64{0.3}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []metric.Metric{e, r} {
			tr := buildOrFail(t, m, Options{})
			for _, pred := range []bool{false, true} {
				want, _ := BruteAllKNN(context.Background(), m, KNNOptions{K: 10, Predecessor: pred})
				got, _, err := tr.AllKNN(context.Background(), KNNOptions{K: 10, Predecessor: pred})
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(want) {
					t.Fatalf("n=%d %s pred=%v: %s", n, m.Name(), pred, firstDiff(got, want))
				}
			}
		}
	}
}

// TestTreeLarge exercises the build's parallel net steps (subtrees above
// bigItem points, lowered to 2048 here) and the query groups at a size
// where the tree prunes: the tree is sound, the same for 1 and 4 workers,
// and exact.
func TestTreeLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	defer func(v int) { bigItem = v }(bigItem)
	bigItem = 2048
	const n, d = 6000, 2
	x := uniformPoints(n, d, 12)
	m, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{0.05}, Inducing: 64, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	one := buildOrFail(t, m, Options{Workers: 1})
	four := buildOrFail(t, m, Options{Workers: 4})
	if err := sameTree(one, four); err != nil {
		t.Fatalf("1 and 4 workers: %v", err)
	}
	if one.Stats.Distances >= int64(n)*int64(n)/4 {
		t.Fatalf("the build computed %d distances: no pruning structure found", one.Stats.Distances)
	}
	for _, pred := range []bool{false, true} {
		want, _ := BruteAllKNN(context.Background(), m, KNNOptions{K: 10, Predecessor: pred})
		got, st, err := four.AllKNN(context.Background(), KNNOptions{K: 10, Predecessor: pred, Workers: 3})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("pred=%v: %s", pred, firstDiff(got, want))
		}
		if st.Distances >= int64(n)*int64(n)/2 {
			t.Errorf("pred=%v: the walk computed %d distances, brute force %d", pred, st.Distances, n*n/2)
		}
		// On the Euclidean metric of the same points auto takes the k-d
		// tree; with the points in 17 dimensions (the rest 0: beyond the
		// k-d tree's) it keeps the cover tree, with the answers of the
		// groups its sample walked.
		const d17 = kdAutoMaxDim + 1
		x17 := make([]float64, n*d17)
		for i := range n {
			copy(x17[i*d17:], x[i*d:(i+1)*d])
		}
		for _, e := range []metric.Metric{must(metric.NewEuclidean(x, n, d)), must(metric.NewEuclidean(x17, n, d17))} {
			eWant, _ := BruteAllKNN(context.Background(), e, KNNOptions{K: 10, Predecessor: pred})
			auto, rep, err := AllKNNSearch(context.Background(), e, KNNOptions{K: 10, Predecessor: pred}, SearchAuto, Options{})
			if err != nil {
				t.Fatal(err)
			}
			switch e.Data().D {
			case d:
				if rep.Method != SearchKD {
					t.Fatalf("pred=%v d=%d: auto chose %v: %+v", pred, d, rep.Method, rep)
				}
			default:
				if rep.Method != SearchTree || rep.SampleFraction <= 0 || rep.Query.Groups != len(coherentGroups(e.Data(), treeGroup, pred)) {
					t.Fatalf("pred=%v d=%d: auto chose %v: %+v", pred, d17, rep.Method, rep)
				}
			}
			if !auto.Equal(eWant) {
				t.Fatalf("pred=%v d=%d auto: %s", pred, e.Data().D, firstDiff(auto, eWant))
			}
		}
	}
}

// must returns v, panicking on err (test set-up that cannot fail).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
