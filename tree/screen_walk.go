package tree

import (
	"context"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// Screening in the tree's queries (GateScreen, GateLookup).
//
// The walk's tiles go through the float32 screen first (metric.Screener's
// ScreenRows) and compute in float64 only the pairs it cannot drop, so
// every offer is the float64 distance and the answer is the unscreened
// walk's bit for bit. Two kinds of tile:
//   - leaves (offers only): a pair is recomputed when its lower bound lo2
//     on d64² is at most the k-th smallest upper bound its query row holds
//     after the step's last leaf tile (see nearest);
//   - inner nodes, whose distances also decide which children the block
//     enters (pushChildren: d - kth <= radius + slack). They are screened at
//     the wider radius kth + rmax + 2 slack, rmax the largest radius or child
//     reach among the tile's nodes: a pair beyond it cannot enter anything
//     and is written as +Inf; a pair within it is written as its float64
//     distance when it was recomputed for an offer, else as sqrt(lo2) <= d64
//     (sqrt is correctly rounded, so monotone, and d64 is a float64). A
//     lower bound only enters more nodes than d64 would: the walk may scan
//     more, never less, and finds the same neighbours.
// The seed's tiles run in float64: before it every k-th distance is +Inf
// and nothing could be dropped.

// treeScreening returns the screening state of a tree query with opt
// (nil for GateOff). GateAuto screens only where the metric has no
// structure (unstructured, by auto's probe, which runs here unless auto
// has run it already), so that the walk
// scans nearly every point as brute force does, and then only where the
// screening probe finds it pays, as for brute force. Elsewhere the
// tree's candidates are the near ones, which the float32 bound rarely
// decides, though random pairs' bounds do: at 10^6 points (d = 2,
// lengthscale 0.1, m = 256) the screening probe alone passed, the
// float32 copy added 1 GB and the walk gave up screening after 2.3
// million pairs, 15 % of them undecided (search 11.6 s against 10.0 s).
// Without structure (d = 8, lengthscale 1, n = 32,768) the screened walk
// took 2.3 s against 3.8-3.9 s (docs/BENCHMARKS.md, session 27).
func (t *Tree) treeScreening(ctx context.Context, qs *metric.Set, opt KNNOptions) (*screening, error) {
	switch opt.Gate {
	case GateOff:
		return nil, nil
	case GateAuto:
		if !autoScreens(t.m) || opt.structured {
			return nil, nil
		}
		if near, _, saturated := probe(t.m, opt); !unstructured(near, saturated) {
			return nil, nil
		}
	}
	return newScreening(ctx, t.m, qs, opt)
}

// splitHeavy moves the heavy queries of the groups (screening weight above
// limit: the inducing points and their like, p near the jitter, whose
// bound is too wide to decide anything) into groups of their own, which
// walk unscreened: left in a screened group, each would have every
// candidate recomputed in float64 one row at a time (1.2 % of the pairs
// at d = 8, m = 512). The answer does not depend on the grouping.
func (t *Tree) splitHeavy(groups []group, qs *metric.Set, limit float64) []group {
	var out []group
	var heavy []int32
	template := group{}
	for _, g := range groups {
		light := g.qids[:0:0]
		for _, q := range g.qids {
			if heavyPoint(qs, int(q), limit) {
				heavy = append(heavy, q)
			} else {
				light = append(light, q)
			}
		}
		template = g
		if len(light) == len(g.qids) {
			out = append(out, g)
			continue
		}
		if len(light) > 0 {
			out = append(out, t.regroup(g, light))
		}
	}
	if len(heavy) == 0 {
		return out
	}
	slices.Sort(heavy)
	for h0 := 0; h0 < len(heavy); h0 += treeGroup {
		h := t.regroup(template, heavy[h0:min(len(heavy), h0+treeGroup)])
		h.heavy = true
		out = append(out, h)
	}
	return out
}

// regroup returns g with the queries ids (ascending; rows are query ids):
// an all-points group's seed becomes ids alone; a predecessor group's keys
// are theirs.
func (t *Tree) regroup(g group, ids []int32) group {
	g.qids, g.rows, g.maxQ = ids, ids, ids[len(ids)-1]
	if g.pred {
		g.keys = t.keysOf(ids)
		g.maxQ = slices.Max(g.keys)
	}
	if g.seed != nil {
		g.seed = ids
	}
	return g
}

// report writes the screening counts to opt.ScreenStats, if asked for
// (a nil sc reports nothing).
func (sc *screening) report(opt KNNOptions) {
	if sc != nil && opt.ScreenStats != nil {
		*opt.ScreenStats = sc.stats()
	}
}

// startFrom resets r to the upper bounds of KBest row's current
// neighbours: their distances squared, with a margin of 2^-51 (fl(d d)
// may fall short of d² by half an ulp).
func (r *screenRow) startFrom(best *kernels.KBest, row int) {
	r.reset(best.K)
	_, dist := best.Row(row)
	for _, d := range dist {
		r.offerBound(best.K, d*d*(1+0x1p-51))
	}
}

// screenBuf is a query worker's scratch for screened tiles.
type screenBuf struct {
	hits metric.ScreenHits
	kth2 []float64
	ids  []int32
	cols []int32
	row  []float64
	rows []screenRow // nearest's rows
	tau  screenRow   // threshold's
	inf  []float64   // +Inf, to fill tile rows from
}

// screens reports whether the worker's tiles go through the screen now.
func (qw *queryWorker) screens() bool { return qw.sc != nil && !qw.sc.off.Load() }

// packRows packs the rows b of src into dst, with their float32 copy only
// when the tiles are screened.
func (qw *queryWorker) packRows(dst, src *metric.Set, b metric.Block) *metric.Set {
	if qw.screens() {
		return metric.PackInto(dst, src, b)
	}
	return metric.PackPlainInto(dst, src, b)
}

// nearest offers the leaves c to the queries q of qs, in tiles of
// queryChunk candidates: Nearest, or through the screen when it is on.
// Screened, each query row keeps across the tiles the k smallest upper
// bounds on d64² it has seen (its current neighbours' distances squared
// to start with) and the candidates not yet proven farther, and computes
// in float64 at the end only those still within its k-th bound, as brute
// force does (see scanQueries): early tiles, screened against a k-th
// distance that is still loose, do not pay for float64 rows.
func (t *Tree) nearest(qw *queryWorker, qs *metric.Set, q metric.Block, c []int32, o metric.Offer) {
	nq := q.Len()
	qw.dists += int64(nq * len(c))
	if !qw.screens() {
		for c0 := 0; c0 < len(c); c0 += queryChunk {
			t.m.Nearest(qw.w, qs, q, t.m.Data(), metric.List(c[c0:min(len(c), c0+queryChunk)]), o)
		}
		return
	}
	sc, sb := qw.sc, &qw.scr
	k := o.Best.K
	sb.rows = grow(sb.rows, nq)
	sb.kth2 = grow(sb.kth2, nq)
	for i := range nq {
		sb.rows[i].startFrom(o.Best, int(o.Rows[i]))
	}
	for c0 := 0; c0 < len(c); c0 += queryChunk {
		cc := c[c0:min(len(c), c0+queryChunk)]
		for i := range nq {
			sb.kth2[i] = sb.rows[i].ubMax
		}
		sb.hits.Reset()
		sc.s.ScreenRows(qw.w, qs, q, t.m.Data(), metric.List(cc), sb.kth2, sc.margin, &sb.hits)
		h := &sb.hits
		for x := range h.Cand {
			i, id := int(h.Query[x]), h.Cand[x]
			if o.Refuses(i, id) {
				continue
			}
			r := &sb.rows[i]
			r.offerBound(k, h.Hi2[x])
			if !(h.Lo2[x] > r.ubMax) {
				r.pending = append(r.pending, pendingCand{id, h.Lo2[x]})
			}
		}
		for i := range nq {
			sb.rows[i].tidy()
		}
		sc.screened.Add(int64(nq * len(cc)))
	}
	recomputed := 0
	for i := range nq {
		sb.ids = sb.rows[i].pendingIDs(sb.ids)
		if len(sb.ids) == 0 {
			continue
		}
		recomputed += len(sb.ids)
		qi := q.At(i)
		t.m.Nearest(qw.w, qs, metric.Range(qi, qi+1), t.m.Data(), metric.List(sb.ids), o.Row(i))
	}
	sc.recompute(recomputed)
}

// tileNearest writes the distances of queries q to the inner nodes c into
// dst (row i at i*ldd), or lower bounds on them (see the notes above),
// and offers the nodes' own points: TileNearest, through the screen when
// it is on.
func (t *Tree) tileNearest(qw *queryWorker, dst []float64, ldd int, qs *metric.Set, q metric.Block, c []int32, o metric.Offer) {
	qw.dists += int64(q.Len() * len(c))
	if !qw.screens() {
		t.m.TileNearest(qw.w, dst, ldd, qs, q, t.m.Data(), metric.List(c), o)
		return
	}
	rmax := 0.0
	for _, z := range c {
		sp := t.spans[z] // the records pushChildren reads next
		rmax = max(rmax, sp.radius)
		if sp.k0 < t.spans[z+1].k0 {
			rmax = max(rmax, t.kids[sp.k0].reach) // the kids run by descending reach
		}
	}
	sb := &qw.scr
	nq, nc := q.Len(), len(c)
	sb.kth2 = grow(sb.kth2, nq)
	if len(sb.inf) < nc {
		sb.inf = slices.Repeat([]float64{math.Inf(1)}, nc)
	}
	for i := range nq {
		r := o.Best.Worst(int(o.Rows[i])) + rmax + 2*t.slack
		sb.kth2[i] = r * r
		copy(dst[i*ldd:i*ldd+nc], sb.inf) // a pair the screen drops is farther than r
	}
	t.screenRecompute(qw, qs, q, c, o, dst, ldd)
}

// screenRecompute screens q against c at the radii in qw.scr.kth2, then
// per query row computes in float64 the hits that can still be among its
// k nearest, offering them; with dst it writes every hit's value there
// (the float64 distance or sqrt(lo2)). A hit can be among the k nearest
// only if its lower bound lo2 is at most tau², the k-th smallest of the
// row's current k distances squared and its takeable hits' upper bounds
// hi2 (each an upper bound on a distance the row will hold): a hit with
// lo2 > tau² is strictly farther than k candidates.
func (t *Tree) screenRecompute(qw *queryWorker, qs *metric.Set, q metric.Block, c []int32, o metric.Offer, dst []float64, ldd int) {
	sc, sb := qw.sc, &qw.scr
	nq, nc := q.Len(), len(c)
	sb.hits.Reset()
	sc.s.ScreenRows(qw.w, qs, q, t.m.Data(), metric.List(c), sb.kth2, sc.margin, &sb.hits)
	h := &sb.hits
	recomputed := 0
	for x0 := 0; x0 < len(h.Query); {
		i := int(h.Query[x0])
		x1 := x0
		for x1 < len(h.Query) && int(h.Query[x1]) == i {
			x1++
		}
		tau2 := sb.threshold(o, i, h, x0, x1)
		sb.ids, sb.cols = sb.ids[:0], sb.cols[:0]
		if dst != nil {
			for x := x0; x < x1; x++ {
				dst[i*ldd+int(h.Col[x])] = math.Sqrt(h.Lo2[x])
			}
		}
		for x := x0; x < x1; x++ {
			if h.Lo2[x] <= tau2 && !o.Refuses(i, h.Cand[x]) {
				sb.ids, sb.cols = append(sb.ids, h.Cand[x]), append(sb.cols, h.Col[x])
			}
		}
		x0 = x1
		if len(sb.ids) == 0 {
			continue
		}
		recomputed += len(sb.ids)
		sb.row = grow(sb.row, len(sb.ids))
		qi := q.At(i)
		t.m.TileNearest(qw.w, sb.row, len(sb.ids), qs, metric.Range(qi, qi+1), t.m.Data(), metric.List(sb.ids), o.Row(i))
		if dst != nil {
			for p, j := range sb.cols {
				dst[i*ldd+int(j)] = sb.row[p]
			}
		}
	}
	sc.screened.Add(int64(nq * nc))
	sc.recompute(recomputed)
}

// recompute counts pairs computed in float64 after the screen (in the
// tree's walk they are the kept pairs of the give-up rule, see keep).
func (sc *screening) recompute(n int) {
	sc.recomputed.Add(int64(n))
	sc.keep(n)
}

// threshold returns tau² for query i of o over its hits x0..x1 of h (see
// screenRecompute), through a screenRow's k smallest upper bounds.
func (sb *screenBuf) threshold(o metric.Offer, i int, h *metric.ScreenHits, x0, x1 int) float64 {
	r := &sb.tau
	r.startFrom(o.Best, int(o.Rows[i]))
	// A bound at or above the k-th smallest so far changes nothing (and
	// a NaN one counts as +Inf), so the cheap test comes first: in a
	// saturated metric most of an inner tile's hits fail it.
	for x := x0; x < x1; x++ {
		if h.Hi2[x] < r.ubMax && !o.Refuses(i, h.Cand[x]) {
			r.offerBound(o.Best.K, h.Hi2[x])
		}
	}
	return r.ubMax
}
