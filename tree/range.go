package tree

import (
	"context"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
)

// Ranges is a range query's answer: query i's data points within the
// radius are IDs[Offsets[i]:Offsets[i+1]], ascending, at distances Dist
// (the query's own point included, at 0, when the queries are the data).
type Ranges struct {
	Offsets []int
	IDs     []int32
	Dist    []float64
}

// Range finds, for every point of qs (the data itself, or a set from
// m.Embed), the data points within distance r, through the tree; the
// answer equals a scan of every pair's distance, bit for bit.
func (t *Tree) Range(ctx context.Context, qs *metric.Set, r float64, opt KNNOptions) (*Ranges, QueryStats, error) {
	if !(r >= 0) {
		return nil, QueryStats{}, metric.BadInput("range radius must be a number >= 0, got %v", r)
	}
	if err := metric.Compatible(t.m.Data(), qs); err != nil {
		return nil, QueryStats{}, err
	}
	opt.defaults()
	groups := coherentGroups(qs, walkRows, false)
	perQuery := make([][]rangeHit, qs.N)
	st, err := t.onGroups(ctx, opt, len(groups), func(qw *queryWorker, g int) {
		t.walkRange(qw, qs, groups[g], r, perQuery)
	})
	if err != nil {
		return nil, st, err
	}
	out := &Ranges{Offsets: make([]int, qs.N+1)}
	for i, hs := range perQuery {
		slices.SortFunc(hs, func(a, b rangeHit) int { return int(a.id - b.id) })
		for _, h := range hs {
			out.IDs, out.Dist = append(out.IDs, h.id), append(out.Dist, h.d)
		}
		out.Offsets[i+1] = len(out.IDs)
	}
	return out, st, nil
}

type rangeHit struct {
	id int32
	d  float64
}

// walkRange walks the tree for a block of queries at radius r: every
// frontier node is tiled, kept when within r, and each child x of an inner
// node z followed when d(q, z) - reach(x) - slack <= r for some query of
// the block (reach(x) bounds the distance from z to x and to every
// descendant of x, so no point below x is within r of the others).
func (t *Tree) walkRange(qw *queryWorker, qs *metric.Set, qids []int32, r float64, perQuery [][]rangeHit) {
	rad := grow(qw.kth, len(qids))
	qw.kth = rad
	for i := range rad {
		rad[i] = r
	}
	qw.front = append(qw.front[:0], t.root)
	for len(qw.front) > 0 {
		qw.front = t.rangeStep(qw, qs, qids, rad, nil, qw.front, func(i int, h rangeHit) {
			perQuery[qids[i]] = append(perQuery[qids[i]], h)
		}, nil)
	}
}

