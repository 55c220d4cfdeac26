package metric

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pcct/pcct/internal/kerneltest"
	"github.com/pcct/pcct/internal/kerneltest/every"
	"github.com/pcct/pcct/kernels"
)

// fusedMetrics: residual (float64, RBF and Matern, per-dimension
// lengthscales) and Euclidean metrics on points with exact duplicates.
func fusedMetrics(t *testing.T, n, d int) []Metric {
	t.Helper()
	x := randPoints(n, d, 21, 1)
	for i := 0; i+1 < n; i += 7 {
		copy(x[(i+1)*d:(i+2)*d], x[i*d:(i+1)*d])
	}
	res, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Inducing: 24, Lengthscale: []float64{0.3}, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	ls := make([]float64, d)
	for k := range ls {
		ls[k] = 0.2 + 0.1*float64(k)
	}
	mat, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Kernel: Matern52, Inducing: 24, Lengthscale: ls, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	euc, err := NewEuclidean(x, n, d)
	if err != nil {
		t.Fatal(err)
	}
	return []Metric{res, mat, euc}
}

// TestWithinMatchesTile: Within finds exactly the tile entries within each
// radius, with the tile's distance bits, the query's own point included,
// for ranges and id lists (with repeats), under every implementation.
func TestWithinMatchesTile(t *testing.T) {
	const n, d = 97, 3
	every.Impl(t, func(t *testing.T) {
		for _, m := range fusedMetrics(t, n, d) {
			data := m.Data()
			r := rand.New(rand.NewPCG(4, 5))
			ids := make([]int32, 41)
			for k := range ids {
				ids[k] = int32(r.IntN(n))
			}
			for _, blocks := range [][2]Block{
				{Range(10, 29), Range(0, n)},
				{List(ids[:13]), List(ids)},
				{Range(50, 51), List(ids)},
			} {
				q, c := blocks[0], blocks[1]
				nq, nc := q.Len(), c.Len()
				tile := make([]float64, nq*nc)
				w := NewWorkspace()
				m.Tile(w, tile, nc, data, q, data, c)
				radius := make([]float64, nq)
				for i := range radius {
					radius[i] = []float64{-1, 0, 0.3, 0.7, 0.95, 2, math.NaN()}[i%7]
				}
				var h Hits
				m.Within(w, data, q, data, c, radius, &h)
				k := 0
				for i := 0; i < nq; i++ {
					for j := 0; j < nc; j++ {
						if !(tile[i*nc+j] <= radius[i]) {
							continue
						}
						if k >= h.Len() || h.Query[k] != int32(i) || h.Cand[k] != int32(c.At(j)) ||
							math.Float64bits(h.Dist[k]) != math.Float64bits(tile[i*nc+j]) {
							t.Fatalf("%s: hit %d: got %v, want query %d cand %d dist %v", m.Name(), k, hitAt(h, k), i, c.At(j), tile[i*nc+j])
						}
						k++
					}
				}
				if k != h.Len() {
					t.Fatalf("%s: %d hits, want %d", m.Name(), h.Len(), k)
				}
			}
		}
	})
}

func hitAt(h Hits, k int) any {
	if k >= h.Len() {
		return "none"
	}
	return [3]any{h.Query[k], h.Cand[k], h.Dist[k]}
}

// TestNearestMatchesTile: Nearest keeps the same k best as offering every
// tile entry to KBest, with the Below and Skip rules.
func TestNearestMatchesTile(t *testing.T) {
	const n, d, k = 120, 2, 5
	every.Impl(t, func(t *testing.T) {
		for _, m := range fusedMetrics(t, n, d) {
			data := m.Data()
			q, c := Range(30, 70), Range(0, n)
			nq, nc := q.Len(), c.Len()
			rows, below, skip := make([]int32, nq), make([]int32, nq), make([]int32, nq)
			for i := range rows {
				rows[i], below[i], skip[i] = int32(nq-1-i), int32(q.At(i)), int32(q.At(i))
			}
			odd := func(id int32) bool { return id%3 == 1 }
			for _, o := range []Offer{{Rows: rows}, {Rows: rows, Skip: skip}, {Rows: rows, Below: below}, {Rows: rows, Exclude: odd}} {
				want := kernels.NewKBest(nq, k)
				tile := make([]float64, nq*nc)
				m.Tile(NewWorkspace(), tile, nc, data, q, data, c)
				for i := 0; i < nq; i++ {
					for j := 0; j < nc; j++ {
						if (o.Below == nil || int32(j) < o.Below[i]) && (o.Skip == nil || int32(j) != o.Skip[i]) && (o.Exclude == nil || !o.Exclude(int32(j))) {
							want.Push(int(rows[i]), int32(j), tile[i*nc+j])
						}
					}
				}
				for _, fused := range []bool{false, true} {
					o.Best = kernels.NewKBest(nq, k)
					// In two candidate chunks, as the tree offers them.
					if fused {
						got := make([]float64, nq*nc)
						m.TileNearest(NewWorkspace(), got[60:], nc, data, q, data, Range(60, n), o)
						m.TileNearest(NewWorkspace(), got, nc, data, q, data, Range(0, 60), o)
						for p := range tile {
							if math.Float64bits(got[p]) != math.Float64bits(tile[p]) {
								t.Fatalf("%s: TileNearest entry %d = %v, Tile %v", m.Name(), p, got[p], tile[p])
							}
						}
					} else {
						m.Nearest(NewWorkspace(), data, q, data, Range(60, n), o)
						m.Nearest(NewWorkspace(), data, q, data, Range(0, 60), o)
					}
					for p := range want.Idx {
						if want.Idx[p] != o.Best.Idx[p] || math.Float64bits(want.Dist[p]) != math.Float64bits(o.Best.Dist[p]) {
							t.Fatalf("%s fused=%v below=%v skip=%v exclude=%v: entry %d = (%d, %v), want (%d, %v)", m.Name(), fused, o.Below != nil, o.Skip != nil,
								o.Exclude != nil, p, o.Best.Idx[p], o.Best.Dist[p], want.Idx[p], want.Dist[p])
						}
					}
				}
			}
		}
	})
}

