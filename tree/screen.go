package tree

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// Gate selects how brute force computes its tiles.
type Gate int

const (
	// GateOff computes every distance in float64.
	GateOff Gate = iota
	// GateScreen computes each tile in float32 first and recomputes in
	// float64 only the candidates the proven bound cannot drop (see
	// metric.Screener): the answer is bit for bit GateOff's. Brute force
	// (predecessor mode, query sets) and the cover tree's queries screen.
	// A search of the data's own points probes a sample first and enables
	// screening on the metric (Residual.EnableScreening: n m 4 bytes, and
	// the metric must not be searched concurrently then) only where it
	// pays; a query set must come from Embed after EnableScreening.
	GateScreen
	// GateAuto is GateScreen for brute force on a residual metric with V
	// in float64, where the probe decides; query sets embedded without the
	// copy, and the cover tree, are not screened. Exact, like GateScreen.
	GateAuto
	// GateLookup is GateScreen with the bound replaced by a gate
	// profile's quantile of the float32 error (KNNOptions.Profile,
	// LookupQuantile): APPROXIMATE, a neighbour whose float32 distance
	// strays beyond the quantile can be lost (--gate-audit counts them).
	GateLookup
)

// ParseGate reads "off" or "screen".
func ParseGate(s string) (Gate, error) {
	switch s {
	case "off":
		return GateOff, nil
	case "screen":
		return GateScreen, nil
	case "lookup":
		return GateLookup, nil
	case "auto":
		return GateAuto, nil
	case "bound":
		return 0, fmt.Errorf("gate %q is not implemented (want off, screen or lookup)", s)
	}
	return 0, fmt.Errorf("unknown gate %q (want off, auto, screen or lookup)", s)
}

func (g Gate) String() string {
	switch g {
	case GateScreen:
		return "screen"
	case GateLookup:
		return "lookup"
	case GateAuto:
		return "auto"
	}
	return "off"
}

// ScreenStats counts a screened search's pairs: screened in float32,
// recomputed in float64 (the bounds could not drop them), and in tiles
// computed whole in float64 (after screening gave up: it was not paying).
type ScreenStats struct {
	Screened, Recomputed, Full int64
	// Probe is the fraction of a sample's candidates the bounds could not
	// drop against their exact k-th distances; above 5 % the search does
	// not screen (Full then counts every pair).
	Probe float64
}

// Decided is the fraction of screened pairs the float32 bound dropped.
func (s ScreenStats) Decided() float64 {
	if s.Screened == 0 {
		return 0
	}
	return 1 - float64(s.Recomputed)/float64(s.Screened)
}

// Screening stops for the rest of a search when, after screenProbe pairs,
// more than screenGiveUp of them stayed pending after their block: the
// float32 pass then costs more than it saves.
const (
	screenProbe  = 1 << 20
	screenGiveUp = 0.15
)

// screening is a brute-force search's screening state, shared by its
// workers.
type screening struct {
	m                                metric.Metric
	s                                metric.Screener
	screened, kept, recomputed, full atomic.Int64
	off                              atomic.Bool
	probed                           float64       // the probe's pending fraction
	margin                           metric.Margin // the lookup gate's; nil: the proven bound
}

