package tree

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pcct/pcct/internal/kerneltest/every"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// naiveMaxMin is the max-min ordering by definition: O(n²) distances.
func naiveMaxMin(m metric.Metric, first int) []int32 {
	n := m.Data().N
	all := make([]float64, n*n)
	m.Tile(metric.NewWorkspace(), all, n, m.Data(), metric.Range(0, n), m.Data(), metric.Range(0, n))
	mind := make([]float64, n)
	chosen := make([]bool, n)
	for i := range mind {
		mind[i] = math.Inf(1)
	}
	order := []int32{}
	p := first
	for len(order) < n {
		order, chosen[p] = append(order, int32(p)), true
		for i := range n {
			mind[i] = min(mind[i], all[p*n+i])
		}
		p = -1
		for i := range n {
			if !chosen[i] && (p < 0 || mind[i] > mind[p]) {
				p = i
			}
		}
	}
	return order
}

// TestMaxMinOrder: the tree's max-min ordering equals the definition's on
// every data set and metric (duplicates and all-equal points included),
// for 1 and 3 workers (the batches' range queries spread differently),
// scanning the first steps (these small sets scan to the end) or walking
// the tree from the start.
func TestMaxMinOrder(t *testing.T) {
	for _, c := range treeCases(t, 150, 2) {
		tr := buildOrFail(t, c.m, Options{})
		for _, first := range []int{0, 77} {
			want := naiveMaxMin(c.m, first)
			for _, workers := range []int{1, 3} {
				for _, scan := range []bool{true, false} {
					got, _, err := tr.maxMinOrder(context.Background(), first, KNNOptions{Workers: workers}, scan)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("%s, first %d, %d workers, scan %v: order %v..., want %v...", c.name, first, workers, scan, got[:10], want[:10])
					}
				}
			}
		}
	}
	tr := buildOrFail(t, treeCases(t, 10, 2)[0].m, Options{})
	if _, err := tr.MaxMinOrder(context.Background(), 10, KNNOptions{}); err == nil {
		t.Fatal("first point out of range accepted")
	}
}

// TestMaxMinLattice: on an integer lattice, where many points tie for the
// largest distance at every scale (the batches' ties to the lower index,
// inside a batch and against the best point outside it), both trees give
// the definition's order, under the Euclidean and the residual metric.
func TestMaxMinLattice(t *testing.T) {
	const side = 17
	n := side * side
	x := lattice(side)
	e, kd := kdOf(t, x, n, 2)
	r, err := metric.NewResidual(context.Background(), x, n, 2, metric.ResidualConfig{Lengthscale: []float64{3}, Inducing: 16, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, first := range []int{0, n / 2, n - 1} {
		want := naiveMaxMin(e, first)
		for _, workers := range []int{1, 2} {
			got, err := kd.MaxMinOrder(context.Background(), first)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("k-d tree, first %d, %d workers: %v, order %v..., want %v...", first, workers, err, got[:12], want[:12])
			}
			got, err = buildOrFail(t, e, Options{}).MaxMinOrder(context.Background(), first, KNNOptions{Workers: workers})
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("cover tree, first %d, %d workers: %v, order %v..., want %v...", first, workers, err, got[:12], want[:12])
			}
		}
		rwant := naiveMaxMin(r, first)
		got, err := buildOrFail(t, r, Options{}).MaxMinOrder(context.Background(), first, KNNOptions{Workers: 2})
		if err != nil || !slices.Equal(got, rwant) {
			t.Fatalf("residual, first %d: %v, order %v..., want %v...", first, err, got[:12], rwant[:12])
		}
	}
}

// lattice returns the integer lattice of side x side points in the plane.
func lattice(side int) []float64 {
	x := make([]float64, 0, 2*side*side)
	for i := range side {
		for j := range side {
			x = append(x, float64(i), float64(j))
		}
	}
	return x
}

