package tree

import (
	"context"
	"fmt"
	"math"
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
	// GateAuto is GateScreen on a residual metric with V in float64 and
	// the SIMD kernels where the probe finds it pays (the float32 copy is
	// made only then): for brute force, and for the cover tree's queries
	// where the metric has no structure and the walk scans nearly every
	// point (see treeScreening). A query set embedded without the copy
	// gets one (Residual.AddScreening) with the data's, where the probe
	// finds it pays: the metric must not be searched concurrently then
	// either. Exact, like GateScreen.
	GateAuto
	// GateLookup is GateScreen with the bound replaced by a gate
	// profile's quantile of the float32 error (KNNOptions.Profile,
	// LookupQuantile): APPROXIMATE, a neighbour whose float32 distance
	// strays beyond the quantile can be lost (--gate-audit counts them).
	GateLookup
	// GateBound drops the pairs that the triangle inequality through a few
	// pivots (metric.PivotBound) proves beyond a query's k-th distance and
	// computes the others in float64: exact, for both metrics, with no
	// float32 copy. Where it decides too little (the probe: residual data
	// decide well under 95 % of the pairs, at d = 8 about 0.2 %) the search
	// runs unscreened, as GateOff.
	GateBound
)

// ParseGate reads "off", "auto", "screen", "bound" or "lookup".
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
		return GateBound, nil
	}
	return 0, fmt.Errorf("unknown gate %q (want off, auto, screen, bound or lookup)", s)
}

func (g Gate) String() string {
	switch g {
	case GateScreen:
		return "screen"
	case GateLookup:
		return "lookup"
	case GateAuto:
		return "auto"
	case GateBound:
		return "bound"
	}
	return "off"
}

// ScreenStats counts a screened search's pairs: screened in float32,
// recomputed in float64 (the bounds could not drop them), and in tiles
// computed whole in float64 (after screening gave up: it was not paying).
type ScreenStats struct {
	Screened, Recomputed, Full int64
	// Probe is the fraction of a sample's candidates the bounds could not
	// drop against their exact k-th distances; above 1 % (5 % for
	// GateBound) the search does not screen (Full then counts every pair).
	Probe float64
	// Cheap is set when the search did not screen because the bound costs
	// more per pair than the distance itself (GateBound on a cheap metric).
	Cheap bool
	// ProbeLimit is the largest Probe at which the search screens
	// (screenWorth, or boundWorth for GateBound); 0 when nothing probed.
	ProbeLimit float64
}

// Decided is the fraction of screened pairs the float32 bound dropped.
func (s ScreenStats) Decided() float64 {
	if s.Screened == 0 {
		return 0
	}
	return 1 - float64(s.Recomputed)/float64(s.Screened)
}

// autoScreens reports whether GateAuto may screen m's tiles: the residual
// metric with V in float64, on the SIMD kernels. (Not the Euclidean
// metric, nor V already in float32, nor the generic kernels, whose
// float32 loops are no faster than float64: d = 8, n = 8,192, 1.73 s
// screened against 1.66 s.)
func autoScreens(m metric.Metric) bool {
	r, isRes := m.(*metric.Residual)
	return isRes && !r.Float32() && kernels.Impl() != kernels.ImplGeneric
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
	cheap                            bool          // off: the distance costs less than the bound
	margin                           metric.Margin // the lookup gate's; nil: the proven bound
	limit                            float64       // the probe's threshold (screenWorth, boundWorth)
	ord                              *rankOrder    // the probe's order: a predecessor search's by Rank
}

