package tree

import (
	"context"
	"strings"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// boundMetrics: the screening cases' residual metrics (no float32 copy:
// the pivot bound needs none) and Euclidean uniform, clustered and
// duplicated points.
func boundMetrics(t *testing.T) []metric.Metric {
	var out []metric.Metric
	for _, c := range screenCases() {
		n := min(c.n, 500)
		m, err := metric.NewResidual(context.Background(), c.x[:n*c.d], n, c.d, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	sh := shapes(500, 2, 6)
	for _, x := range [][]float64{uniformPoints(500, 2, 3), sh["clustered"], sh["duplicates"]} {
		e, err := metric.NewEuclidean(x, len(x)/2, 2)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// TestBoundExact: with the pivot bound forced on, brute force (predecessor
// mode, all points, a query set) and the cover tree's queries give the
// unscreened answer bit for bit, for both metrics; on uniform 2-d
// Euclidean points the bound drops most pairs. (The bounds themselves are
// checked under every implementation in kernels/metric's TestPivotBound;
// the gate's logic does not depend on the implementation.)
func TestBoundExact(t *testing.T) {
	screenAlways = true
	defer func() { screenAlways = false }()
	ctx := context.Background()
	for mi, m := range boundMetrics(t) {
		name := m.Name() + "-" + string(rune('a'+mi))
		qs, err := m.Embed(ctx, uniformPoints(50, m.Data().D, 11), 50)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := Build(ctx, m, Options{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{1, 8} {
			for _, pred := range []bool{true, false} {
				opt := KNNOptions{K: k, Predecessor: pred, Workers: 2, QueryBlock: 16, CandidateBlock: 64}
				want, err := BruteAllKNN(ctx, m, opt)
				if err != nil {
					t.Fatal(err)
				}
				var st ScreenStats
				bopt := opt
				bopt.Gate, bopt.ScreenStats = GateBound, &st
				got, err := BruteAllKNN(ctx, m, bopt)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(want) {
					t.Fatalf("%s k=%d pred=%v brute force: %s", name, k, pred, firstDiff(got, want))
				}
				if st.Screened == 0 {
					t.Fatalf("%s k=%d pred=%v: nothing screened", name, k, pred)
				}
				if mi == len(screenCases()) && st.Decided() < 0.5 {
					t.Fatalf("%s k=%d pred=%v: the bound decided %.2f of %d pairs", name, k, pred, st.Decided(), st.Screened)
				}
				var ts ScreenStats
				bopt.ScreenStats = &ts
				gotT, _, err := tr.AllKNN(ctx, bopt)
				if err != nil {
					t.Fatal(err)
				}
				if !gotT.Equal(want) || ts.Screened == 0 {
					t.Fatalf("%s k=%d pred=%v tree (%d screened): %s", name, k, pred, ts.Screened, firstDiff(gotT, want))
				}
			}
			qopt := KNNOptions{K: k, QueryBlock: 8, CandidateBlock: 100}
			want, err := BruteKNN(ctx, m, qs, qopt)
			if err != nil {
				t.Fatal(err)
			}
			qopt.Gate = GateBound
			got, err := BruteKNN(ctx, m, qs, qopt)
			if err != nil {
				t.Fatal(err)
			}
			gotT, _, err := tr.KNN(ctx, qs, qopt)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) || !gotT.Equal(want) {
				t.Fatalf("%s k=%d query set: brute %s; tree %s", name, k, firstDiff(got, want), firstDiff(gotT, want))
			}
		}
	}
}

// TestBoundProbe: left to itself the bound stays off where the distance
// is cheaper than the bound (Euclidean in the plane) and where its probe
// finds most pairs undecidable (structureless residual data, m = 256), and
// runs on well-separated clusters in 40 dimensions; the answers never
// change. The k-d tree refuses the gate, and auto leaves the k-d tree to
// jobs without one.
func TestBoundProbe(t *testing.T) {
	ctx := context.Background()
	euc, err := metric.NewEuclidean(uniformPoints(900, 2, 3), 900, 2)
	if err != nil {
		t.Fatal(err)
	}
	res, err := metric.NewResidual(ctx, uniformPoints(1200, 8, 1), 1200, 8, metric.ResidualConfig{Lengthscale: []float64{1}, Inducing: 256, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	const n, d = 1000, 40
	x := uniformPoints(n, d, 4)
	centres := uniformPoints(25, d, 5)
	for i := range n {
		for k := range d {
			x[i*d+k] = 10*centres[(i%25)*d+k] + 0.01*x[i*d+k]
		}
	}
	clu, err := metric.NewEuclidean(x, n, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name        string
		m           metric.Metric
		cheap, used bool
	}{{"euclid-plane", euc, true, false}, {"residual-d8", res, false, false}, {"clusters-d40", clu, false, true}} {
		opt := KNNOptions{K: 8, Predecessor: true, Workers: 2}
		want, _ := BruteAllKNN(ctx, c.m, opt)
		var st ScreenStats
		opt.Gate, opt.ScreenStats = GateBound, &st
		got, err := BruteAllKNN(ctx, c.m, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) || st.Cheap != c.cheap || (st.Screened > 0) != c.used || (!c.cheap && st.Probe == 0) {
			t.Fatalf("%s: stats %+v, %s", c.name, st, firstDiff(got, want))
		}
		if c.used && st.Decided() < 0.9 {
			t.Fatalf("%s: the bound decided %.3f", c.name, st.Decided())
		}
	}
	opt := KNNOptions{K: 4, Gate: GateBound}
	if _, _, err := AllKNNSearch(ctx, euc, opt, SearchKD, Options{}); err == nil || !strings.Contains(err.Error(), "k-d tree") {
		t.Fatalf("k-d tree with the bound gate: %v", err)
	}
	_, rep, err := AllKNNSearch(ctx, euc, opt, SearchAuto, Options{})
	if err != nil || rep.Method == SearchKD {
		t.Fatalf("auto with the bound gate: %v, %v", rep.Method, err)
	}
	if g, err := ParseGate("bound"); err != nil || g != GateBound || g.String() != "bound" {
		t.Fatalf("ParseGate(bound) = %v, %v", g, err)
	}
}