// rangeStep tiles the block's queries (qids, at radii rad) against the
// nodes of front, passes each query's hits to hit, and returns the
// children to walk next: with split nil, the children some query of the
// block cannot rule out (in qw.front's storage, which front may share);
// with split, each query's own, appended to split[i], and none. With
// bound (not nil: by node, at least the largest value over its subtree of
// what a hit must be below to count, see maxMinSteps.bound) a child is
// also skipped when every point of its subtree is at least its bound from
// the queries. A lone query without split takes rangeLone's one tile.
func (t *Tree) rangeStep(qw *queryWorker, qs *metric.Set, qids []int32, rad, bound []float64, front []int32, hit func(i int, h rangeHit), split [][]int32) []int32 {
	data := t.m.Data()
	nq, qb := len(qids), metric.List(qids)
	if nq == 1 && split == nil {
		return t.rangeLone(qw, qs, qids, rad[0], bound, front, hit)
	}
	qw.leaves, qw.inner = qw.leaves[:0], qw.inner[:0]
	for _, z := range front {
		if t.spans[z+1].k0 > t.spans[z].k0 {
			qw.inner = append(qw.inner, z)
		} else {
			qw.leaves = append(qw.leaves, z)
		}
	}
	hits := &qw.hits
	for c0 := 0; c0 < len(qw.leaves); c0 += queryChunk {
		c := qw.leaves[c0:min(len(qw.leaves), c0+queryChunk)]
		hits.Reset()
		t.m.Within(qw.w, qs, qb, data, metric.List(c), rad, hits)
		for h := range hits.Cand {
			hit(int(hits.Query[h]), rangeHit{hits.Cand[h], hits.Dist[h]})
		}
		qw.dists += int64(nq * len(c))
	}
	next := qw.front[:0]
	for c0 := 0; c0 < len(qw.inner); c0 += queryChunk {
		c := qw.inner[c0:min(len(qw.inner), c0+queryChunk)]
		nc := len(c)
		qw.tile = grow(qw.tile, nq*nc)
		t.m.Tile(qw.w, qw.tile, nc, qs, qb, data, metric.List(c))
		qw.dists += int64(nq * nc)
		for i := range nq {
			for j, z := range c {
				if d := qw.tile[i*nc+j]; d <= rad[i] {
					hit(i, rangeHit{z, d})
				}
			}
		}
		for j, z := range c {
			if split != nil {
				for i := range nq {
					d := qw.tile[i*nc+j]
					split[i] = t.enter(split[i], z, d-rad[i], d, bound)
				}
				continue
			}
			m, dmin := math.Inf(1), math.Inf(1)
			for i := range nq {
				d := qw.tile[i*nc+j]
				if v := d - rad[i]; v < m {
					m = v
				}
				dmin = min(dmin, d)
			}
			next = t.enter(next, z, m, dmin, bound)
		}
	}
	return next
}

// rangeLone is rangeStep for one query at radius r: one tile of the
// whole front, leaves and inner nodes together, where a block splits them
// between the fused Within (leaves) and a tile (inner nodes). A lone
// query's tile costs about its FMA chain's latency however few its
// columns (m steps k of one dependent FMA each), so one call a level
// instead of two saves nearly half; the distances are the same bits.
func (t *Tree) rangeLone(qw *queryWorker, qs *metric.Set, qids []int32, r float64, bound []float64, front []int32, hit func(i int, h rangeHit)) []int32 {
	data := t.m.Data()
	// front may share qw.front's storage, which next reuses: copy it.
	qw.inner = append(qw.inner[:0], front...)
	next := qw.front[:0]
	for c0 := 0; c0 < len(qw.inner); c0 += queryChunk {
		c := qw.inner[c0:min(len(qw.inner), c0+queryChunk)]
		qw.tile = grow(qw.tile, len(c))
		t.m.Tile(qw.w, qw.tile, len(c), qs, metric.List(qids), data, metric.List(c))
		qw.dists += int64(len(c))
		for j, z := range c {
			d := qw.tile[j]
			if d <= r {
				hit(0, rangeHit{z, d})
			}
			if t.spans[z+1].k0 > t.spans[z].k0 {
				next = t.enter(next, z, d-r, d, bound)
			}
		}
	}
	return next
}

// enter appends to next the children x of z with m <= reach(x) + slack,
// m being d(q, z) - r for a query q at radius r, or the least of these
// over a block (a NaN distance enters nothing: it is never below m). With
// bound, also only those with dmin - bound(x) < reach(x) + slack, dmin
// being the least d(q, z): every point y of x's subtree is at least dmin -
// reach(x) - slack from the queries, so none is below bound(x) otherwise.
func (t *Tree) enter(next []int32, z int32, m, dmin float64, bound []float64) []int32 {
	sp := t.spans[z]
	if !(m <= sp.radius+t.slack) {
		return next
	}
	for _, x := range t.kids[sp.k0:t.spans[z+1].k0] {
		if !(m <= x.reach+t.slack) {
			break // nor can the kids after it, of smaller reach
		}
		if bound != nil && !(dmin-bound[x.id] < x.reach+t.slack) {
			continue
		}
		next = append(next, x.id)
	}
	return next
}

// enters reports whether enter takes kid x of a node whose own test
// passed.
func (t *Tree) enters(x kid, m, dmin float64, bound []float64) bool {
	return m <= x.reach+t.slack && (bound == nil || dmin-bound[x.id] < x.reach+t.slack)
}
