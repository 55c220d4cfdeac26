package tree

import (
	"cmp"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// Pivot bounds at the tree's first level.
//
// Every query of a group meets the first level (the root's children),
// whose nodes span more than a saturated residual distance: the group
// cannot rule any of them out as a whole. But most of them are far from
// each single query, and a few of the group's own queries, its pivots,
// prove it: d(q, z) >= |d(p, z) - d(q, p)| - slack for a pivot p of
// query q. So the pivots (chosen farthest first by their coordinates)
// tile the whole first level; then the group's queries, in walk's blocks
// of walkRows by k-th distance, each keep the nodes their nearest pivot
// cannot rule out, and a block tiles only the union of what its queries
// keep (the pivots' distances taken from their rows) and walks on from
// there. At 10^6 points (m = 256, k = 30) a query needs 1.8 % of the
// first level, and its nearest of 16 pivots rules out 96 % of it; the
// blocks' unions hold about a tenth of it.

// The pivot walk's sizes (variables so that tests can force the walk on
// small trees). On the Vecchia job (d = 2, lengthscale 0.1), against the
// dense first level, 16 pivots per group of 128 measured: n = 10^6, m =
// 256, k = 30: 24 % less query time (8 pivots the same, 32 less gain);
// n = 131,072, m = 512, k = 8: 20 % less; n = 65,536: 4 % less; n =
// 32,768, m = 512, k = 8: within 2 % (a query there needs more of a
// narrower first level).
var (
	// firstPivots is the number of pivots per group of treeGroup queries
	// (fewer for smaller groups: one per pivotQueries queries).
	firstPivots  = 16
	pivotQueries = 8
	// pivotNodes is the smallest first level worth the pivots' tiles.
	pivotNodes = 64
)

// pivotBuf is a query worker's scratch for the pivot bounds.
type pivotBuf struct {
	packed  metric.Set // the group's queries
	first   []int32    // the first level's inner nodes
	idx     []int      // the pivots, as positions in the group
	dq      []float64  // dq[i*np+p]: d(query i, pivot p)
	near    []int      // each query's nearest pivot (its index in idx)
	dx      []float64  // choosePivots: squared coordinate distance to the nearest pivot
	prows   []float64  // the pivots' rows against the first level
	tile    []float64  // a block's tile
	rad     []float64  // the first level's radii plus the bound's slack
	order   []int      // the group's queries by k-th distance
	byPivot []int      // a block's queries by nearest pivot
	keep    []bool     // by first-level column: kept by the block
	plan    []int      // a block's kept columns
	ids     []int32    // a block's kept nodes
	tileq   []int      // the block's queries that are not pivots
	buf     []float64  // the block's distances to its nodes
	pos32   []int32
}

// usesPivots reports whether a group of nq queries meets a first level of
// nf inner nodes with pivots: not under the float32 screen, whose tiles
// hold lower bounds (no upper bound for |d(p, z) - d(q, p)|).
func (qw *queryWorker) usesPivots(nq, nf int) bool {
	return !qw.screens() && nq >= 2*pivotQueries && nf >= pivotNodes
}

// pivotWalk answers group g from the first level on (after firstLeaves,
// with its inner nodes in qw.inner): the pivots tile all of them, then the
// group's queries, pivots included, walk on in blocks by k-th distance,
// each block from the nodes keepFor keeps for it. Every first-level
// distance it computes is offered.
func (t *Tree) pivotWalk(qw *queryWorker, g *group, best *kernels.KBest) {
	pv := &qw.piv
	pq := &pv.packed // by walk
	pv.first = append(pv.first[:0], qw.inner...)
	nq, nf := len(g.qids), len(pv.first)
	t.choosePivots(qw, pq)
	np := len(pv.idx)

	pv.prows = grow(pv.prows, np*nf)
	t.tileSome(qw, g, best, pv.idx, pv.first, pv.prows)

	// The slack: the bound chains two computed distances besides the
	// node's radius (see Metric.TriangleSlack), each link within slack.
	pv.rad = grow(pv.rad, nf)
	for j, z := range pv.first {
		pv.rad[j] = t.radius[z] + 3*t.slack
	}
	// All the queries in blocks by k-th distance, as walk's.
	pv.order = byKth(g, best, grow(pv.order, nq))
	for b0 := 0; b0 < nq; b0 += walkRows {
		block := pv.order[b0:min(nq, b0+walkRows)]
		t.pivotBlock(qw, g, best, block, t.keepFor(qw, g, best, block))
	}
	t.runWalks(qw, best)
}

// tileSome tiles the queries of g at positions pos (in the group's packed
// set) against the nodes c into dst (len(pos) x len(c)), offering them.
func (t *Tree) tileSome(qw *queryWorker, g *group, best *kernels.KBest, pos []int, c []int32, dst []float64) {
	if len(pos) == 0 {
		return
	}
	sub := g.subgroup(pos)
	o := sub.offer(best)
	o.Exclude = qw.seeded(g)
	qb := metric.List(asInt32(pos, &qw.piv.pos32))
	nc := len(c)
	for c0 := 0; c0 < nc; c0 += queryChunk {
		t.tileNearest(qw, dst[c0:], nc, &qw.piv.packed, qb, c[c0:min(nc, c0+queryChunk)], o)
	}
}

// walkFrom starts the walk of the queries of sub (a subgroup of the group
// packed in pq) on from the nodes c, whose distances to them are in buf:
// query i's at row rows[i] (row i when rows is nil), len(c) to a row. The
// walk itself runs in runWalks, in step with the group's other blocks;
// until then the walk holds sub's slices, so each block needs a subgroup
// of its own.
func (t *Tree) walkFrom(qw *queryWorker, pq *metric.Set, sub *group, best *kernels.KBest, c []int32, buf []float64, rows []int) {
	qw.front = qw.front[:0]
	qw.needs(sub, best, rows, len(c))
	qw.blockOrder(sub)
	t.pushChildren(qw, sub, c, buf)
	if len(qw.front) == 0 {
		return
	}
	if qw.nwalks == len(qw.walks) {
		qw.walks = append(qw.walks, blockWalk{})
	}
	bw := &qw.walks[qw.nwalks]
	qw.nwalks++
	bw.g = *sub
	bw.front = append(bw.front[:0], qw.front...)
	bw.byQ = append(bw.byQ[:0], qw.byQ...)
	bw.qDesc = append(bw.qDesc[:0], qw.qDesc...)
	// The block's query rows are packed once for all its tiles, out of
	// its group's (pq).
	qw.packRows(&bw.packed, pq, metric.List(sub.pos))
}

// keepFor returns the first-level columns that the queries of block
// (positions in g) may need. For the block's queries of one pivot p,
// column j (node z) is kept when d(p, z) lies within kth + radius(z)
// (plus slack) of some query's d(q, p): when
// d(p, z) - rad <= max(d(q, p) + kth) and d(p, z) + rad >= min(d(q, p) -
// kth), which every query's own test implies. The nodes dropped are, for
// each query of the block, strictly farther than its k-th distance plus
// their radius: neither they nor their descendants can be among its
// neighbours.
func (t *Tree) keepFor(qw *queryWorker, g *group, best *kernels.KBest, block []int) []int {
	pv := &qw.piv
	nf, np := len(pv.first), len(pv.idx)
	pv.keep = grow(pv.keep, nf)
	clear(pv.keep)
	byp := append(pv.byPivot[:0], block...)
	pv.byPivot = byp
	slices.SortFunc(byp, func(a, b int) int { return cmp.Compare(pv.near[a], pv.near[b]) })
	for b0 := 0; b0 < len(byp); {
		p := pv.near[byp[b0]]
		lo, hi := math.Inf(1), math.Inf(-1)
		b1 := b0
		for ; b1 < len(byp) && pv.near[byp[b1]] == p; b1++ {
			i := byp[b1]
			kth, dqp := best.Worst(int(g.rows[i])), pv.dq[i*np+p]
			a, b := dqp-kth, dqp+kth
			if a != a || b != b { // NaN in either: keep everything
				a, b = math.Inf(-1), math.Inf(1)
			}
			lo, hi = min(lo, a), max(hi, b)
		}
		b0 = b1
		for j, dpz := range pv.prows[p*nf : (p+1)*nf] {
			// A NaN d(p, z) fails both tests: kept.
			if !(dpz-pv.rad[j] > hi) && !(dpz+pv.rad[j] < lo) {
				pv.keep[j] = true
			}
		}
	}
	pv.plan = pv.plan[:0]
	for j, k := range pv.keep[:nf] {
		if k {
			pv.plan = append(pv.plan, j)
		}
	}
	return pv.plan
}

// pivotBlock tiles the queries of block (positions in g) against the
// first-level columns cols (keepFor's) and walks them on from there: the
// pivots' distances from their rows (already offered), the others' tiled
// and offered now.
func (t *Tree) pivotBlock(qw *queryWorker, g *group, best *kernels.KBest, block, cols []int) {
	pv := &qw.piv
	nf, nc := len(pv.first), len(cols)
	pv.tileq = pv.tileq[:0]
	for _, i := range block {
		if pv.idx[pv.near[i]] != i {
			pv.tileq = append(pv.tileq, i)
		}
	}
	qw.skipped += int64(len(pv.tileq) * (nf - nc))
	if nc == 0 {
		return // every node and its subtree is out of every query's reach
	}
	pv.ids = pv.ids[:0]
	for _, j := range cols {
		pv.ids = append(pv.ids, pv.first[j])
	}
	pv.tile = grow(pv.tile, len(pv.tileq)*nc)
	t.tileSome(qw, g, best, pv.tileq, pv.ids, pv.tile)
	pv.buf = grow(pv.buf, len(block)*nc)
	x := 0
	for b, i := range block {
		row := pv.buf[b*nc : (b+1)*nc]
		if p := pv.near[i]; pv.idx[p] == i {
			prow := pv.prows[p*nf : (p+1)*nf]
			for c, j := range cols {
				row[c] = prow[j]
			}
			continue
		}
		copy(row, pv.tile[x*nc:(x+1)*nc])
		x++
	}
	sub := g.subgroup(block)
	t.walkFrom(qw, &pv.packed, &sub, best, pv.ids, pv.buf, nil)
}

// choosePivots picks the group's pivots (pq: the group packed) farthest
// first by their coordinates, a cheap stand-in for the metric's distance
// (the first the group's middle query, each next the query farthest from
// those chosen), then tiles the group against them for pv.dq and each
// query's nearest pivot. It stops early when every query's coordinates
// equal a pivot's.
func (t *Tree) choosePivots(qw *queryWorker, pq *metric.Set) {
	pv := &qw.piv
	nq, d := pq.N, pq.D
	pv.dx = grow(pv.dx, nq)
	pv.idx = farthestFirst(pv.idx[:0], pv.dx, min(firstPivots, nq/pivotQueries), func(i int) []float64 { return pq.X[i*d : (i+1)*d] })
	np := len(pv.idx)
	pv.dq = grow(pv.dq, nq*np)
	t.m.Tile(qw.w, pv.dq, np, pq, metric.Range(0, nq), pq, metric.List(asInt32(pv.idx, &pv.pos32)))
	qw.dists += int64(nq * np)
	pv.near = grow(pv.near, nq)
	for i := range nq {
		pv.near[i] = nearestPivot(pv.dq[i*np : (i+1)*np])
	}
	for p, i := range pv.idx {
		pv.near[i] = p // a pivot is its own nearest, even among duplicates
	}
}

// nearestPivot returns the position of the smallest of a query's
// distances to the pivots (the first among equals; a NaN one never wins
// over a number, and an all-NaN row gives pivot 0, whose window then
// keeps everything).
func nearestPivot(row []float64) int {
	b := 0
	for p, v := range row {
		if v < row[b] || row[b] != row[b] {
			b = p
		}
	}
	return b
}

// farthestFirst appends to idx up to np of the points 0..len(dx)-1 (x(i):
// point i's coordinates), chosen farthest first by their coordinates, a
// cheap stand-in for the metric's distance: the middle point first, each
// next the point farthest from those chosen (dx: scratch for each point's
// squared distance to them). It stops early when every point's
// coordinates equal a chosen one's.
func farthestFirst(idx []int, dx []float64, np int, x func(i int) []float64) []int {
	n := len(dx)
	next := n / 2
	for step := 0; step < np && n > 0; step++ {
		idx = append(idx, next)
		far, dfar := -1, 0.0
		c := x(next)
		for i := range n {
			var s float64
			for k, v := range x(i) {
				s += (v - c[k]) * (v - c[k])
			}
			if step == 0 || s < dx[i] {
				dx[i] = s
			}
			if dx[i] > dfar {
				far, dfar = i, dx[i]
			}
		}
		if far < 0 {
			break
		}
		next = far
	}
	return idx
}

// subgroup returns the group of g's queries at positions pos.
func (g *group) subgroup(pos []int) group {
	var sub group
	g.subgroupInto(&sub, pos)
	return sub
}

// subgroupInto makes *sub the group of g's queries at positions pos,
// reusing its slices' storage.
func (g *group) subgroupInto(sub *group, pos []int) {
	*sub = group{qids: sub.qids[:0], rows: sub.rows[:0], keys: sub.keys[:0], pos: sub.pos[:0], self: g.self, seeded: g.seeded, pred: g.pred}
	for _, i := range pos {
		sub.qids, sub.rows = append(sub.qids, g.qids[i]), append(sub.rows, g.rows[i])
		sub.pos = append(sub.pos, int32(i))
		key := g.qids[i]
		if g.keys != nil {
			key = g.keys[i]
			sub.keys = append(sub.keys, key)
		}
		sub.maxQ = max(sub.maxQ, key)
	}
}

func asInt32(pos []int, buf *[]int32) []int32 {
	*buf = (*buf)[:0]
	for _, i := range pos {
		*buf = append(*buf, int32(i))
	}
	return *buf
}
