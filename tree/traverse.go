package tree

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer/scope"
)

// hop is a node of the traversal's frontier and the plans (indices into
// the active ones) that have reached it.
type hop struct {
	z       int32
	members []int32
}

// traverse walks every active plan's point down from the root to its
// target, level by level. Each level is one sparse scope collection
// (streamer/scope): every plan asks which children of its node lie within
// that node's child scale, the plans at one node sharing their list (so
// the collector tiles them together), after Gate-1 has struck the children
// the distances the tree holds rule out. Each plan's path depends only on
// distances, not on how the plans were grouped.
func (in *inserter) traverse(ctx context.Context, active []insertPlan) error {
	t := in.t
	data := t.m.Data()
	root := t.root
	all := make([]int32, len(active))
	ids := make([]int32, len(active))
	for k := range active {
		all[k], ids[k] = int32(k), active[k].p
	}
	// The root against the points, one row (the distances are symmetric to
	// the bit): each point's row of V is read once where it lies, rather
	// than gathered and packed for a column of one.
	d := make([]float64, len(active))
	t.m.Tile(in.ws[0].w, d, len(active), data, metric.Range(int(root), int(root)+1), data, metric.List(ids))
	in.dists.Add(int64(len(active)))
	for k := range active {
		pl := &active[k]
		pl.path, pl.pd = append(pl.path[:0], root), append(pl.pd[:0], d[k])
	}
	cur := []hop{{root, all}}
	var next []int32
	for len(cur) > 0 {
		if err := in.step(ctx, cur, active); err != nil {
			return err
		}
		next = next[:0]
		for _, hp := range cur {
			for _, a := range hp.members {
				if active[a].target() != hp.z {
					next = append(next, a)
				}
			}
		}
		slices.SortStableFunc(next, func(a, b int32) int { return cmp.Compare(active[a].target(), active[b].target()) })
		cur = cur[:0]
		for k := 0; k < len(next); {
			e := k + 1
			for e < len(next) && active[next[e]].target() == active[next[k]].target() {
				e++
			}
			cur = append(cur, hop{active[next[k]].target(), slices.Clone(next[k:e])})
			k = e
		}
	}
	return nil
}

// step moves the plans at each hop's node z one node down, to each one's
// nearest child that can host it, or leaves them there (their target)
// with what they learnt about their separation. A child c of z can host p
// when d(p, c) <= base^level(c) (c with children) or d(p, c) <= r =
// base^(level(z)-1) (a leaf); both radii are at most r, so the scope of p
// among z's children at radius r holds every possible host and every
// child of z's scale that breaks p's separation. The scopes found under z
// are cached under z (in.cache): later batches' points at z are offered
// them first, and the telemetry counts how many are members again (with
// no scan cap every child is scanned anyway: the cache changes no work).
func (in *inserter) step(ctx context.Context, hops []hop, active []insertPlan) error {
	req, plans, fromRoot, err := in.levelRequest(ctx, hops, active)
	if err != nil || len(plans) == 0 {
		return err
	}
	t0 := time.Now()
	res, err := in.scope.Collect(ctx, req)
	if err != nil {
		return err
	}
	in.cur.Scope += time.Since(t0)
	in.record(res.Stats)
	// Each plan descends on its own (its path, from its own scope).
	return in.chunks(ctx, len(plans), stepChunk, func(lo, hi int) {
		var ids []int32
		var dist []float64
		for i := lo; i < hi; i++ {
			pl := &active[plans[i]]
			members, d := res.Members[res.Offsets[i]:res.Offsets[i+1]], res.Dist[res.Offsets[i]:res.Offsets[i+1]]
			if fromRoot[i] {
				// The root's children as the root pass found them; the
				// collector scanned those it gained since.
				pi, pd := in.roots.scope(pl.p)
				ids, dist = append(append(ids[:0], pi...), members...), append(append(dist[:0], pd...), d...)
				members, d = ids, dist
			}
			in.descend(pl, req.Radius[i], members, d)
		}
	})
}

// stepChunk is the number of hops (levelRequest) or plans (step) per task
// of the traversal's bookkeeping on the pool; a level with no more than
// that many runs it on the caller's goroutine. (A variable so that tests
// can send small batches to the pool.)
var stepChunk = 64

// chunks runs fn over [0, n) in chunks of size on the pool (on the
// caller's goroutine when n <= size), labelled as traversal.
func (in *inserter) chunks(ctx context.Context, n, size int, fn func(lo, hi int)) error {
	if n <= size {
		fn(0, n)
		return nil
	}
	js, err := in.pool.RunContext(ctx, (n+size-1)/size, labelled(phaseTraversal, func(_, k int) {
		fn(k*size, min(n, (k+1)*size))
	}))
	in.account(js)
	return err
}

