package tree

import (
	"cmp"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// The screened brute-force scan: query blocks, their per-row bounds and
// pending candidates, and the final float64 recomputation.

// scanBuf is a worker's scratch for the brute-force scans.
type scanBuf struct {
	packed    metric.Set // the screened query block's rows
	tile, row []float64
	ids       []int32
	hits      metric.ScreenHits
	rows      []screenRow
	kth2      []float64
}

// screenRow is a query row's screening state within its query block: the
// k smallest upper bounds on d64² seen (so its k-th distance is at most
// the largest of them) and the candidates not yet proven out, with their
// lower bounds.
type screenRow struct {
	ub      []float64 // at most k values, a max-heap (ub[0] the largest)
	ubMax   float64   // +Inf until k are known
	pending []pendingCand
	pruned  int // len(pending) after the last prune
}

type pendingCand struct {
	id  int32
	lo2 float64
}

func (r *screenRow) reset(k int) {
	r.ub, r.ubMax, r.pending, r.pruned = r.ub[:0], math.Inf(1), r.pending[:0], 0
	if cap(r.ub) < k {
		r.ub = make([]float64, 0, k)
	}
}

// offerBound keeps hi among the k smallest upper bounds (a NaN counts as
// +Inf: no bound).
func (r *screenRow) offerBound(k int, hi float64) {
	if hi != hi {
		hi = math.Inf(1)
	}
	if len(r.ub) < k {
		r.ub = append(r.ub, hi)
		for c := len(r.ub) - 1; c > 0; { // sift up
			p := (c - 1) / 2
			if r.ub[p] >= r.ub[c] {
				break
			}
			r.ub[p], r.ub[c], c = r.ub[c], r.ub[p], p
		}
		if len(r.ub) == k {
			r.ubMax = r.ub[0]
		}
		return
	}
	if hi >= r.ubMax {
		return
	}
	r.ub[0] = hi
	for p := 0; ; { // sift down
		c := 2*p + 1
		if c >= len(r.ub) {
			break
		}
		if c+1 < len(r.ub) && r.ub[c+1] > r.ub[c] {
			c++
		}
		if r.ub[p] >= r.ub[c] {
			break
		}
		r.ub[p], r.ub[c], p = r.ub[c], r.ub[p], c
	}
	r.ubMax = r.ub[0]
}

// pendingIDs prunes the row and returns its pending candidates' ids,
// ascending, in buf.
func (r *screenRow) pendingIDs(buf []int32) []int32 {
	r.prune()
	buf = buf[:0]
	for _, p := range r.pending {
		buf = append(buf, p.id)
	}
	slices.Sort(buf)
	return buf
}

// prune drops the pending candidates proven beyond the row's k-th.
func (r *screenRow) prune() {
	keep := r.pending[:0]
	for _, p := range r.pending {
		if !(p.lo2 > r.ubMax) {
			keep = append(keep, p)
		}
	}
	r.pending, r.pruned = keep, len(keep)
}

// tidy prunes the row after a block once its pending list has doubled
// since the last prune (pendingIDs prunes it whole at the end), so that
// the blocks' prunes cost about the list's final length, not that times
// the blocks.
func (r *screenRow) tidy() {
	if len(r.pending) >= 2*r.pruned+pruneMin {
		r.prune()
	}
}

// pruneMin is the growth of a pending list below which tidy leaves it.
const pruneMin = 32

// queryBlock is a block of query rows and the screening that applies to
// them (nil: computed whole in float64).
type queryBlock struct {
	rows metric.Block
	sc   *screening
}

// queryBlocks cuts the queries of qs into blocks of size rows, the
// largest indices first (by ord's positions: in each block the rows
// ascend in ord). With screening, the heavy queries get blocks of their
// own, unscreened, so that they still run full tiles (a heavy query,
// weight above the metric's Heavy(), has too wide a bound to decide: the
// inducing points themselves, p near the jitter).
func queryBlocks(sc *screening, qs *metric.Set, size int, ord *rankOrder) []queryBlock {
	nq := qs.N
	var out []queryBlock
	if sc == nil || sc.off.Load() {
		for i1 := nq; i1 > 0; i1 -= size {
			out = append(out, queryBlock{rows: ord.cands(max(0, i1-size), i1)})
		}
		return out
	}
	limit := sc.s.Heavy()
	var light, heavy []int32
	for p := range nq {
		i := ord.at(p)
		if heavyPoint(qs, int(i), limit) {
			heavy = append(heavy, i)
		} else {
			light = append(light, i)
		}
	}
	cut := func(ids []int32, s *screening) {
		for hi := len(ids); hi > 0; hi -= size {
			out = append(out, queryBlock{rows: metric.List(ids[max(0, hi-size):hi]), sc: s})
		}
	}
	cut(light, sc)
	cut(heavy, nil)
	slices.SortStableFunc(out, func(a, b queryBlock) int { // largest last row first
		return cmp.Compare(ord.pos(b.rows.At(b.rows.Len()-1)), ord.pos(a.rows.At(a.rows.Len()-1)))
	})
	return out
}

// scanQueries offers every candidate block of the data to the query rows
// q of qs (rows of best by the same ids); with pred, row i takes only
// candidates below i (in ord, whose positions the candidate blocks
// follow; nil: the points' own order). Screened, each row keeps bounds
// and a pending list through all candidate blocks and computes in
// float64, at the end, only the candidates that can still be among its k
// nearest; the answer is the float64 one bit for bit. Unscreened (or once
// screening gave up), tiles are computed whole.
func scanQueries(m metric.Metric, sc *screening, w *metric.Workspace, buf *scanBuf, best *kernels.KBest, qs *metric.Set, q metric.Block, cblock int, rule scanRule, ord *rankOrder) {
	pred := rule == predecessors
	nq := q.Len()
	hi := m.Data().N
	if pred {
		hi = ord.pos(q.At(nq - 1)) // no row takes candidates at or above the last one
	}
	ids := q
	if sc == nil {
		if q.IDs != nil { // packed once, so that no tile gathers them
			qs, q = metric.PackPlainInto(&buf.packed, qs, q), metric.Range(0, nq)
		}
		for j0 := 0; j0 < hi; j0 += cblock {
			fullTile(m, w, buf, best, qs, q, ids, j0, min(hi, j0+cblock), rule, ord)
		}
		return
	}
	// The screened rows are packed once, so that no tile gathers them.
	if q.IDs != nil {
		qs, q = metric.PackInto(&buf.packed, qs, q), metric.Range(0, nq)
	}
	buf.rows = grow(buf.rows, nq)
	// The first candidates are computed in float64: each row then starts
	// with its k-th distance among them as a bound, instead of taking
	// every candidate of its first screened block as a hit (12.0 million
	// hits instead of 20.6 million at d = 8, n = 32,768; 2-3 % faster).
	j0 := min(hi, seedBlock)
	fullTile(m, w, buf, best, qs, q, ids, 0, j0, rule, ord)
	sc.full.Add(int64(nq * j0))
	for r := range buf.rows {
		buf.rows[r].startFrom(best, ids.At(r))
	}
	for ; j0 < hi; j0 += cblock {
		j1 := min(hi, j0+cblock)
		if sc.off.Load() {
			fullTile(m, w, buf, best, qs, q, ids, j0, j1, rule, ord)
			sc.full.Add(int64(nq * (j1 - j0)))
			continue
		}
		sc.screenBlock(w, buf, qs, q, ids, j0, j1, rule, ord)
	}
	sc.finish(w, buf, best, qs, q, ids)
}

// scanRule says which candidates a scanned row takes.
type scanRule int

const (
	allCands     scanRule = iota // every data point (query sets)
	predecessors                 // row i: the points below i
	notSelf                      // row i of the data: every point but i
)

// limitOf is how many candidates of the block [j0, j1) row i takes.
func limitOf(i, j0, j1 int, pred bool) int {
	if pred {
		return max(0, min(j1-j0, i-j0))
	}
	return j1 - j0
}

// fullTile computes the tile of the rows q of qs against the candidates
// at positions [j0, j1) of ord in float64 and offers it to their rows ids
// of best.
func fullTile(m metric.Metric, w *metric.Workspace, buf *scanBuf, best *kernels.KBest, qs *metric.Set, q, ids metric.Block, j0, j1 int, rule scanRule, ord *rankOrder) {
	nq, nc := q.Len(), j1-j0
	buf.tile = grow(buf.tile, nq*nc)
	m.Tile(w, buf.tile, nc, qs, q, m.Data(), ord.cands(j0, j1))
	for r := range nq {
		i := ids.At(r)
		row := buf.tile[r*nc : r*nc+limitOf(ord.pos(i), j0, j1, rule == predecessors)]
		if ord != nil {
			scanIDs(best, i, row, ord.byRank[j0:j1])
			continue
		}
		skip := int32(-1)
		if rule == notSelf {
			skip = int32(i)
		}
		scanRow(best, i, row, int32(j0), skip)
	}
}

// screenBlock screens the candidates at positions [j0, j1) of ord for the
// rows q of qs (ids in best).
func (sc *screening) screenBlock(w *metric.Workspace, buf *scanBuf, qs *metric.Set, q, ids metric.Block, j0, j1 int, rule scanRule, ord *rankOrder) {
	pred := rule == predecessors
	nq, k := q.Len(), 0
	buf.kth2 = grow(buf.kth2, nq)
	for r := range nq {
		buf.kth2[r] = buf.rows[r].ubMax
		k = cap(buf.rows[r].ub)
	}
	buf.hits.Reset()
	sc.s.ScreenRows(w, qs, q, sc.m.Data(), ord.cands(j0, j1), buf.kth2, sc.margin, &buf.hits)
	h := &buf.hits
	screened, kept := 0, 0 // over rows that had a k-th bound: the give-up statistic
	for x := range h.Cand {
		r, j := int(h.Query[x]), h.Cand[x]
		if pred && ord.pos(int(j)) >= ord.pos(ids.At(r)) || rule == notSelf && int(j) == ids.At(r) {
			continue // not a predecessor, or the own point
		}
		row := &buf.rows[r]
		row.offerBound(k, h.Hi2[x])
		if !(h.Lo2[x] > row.ubMax) {
			row.pending = append(row.pending, pendingCand{j, h.Lo2[x]})
			if !math.IsInf(buf.kth2[r], 1) {
				kept++
			}
		}
	}
	for r := range nq {
		if !math.IsInf(buf.kth2[r], 1) {
			screened += limitOf(ord.pos(ids.At(r)), j0, j1, pred)
		}
		buf.rows[r].tidy()
	}
	sc.screened.Add(int64(screened))
	sc.keep(kept)
}

// keep counts pairs that stayed pending after their block, and turns
// screening off for the rest of the search when, after screenProbe
// screened pairs, they are more than screenGiveUp of them.
func (sc *screening) keep(n int) {
	sc.kept.Add(int64(n))
	if s := sc.screened.Load(); s > screenProbe && float64(sc.kept.Load()) > screenGiveUp*float64(s) {
		sc.off.Store(true)
	}
}

// finish computes in float64 the candidates still pending for the rows q
// of qs and offers them to their rows ids of best.
func (sc *screening) finish(w *metric.Workspace, buf *scanBuf, best *kernels.KBest, qs *metric.Set, q, ids metric.Block) {
	data := sc.m.Data()
	for r := range q.Len() {
		buf.ids = buf.rows[r].pendingIDs(buf.ids)
		if len(buf.ids) == 0 {
			continue
		}
		t, i := q.At(r), ids.At(r)
		buf.row = grow(buf.row, len(buf.ids))
		sc.m.Tile(w, buf.row, len(buf.ids), qs, metric.Range(t, t+1), data, metric.List(buf.ids))
		sc.recomputed.Add(int64(len(buf.ids)))
		worst := best.Worst(i)
		for x, d := range buf.row[:len(buf.ids)] {
			if d <= worst {
				best.Push(i, buf.ids[x], d)
				worst = best.Worst(i)
			}
		}
	}
}

// Audit recomputes a gated search in float64 and counts its false prunes:
// the neighbours of the float64 answer (want) that the gated answer (got)
// lacks, over all rows. Exact gates (GateScreen) must give 0.
func Audit(got, want *Neighbours) int64 {
	var miss int64
	for i := range want.N() {
		wi, wd := want.Row(i)
		gi, gd := got.Row(i)
		for p := range wi {
			if wi[p] < 0 {
				continue
			}
			found := false
			for q := range gi {
				if gi[q] == wi[p] && gd[q] == wd[p] {
					found = true
					break
				}
			}
			if !found {
				miss++
			}
		}
	}
	return miss
}

// lookupMargin returns the lookup gate's margins from opt's profile, one
// per radius bin (computed once).
func lookupMargin(m metric.Metric, opt KNNOptions) (metric.Margin, error) {
	p := opt.Profile
	r, ok := m.(*metric.Residual)
	if p == nil || !ok {
		return nil, metric.BadInput("gate lookup needs a gate profile of the residual metric (KNNOptions.Profile)")
	}
	if err := p.Compatible(r); err != nil {
		return nil, err
	}
	q := opt.LookupQuantile
	if q == 0 {
		q = 1
	}
	if !(q > 0 && q <= 1) {
		return nil, metric.BadInput("lookup quantile must be in (0, 1], got %v", q)
	}
	edges := make([]float64, len(p.Bins))
	los, his := make([]float64, len(p.Bins)), make([]float64, len(p.Bins))
	for b, bin := range p.Bins {
		edges[b] = bin.Radius
		los[b], his[b] = p.Margins(bin.Radius, q)
	}
	return func(rad float64) (float64, float64) {
		b, _ := slices.BinarySearch(edges, rad)
		b = min(b, len(edges)-1)
		return los[b], his[b]
	}, nil
}
