package tree

import (
	"context"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
)

// The root level of an insertion, found before the batches.
//
// Every point an insertion adds starts at the root, and its first step
// needs its scope among the root's children: those within the root's
// child scale r. In a saturated metric the root has many children (about
// 1,200 at 131,072 points: a net at radius 0.5), Gate-1 (whose bound runs
// through the root, where every distance is near 1) strikes almost none,
// and each point was tiled against all of them: 97 % of the distances when
// as many points go in as the tree holds. A batch's points lie all over
// the domain, too far apart for pivots among them to prove anything, and
// batches of nearby points would crowd their conflict graphs. So before
// the batches, Insert finds the new points' scopes among the root's
// children (as they are before the insertion) in groups of points close in
// space, as the queries find the first level: pivots (chosen farthest first
// by their coordinates) are tiled against the children and the points
// against the pivots, each point keeps the children its nearest pivot
// cannot prove farther than r (|d(p, P) - d(P, c)| - slack > r), and
// blocks of points tile the union of what they keep. The traversal then
// takes a point's scope among those children from here, and scans only the
// children the root gains during the insertion. The scopes are exact, so
// the tree is the one the batches would have built alone.

// Sizes of the root pass (variables so that tests can force it on small
// trees): groups of rootGroup new points with rootPivots pivots, blocks of
// rootBlock points; the pass runs when the root has at least rootChildren
// children and at least rootDensity new points per child (fewer are too
// spread for a group's pivots to rule much out: 2,048 points into a tree
// of 131,072, with 1,175 root children, computed 2 % more distances with
// the pass; 16,384 computed 2.35 times fewer, in the same time; 131,072
// 4.4 times fewer, in 24 % less time).
var (
	rootGroup    = 128
	rootPivots   = 16
	rootBlock    = 16
	rootChildren = 64
	rootDensity  = 4
)

// rootScopes holds, for each new point p (at p - base), its scope among
// the root's children before the insertion, in CSR form.
type rootScopes struct {
	level int32 // the root's level they were found at (an insertion may raise it)
	// extra is how many of the children the root gained in this insertion
	// (inserter.extra) were among those searched; the traversal scans the
	// ones gained since.
	extra int
	base  int32
	off   []int32
	ids   []int32
	dist  []float64
}

// serves reports whether the scopes serve hop hp now: its node is the
// root, still at the level they were found at, and they hold every point
// at it.
func (rs *rootScopes) serves(t *Tree, hp hop, active []insertPlan) bool {
	if rs == nil || hp.z != t.root || t.level[hp.z] != rs.level {
		return false
	}
	for _, a := range hp.members {
		if k := active[a].p - rs.base; k < 0 || int(k) >= len(rs.off)-1 {
			return false
		}
	}
	return true
}

// scope returns point p's members and their distances.
func (rs *rootScopes) scope(p int32) ([]int32, []float64) {
	k := p - rs.base
	lo, hi := rs.off[k], rs.off[k+1]
	return rs.ids[lo:hi], rs.dist[lo:hi]
}

// findRootScopes computes the scopes of points n0..n-1 among the root's
// children now (those of its CSR list and those it gained in this
// insertion), on the pool; nil when the pass does not pay (too few
// children or points) or the root has no children's scale.
func (in *inserter) findRootScopes(ctx context.Context, n0, n int) (*rootScopes, error) {
	t := in.t
	root := t.root
	kids := t.child[t.childOff[root]:t.childOff[root+1]]
	seen := len(in.extra[root])
	if nk := len(kids) + seen; nk < rootChildren || n-n0 < max(rootGroup, rootDensity*nk) || t.level[root] == leafLevel {
		return nil, nil
	}
	if seen > 0 {
		kids = append(slices.Clone(kids), in.extra[root]...)
	}
	r := t.cover(t.level[root] - 1)
	data := t.m.Data()
	// The new points in Morton order, cut into groups.
	fresh := &metric.Set{N: n - n0, D: data.D, X: data.X[n0*data.D : n*data.D]}
	mi := newMortonIndex(fresh, in.pool, &in.use)
	pts := make([]int32, len(mi.order))
	for k, id := range mi.order {
		pts[k] = int32(n0) + id
	}
	d0, g0 := in.dists.Load(), in.gated.Load()
	groups := (len(pts) + rootGroup - 1) / rootGroup
	found := make([][]rootHit, n-n0) // point p's at p - n0
	js, err := in.pool.RunContext(ctx, groups, labelled(phaseTraversal, func(w, g int) {
		ps := pts[g*rootGroup : min(len(pts), (g+1)*rootGroup)]
		in.rootGroupScopes(in.ws[w].w, ps, kids, r, found, int32(n0))
	}))
	in.use.add(js) // no batch yet: the insertion's totals only
	if err != nil {
		return nil, err
	}
	rs := &rootScopes{level: t.level[root], extra: seen, base: int32(n0), off: make([]int32, n-n0+1)}
	in.rootDists += in.dists.Load() - d0
	in.rootGated += in.gated.Load() - g0
	for k, hs := range found {
		rs.off[k+1] = rs.off[k] + int32(len(hs))
		for _, h := range hs {
			rs.ids, rs.dist = append(rs.ids, h.id), append(rs.dist, h.d)
		}
	}
	return rs, nil
}