// newScreening returns the screening state for opt (nil for GateOff), or
// an error when the metric cannot screen these sets. When the metric has
// no float32 copy yet and qs is its data (or, with GateAuto, when qs is a
// query set embedded without one), the probe runs on samples with their
// own copies, and the metric (and qs) get the copies (EnableScreening and
// AddScreening, so they must not be searched concurrently then) only when
// screening pays: a search where it does not pay costs neither the
// copy's n m 4 bytes nor the time to make it.
func newScreening(ctx context.Context, m metric.Metric, qs *metric.Set, opt KNNOptions) (*screening, error) {
	switch opt.Gate {
	case GateOff:
		return nil, nil
	case GateBound:
		return pivotScreening(ctx, m, qs, opt)
	}
	r, isRes := m.(*metric.Residual)
	if opt.Gate == GateAuto && !autoScreens(m) {
		return nil, nil
	}
	// The search makes the float32 copies itself where its probe finds
	// that screening pays: of the data's own points, or with the auto gate
	// of a query set embedded without them (and of the data).
	lazy := isRes && !r.Float32() && !r.CanScreen(qs, m.Data()) && (qs == m.Data() || opt.Gate == GateAuto) && !opt.NoCopy
	s, ok := m.(metric.Screener)
	if !lazy && (!ok || !s.CanScreen(qs, m.Data())) {
		if opt.Gate == GateAuto {
			return nil, nil // a query set embedded without the copy
		}
		if !isRes {
			return nil, metric.BadInput("gate %s: float32 screening is the residual metric's; the %s metric has none (use gate off or bound)", opt.Gate, m.Name())
		}
		if r.Float32() {
			return nil, metric.BadInput("gate %s: screening needs V in float64; this residual metric stores it in float32 (use gate off or auto)", opt.Gate)
		}
		return nil, metric.BadInput("gate %s: the %s metric has no float32 screening copy (enable it with Residual.EnableScreening)", opt.Gate, m.Name())
	}
	sc := &screening{m: m, s: s, limit: screenWorth}
	if qs == m.Data() {
		var err error
		if sc.ord, err = predOrder(opt, qs.N); err != nil {
			return nil, err
		}
	}
	if opt.Gate == GateLookup {
		margin, err := lookupMargin(m, opt)
		if err != nil {
			return nil, err
		}
		sc.margin = margin
	}
	if lazy && qs != m.Data() {
		sc.probed = sc.sampleProbeQueries(r, qs, opt.K)
	} else if lazy {
		sc.probed = sc.sampleProbe(r, opt.K, opt.Predecessor)
	} else {
		sc.probed = sc.probe(qs, opt.K, opt.Predecessor)
	}
	if sc.probed > sc.limit && !screenAlways {
		sc.off.Store(true)
		return sc, nil
	}
	if lazy {
		if !r.CanScreen(r.Data(), r.Data()) {
			if err := r.EnableScreening(); err != nil {
				return nil, err
			}
		}
		if qs != m.Data() {
			if err := r.AddScreening(qs); err != nil {
				return nil, err
			}
		}
	}
	return sc, nil
}

// pivotScreening is newScreening for GateBound: pivot distances of the
// data (and of qs when it is a query set), then the probe; nothing when
// the metric's distance is cheaper than the bound (metric.PivotsPay).
func pivotScreening(ctx context.Context, m metric.Metric, qs *metric.Set, opt KNNOptions) (*screening, error) {
	if !metric.PivotsPay(m) && !screenAlways {
		sc := &screening{m: m, cheap: true}
		sc.off.Store(true)
		return sc, nil
	}
	var pool metric.Runner
	if opt.Pool != nil {
		pool = opt.Pool
	}
	pb, err := metric.NewPivotBound(ctx, m, 0, 1, pool)
	if err != nil {
		return nil, err
	}
	if qs != m.Data() {
		if err := pb.Bind(ctx, qs, pool); err != nil {
			return nil, err
		}
	}
	sc := &screening{m: m, s: pb, limit: boundWorth}
	if qs == m.Data() {
		if sc.ord, err = predOrder(opt, qs.N); err != nil {
			return nil, err
		}
	}
	sc.probed = sc.probe(qs, opt.K, opt.Predecessor)
	if sc.probed > sc.limit && !screenAlways {
		sc.off.Store(true)
	}
	return sc, nil
}

