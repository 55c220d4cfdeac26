package tree

import (
	"context"
	"time"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// kdChunk is the number of queries one task of a k-d tree search answers.
const kdChunk = 256

// kdWorker is one worker's scratch for k-d tree queries.
type kdWorker struct {
	stack []kdVisit
	dist  []float64 // scanLeaf's row
	hits  []int32   // and its hits
	dists int64
}

// kdVisit is a node waiting on the search stack with its squared box
// distance (or a lower bound of it).
type kdVisit struct {
	z     int32
	dist2 float64
}

// kdPrune reports whether a node whose box lies at computed squared
// distance box2 from the query can be skipped by a query whose k-th
// distance is worst: only when every point in the box is computed strictly
// farther than worst. A point's computed distance is within (d+2) u (u =
// 2^-53) of its true one (see metric.Euclidean.TriangleSlack), so its
// square within about 2(d+2) u; box2 is within (d+2) u of the true squared
// box distance (a sum of nonnegative terms, each operation rounded once),
// which is at most the point's; worst² is rounded once more. A box2 beyond
// worst² by the factor 1 / (1 - (4d+16) 2^-52), and by an absolute margin
// for underflow, so only holds points beyond worst: no tie is lost.
func kdPrune(box2, worst float64, d int) bool {
	const eps, tiny = 0x1p-52, 0x1p-1000
	return box2*(1-float64(4*d+16)*eps)-tiny > worst*worst
}

// AllKNN finds every point's K nearest other points (with Predecessor, its
// K nearest lower-indexed points) through the k-d tree: the same answer,
// bit for bit, as BruteAllKNN. Queries run in leaf order, so that
// consecutive queries meet the same leaves.
func (t *KDTree) AllKNN(ctx context.Context, opt KNNOptions) (*Neighbours, QueryStats, error) {
	t0 := time.Now()
	if err := checkK(opt, t.N()); err != nil {
		return nil, QueryStats{}, err
	}
	if opt.Predecessor && opt.Rank != nil {
		return nil, QueryStats{}, metric.BadInput("the k-d tree's predecessor search follows the stored order: a Rank needs the cover tree or brute force")
	}
	opt.defaults()
	pool, release := opt.pool()
	defer release()
	opt.Pool = pool
	var use usage
	best := opt.ranked(newBest(pool, &use, t.N(), opt.K))
	st, err := t.run(ctx, opt, t.N(), func(kw *kdWorker, p int) {
		id := t.ids[p]
		t.search(kw, t.m.Data(), int(id), id, id, opt.Predecessor, best)
	})
	st.absorb(&use)
	st.since(t0)
	return wrapQuery(best, st, err)
}

// KNN finds the K nearest data points of each point of qs (from
// m.Embed) through the k-d tree: the same answer, bit for bit, as
// BruteKNN.
func (t *KDTree) KNN(ctx context.Context, qs *metric.Set, opt KNNOptions) (*Neighbours, QueryStats, error) {
	t0 := time.Now()
	if err := checkQuerySet(t.m.Data(), qs, opt); err != nil {
		return nil, QueryStats{}, err
	}
	opt.defaults()
	pool, release := opt.pool()
	defer release()
	opt.Pool = pool
	var use usage
	best := opt.ranked(newBest(pool, &use, qs.N, opt.K))
	st, err := t.run(ctx, opt, qs.N, func(kw *kdWorker, q int) {
		t.search(kw, qs, q, int32(q), -1, false, best)
	})
	st.absorb(&use)
	st.since(t0)
	return wrapQuery(best, st, err)
}

// run answers queries 0..n-1 with one(kw, q) in chunks of kdChunk on the
// pool (see onPool) and returns the statistics.
func (t *KDTree) run(ctx context.Context, opt KNNOptions, n int, one func(kw *kdWorker, q int)) (QueryStats, error) {
	chunks := (n + kdChunk - 1) / kdChunk
	return onPool(ctx, opt, chunks, newKDWorker, func(kw *kdWorker, c int) {
		for q := c * kdChunk; q < min(n, (c+1)*kdChunk); q++ {
			one(kw, q)
		}
	})
}

func newKDWorker() *kdWorker { return &kdWorker{} }

func (kw *kdWorker) takeCounts() (int64, int64) { d := kw.dists; kw.dists = 0; return d, 0 }

// search fills row of best with the neighbours of point qi of qs: self is
// the query's own index among the data (-1 for a query point), which it
// skips and, in predecessor mode, stays below. Depth first from the root
// (see push), skipping every node whose box is beyond the row's k-th
// distance (kdPrune) or, in predecessor mode, holds no lower index; each
// leaf is one fused distance row over its block (scanLeaf: the bits of
// Nearest), whose hits go to the row as Nearest would offer them. (within walks the same way
// at a fixed radius; the two loops are kept apart so that this one, the
// hot one, runs without calls through closures: 5-7 % of its time.)
func (t *KDTree) search(kw *kdWorker, qs *metric.Set, qi int, row, self int32, pred bool, best *kernels.KBest) {
	r := int(row)
	best.ResetRow(r)
	x := qs.X[qi*qs.D : (qi+1)*qs.D]
	stack := append(kw.stack[:0], kdVisit{0, t.boxDist2(x, 0)})
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		nd := &t.nodes[v.z]
		if (pred && nd.minID >= self) || kdPrune(v.dist2, best.Worst(r), t.d) {
			continue
		}
		if nd.left >= 0 {
			stack = t.push(stack, x, nd, v.dist2)
			continue
		}
		rad := best.Worst(r)
		dist, hits := t.scanLeaf(kw, x, v.z, rad)
		for _, j := range hits {
			id := t.ids[int(nd.lo)+int(j)]
			if dist[j] > rad || id == self || (pred && id >= self) {
				continue
			}
			best.Push(r, id, dist[j])
			rad = best.Worst(r)
		}
	}
	kw.stack = stack
}

// push puts the children of inner node nd on the search stack for the
// point x, the one on x's side of the split last (so taken first) and at
// nd's box distance dist2 (a lower bound of its own: its box lies in
// nd's), the other at its own box distance.
func (t *KDTree) push(stack []kdVisit, x []float64, nd *kdNode, dist2 float64) []kdVisit {
	near, far := nd.left, nd.right
	if x[nd.dim] >= nd.split {
		near, far = far, near
	}
	return append(stack, kdVisit{far, t.boxDist2(x, far)}, kdVisit{near, dist2})
}

// within passes to found every point whose computed distance to the point
// with coordinates x is at most r, with that distance: search's walk at a
// fixed radius.
func (t *KDTree) within(kw *kdWorker, x []float64, r float64, found func(id int32, dist float64)) {
	stack := append(kw.stack[:0], kdVisit{0, t.boxDist2(x, 0)})
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if nd := &t.nodes[v.z]; !kdPrune(v.dist2, r, t.d) {
			if nd.left >= 0 {
				stack = t.push(stack, x, nd, v.dist2)
				continue
			}
			dist, hits := t.scanLeaf(kw, x, v.z, r)
			for _, j := range hits {
				found(t.ids[int(nd.lo)+int(j)], dist[j])
			}
		}
	}
	kw.stack = stack
}