// levelRequest returns the scope request of one level of the traversal,
// the plan of each of its queries and whether the root pass holds the
// query's scope among the children it searched (insert_root.go); hops at
// a leaf have no children to ask about (their plans stay).
func (in *inserter) levelRequest(ctx context.Context, hops []hop, active []insertPlan) (scope.Request, []int32, []bool, error) {
	t := in.t
	data := t.m.Data()
	req := scope.Request{Metric: t.m, Queries: data, Candidates: data, QueryBlock: traverseRows, Cache: in.cache,
		Wrap: func(fn func(w, t int)) func(w, t int) { return labelled(phaseTraversal, fn) }}
	// Each hop's Gate-1 list, on the pool (each hop reads and writes only
	// its own plans).
	lists, pres := make([][]int32, len(hops)), make([]bool, len(hops))
	err := in.chunks(ctx, len(hops), stepChunk, func(lo, hi int) {
		for h := lo; h < hi; h++ {
			hp := hops[h]
			lz := t.level[hp.z]
			for _, a := range hp.members {
				active[a].lvl, active[a].sep = lz, false
			}
			if lz != leafLevel {
				pres[h] = in.roots.serves(t, hp, active)
				lists[h] = in.gate1(hp, active, t.cover(lz-1), pres[h])
			}
		}
	})
	if err != nil {
		return req, nil, nil, err
	}
	// Sized once: appends that grow them cleared and copied fresh memory
	// on the caller's goroutine, level after level.
	nq, nl := 0, 0
	for _, hp := range hops {
		if t.level[hp.z] != leafLevel {
			nq, nl = nq+len(hp.members), nl+1
		}
	}
	plans, fromRoot := make([]int32, 0, nq), make([]bool, 0, nq)
	req.Lists, req.ListOf = make([][]int32, 0, nl), make([]int32, 0, nq)
	req.QueryIDs, req.Radius, req.CacheKeys = make([]int32, 0, nq), make([]float64, 0, nq), make([]int64, 0, nq)
	for h, hp := range hops {
		lz := t.level[hp.z]
		if lz == leafLevel {
			continue
		}
		r, pre := t.cover(lz-1), pres[h]
		req.Lists = append(req.Lists, lists[h])
		for _, a := range hp.members {
			plans, fromRoot = append(plans, a), append(fromRoot, pre)
			req.QueryIDs, req.Radius = append(req.QueryIDs, active[a].p), append(req.Radius, r)
			req.ListOf, req.CacheKeys = append(req.ListOf, int32(len(req.Lists)-1)), append(req.CacheKeys, int64(hp.z))
		}
	}
	if s, ok := t.m.(metric.Screener); ok && traverseScreens && s.CanScreen(data, data) {
		req.Screen = s
	}
	return req, plans, fromRoot, nil
}

// record adds a level's scope statistics to the batch's.
func (in *inserter) record(st scope.Stats) {
	for _, js := range st.Jobs {
		in.account(js)
	}
	in.dists.Add(st.Scans - st.Gate1Pruned)
	in.gated.Add(st.Gate1Pruned)
	b := in.cur
	b.ScopeScans += st.Scans
	b.ScopePoints += st.Points
	b.ScopeDedupe += st.Dedupe
	b.ScopeSaturated += st.Saturated
	b.ScopeCachePrefetch += st.CachePrefetch
	b.ScopeCacheHits += st.CacheHits
}

// descend moves a plan to its nearest host among the children of its
// node within r (members, with their distances), ties to the lower index,
// or, when none can host it, leaves it at its node, noting whether it is
// separated from the children of the node's scale.
func (in *inserter) descend(pl *insertPlan, r float64, members []int32, dist []float64) {
	t := in.t
	best, bestD := int32(-1), 0.0
	sep := pl.dist() > r
	for x, c := range members {
		dc := dist[x]
		if t.scale[c] == pl.lvl-1 {
			sep = false // a child of the node's scale within r
		}
		host := r // a leaf takes p at the level that covers it
		if t.level[c] != leafLevel {
			host = t.cover(t.level[c])
		}
		if dc <= host && (best < 0 || dc < bestD || (dc == bestD && c < best)) {
			best, bestD = c, dc
		}
	}
	if best < 0 {
		pl.sep = sep
		return
	}
	pl.path, pl.pd = append(pl.path, best), append(pl.pd, bestD)
}

// traverseScreens makes the traversal screen its tiles in float32 when
// the metric has its screening copy (the scopes, and so the tree, are the
// same). Off: the traversal's tiles read gathered candidate rows, where
// the float32 dot runs no faster than the float64 one, and the pairs left
// undecided are recomputed row by row. Measured (BenchmarkTreeBuild,
// PCCT_BENCH_SCREEN=1, d = 8, n = 16,384, m = 512, insertion, one
// worker): float64 distances 6,485 -> 452 per point, time 2.27 -> 2.60 s.
var traverseScreens = false

// traverseRows is the query block of the traversal's scope collections:
// the plans at one node share their candidates, and 32 rows keep the
// tiles at full speed.
const traverseRows = 32

// gate1 returns the children of hop's node (its CSR list and those added
// since; with pre, only those the root gained after the root pass) that
// the triangle inequality does not rule out for every plan at it:
// |d(p, z) - d(z, c)| - slack > r proves that c can neither host p nor
// break p's separation.
func (in *inserter) gate1(hp hop, active []insertPlan, r float64, pre bool) []int32 {
	t := in.t
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, a := range hp.members {
		dz := active[a].dist()
		lo, hi = min(lo, dz), max(hi, dz)
	}
	var ids []int32
	gated := 0
	z := hp.z
	parts := [2][]int32{t.child[t.childOff[z]:t.childOff[z+1]], in.extra[z]}
	if pre { // the root pass found the points' scopes among the others
		parts = [2][]int32{nil, in.extra[z][in.roots.extra:]}
	}
	for _, part := range parts {
		for _, c := range part {
			dc := t.dparent[c]
			if max(dc-hi, lo-dc)-t.slack > r {
				gated++
				continue
			}
			ids = append(ids, c)
		}
	}
	in.gated.Add(int64(gated * len(hp.members)))
	return ids
}