// heavyPoint reports whether point i of s is heavy for a screener whose
// Heavy() is limit (+Inf: none is, and s may carry no weights).
func heavyPoint(s *metric.Set, i int, limit float64) bool {
	return !math.IsInf(limit, 1) && s.SW[i] > limit
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

// screenProbeRows queries (up to screenProbeMaxRows where the search is
// large enough, see probeShape) are probed before a screened search,
// against at most screenProbeCands candidates; screening runs only when
// at most screenWorth of those candidates stay pending against the
// queries' exact k-th distances among them. A pair left pending is
// recomputed in float64 at the end, gathered, at many times a tiled
// pair's cost: brute force at n = 32,768, m = 256, k = 30 (predecessors)
// took 0.79-0.93 of its float64 time where the probe found 0.46-0.81 %
// pending, and 1.8-2.0 times it where it found 2.1-3.3 % (4.7-4.9 %
// recomputed).
const (
	screenProbeRows    = 16
	screenProbeMaxRows = 64
	screenProbeShare   = 1.0 / 256 // of brute force's pairs, for rows past screenProbeRows
	screenProbeCands   = 1 << 13
	screenWorth        = 0.01
	boundWorth         = 0.05 // the pivot bound's (GateBound)
)

// probe returns the fraction of candidates the bounds cannot drop for a
// sample of queries (see probeShape), measured against their exact k-th
// distances: about 0.1 % on structureless residual data (d = 8,
// lengthscale 1), most of them where p is small everywhere (d = 2,
// lengthscale 0.1, m = 512), where the float32 pass would only add work.
func (sc *screening) probe(qs *metric.Set, k int, pred bool) float64 {
	data := sc.m.Data()
	rows, nc := probeShape(qs.N, data.N, pred)
	if len(rows) == 0 || nc <= k {
		return 0
	}
	var selves []int
	if !pred && qs == data {
		selves = rows
	}
	q := metric.List(sc.ord.points(rows))
	d := make([]float64, len(rows)*nc)
	sc.m.Tile(metric.NewWorkspace(), d, nc, qs, q, data, sc.ord.cands(0, nc))
	return sc.probeTile(d, qs, q, data, nc, selves, k, sc.ord)
}

// sampleProbe is probe for the data's own points on a sample with its own
// float32 copy (the metric has none yet): the probed rows and candidates
// packed together, candidates first.
func (sc *screening) sampleProbe(r *metric.Residual, k int, pred bool) float64 {
	n := r.Data().N
	rows, nc := probeShape(n, n, pred)
	if len(rows) == 0 || nc <= k {
		return 0
	}
	ids := make([]int32, 0, nc+len(rows)) // positions in sc.ord, then its points
	for j := range int32(nc) {
		ids = append(ids, j)
	}
	at := make([]int32, len(rows)) // the rows' places in the sample
	for i, p := range rows {
		if p < nc {
			at[i] = int32(p)
			continue
		}
		at[i] = int32(len(ids))
		ids = append(ids, int32(p))
	}
	for x, p := range ids {
		ids[x] = sc.ord.at(int(p))
	}
	s, err := r.ScreenSample(ids)
	if err != nil {
		return 1
	}
	var selves []int
	if !pred {
		selves = rows
	}
	// The float64 distances from the data (the sample has no float64 V).
	d := make([]float64, len(rows)*nc)
	sc.m.Tile(metric.NewWorkspace(), d, nc, r.Data(), metric.List(sc.ord.points(rows)), r.Data(), sc.ord.cands(0, nc))
	return sc.probeTile(d, s, metric.List(at), s, nc, selves, k, nil)
}

// sampleProbeQueries is sampleProbe for a query set qs embedded without
// the float32 copy: its probed rows against the data's first points, each
// set sampled with its own copy.
func (sc *screening) sampleProbeQueries(r *metric.Residual, qs *metric.Set, k int) float64 {
	data := r.Data()
	pos, nc := probeShape(qs.N, data.N, false)
	if len(pos) == 0 || nc <= k {
		return 0
	}
	rows, cands := make([]int32, len(pos)), make([]int32, nc)
	for i, p := range pos {
		rows[i] = int32(p)
	}
	for j := range cands {
		cands[j] = int32(j)
	}
	qsample, err := r.ScreenSampleOf(qs, rows)
	if err != nil {
		return 1
	}
	csample, err := r.ScreenSampleOf(data, cands)
	if err != nil {
		return 1
	}
	d := make([]float64, len(rows)*nc)
	sc.m.Tile(metric.NewWorkspace(), d, nc, qs, metric.List(rows), data, metric.Range(0, nc))
	return sc.probeTile(d, qsample, metric.Range(0, len(rows)), csample, nc, nil, k, nil)
}

// probeShape returns the positions of the probe's rows among the nqs
// queries (ascending) and its candidate count nc (the first nc positions
// of the data; in predecessor mode below every probed row). The rows are
// spread evenly over the queries (in predecessor mode over the last half,
// and never so early that fewer than screenProbeCands candidates lie
// below them when the queries allow it), not taken as one run: a probe's
// pending share comes mostly from a few rows (d = 8, lengthscale 1, m =
// 512: rows pend about 0.1 % or 9 %), so a short run of rows can read
// 0.1 % or 1.8 % where the whole set pends 0.75 %. Searches of more than
// (2 screenProbeRows nc / screenProbeShare) pairs probe more rows, up to
// screenProbeMaxRows.
func probeShape(nqs, ndata int, pred bool) (rows []int, nc int) {
	nc = min(ndata, screenProbeCands)
	pairs := float64(nqs) * float64(ndata) // brute force's
	if pred {
		pairs /= 2
	}
	nr := screenProbeRows
	for nr < screenProbeMaxRows && float64(2*nr*nc) <= pairs*screenProbeShare {
		nr *= 2
	}
	nr = min(nr, nqs)
	lo := 0
	if pred {
		lo = min(nqs-nr, max(nqs/2, min(nc, nqs-nr)))
		nc = min(nc, lo)
	}
	rows = make([]int, nr)
	for j := range rows {
		rows[j] = lo + j*(nqs-lo)/nr
	}
	return rows, nc
}

// probeTile measures the probe on rows q of qs against the candidates at
// positions 0..nc-1 of ord in cs, whose float64 distances are in d (row r
// at r*nc): with selves, row r is the candidate at position selves[r]
// (when below nc) and does not count as its own neighbour.
func (sc *screening) probeTile(d []float64, qs *metric.Set, q metric.Block, cs *metric.Set, nc int, selves []int, k int, ord *rankOrder) float64 {
	nq := q.Len()
	w := metric.NewWorkspace()
	kth2 := make([]float64, nq)
	best := kernels.NewKBest(nq, k)
	for r := range nq {
		for j, dj := range d[r*nc : (r+1)*nc] {
			if dj <= best.Worst(r) && (selves == nil || j != selves[r]) {
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
		sc.s.ScreenRows(w, qs, q, cs, ord.cands(c0, min(nc, c0+1024)), kth2, sc.margin, &h)
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
	return ScreenStats{sc.screened.Load(), sc.recomputed.Load(), sc.full.Load(), sc.probed, sc.cheap, sc.limit}
}
