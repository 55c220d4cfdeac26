package tree

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
)

// hop is a node of the traversal's frontier and the plans (indices into
// the active ones) that have reached it.
type hop struct {
	z       int32
	members []int32
}

// traverseRows is the number of plans one traversal task tiles together.
const traverseRows = 32

// traverse walks every active plan's point down from the root to its
// target, level by level: the plans at one node are tiled together
// against its children (in tasks of traverseRows), so the tiles keep
// many rows. Each plan's path depends only on distances, not on how the
// plans were grouped.
func (in *inserter) traverse(ctx context.Context, active []insertPlan) error {
	t := in.t
	data := t.m.Data()
	root := t.root
	all := make([]int32, len(active))
	ids := make([]int32, len(active))
	for k := range active {
		all[k], ids[k] = int32(k), active[k].p
	}
	d := make([]float64, len(active))
	t.m.Tile(in.ws[0].w, d, 1, data, metric.List(ids), data, metric.Range(int(root), int(root)+1))
	in.dists.Add(int64(len(active)))
	for k := range active {
		pl := &active[k]
		pl.path, pl.pd = append(pl.path[:0], root), append(pl.pd[:0], d[k])
	}
	cur := []hop{{root, all}}
	type task struct{ h, lo, hi int }
	var tasks []task
	var next []int32
	for len(cur) > 0 {
		tasks = tasks[:0]
		for h, hp := range cur {
			for lo := 0; lo < len(hp.members); lo += traverseRows {
				tasks = append(tasks, task{h, lo, min(len(hp.members), lo+traverseRows)})
			}
		}
		js, err := in.pool.RunContext(ctx, len(tasks), labelled(phaseTraversal, func(w, k int) {
			tk := tasks[k]
			in.step(w, cur[tk.h].z, cur[tk.h].members[tk.lo:tk.hi], active)
		}))
		in.account(js)
		if err != nil {
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

// step moves the plans at node z one node down, to each one's nearest
// child that can host it, or leaves them there (their target) with what
// they learnt about their separation.
func (in *inserter) step(w int, z int32, members []int32, active []insertPlan) {
	t, sc := in.t, in.ws[w]
	lz := t.level[z]
	for _, a := range members {
		active[a].lvl, active[a].sep = lz, false
	}
	if lz == leafLevel {
		return
	}
	r := t.cover(lz - 1)
	// Gate-1: a child is tiled unless the triangle inequality rules it out
	// for every plan here.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, a := range members {
		dz := active[a].dist()
		lo, hi = min(lo, dz), max(hi, dz)
	}
	ids := sc.ids[:0]
	gated := 0
	for _, part := range [2][]int32{t.child[t.childOff[z]:t.childOff[z+1]], in.extra[z]} {
		for _, c := range part {
			dc := t.dparent[c]
			if max(dc-hi, lo-dc)-t.slack > r {
				gated++
				continue
			}
			ids = append(ids, c)
		}
	}
	sc.ids = ids
	in.gated.Add(int64(gated * len(members)))
	// The radius within which each child can host a point, and whether it
	// shares the scale at which separation is decided.
	sc.host = grow(sc.host, len(ids))
	sc.same = grow(sc.same, len(ids))
	for k, c := range ids {
		sc.host[k], sc.same[k] = r, t.scale[c] == lz-1 // a leaf takes p at the level that covers it
		if t.level[c] != leafLevel {
			sc.host[k] = t.cover(t.level[c])
		}
	}
	pts := sc.pts[:0]
	for _, a := range members {
		pts = append(pts, active[a].p)
	}
	sc.pts = pts
	nc := len(ids)
	sc.d = grow(sc.d, len(pts)*nc)
	if nc > 0 {
		t.m.Tile(sc.w, sc.d, nc, t.m.Data(), metric.List(pts), t.m.Data(), metric.List(ids))
		in.dists.Add(int64(len(pts) * nc))
	}
	for i, a := range members {
		pl := &active[a]
		row := sc.d[i*nc : (i+1)*nc]
		best, bestD := int32(-1), 0.0
		sep := pl.dist() > r
		for k, c := range ids {
			dc := row[k]
			if sc.same[k] && dc <= r {
				sep = false
			}
			if dc <= sc.host[k] && (best < 0 || dc < bestD || (dc == bestD && c < best)) {
				best, bestD = c, dc
			}
		}
		if best < 0 {
			pl.sep = sep
			continue
		}
		pl.path, pl.pd = append(pl.path, best), append(pl.pd, bestD)
	}
}
