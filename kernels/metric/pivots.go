package metric

import (
	"context"
	"math"
	"sync"
)

// Pivot bounds: an exact screen from the triangle inequality.
//
// For pivots p_1..p_P among the data and any two points q, c, the computed
// distances satisfy (TriangleSlack s)
//
//	d(q, c) >= |d(q, p) - d(c, p)| - s   and   d(q, c) <= d(q, p) + d(c, p) + s
//
// for every pivot p, so lo = max_p |d(q,p) - d(c,p)| - s and
// hi = min_p (d(q,p) + d(c,p)) + s bound the pair's distance without
// computing it: P subtractions against an m-term dot product. A pair
// whose lo exceeds the query's k-th distance is dropped; the others are
// computed as usual, so the answer is the unscreened one, bit for bit.
// The bound decides little where the metric has no structure (residual,
// d = 8, lengthscale 1: about 0.2 % of predecessor pairs with 16 pivots)
// and is costlier per pair than the float32 screen; it is there as the
// exact gate that needs neither a float32 copy nor a float64 V, for both
// metrics.

// PivotsPay reports whether m's distance costs enough per pair for pivot
// bounds to save time where they decide nearly every pair. Per pair
// (BenchmarkPivotScreen, tiles of 128 x 512, AVX-512): the screen 3.9 ns
// when its first pivot drops the pair; the Euclidean tile 0.29 ns at
// d = 2 and 6.8 ns at d = 64, the residual tile 2.2 ns at m = 64 and 11 ns
// at m = 512.
func PivotsPay(m Metric) bool {
	s := m.Data()
	if _, ok := m.(*Residual); ok {
		return s.M >= 256
	}
	return s.D >= 32
}

// DefaultPivots is the number of pivots NewPivotBound takes when asked
// for 0.
const DefaultPivots = 16

// PivotBound is a Screener over a metric's data and the query sets bound
// to it, from their distances to a few pivots (chosen farthest first).
// It is safe for concurrent screening once built and bound.
type PivotBound struct {
	m     Metric
	piv   []int32 // pivot ids in the data
	slack float64
	mu    sync.RWMutex
	rows  map[*Set][]float64 // per root set: point i's distances at i*P
}

// NewPivotBound picks p pivots (DefaultPivots when 0; fewer when the
// sample holds fewer distinct points) farthest first among a sample of
// pivotSample points drawn with seed, and computes every data point's
// distances to them on pool (nil: goroutines).
func NewPivotBound(ctx context.Context, m Metric, p int, seed uint64, pool Runner) (*PivotBound, error) {
	data := m.Data()
	if p < 0 {
		return nil, badInput("pivot bound: %d pivots", p)
	}
	if p == 0 {
		p = DefaultPivots
	}
	p = min(p, data.N)
	pb := &PivotBound{m: m, slack: m.TriangleSlack(), rows: map[*Set][]float64{}}
	var sample []int32
	for _, id := range sampleDistinct(data.N, min(data.N, pivotSample), seed) {
		sample = append(sample, int32(id))
	}
	pb.piv = farthestFirst(m, sample, p)
	dist, err := pb.distances(ctx, data, pool)
	if err != nil {
		return nil, err
	}
	pb.rows[data] = dist
	return pb, nil
}

// pivotSample is the number of points the pivots are chosen among.
const pivotSample = 1024

// farthestFirst returns p of the ids: the first, then each time the one
// farthest from those taken (ties to the earlier in ids; NaN never wins).
func farthestFirst(m Metric, ids []int32, p int) []int32 {
	data, w := m.Data(), NewWorkspace()
	near := make([]float64, len(ids))
	for i := range near {
		near[i] = math.Inf(1)
	}
	col := make([]float64, len(ids))
	var piv []int32
	next := 0
	for len(piv) < p && next >= 0 {
		id := ids[next]
		piv = append(piv, id)
		m.Tile(w, col, 1, data, List(ids), data, Range(int(id), int(id)+1))
		next = -1
		far := -1.0
		for i, d := range col {
			near[i] = min(near[i], d)
			if near[i] > far {
				next, far = i, near[i]
			}
		}
		if far <= 0 { // every sampled point sits on a pivot
			next = -1
		}
	}
	return piv
}

// distances returns the distances of the points of s to the pivots
// (point i's at i*P), in blocks on the pool.
func (pb *PivotBound) distances(ctx context.Context, s *Set, pool Runner) ([]float64, error) {
	const block = 1024
	p := len(pb.piv)
	dist := make([]float64, s.N*p)
	if p == 0 {
		return dist, nil
	}
	pool = runnerOr(pool)
	ws := make([]*Workspace, pool.Workers())
	err := pool.Each(ctx, (s.N+block-1)/block, func(w, b int) {
		if ws[w] == nil {
			ws[w] = NewWorkspace()
		}
		lo, hi := b*block, min(s.N, (b+1)*block)
		pb.m.Tile(ws[w], dist[lo*p:hi*p], p, s, Range(lo, hi), pb.m.Data(), List(pb.piv))
	})
	return dist, err
}