// TestResidualCancel: a cancelled context stops the construction of V with
// ctx.Err() and leaves no goroutine running.
func TestResidualCancel(t *testing.T) {
	const n, d = 20000, 4
	x := randPoints(n, d, 3, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewResidual(ctx, x, n, d, ResidualConfig{Inducing: 64}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: err = %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	before := kerneltest.Goroutines()
	_, err := NewResidual(ctx, x, n, d, ResidualConfig{Inducing: 256})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: err = %v", err)
	}
	kerneltest.NoGoroutinesLeft(t, before)
}

// TestPackInto: packing into a reused Set (growing and shrinking) gives the
// same tiles as a fresh Pack, the self rule included.
func TestPackInto(t *testing.T) {
	for _, m := range fusedMetrics(t, 90, 3) {
		var reused Set
		for _, ids := range [][]int32{{5, 6, 7}, {80, 1, 2, 3, 4, 40, 41, 42, 9}, {7}, {33, 33, 12, 0}} {
			fresh := Pack(m.Data(), List(ids))
			got := PackInto(&reused, m.Data(), List(ids))
			a, b := make([]float64, len(ids)*90), make([]float64, len(ids)*90)
			m.Tile(NewWorkspace(), a, 90, fresh, Range(0, len(ids)), m.Data(), Range(0, 90))
			m.Tile(NewWorkspace(), b, 90, got, Range(0, len(ids)), m.Data(), Range(0, 90))
			for p := range a {
				if math.Float64bits(a[p]) != math.Float64bits(b[p]) {
					t.Fatalf("%s ids %v: entry %d = %v, want %v", m.Name(), ids, p, b[p], a[p])
				}
			}
			for i, id := range ids {
				if b[i*90+int(id)] != 0 {
					t.Fatalf("%s: self distance of %d is %v", m.Name(), id, b[i*90+int(id)])
				}
			}
		}
	}
}

// TestRangeRow: Euclidean.RangeRow gives Tile's distances bit for bit, for
// queries of the data and of a query set and ranges at every offset, and
// lists exactly the columns within the radius, under every implementation.
func TestRangeRow(t *testing.T) {
	every.Impl(t, func(t *testing.T) {
		const n, d = 301, 5
		e := fusedMetrics(t, n, d)[2].(*Euclidean)
		qs, err := e.Embed(context.Background(), randPoints(9, d, 5, 3), 9)
		if err != nil {
			t.Fatal(err)
		}
		w := NewWorkspace()
		r := rand.New(rand.NewPCG(4, 4))
		for _, set := range []*Set{e.Data(), qs} {
			for q := range set.N {
				lo := r.IntN(n)
				hi := lo + r.IntN(n-lo+1)
				want := make([]float64, max(1, hi-lo))
				e.Tile(w, want, hi-lo, set, Range(q, q+1), e.Data(), Range(lo, hi))
				rad := []float64{0, 0.3, math.Inf(1)}[q%3]
				got, hits := e.RangeRow(w, set.X[q*d:(q+1)*d], lo, hi, rad)
				k := 0
				for j := range hi - lo {
					if math.Float64bits(got[j]) != math.Float64bits(want[j]) {
						t.Fatalf("query %d, point %d: %v, Tile %v", q, lo+j, got[j], want[j])
					}
					if got[j] <= rad {
						if k >= len(hits) || int(hits[k]) != j {
							t.Fatalf("query %d: hits %v miss column %d (%v <= %v)", q, hits, j, got[j], rad)
						}
						k++
					}
				}
				if k != len(hits) {
					t.Fatalf("query %d: %d hits, want %d", q, len(hits), k)
				}
			}
		}
	})
}