// rootHit is a child of the root within r of a new point.
type rootHit struct {
	id int32
	d  float64
}

// rootGroupScopes finds the scopes among kids (within r) of the points ps
// (close in space) into out (point p's at p - base), with workspace w.
func (in *inserter) rootGroupScopes(w *metric.Workspace, ps, kids []int32, r float64, out [][]rootHit, base int32) {
	pv := in.t.rootPivots(w, ps, kids)
	computed := int64(len(pv.ids) * (len(kids) + len(ps)))
	var ruledOut int64
	var keep []bool
	var cols []int32
	var tile []float64
	for b0 := 0; b0 < len(ps); b0 += rootBlock {
		b1 := min(len(ps), b0+rootBlock)
		keep, cols = pv.union(b0, b1, kids, r+in.t.slack, keep, cols)
		ruledOut += int64((b1 - b0) * (len(kids) - len(cols)))
		if len(cols) == 0 {
			continue
		}
		tile = in.t.rootBlockHits(w, ps[b0:b1], cols, r, tile, out, base)
		computed += int64((b1 - b0) * len(cols))
	}
	in.dists.Add(computed)
	in.gated.Add(ruledOut)
}

// rootPivotTiles holds a group's pivots (ids, farthest first by
// coordinates among the group's points), their distances to the root's
// children (row p: prow[p*len(kids):]), each point's distances to them
// (row k: dq[k*len(ids):]) and each point's nearest pivot.
type rootPivotTiles struct {
	ids      []int32
	prow, dq []float64
	near     []int
}

// rootPivots picks the pivots among the points ps and tiles them against
// the root's children kids and the points against them.
func (t *Tree) rootPivots(w *metric.Workspace, ps, kids []int32) *rootPivotTiles {
	data := t.m.Data()
	nq, nc, dim := len(ps), len(kids), data.D
	piv := farthestFirst(nil, make([]float64, nq), min(rootPivots, nq), func(i int) []float64 {
		return data.X[int(ps[i])*dim : int(ps[i]+1)*dim]
	})
	np := len(piv)
	pv := &rootPivotTiles{ids: make([]int32, np), prow: make([]float64, np*nc), dq: make([]float64, nq*np), near: make([]int, nq)}
	for p, k := range piv {
		pv.ids[p] = ps[k]
	}
	t.m.Tile(w, pv.prow, nc, data, metric.List(pv.ids), data, metric.List(kids))
	t.m.Tile(w, pv.dq, np, data, metric.List(ps), data, metric.List(pv.ids))
	for k := range nq {
		pv.near[k] = nearestPivot(pv.dq[k*np : (k+1)*np])
	}
	return pv
}

// union returns the children of kids that some point b0..b1-1 of the group
// keeps: those its nearest pivot cannot prove farther than reach
// (|d(p, P) - d(P, c)| > reach), using keep and cols as scratch.
func (pv *rootPivotTiles) union(b0, b1 int, kids []int32, reach float64, keep []bool, cols []int32) ([]bool, []int32) {
	nc, np := len(kids), len(pv.ids)
	keep = append(keep[:0], make([]bool, nc)...)
	for k := b0; k < b1; k++ {
		p, dqp := pv.near[k], pv.dq[k*np+pv.near[k]]
		for j, v := range pv.prow[p*nc : (p+1)*nc] {
			if !(math.Abs(dqp-v) > reach) {
				keep[j] = true
			}
		}
	}
	cols = cols[:0]
	for j, k := range keep {
		if k {
			cols = append(cols, kids[j])
		}
	}
	return keep, cols
}

// rootBlockHits tiles a block of points against cols, the union its
// points keep, and records each point's children within r in out (point
// p's at p - base), returning the tile's buffer.
func (t *Tree) rootBlockHits(w *metric.Workspace, block, cols []int32, r float64, tile []float64, out [][]rootHit, base int32) []float64 {
	data := t.m.Data()
	tile = slices.Grow(tile[:0], len(block)*len(cols))[:len(block)*len(cols)]
	t.m.Tile(w, tile, len(cols), data, metric.List(block), data, metric.List(cols))
	for i := range block {
		var hs []rootHit
		for j, c := range cols {
			if d := tile[i*len(cols)+j]; d <= r {
				hs = append(hs, rootHit{c, d})
			}
		}
		out[block[i]-base] = hs
	}
	return tile
}
