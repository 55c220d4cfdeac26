package tree

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// exactAnswers checks the tree's all-points and predecessor k-NN against
// brute force, bit for bit.
func exactAnswers(t *testing.T, tr *Tree, k int) {
	t.Helper()
	for _, pred := range []bool{false, true} {
		want, err := BruteAllKNN(context.Background(), tr.Metric(), KNNOptions{K: k, Predecessor: pred, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := tr.AllKNN(context.Background(), KNNOptions{K: k, Predecessor: pred, QueryBlock: 16})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("k=%d pred=%v: %s", k, pred, firstDiff(got, want))
		}
	}
}

// TestInsertionBuild: the batch-insertion build is sound on every data set
// and metric (both prefix-doubling batches and batches of 7), the same
// tree for 1, 2, 4 and 16 workers, and its answers equal brute force.
func TestInsertionBuild(t *testing.T) {
	const n, d = 300, 2
	pools := map[int]*streamer.Pool{}
	for _, w := range []int{1, 2, 4, 16} {
		pools[w] = streamer.NewPool(w)
		defer pools[w].Close()
	}
	for _, c := range treeCases(t, n, d) {
		t.Run(c.name, func(t *testing.T) {
			for _, batch := range []int{0, 7} {
				tr := buildOrFail(t, c.m, Options{Algorithm: Insertion, Batch: batch, Pool: pools[1], Seed: 5})
				workers := []int{2, 4, 16}
				if batch == 7 {
					workers = []int{16}
				}
				for _, w := range workers {
					other := buildOrFail(t, c.m, Options{Algorithm: Insertion, Batch: batch, Pool: pools[w], Seed: 5})
					if err := sameTree(tr, other); err != nil {
						t.Fatalf("batch %d, workers %d: %v", batch, w, err)
					}
				}
				size := 0
				for _, b := range tr.Stats.Batches {
					size += b.Size
				}
				if size != n-1 {
					t.Fatalf("batches inserted %d points, want %d", size, n-1)
				}
				exactAnswers(t, tr, 5)
			}
		})
	}
}

// TestInsertionBuildSmall: trees of 1 to 9 points, and the gate fires on
// a metric with structure.
func TestInsertionBuildSmall(t *testing.T) {
	for _, n := range []int{1, 2, 3, 9} {
		x := uniformPoints(n, 2, uint64(n))
		e, _ := metric.NewEuclidean(x, n, 2)
		tr := buildOrFail(t, e, Options{Algorithm: Insertion})
		exactAnswers(t, tr, 10)
	}
	const n = 2000
	e, _ := metric.NewEuclidean(uniformPoints(n, 2, 3), n, 2)
	tr := buildOrFail(t, e, Options{Algorithm: Insertion, Workers: 2})
	if tr.Stats.GatePruned == 0 || tr.Stats.Distances >= int64(n)*int64(n)/4 {
		t.Fatalf("Euclidean d = 2, n = %d: %d distances, %d gated", n, tr.Stats.Distances, tr.Stats.GatePruned)
	}
	// The traversal runs through scope collections: their scans are most
	// of the batch's distances (the rest: the root's tile, the conflict
	// graph), and every point found a node within scope on its way down.
	// The scope cache offers later batches the members found under the
	// same node before; most are members again.
	var scans, points, dists, offers, hits int64
	for _, b := range tr.Stats.Batches {
		if b.ScopeScans > b.Distances || b.ScopePoints > b.ScopeScans || b.ScopeSaturated != 0 || b.ScopeCacheHits > b.ScopeCachePrefetch {
			t.Fatalf("batch %+v", b)
		}
		scans, points, dists = scans+b.ScopeScans, points+b.ScopePoints, dists+b.Distances
		offers, hits = offers+b.ScopeCachePrefetch, hits+b.ScopeCacheHits
	}
	if scans < dists/2 || points < n-1 || hits == 0 {
		t.Fatalf("scope scans %d, members %d, distances %d, cache offers %d hits %d", scans, points, dists, offers, hits)
	}
	exactAnswers(t, tr, 8)
}

// prefixResidual returns the residual metric over the first n points of
// x, with the same explicit inducing points for every n (so that the
// first points' rows agree bitwise).
func prefixResidual(t *testing.T, x []float64, n, d int) metric.Metric {
	t.Helper()
	u := x[:24*d] // the first 24 points
	m, err := metric.NewResidual(context.Background(), x[:n*d], n, d, metric.ResidualConfig{
		Method: metric.InducingExplicit, InducingPoints: u, Lengthscale: []float64{0.15}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestInsertAfterLoad: a tree built on the first points, saved and
// loaded, then grown by Insert in several calls (checked after each) is
// sound and answers exactly like one build over all the points, for both
// metrics and both build algorithms.
func TestInsertAfterLoad(t *testing.T) {
	const n, d = 900, 2
	x := shapes(n, d, 11)["clustered"]
	for _, name := range []string{"residual", "euclidean"} {
		for _, alg := range []Algorithm{Nets, Insertion} {
			t.Run(name+"/"+alg.String(), func(t *testing.T) {
				over := func(k int) metric.Metric {
					if name == "euclidean" {
						e, _ := metric.NewEuclidean(x[:k*d], k, d)
						return e
					}
					return prefixResidual(t, x, k, d)
				}
				first := buildOrFail(t, over(100), Options{Algorithm: alg})
				var buf bytes.Buffer
				if err := first.Save(&buf); err != nil {
					t.Fatal(err)
				}
				tr, err := Load(&buf, over(100))
				if err != nil {
					t.Fatal(err)
				}
				// One batch per call up to 350 points (so Check runs after
				// every batch), then the rest in batches of 64.
				steps := []int{101}
				for k := 101 + 37; k < 350; k += 37 {
					steps = append(steps, k)
				}
				for _, k := range append(steps, 350, n) {
					batch := 37
					if k == n {
						batch = 64
					}
					if err := tr.Insert(context.Background(), over(k), Options{Batch: batch, Workers: 3}); err != nil {
						t.Fatal(err)
					}
					if errs := tr.Check(); len(errs) > 0 {
						t.Fatalf("after inserting up to %d: %d violations, first %v", k, len(errs), errs[0])
					}
				}
				whole := buildOrFail(t, over(n), Options{})
				for _, pred := range []bool{false, true} {
					want, _, _ := whole.AllKNN(context.Background(), KNNOptions{K: 6, Predecessor: pred})
					got, _, err := tr.AllKNN(context.Background(), KNNOptions{K: 6, Predecessor: pred})
					if err != nil {
						t.Fatal(err)
					}
					if !got.Equal(want) {
						t.Fatalf("pred=%v: %s", pred, firstDiff(got, want))
					}
				}
				exactAnswers(t, tr, 6)
			})
		}
	}
}

// TestInsertRefuses: Insert rejects a metric whose first points are not
// the tree's, another metric, fewer points or another base, and a done
// context, leaving the tree as it was.
func TestInsertRefuses(t *testing.T) {
	const n, d = 400, 2
	x := uniformPoints(n, d, 4)
	small := prefixResidual(t, x, 200, d)
	tr := buildOrFail(t, small, Options{})
	before := buildOrFail(t, small, Options{})
	other := append([]float64(nil), x...)
	other[3] += 1e-9
	e, _ := metric.NewEuclidean(x, n, d)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		what string
		ctx  context.Context
		m    metric.Metric
		opt  Options
		want error
	}{
		{"changed point", context.Background(), prefixResidual(t, other, n, d), Options{}, metric.ErrBadInput},
		{"other metric", context.Background(), e, Options{}, metric.ErrBadInput},
		{"fewer points", context.Background(), prefixResidual(t, x, 100, d), Options{}, metric.ErrBadInput},
		{"other base", context.Background(), prefixResidual(t, x, n, d), Options{Base: 1.5}, metric.ErrBadInput},
		{"cancelled", cancelled, prefixResidual(t, x, n, d), Options{}, context.Canceled},
	} {
		err := tr.Insert(c.ctx, c.m, c.opt)
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: got %v, want %v", c.what, err, c.want)
		}
		if err := sameTree(tr, before); err != nil || tr.N() != 200 {
			t.Fatalf("%s: the tree changed (%v, n = %d)", c.what, err, tr.N())
		}
	}
}

// TestGridConflicts: the grid conflict graph gives the same tree as the
// full conflict tiles (it only skips pairs it proves too far apart), with
// fewer distances, on Euclidean data in 2 and 3 dimensions; other metrics
// and dimensions fall back to the tiles.
func TestGridConflicts(t *testing.T) {
	defer func(g int) { gridMin = g }(gridMin)
	gridMin = 4 // the groups of these builds are small
	for _, d := range []int{2, 3, 6} {
		const n = 5000
		x := shapes(n, d, 4)["clustered"]
		e, _ := metric.NewEuclidean(x, n, d)
		full := buildOrFail(t, e, Options{Algorithm: Insertion, Workers: 2})
		grid := buildOrFail(t, e, Options{Algorithm: Insertion, Workers: 2, GridConflicts: true})
		if err := sameTree(full, grid); err != nil {
			t.Fatalf("d=%d: %v", d, err)
		}
		cells := 0
		for _, b := range grid.Stats.Batches {
			cells += b.GridCells
		}
		if used := cells > 0; used != (d <= gridMaxDim) {
			t.Fatalf("d=%d: grid used %v (%d cells)", d, used, cells)
		}
		if d <= gridMaxDim && grid.Stats.Distances >= full.Stats.Distances {
			t.Fatalf("d=%d: the grid computed %d distances, the tiles %d", d, grid.Stats.Distances, full.Stats.Distances)
		}
	}
	r := treeCases(t, 600, 2)[0].m
	a := buildOrFail(t, r, Options{Algorithm: Insertion, Batch: 256})
	b := buildOrFail(t, r, Options{Algorithm: Insertion, Batch: 256, GridConflicts: true})
	if err := sameTree(a, b); err != nil {
		t.Fatalf("residual metric: %v", err)
	}
}

// TestInsertionScreened: the insertion traversal's scope collections,
// screened in float32 (traverseScreens, a metric with its copy), build the
// same tree as unscreened ones, and the screen prunes pairs.
func TestInsertionScreened(t *testing.T) {
	ctx := context.Background()
	for _, c := range screenCases()[:3] {
		n := min(c.n, 400)
		m, err := metric.NewResidual(ctx, c.x[:n*c.d], n, c.d, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := buildOrFail(t, m, Options{Algorithm: Insertion, Workers: 2, Seed: 3})
		if err := m.EnableScreening(); err != nil {
			t.Fatal(err)
		}
		traverseScreens = true
		got := buildOrFail(t, m, Options{Algorithm: Insertion, Workers: 2, Seed: 3})
		traverseScreens = false
		if err := sameTree(got, want); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Stats.Distances >= want.Stats.Distances || got.Stats.GatePruned <= want.Stats.GatePruned {
			t.Fatalf("%s: screened %d distances (%d pruned), unscreened %d (%d)", c.name, got.Stats.Distances, got.Stats.GatePruned, want.Stats.Distances, want.Stats.GatePruned)
		}
		exactAnswers(t, got, 8)
	}
}