// TestMaxMinRanked: points stored in another order than the caller's,
// with Rank giving each its caller's index, have the caller's ordering
// (mapped through the storage order): on the lattice, whose ties would go
// the other way by storage index, and on sets with duplicates, through
// the k-d tree, the cover tree and OrderMaxMin.
func TestMaxMinRanked(t *testing.T) {
	const side = 13
	n := side * side
	dup := uniformPoints(n, 2, 3)
	for i := 40; i < 80; i++ { // runs of equal points
		copy(dup[2*i:2*i+2], dup[2*(i%7):2*(i%7)+2])
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, x := range [][]float64{lattice(side), dup} {
		stored := make([]int32, n) // stored point i is the caller's point stored[i]
		for i, p := range r.Perm(n) {
			stored[i] = int32(p)
		}
		pos, _ := metric.InversePerm(stored, n)
		sx := make([]float64, 0, 2*n)
		for _, p := range stored {
			sx = append(sx, x[2*p:2*p+2]...)
		}
		e, kd := kdOf(t, sx, n, 2)
		eGiven, err := metric.NewEuclidean(x, n, 2)
		if err != nil {
			t.Fatal(err)
		}
		cfg := metric.ResidualConfig{Lengthscale: []float64{3}, Inducing: 16, Seed: 1}
		rGiven, err := metric.NewResidual(context.Background(), x, n, 2, cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Order = stored
		rStored, err := metric.NewResidual(context.Background(), x, n, 2, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, first := range []int{0, n / 2} {
			caller := func(got []int32, err error) []int32 {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				out := make([]int32, len(got))
				for i, s := range got {
					out[i] = stored[s]
				}
				return out
			}
			opt := KNNOptions{Workers: 2, Rank: stored}
			want := naiveMaxMin(eGiven, first)
			for what, got := range map[string][]int32{
				"k-d tree":    caller(noStats(kd.maxMinOrder(context.Background(), int(pos[first]), stored, nil, 1))),
				"cover tree":  caller(buildOrFail(t, e, Options{}).MaxMinOrder(context.Background(), int(pos[first]), opt)),
				"OrderMaxMin": caller(OrderMaxMin(context.Background(), e, int(pos[first]), opt)),
			} {
				if !slices.Equal(got, want) {
					t.Fatalf("Euclidean, %s, first %d: %v..., want %v...", what, first, got[:12], want[:12])
				}
			}
			rwant := naiveMaxMin(rGiven, first)
			if got := caller(OrderMaxMin(context.Background(), rStored, int(pos[first]), opt)); !slices.Equal(got, rwant) {
				t.Fatalf("residual, first %d: %v..., want %v...", first, got[:12], rwant[:12])
			}
			// OrderMaxMinStored takes and answers the caller's indices.
			for name, c := range map[string]struct {
				m    metric.Metric
				want []int32
			}{"Euclidean": {e, want}, "residual": {rStored, rwant}} {
				got, _, err := OrderMaxMinStored(context.Background(), c.m, first, stored, KNNOptions{Workers: 2})
				if err != nil || !slices.Equal(got, c.want) {
					t.Fatalf("OrderMaxMinStored, %s, first %d: %v, %v..., want %v...", name, first, err, got[:12], c.want[:12])
				}
			}
		}
	}
	// A rank that is not a permutation is refused.
	m := treeCases(t, 10, 2)[0].m
	if _, err := OrderMaxMin(context.Background(), m, 0, KNNOptions{Rank: make([]int32, 10)}); err == nil {
		t.Fatal("a rank with repeats was accepted")
	}
	if _, _, err := OrderMaxMinStored(context.Background(), m, 0, make([]int32, 10), KNNOptions{}); err == nil {
		t.Fatal("OrderMaxMinStored: a storage order with repeats was accepted")
	}
	if _, _, err := OrderMaxMinStored(context.Background(), m, 10, nil, KNNOptions{}); err == nil {
		t.Fatal("OrderMaxMinStored: a first point out of range was accepted")
	}
}

// scanToWalkMetric returns the residual metric of the points x (2
// dimensions) at lengthscale 0.05, m = 64: structured enough that a
// max-min ordering of a few thousand points hands its scans over to the
// tree walk part way.
func scanToWalkMetric(t *testing.T, x []float64) *metric.Residual {
	t.Helper()
	m, err := metric.NewResidual(context.Background(), x, len(x)/2, 2, metric.ResidualConfig{Lengthscale: []float64{0.05}, Inducing: 64, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMaxMinScanToWalk: on a set large enough for the walk to win once
// the radii are small, the scans hand over to the tree walk part way, and
// the order is still the definition's.
func TestMaxMinScanToWalk(t *testing.T) {
	m := scanToWalkMetric(t, uniformPoints(3000, 2, 8))
	tr := buildOrFail(t, m, Options{})
	pool := streamer.NewPool(2)
	defer pool.Close()
	s := newMaxMinSteps(tr, pool, pool.Workers(), true)
	got, err := s.order(context.Background(), 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.scan || s.first == nil {
		t.Fatalf("the scans never handed over to the walk, or it had no first level's table (%d nodes)", len(tr.Children(int(tr.root))))
	}
	if want := naiveMaxMin(m, 5); !slices.Equal(got, want) {
		t.Fatalf("order %v..., want %v...", got[:10], want[:10])
	}
}

// TestMaxMinParallelParts: at 20,000 points the hits lower the
// tournament in parallel parts (tournament.advance) and the walks run
// in two jobs (maxMinSteps.walk), the root's children cut into blocks
// and ruled out through the first level's table (in 6 dimensions the
// root has hundreds); the cover tree's order on 3 workers is still the
// k-d tree's, found one step at a time on one goroutine.
func TestMaxMinParallelParts(t *testing.T) {
	const n, d = 20000, 6
	e, kd := kdOf(t, uniformPoints(n, d, 11), n, d)
	tr := buildOrFail(t, e, Options{})
	if kids := len(tr.Children(int(tr.root))); kids < 3*firstBlockSize {
		t.Fatalf("the root has %d children: too few for blocks", kids)
	}
	pool := streamer.NewPool(3)
	defer pool.Close()
	s := newMaxMinSteps(tr, pool, pool.Workers(), true)
	if newTournament(make([]float64, n), nil).applyParts(pool.Workers()) < 2 {
		t.Fatal("no parallel parts at this size")
	}
	got, err := s.order(context.Background(), 17, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.scan || s.first == nil {
		t.Fatalf("the scans never handed over to the walk, or it had no first level's table (%d nodes)", len(tr.Children(int(tr.root))))
	}
	want, err := kd.MaxMinOrder(context.Background(), 17)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("%v, or the orders differ", err)
	}
}

// TestOrderMaxMin: the ordering through the tree OrderMaxMin picks (the
// k-d tree for the Euclidean metric, else the cover tree) is the
// definition's.
func TestOrderMaxMin(t *testing.T) {
	for _, c := range treeCases(t, 120, 2) {
		got, err := OrderMaxMin(context.Background(), c.m, 3, KNNOptions{Workers: 2})
		if err != nil || !slices.Equal(got, naiveMaxMin(c.m, 3)) {
			t.Fatalf("%s: %v, or the order differs from the definition's", c.name, err)
		}
	}
}

// TestOrderMaxMinReport: the report names the tree used and counts the
// ordering's work: at least the first point's row of distances, the
// pool's busy time by worker within the wall time, and for the k-d tree
// on one worker (its steps on the calling goroutine) the whole wall time
// as serial. The order is the same on any number of workers.
func TestOrderMaxMinReport(t *testing.T) {
	const n = 3000
	x := uniformPoints(n, 2, 8)
	res := scanToWalkMetric(t, x)
	euc, _ := kdOf(t, x, n, 2)
	for _, c := range []struct {
		m       metric.Metric
		method  Search
		workers int
	}{{res, SearchTree, 2}, {euc, SearchKD, 1}, {euc, SearchKD, 2}} {
		opt := KNNOptions{Workers: c.workers}
		got, rep, err := OrderMaxMinReport(context.Background(), c.m, 9, opt)
		if err != nil {
			t.Fatal(err)
		}
		want, err := OrderMaxMin(context.Background(), c.m, 9, KNNOptions{Workers: 3})
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("%s, %d workers: %v, or the orders differ", c.m.Name(), c.workers, err)
		}
		q := rep.Query
		ok := rep.Method == c.method && rep.Build.Wall > 0 && q.Distances >= n && q.Wall > 0 &&
			rep.QueryTime == q.Wall && q.Serial <= q.Wall && q.Utilisation >= 0 && q.Utilisation <= 1
		if c.workers == 1 { // the k-d tree's steps one at a time, on the caller
			ok = ok && q.Serial == q.Wall && q.Utilisation == 0
		} else {
			var busy time.Duration
			for _, b := range q.Busy {
				busy += b
			}
			ok = ok && len(q.Busy) == 2 && busy > 0 && q.Utilisation > 0 && q.Serial < q.Wall
		}
		if !ok {
			t.Fatalf("%s, %d workers: report %+v", c.m.Name(), c.workers, rep)
		}
	}
}

// TestMaxMinCancel: a cancelled context stops both orderings with its
// error, and the caller's pool stays usable.
func TestMaxMinCancel(t *testing.T) {
	x := uniformPoints(500, 2, 3)
	e, kd := kdOf(t, x, 500, 2)
	tr := buildOrFail(t, e, Options{})
	pool := streamer.NewPool(2)
	defer pool.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.MaxMinOrder(ctx, 0, KNNOptions{Pool: pool}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cover tree: err = %v, want context.Canceled", err)
	}
	if _, err := kd.MaxMinOrder(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("k-d tree: err = %v, want context.Canceled", err)
	}
	got, err := tr.MaxMinOrder(context.Background(), 0, KNNOptions{Pool: pool})
	if err != nil || !slices.Equal(got, naiveMaxMin(e, 0)) {
		t.Fatalf("after a cancelled call: err %v, or the order differs", err)
	}
}

// TestKDMaxMinOrder: the k-d tree's max-min ordering equals the
// definition's (and so the cover tree's) on every data set, in 1 to 3
// dimensions, under every kernel implementation.
func TestKDMaxMinOrder(t *testing.T) {
	pool := streamer.NewPool(3)
	defer pool.Close()
	every.Impl(t, func(t *testing.T) {
		for _, d := range []int{1, 2, 3} {
			for name, x := range shapes(300, d, uint64(d)) {
				m, kd := kdOf(t, x, 300, d)
				for _, first := range []int{0, 151} {
					want := naiveMaxMin(m, first)
					got, err := kd.MaxMinOrder(context.Background(), first)
					if err != nil {
						t.Fatal(err)
					}
					// In batches on a pool, as OrderMaxMin on more than one worker.
					inBatches, _, err2 := kd.maxMinOrder(context.Background(), first, nil, pool, 2)
					if err != nil || err2 != nil {
						t.Fatal(err, err2)
					}
					if !slices.Equal(got, want) || !slices.Equal(inBatches, want) {
						t.Fatalf("d=%d %s, first %d: order %v... (in batches %v...), want %v...", d, name, first, got[:10], inBatches[:10], want[:10])
					}
				}
			}
		}
	})
	_, kd := kdOf(t, uniformPoints(10, 2, 1), 10, 2)
	if _, err := kd.MaxMinOrder(context.Background(), -1); err == nil {
		t.Fatal("first point out of range accepted")
	}
}

// TestTournament: under random decreases (lowerBelow, ties and the last
// index, whose block is padded, included; some to -Inf), points taken
// out (take, the block's new winner often its runner-up) and brought back
// (restore, some lowered while out), best is always the largest value of
// the points in, ties to the lower index, and every node is the one a new
// tournament over the same values and points has.
func TestTournament(t *testing.T) {
	defer func(s uint) { tournamentShift = s }(tournamentShift)
	for _, tournamentShift = range []uint{0, 2, 5} { // leaves a block: 1, 4, 32
		testTournament(t)
	}
}

func testTournament(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 3, 5, 8, 13, 100, -1, -2, -5, -13, -100} {
		var rank []int32 // negative n: ties by a random rank
		if n < 0 {
			n = -n
			rank = make([]int32, n)
			for i, p := range r.Perm(n) {
				rank[i] = int32(p)
			}
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(r.IntN(6))
		}
		tt := newTournament(v, rank)
		var out []int32 // the points taken out
		for step := range 400 {
			i := int32(r.IntN(n))
			switch {
			case step%5 == 0 && tt.node[1].id >= 0:
				want := tt.node[1]
				if got := tt.take(1); got != want || !tt.excl[got.id] {
					t.Fatalf("blocks of %d, n=%d step %d: took %v, want %v", 1<<tournamentShift, n, step, got, want)
				}
				out = append(out, want.id)
			case step%4 == 0 && len(out) > 0:
				k := r.IntN(len(out))
				p := out[k]
				out = slices.Delete(out, k, k+1)
				v[p] -= float64(r.IntN(2)) // as a step's hits may lower it
				tt.restore(p, 1)
			case step%7 == 0:
				tt.lowerBelow(i, math.Inf(-1), 1)
			case step%3 == 0:
				tt.lowerBelow(int32(n-1), v[n-1]-float64(r.IntN(2)), 1)
			default:
				tt.lowerBelow(i, v[i]-float64(r.IntN(3)), 1)
			}
			want := bestIn(v, tt.excl, rank)
			if got := tt.node[1].id; got != want {
				t.Fatalf("blocks of %d, n=%d step %d: best %d, want %d", 1<<tournamentShift, n, step, got, want)
			}
			if !slices.Equal(tt.node, rebuilt(v, rank, tt.excl).node) {
				t.Fatalf("blocks of %d, n=%d step %d: the nodes differ from a new tournament's", 1<<tournamentShift, n, step)
			}
		}
	}
}

// bestIn returns the largest value's point among those not excluded, ties
// by index or rank (-1: none).
func bestIn(v []float64, excl []bool, rank []int32) int32 {
	best := int32(-1)
	for j := range int32(len(v)) {
		if excl[j] {
			continue
		}
		if best < 0 || v[j] > v[best] || v[j] == v[best] && (rank == nil && j < best || rank != nil && rank[j] < rank[best]) {
			best = j
		}
	}
	return best
}

// rebuilt returns a new tournament over v with the points excl out.
func rebuilt(v []float64, rank []int32, excl []bool) *tournament {
	tt := newTournament(v, rank)
	copy(tt.excl, excl)
	for b := range tt.nb {
		tt.rescan(b)
	}
	for k := tt.nb - 1; k >= 1; k-- {
		tt.node[k] = tt.better(tt.node[2*k], tt.node[2*k+1])
	}
	return tt
}

// TestTournamentAdvance: batches as the max-min choice runs them, with
// the leaves in parts (each part's job a task, the nodes above replayed
// after) or in one on the calling goroutine: after each advance (the
// last batch's points back in, the hits lowering the values, each part's
// best taken out) the values are those the hits leave, every node is a
// new tournament's over the same values and points, and the merge gives
// the best points in order, then the best point outside them; then some
// of them become steps (-Inf) and others are lowered, as the choice does.
// Hits in every part, repeated points, hits above their point's value,
// and the last index (in a padded block) included; blocks of 1, 4 and 32
// leaves.
func TestTournamentAdvance(t *testing.T) {
	defer func(s uint) { tournamentShift = s }(tournamentShift)
	for _, tournamentShift = range []uint{0, 2, 5} { // leaves a block: 1, 4, 32
		testTournamentAdvance(t)
	}
}

func testTournamentAdvance(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	pool := streamer.NewPool(3)
	defer pool.Close()
	for _, n := range []int{2, 5, 8, 13, 100, 1000} {
		for _, ranked := range []bool{false, true} {
			var rank []int32
			if ranked {
				rank = make([]int32, n)
				for i, p := range r.Perm(n) {
					rank[i] = int32(p)
				}
			}
			for parts := 1; parts <= newTournament(make([]float64, n), nil).nb; parts *= 2 {
				v := make([]float64, n)
				for i := range v {
					v[i] = float64(10 + r.IntN(6))
				}
				want := slices.Clone(v)
				tt := newTournament(v, rank)
				var hits [][]rangeHit
				for round := range 20 {
					for _, hs := range hits {
						for _, h := range hs {
							want[h.id] = min(want[h.id], h.d)
						}
					}
					size := 1 + r.IntN(8)
					if err := tt.advance(context.Background(), pool, parts, hits, takePerPart(size, parts), nil); err != nil {
						t.Fatal(err)
					}
					where := fmt.Sprintf("blocks of %d, n=%d ranked %v, %d parts, round %d", 1<<tournamentShift, n, ranked, parts, round)
					if !slices.Equal(v, want) || !slices.Equal(tt.node, rebuilt(v, rank, tt.excl).node) {
						t.Fatalf("%s: the values or nodes differ", where)
					}
					cand, _, out := tt.merge(size, nil, nil)
					// The candidates and out, from all points but the steps.
					in := make([]bool, n)
					for j := range n {
						in[j] = !math.IsInf(v[j], -1)
					}
					for k, p := range append(slices.Clone(cand), out) {
						if p < 0 {
							break
						}
						notIn := make([]bool, n)
						for j := range n {
							notIn[j] = !in[j]
						}
						if b := bestIn(v, notIn, rank); b != p {
							t.Fatalf("%s: merged point %d is %d, want %d", where, k, p, b)
						}
						in[p] = false
					}
					if len(cand) == 0 && out >= 0 && v[out] > 0 {
						t.Fatalf("%s: no candidates, the best at %v", where, v[out])
					}
					if out < 0 {
						notIn := make([]bool, n)
						for j := range n {
							notIn[j] = !in[j]
						}
						if b := bestIn(v, notIn, rank); b >= 0 && v[b] > 0 {
							t.Fatalf("%s: no point outside the candidates, but %d at %v", where, b, v[b])
						}
					}
					// Steps and lowered candidates, then the next hits.
					for _, p := range cand {
						switch r.IntN(3) {
						case 0:
							v[p], want[p] = math.Inf(-1), math.Inf(-1)
						case 1:
							v[p] -= 1
							want[p] = v[p]
						}
					}
					hits = make([][]rangeHit, 1+r.IntN(4))
					for q := range hits {
						for range r.IntN(n) {
							id := int32(r.IntN(n))
							if r.IntN(5) == 0 {
								id = int32(n - 1)
							}
							hits[q] = append(hits[q], rangeHit{id, float64(r.IntN(16))})
						}
					}
				}
			}
		}
	}
}

// noStats drops an ordering's statistics.
func noStats(order []int32, _ QueryStats, err error) ([]int32, error) { return order, err }

// TestCentralPoint: the point nearest the coordinates' mean, ties to the
// lower index.
func TestCentralPoint(t *testing.T) {
	cases := []struct {
		x    []float64
		d    int
		want int
	}{
		{[]float64{0, 0, 10, 10, 4, 6, 6, 4}, 2, 2}, // mean (5, 5): points 2 and 3 tie
		{[]float64{3, 0, 1, 2}, 1, 2},               // mean 1.5: 1 and 2 tie at 0.5
		{[]float64{7}, 1, 0},
	}
	for _, c := range cases {
		if got := CentralPoint(c.x, len(c.x)/c.d, c.d); got != c.want {
			t.Errorf("CentralPoint(%v, d = %d) = %d, want %d", c.x, c.d, got, c.want)
		}
	}
}