// Pivots returns the pivots' ids in the data.
func (pb *PivotBound) Pivots() []int32 { return pb.piv }

// Bind computes the pivot distances of a query set's points (one from
// Embed), so that the bound can screen it against the data.
func (pb *PivotBound) Bind(ctx context.Context, qs *Set, pool Runner) error {
	if err := Compatible(qs, pb.m.Data()); err != nil {
		return err
	}
	dist, err := pb.distances(ctx, qs, pool)
	if err != nil {
		return err
	}
	pb.mu.Lock()
	pb.rows[qs.root()] = dist
	pb.mu.Unlock()
	return nil
}

// table returns the pivot distances of s's root, and whether it has them.
func (pb *PivotBound) table(s *Set) ([]float64, bool) {
	pb.mu.RLock()
	defer pb.mu.RUnlock()
	t, ok := pb.rows[s.root()]
	return t, ok
}

// CanScreen implements Screener: both sets' roots have pivot distances.
func (pb *PivotBound) CanScreen(qs, cs *Set) bool {
	_, a := pb.table(qs)
	_, b := pb.table(cs)
	return a && b
}

// Heavy implements Screener: no point is too heavy to screen.
func (pb *PivotBound) Heavy() float64 { return math.Inf(1) }

// bounds returns the lower and upper bounds on d(q, c) from their pivot
// distances a and b. NaN distances give NaN bounds (never a drop).
func (pb *PivotBound) bounds(a, b []float64) (lo, hi float64) {
	lo, hi = 0, math.Inf(1)
	for k, x := range a {
		y := b[k]
		if math.IsNaN(x) || math.IsNaN(y) {
			return math.NaN(), math.NaN()
		}
		lo = max(lo, math.Abs(x-y))
		hi = min(hi, x+y)
	}
	return max(lo-pb.slack, 0), hi + pb.slack
}

// tables returns the pivot distances of qs's and cs's roots.
func (pb *PivotBound) tables(qs, cs *Set) (ta, tb []float64) {
	ta, okA := pb.table(qs)
	tb, okB := pb.table(cs)
	if !okA || !okB {
		panic("metric: pivot bound used on a set it has no distances for (see CanScreen)")
	}
	return ta, tb
}

// ScreenTile implements Screener.
func (pb *PivotBound) ScreenTile(w *Workspace, lo2 []float64, ldd int, qs *Set, q Block, cs *Set, c Block) {
	ta, tb := pb.tables(qs, cs)
	p := len(pb.piv)
	for i := range q.Len() {
		qi := qs.rootID(q.At(i))
		for j := range c.Len() {
			cj := cs.rootID(c.At(j))
			lo, _ := pb.bounds(ta[qi*p:qi*p+p], tb[cj*p:cj*p+p])
			lo2[i*ldd+j] = lo * lo
		}
	}
}

// ScreenRows implements Screener; margin must be nil (the bound is exact).
func (pb *PivotBound) ScreenRows(w *Workspace, qs *Set, q Block, cs *Set, c Block, kth2 []float64, margin Margin, out *ScreenHits) {
	if margin != nil {
		panic("metric: the pivot bound takes no margin")
	}
	pb.screen(qs, q, cs, c, func(i, _ int) float64 { return kth2[i] }, out)
}

// ScreenBoth implements Screener.
func (pb *PivotBound) ScreenBoth(w *Workspace, qs *Set, q Block, cs *Set, c Block, kth2, ckth2 []float64, out *ScreenHits) {
	pb.screen(qs, q, cs, c, func(i, j int) float64 { return max(kth2[i], ckth2[j]) }, out)
}

// screen appends to out every pair of the tile whose lower bound lo
// satisfies !(lo² > t2(i, j)). A pair is dropped as soon as one pivot
// proves it, (|d(q,p) - d(c,p)| - slack)² > t2: lo is the largest of
// those terms and squaring is monotone, so this is the full bound's
// decision, reached after fewer pivots.
func (pb *PivotBound) screen(qs *Set, q Block, cs *Set, c Block, t2 func(i, j int) float64, out *ScreenHits) {
	ta, tb := pb.tables(qs, cs)
	p := len(pb.piv)
	nq, nc := q.Len(), c.Len()
	s := pb.slack
	for i := range nq {
		qi := qs.rootID(q.At(i))
		a := ta[qi*p : qi*p+p]
	pairs:
		for j := range nc {
			cj := cs.rootID(c.At(j))
			b := tb[cj*p : cj*p+p]
			t := t2(i, j)
			for k, x := range a {
				if l := math.Abs(x-b[k]) - s; l > 0 && l*l > t {
					continue pairs
				}
			}
			lo, hi := pb.bounds(a, b)
			out.add(i, c.At(j), int32(j), lo*lo, hi*hi)
		}
	}
}
