package metric

import (
	"context"
	"math"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest/every"
)

// TestPivotBound: the pivot bounds hold for every pair of the data and of
// a bound query set (residual with tiny p and duplicates, Euclidean), are
// tight for pairs with a pivot (within twice the slack of the distance),
// and the screens keep every pair within a row's (or a column's) radius.
func TestPivotBound(t *testing.T) {
	every.Impl(t, func(t *testing.T) {
		ctx := context.Background()
		x := randPoints(300, 3, 7, 1)
		copy(x[30:60], x[:30]) // duplicates
		res, err := NewResidual(ctx, x, 300, 3, ResidualConfig{Lengthscale: []float64{0.3}, Inducing: 40, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		euc, err := NewEuclidean(x, 300, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []Metric{res, euc} {
			pb, err := NewPivotBound(ctx, m, 0, 5, goRunner{2})
			if err != nil {
				t.Fatal(err)
			}
			if len(pb.Pivots()) != DefaultPivots {
				t.Fatalf("%s: %d pivots", m.Name(), len(pb.Pivots()))
			}
			qs, err := m.Embed(ctx, randPoints(40, 3, 9, 1.2), 40)
			if err != nil {
				t.Fatal(err)
			}
			if pb.CanScreen(qs, m.Data()) {
				t.Fatalf("%s: screens a query set before Bind", m.Name())
			}
			if err := pb.Bind(ctx, qs, nil); err != nil {
				t.Fatal(err)
			}
			data := m.Data()
			packed := Pack(data, List([]int32{5, 299, 0, 31}))
			for _, s := range []*Set{data, qs, packed} {
				checkPivotTile(t, m, pb, s)
			}
		}
	})
}

// checkPivotTile checks the bounds of every pair of qs and the data, and
// ScreenRows and ScreenBoth against the exact distances.
func checkPivotTile(t *testing.T, m Metric, pb *PivotBound, qs *Set) {
	t.Helper()
	data := m.Data()
	w := NewWorkspace()
	nq, nc := qs.N, data.N
	d := make([]float64, nq*nc)
	m.Tile(w, d, nc, qs, Range(0, nq), data, Range(0, nc))
	lo2 := make([]float64, nq*nc)
	pb.ScreenTile(w, lo2, nc, qs, Range(0, nq), data, Range(0, nc))
	isPivot := map[int]bool{}
	for _, p := range pb.Pivots() {
		isPivot[int(p)] = true
	}
	kth2 := make([]float64, nq)
	for i := range nq {
		kth2[i] = 0.2 * 0.2 * float64(i%3)
	}
	ckth2 := make([]float64, nc)
	for j := range nc {
		ckth2[j] = 0.1 * 0.1 * float64(j%2)
	}
	var rows, both ScreenHits
	pb.ScreenRows(w, qs, Range(0, nq), data, Range(0, nc), kth2, nil, &rows)
	pb.ScreenBoth(w, qs, Range(0, nq), data, Range(0, nc), kth2, ckth2, &both)
	hit := func(h *ScreenHits) map[[2]int]int {
		out := map[[2]int]int{}
		for x := range h.Cand {
			out[[2]int{int(h.Query[x]), int(h.Cand[x])}] = x
		}
		return out
	}
	hr, hb := hit(&rows), hit(&both)
	for i := range nq {
		for j := range nc {
			dij := d[i*nc+j]
			if lo2[i*nc+j] > dij*dij {
				t.Fatalf("%s: pair (%d, %d): lower bound² %v above d² %v", m.Name(), i, j, lo2[i*nc+j], dij*dij)
			}
			if qs == data && isPivot[i] && math.Sqrt(lo2[i*nc+j]) < dij-2*pb.slack-1e-15 {
				t.Fatalf("%s: pivot %d, point %d: bound %v far below d %v", m.Name(), i, j, math.Sqrt(lo2[i*nc+j]), dij)
			}
			x, ok := hr[[2]int{i, j}]
			if dij*dij <= kth2[i] && !ok {
				t.Fatalf("%s: ScreenRows dropped (%d, %d) at d %v within %v", m.Name(), i, j, dij, math.Sqrt(kth2[i]))
			}
			if ok && !(rows.Lo2[x] <= dij*dij && dij*dij <= rows.Hi2[x]) {
				t.Fatalf("%s: ScreenRows bounds [%v, %v] miss d² %v", m.Name(), rows.Lo2[x], rows.Hi2[x], dij*dij)
			}
			if _, ok := hb[[2]int{i, j}]; !ok && (dij*dij <= kth2[i] || dij*dij <= ckth2[j]) {
				t.Fatalf("%s: ScreenBoth dropped (%d, %d) at d %v", m.Name(), i, j, dij)
			}
		}
	}
	if len(rows.Cand) == nq*nc {
		t.Fatalf("%s: ScreenRows dropped nothing", m.Name())
	}
}

// TestPivotBoundInput: pivot counts, tiny data sets and mismatched query
// sets.
func TestPivotBoundInput(t *testing.T) {
	ctx := context.Background()
	e, _ := NewEuclidean([]float64{0, 0, 1, 1, 2, 2}, 3, 2)
	if _, err := NewPivotBound(ctx, e, -1, 1, nil); err == nil {
		t.Fatal("negative pivot count accepted")
	}
	pb, err := NewPivotBound(ctx, e, 0, 1, nil)
	if err != nil || len(pb.Pivots()) != 3 {
		t.Fatalf("3 points: %v pivots, %v", pb.Pivots(), err)
	}
	seen := map[int32]bool{}
	for _, p := range pb.Pivots() {
		if seen[p] {
			t.Fatalf("pivot %d twice: %v", p, pb.Pivots())
		}
		seen[p] = true
	}
	other, _ := NewEuclidean([]float64{0, 0, 0}, 1, 3)
	if err := pb.Bind(ctx, other.Data(), nil); err == nil {
		t.Fatal("a 3-dimensional query set bound to 2-dimensional data")
	}
}

// BenchmarkPivotScreen: the pivot bound's screen (most pairs dropped, as
// in a search whose bound pays) against the float64 tile of the same
// pairs, per pair.
func BenchmarkPivotScreen(b *testing.B) {
	ctx := context.Background()
	const n, nq, nc = 8192, 128, 512
	for _, c := range []struct {
		name string
		d, m int
	}{{"euclid-d2", 2, 0}, {"euclid-d64", 64, 0}, {"residual-m64", 2, 64}, {"residual-m512", 2, 512}} {
		x := randPoints(n, c.d, 3, 1)
		var m Metric
		if c.m == 0 {
			m, _ = NewEuclidean(x, n, c.d)
		} else {
			m, _ = NewResidual(ctx, x, n, c.d, ResidualConfig{Lengthscale: []float64{0.1}, Inducing: c.m, Seed: 1})
		}
		pb, err := NewPivotBound(ctx, m, 0, 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		w := NewWorkspace()
		kth2 := make([]float64, nq)
		dst := make([]float64, nq*nc)
		b.Run(c.name+"/screen", func(b *testing.B) {
			var h ScreenHits
			for b.Loop() {
				h.Reset()
				pb.ScreenRows(w, m.Data(), Range(0, nq), m.Data(), Range(nq, nq+nc), kth2, nil, &h)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nq*nc), "ns/pair")
		})
		b.Run(c.name+"/tile", func(b *testing.B) {
			for b.Loop() {
				m.Tile(w, dst, nc, m.Data(), Range(0, nq), m.Data(), Range(nq, nq+nc))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nq*nc), "ns/pair")
		})
	}
}