// newScreening returns the screening state for opt (nil for GateOff), or
// an error when the metric cannot screen these sets. When the metric has
// no float32 copy yet and qs is its data, the probe runs on a sample
// with its own copy, and the metric gets the copy (EnableScreening, so it
// must not be searched concurrently then) only when screening pays: a
// search where it does not pay costs neither the copy's n m 4 bytes nor
// the time to make it.
func newScreening(m metric.Metric, qs *metric.Set, opt KNNOptions) (*screening, error) {
	if opt.Gate == GateOff {
		return nil, nil
	}
	r, isRes := m.(*metric.Residual)
	if opt.Gate == GateAuto && (!isRes || r.Float32Bound() > 0) {
		return nil, nil // Euclidean, or V already in float32
	}
	lazy := isRes && r.Float32Bound() == 0 && qs == m.Data() && !r.CanScreen(qs, qs)
	s, ok := m.(metric.Screener)
	if !lazy && (!ok || !s.CanScreen(qs, m.Data())) {
		if opt.Gate == GateAuto {
			return nil, nil // a query set embedded without the copy
		}
		return nil, metric.BadInput("gate %s: the %s metric has no float32 screening copy (enable it with Residual.EnableScreening)", opt.Gate, m.Name())
	}
	sc := &screening{m: m, s: s}
	if opt.Gate == GateLookup {
		margin, err := lookupMargin(m, opt)
		if err != nil {
			return nil, err
		}
		sc.margin = margin
	}
	if lazy {
		sc.probed = sc.sampleProbe(r, opt.K, opt.Predecessor)
	} else {
		sc.probed = sc.probe(qs, opt.K, opt.Predecessor)
	}
	if sc.probed > screenWorth && !screenAlways {
		sc.off.Store(true)
		return sc, nil
	}
	if lazy {
		if err := r.EnableScreening(); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// Screened searches default to query blocks of screenRows and candidate
// blocks of screenCands: 8 % faster than brute force's 64 x 512 at d = 8,
// n = 32,768 (three alternating runs: 2.60-2.77 s against 2.92-2.98 s).
const (
	screenRows  = 128
	screenCands = 256
	seedBlock   = 256 // candidates computed in float64 first (scanQueries)
)

// tileShape sets the screened search's block sizes where the caller (raw,
// the options as given) left them to the defaults.
func (sc *screening) tileShape(raw KNNOptions, opt *KNNOptions) {
	if sc == nil || sc.off.Load() {
		return
	}
	if raw.QueryBlock <= 0 {
		opt.QueryBlock = screenRows
	}
	if raw.CandidateBlock <= 0 {
		opt.CandidateBlock = screenCands
	}
}

// screenAlways makes searches screen whatever the probe says (tests).
var screenAlways = false

// screenProbeRows queries are probed before a screened search, against
// at most screenProbeCands candidates; screening runs only when at most
// screenWorth of those candidates stay pending against the queries'
// exact k-th distances among them.
const (
	screenProbeRows  = 16
	screenProbeCands = 1 << 13
	screenWorth      = 0.05
)

// probe returns the fraction of candidates the bounds cannot drop for a
// sample of queries (the last 16, in one tile), measured against their
// exact k-th distances: about 0.1 % on structureless residual data (d = 8,
// lengthscale 1), most of them where p is small everywhere (d = 2,
// lengthscale 0.1, m = 512), where the float32 pass would only add work.
func (sc *screening) probe(qs *metric.Set, k int, pred bool) float64 {
	data := sc.m.Data()
	q0, nq, nc := probeShape(qs.N, data.N, pred)
	if nq == 0 || nc <= k {
		return 0
	}
	self := -1
	if !pred && qs == data {
		self = q0
	}
	q := metric.Range(q0, qs.N)
	d := make([]float64, nq*nc)
	sc.m.Tile(metric.NewWorkspace(), d, nc, qs, q, data, metric.Range(0, nc))
	return sc.probeTile(d, qs, q, data, nc, self, k)
}

// sampleProbe is probe for the data's own points on a sample with its own
// float32 copy (the metric has none yet): the probed rows and candidates
// packed together, candidates first.
func (sc *screening) sampleProbe(r *metric.Residual, k int, pred bool) float64 {
	n := r.Data().N
	q0, nq, nc := probeShape(n, n, pred)
	if nq == 0 || nc <= k {
		return 0
	}
	ids := make([]int32, 0, nc+nq)
	for j := range int32(nc) {
		ids = append(ids, j)
	}
	rows := make([]int32, nq)
	for i := range nq {
		id := int32(q0 + i)
		if int(id) >= nc {
			ids = append(ids, id)
		}
		rows[i] = int32(len(ids) - 1)
		if int(id) < nc {
			rows[i] = id
		}
	}
	s, err := r.ScreenSample(ids)
	if err != nil {
		return 1
	}
	self := -1
	if !pred {
		self = q0
	}
	// The float64 distances from the data (the sample has no float64 V).
	d := make([]float64, nq*nc)
	sc.m.Tile(metric.NewWorkspace(), d, nc, r.Data(), metric.Range(q0, n), r.Data(), metric.Range(0, nc))
	return sc.probeTile(d, s, metric.List(rows), s, nc, self, k)
}

// probeShape returns the probe's first row, its row count and its
// candidate count (in predecessor mode, below every probed row).
func probeShape(nqs, ndata int, pred bool) (q0, nq, nc int) {
	q0 = max(0, nqs-screenProbeRows)
	nc = min(ndata, screenProbeCands)
	if pred {
		nc = min(nc, q0)
	}
	return q0, nqs - q0, nc
}

// probeTile measures the probe on rows q of qs against candidates 0..nc-1
// of cs, whose float64 distances are in d (row r at r*nc): with self >= 0,
// row r is the candidate self+r itself and does not count as its own
// neighbour.
func (sc *screening) probeTile(d []float64, qs *metric.Set, q metric.Block, cs *metric.Set, nc, self, k int) float64 {
	nq := q.Len()
	w := metric.NewWorkspace()
	kth2 := make([]float64, nq)
	best := kernels.NewKBest(nq, k)
	for r := range nq {
		for j, dj := range d[r*nc : (r+1)*nc] {
			if dj <= best.Worst(r) && (self < 0 || j != self+r) {
				best.Push(r, int32(j), dj)
			}
		}
		kth2[r] = best.Worst(r) * best.Worst(r)
	}
	// In chunks of candidates, so that the hits (most pairs, where
	// screening does not pay) stay a small reused buffer.
	var h metric.ScreenHits
	kept := 0
	for c0 := 0; c0 < nc; c0 += 1024 {
		h.Reset()
		sc.s.ScreenRows(w, qs, q, cs, metric.Range(c0, min(nc, c0+1024)), kth2, sc.margin, &h)
		for x := range h.Cand {
			if !(h.Lo2[x] > kth2[h.Query[x]]) {
				kept++
			}
		}
	}
	return float64(kept) / float64(nq*nc)
}

func (sc *screening) stats() ScreenStats {
	if sc == nil {
		return ScreenStats{}
	}
	return ScreenStats{sc.screened.Load(), sc.recomputed.Load(), sc.full.Load(), sc.probed}
}

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
	ub      []float64 // at most k values
	ubMax   float64   // +Inf until k are known
	pending []pendingCand
}

type pendingCand struct {
	id  int32
	lo2 float64
}

func (r *screenRow) reset(k int) {
	r.ub, r.ubMax, r.pending = r.ub[:0], math.Inf(1), r.pending[:0]
	if cap(r.ub) < k {
		r.ub = make([]float64, 0, k)
	}
}

// offerBound keeps hi among the k smallest upper bounds.
func (r *screenRow) offerBound(k int, hi float64) {
	if len(r.ub) < k {
		r.ub = append(r.ub, hi)
		if len(r.ub) == k {
			r.ubMax = slices.Max(r.ub)
		}
		return
	}
	if hi >= r.ubMax {
		return
	}
	at := slices.Index(r.ub, r.ubMax)
	r.ub[at] = hi
	r.ubMax = slices.Max(r.ub)
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
	r.pending = keep
}

// queryBlock is a block of query rows and the screening that applies to
// them (nil: computed whole in float64).
type queryBlock struct {
	rows metric.Block
	sc   *screening
}

// queryBlocks cuts the queries of qs into blocks of size rows, the
// largest indices first. With screening, the heavy queries get blocks of
// their own, unscreened, so that they still run full tiles (a heavy
// query, weight above the metric's Heavy(), has too wide a bound to
// decide: the inducing points themselves, p near the jitter).
func queryBlocks(sc *screening, qs *metric.Set, size int) []queryBlock {
	nq := qs.N
	var out []queryBlock
	if sc == nil || sc.off.Load() {
		for i1 := nq; i1 > 0; i1 -= size {
			out = append(out, queryBlock{rows: metric.Range(max(0, i1-size), i1)})
		}
		return out
	}
	limit := sc.s.Heavy()
	var light, heavy []int32
	for i := range int32(nq) {
		if qs.SW[i] > limit {
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
		return cmp.Compare(b.rows.At(b.rows.Len()-1), a.rows.At(a.rows.Len()-1))
	})
	return out
}

// scanQueries offers every candidate block of the data to the query rows
// q of qs (rows of best by the same ids); with pred, row i takes only
// candidates below i. Screened, each row keeps bounds and a pending list
// through all candidate blocks and computes in float64, at the end, only
// the candidates that can still be among its k nearest; the answer is the
// float64 one bit for bit. Unscreened (or once screening gave up), tiles
// are computed whole.
func scanQueries(m metric.Metric, sc *screening, w *metric.Workspace, buf *scanBuf, best *kernels.KBest, qs *metric.Set, q metric.Block, cblock int, pred bool) {
	nq := q.Len()
	hi := m.Data().N
	if pred {
		hi = q.At(nq - 1) // no row takes candidates at or above the last one
	}
	if sc == nil {
		for j0 := 0; j0 < hi; j0 += cblock {
			fullTile(m, w, buf, best, qs, q, q, j0, min(hi, j0+cblock), pred)
		}
		return
	}
	// The screened rows are packed once, so that no tile gathers them.
	ids := q
	if q.IDs != nil {
		qs, q = metric.PackInto(&buf.packed, qs, q), metric.Range(0, nq)
	}
	buf.rows = grow(buf.rows, nq)
	// The first candidates are computed in float64: each row then starts
	// with its k-th distance among them as a bound, instead of taking
	// every candidate of its first screened block as a hit (12.0 million
	// hits instead of 20.6 million at d = 8, n = 32,768; 2-3 % faster).
	j0 := min(hi, seedBlock)
	fullTile(m, w, buf, best, qs, q, ids, 0, j0, pred)
	sc.full.Add(int64(nq * j0))
	for r := range buf.rows {
		buf.rows[r].startFrom(best, ids.At(r))
	}
	for ; j0 < hi; j0 += cblock {
		j1 := min(hi, j0+cblock)
		if sc.off.Load() {
			fullTile(m, w, buf, best, qs, q, ids, j0, j1, pred)
			sc.full.Add(int64(nq * (j1 - j0)))
			continue
		}
		sc.screenBlock(w, buf, qs, q, ids, j0, j1, pred)
	}
	sc.finish(w, buf, best, qs, q, ids)
}

// limitOf is how many candidates of the block [j0, j1) row i takes.
func limitOf(i, j0, j1 int, pred bool) int {
	if pred {
		return max(0, min(j1-j0, i-j0))
	}
	return j1 - j0
}

// fullTile computes the tile of the rows q of qs in float64 and offers it
// to their rows ids of best.
func fullTile(m metric.Metric, w *metric.Workspace, buf *scanBuf, best *kernels.KBest, qs *metric.Set, q, ids metric.Block, j0, j1 int, pred bool) {
	nq, nc := q.Len(), j1-j0
	buf.tile = grow(buf.tile, nq*nc)
	m.Tile(w, buf.tile, nc, qs, q, m.Data(), metric.Range(j0, j1))
	for r := range nq {
		i := ids.At(r)
		scanRow(best, i, buf.tile[r*nc:r*nc+limitOf(i, j0, j1, pred)], int32(j0), -1)
	}
}

// screenBlock screens one candidate block for the rows q of qs (ids in
// best).
func (sc *screening) screenBlock(w *metric.Workspace, buf *scanBuf, qs *metric.Set, q, ids metric.Block, j0, j1 int, pred bool) {
	nq, k := q.Len(), 0
	buf.kth2 = grow(buf.kth2, nq)
	for r := range nq {
		buf.kth2[r] = buf.rows[r].ubMax
		k = cap(buf.rows[r].ub)
	}
	buf.hits.Reset()
	sc.s.ScreenRows(w, qs, q, sc.m.Data(), metric.Range(j0, j1), buf.kth2, sc.margin, &buf.hits)
	h := &buf.hits
	screened, kept := 0, 0 // over rows that had a k-th bound: the give-up statistic
	for x := range h.Cand {
		r, j := int(h.Query[x]), h.Cand[x]
		if pred && int(j) >= ids.At(r) {
			continue // not a predecessor (the own point included)
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
			screened += limitOf(ids.At(r), j0, j1, pred)
		}
		buf.rows[r].prune()
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
