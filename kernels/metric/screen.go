package metric

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/pcct/pcct/internal/hugemem"
	"github.com/pcct/pcct/kernels"
)

// Exact float32 screening of residual distances.
//
// With screening enabled a metric keeps, beside V, a float32 copy V32 and
// for every point the weight w_i = |V_i| / sqrt(p_i), rounded up. ScreenTile
// computes a tile's dot products in float32 (twice the flops per cycle,
// half the bytes) and returns for every pair a lower bound lo2 on the
// square of the distance the float64 path computes, d64. A search may drop
// a candidate when lo2 > kth², and must compute d64 for the others: the
// answer is then bit for bit the float64 answer.
//
// The bound. Let g* = Σ_k V_qk V_ck exactly (the stored float64 rows),
// S = Σ_k |V_qk V_ck| <= |V_q| |V_c| (Cauchy-Schwarz), u = 2^-53, v = 2^-24.
//   - float64 path: any summation order of m products rounds each term at
//     most m+1 times, so |g64 - g*| <= γ(m+1, u) S, γ(n, u) = n u / (1 - n u).
//   - float32 path: V32 = fl32(V) moves each product by at most (2v + v²)
//     |V_qk V_ck| (plus 2^-149 per element where V32 underflows); the
//     kernel sums in per-lane FMA chains of ceil(m/L) terms (L = 16 lanes
//     for AVX-512, 8 for AVX2, 4 partial sums, products possibly unfused,
//     in the generic loop) and then adds the lanes pairwise (log2 L levels),
//     so each term is rounded at most n32 = ceil(m/L) + log2 L (+ 4 for the
//     generic loop's tail and unfused products) times: |g32 - g32*| <=
//     γ(n32 + 2, v) (1 + v)² S. Following the kernel's order is what makes
//     the bound tight: γ(m, v) would leave about 11 % of the d = 8 pairs
//     undecided, γ(~40, v) about 2 % (shared/tools/screen_model.py).
//   - Hence |g64 - g32| <= E S, E = γ(m+1, u) + 2v + v² + γ(n32+2, v)(1+v)².
//   - rho = (K - g)(sc sq) with the same K, sc and sq bits on both paths
//     (the kernel tile is position invariant), three roundings each:
//     |rho64 - rho32| <= E |V_q||V_c| sq sc + 8u (1 + |rho32|) =: B.
//   - d64 = fl(sqrt(fl(1 - min(|rho64|, 1)))) is monotone in |rho64| and
//     each rounding loses at most a factor (1 - u), so
//     d64² >= (1 - min(|rho32| + B, 1) - 4u)(1 - 16u) = lo2.
// A NaN or infinite input gives lo2 NaN or 0: never a drop.

// screenRoundings returns n32 for the float32 dot kernels of impl at
// width m: the most times a product is rounded on its way into the sum.
func screenRoundings(impl string, m int) int {
	switch impl {
	case "avx512":
		return (m+15)/16 + 4
	case "avx2":
		return (m+7)/8 + 3
	}
	return (m+3)/4 + 3 + 4 // generic: tail into one partial sum, unfused products, two levels
}

func gamma(n int, u float64) float64 { return float64(n) * u / (1 - float64(n)*u) }

// screenFactor returns E for impl and m, with a relative margin.
func screenFactor(impl string, m int) float64 {
	const u, v = 0x1p-53, 0x1p-24
	e := gamma(m+1, u) + 2*v + v*v + gamma(screenRoundings(impl, m)+2, v)*(1+v)*(1+v)
	return e * (1 + 1e-9)
}

// Screener is implemented by metrics that can screen tiles in float32.
type Screener interface {
	// CanScreen reports whether ScreenTile may pair the points of qs and cs
	// (both carry the float32 copy).
	CanScreen(qs, cs *Set) bool
	// ScreenTile writes lower bounds on the squared float64 distances of
	// the tile (see the package's screening notes), with the layout of
	// Tile's dst.
	ScreenTile(w *Workspace, lo2 []float64, ldd int, qs *Set, q Block, cs *Set, c Block)
	// ScreenRows screens the tile row by row: for each query row i it
	// appends to out every candidate whose float64 distance could be at
	// most sqrt(kth2[i]) (kth2 may hold +Inf), with bounds Lo2 <= d64² <=
	// Hi2; the others are proven farther.
	// margin, if not nil, replaces the proven bound by an empirical one
	// (the approximate lookup gate).
	ScreenRows(w *Workspace, qs *Set, q Block, cs *Set, c Block, kth2 []float64, margin Margin, out *ScreenHits)
	// ScreenBoth is ScreenRows (proven bound) for a tile that serves both
	// sides: it appends every pair whose float64 distance could be at most
	// sqrt(kth2[i]) of its row or sqrt(ckth2[j]) of its column.
	ScreenBoth(w *Workspace, qs *Set, q Block, cs *Set, c Block, kth2, ckth2 []float64, out *ScreenHits)
	// Heavy returns the screening weight (Set.SW) above which a point's
	// bound is too wide to screen it as a query.
	Heavy() float64
}

// A Margin gives, for a query radius r, how far d32 may exceed d64 (lo)
// and fall short of it (hi) for the pairs that matter: an empirical bound
// (GateProfile.Margins), for the approximate lookup gate.
type Margin func(r float64) (lo, hi float64)

// ScreenHits are the candidates a screened tile could not drop: hit h is
// query row Query[h] of the tile (0-based in its query block), candidate
// id Cand[h] (in the candidates' set) at column Col[h] of the tile, with
// Lo2[h] <= d64² <= Hi2[h]. A row's hits are consecutive, rows in order.
type ScreenHits struct {
	Query, Cand, Col []int32
	Lo2, Hi2         []float64
}

// Reset empties h, keeping its storage.
func (h *ScreenHits) Reset() {
	h.Query, h.Cand, h.Col, h.Lo2, h.Hi2 = h.Query[:0], h.Cand[:0], h.Col[:0], h.Lo2[:0], h.Hi2[:0]
}

// Len returns the number of hits.
func (h *ScreenHits) Len() int { return len(h.Cand) }

// EnableScreening adds the float32 copy of V and the screening weights to
// the metric's data, and to every query set Embed makes from then on. It
// costs n m 4 bytes; call it before searching (it is not safe to call
// while another goroutine uses the metric). A float32-stored metric cannot
// screen (its distances are float32 already): that is an error.
func (r *Residual) EnableScreening() error {
	if r.cfg.Float32 {
		return badInput("screening needs V in float64; this metric stores it in float32")
	}
	r.screen = true
	r.addScreening(r.data, runnerOr(r.cfg.Pool))
	sw := slices.Clone(r.data.SW)
	slices.Sort(sw)
	r.heavy = HeavyFactor * sw[len(sw)/2]
	return nil
}

// ScreenSample returns the data points ids packed (see Pack) with their
// own float32 copy and screening weights but without V in float64,
// without enabling screening on the metric: a sample on which a search
// can probe with ScreenRows whether screening pays before EnableScreening
// pays n m 4 bytes for it (its float64 distances come from the data).
// Before EnableScreening every point counts as heavy (ScreenRows then
// bounds each candidate on its own: slower, as exact).
func (r *Residual) ScreenSample(ids []int32) (*Set, error) {
	return r.ScreenSampleOf(r.data, ids)
}

// ScreenSampleOf is ScreenSample for the points ids of s: the metric's
// data or a query set it embedded.
func (r *Residual) ScreenSampleOf(s *Set, ids []int32) (*Set, error) {
	if r.cfg.Float32 {
		return nil, badInput("screening needs V in float64; this metric stores it in float32")
	}
	if err := Compatible(r.data, s); err != nil {
		return nil, err
	}
	out := packInto(&Set{}, s, List(ids), false, false)
	out.S32, out.SW = screenCopy(s.V, s.ISP, r.m, List(ids), runnerOr(nil))
	out.F32 = r.fused32(out)
	return out, nil
}

// AddScreening adds the float32 copy and the screening weights to a query
// set qs that Embed made before EnableScreening (one made after has them),
// so that it can be screened against the data; it costs qs.N m 4 bytes.
// Like EnableScreening, it must not run while another goroutine uses qs.
func (r *Residual) AddScreening(qs *Set) error {
	if !r.screen {
		return badInput("the metric screens nothing yet: call EnableScreening first")
	}
	if err := Compatible(r.data, qs); err != nil {
		return err
	}
	r.addScreening(qs, runnerOr(r.cfg.Pool))
	return nil
}

// HeavyFactor: a point whose screening weight exceeds HeavyFactor times
// the data's median is heavy: its bound is too wide to decide much (the
// inducing points themselves, whose p is near the jitter). ScreenRows
// checks heavy candidates one by one, and brute force scans heavy queries
// in float64 (Residual.Heavy gives the threshold).
const HeavyFactor = 8

// Heavy returns the screening weight above which a point is heavy (+Inf
// before EnableScreening).
func (r *Residual) Heavy() float64 {
	if !r.screen {
		return math.Inf(1)
	}
	return r.heavy
}

// addScreening computes S32, SW and F32 for a float64 set, in blocks of
// rows on pool.
func (r *Residual) addScreening(s *Set, pool Runner) {
	if s.S32 != nil || s.V == nil {
		return
	}
	s.S32, s.SW = screenCopy(s.V, s.ISP, s.M, Range(0, s.N), pool)
	s.F32 = r.fused32(s)
}

// screenCopy returns the float32 copy of the rows b of V (m columns) and
// their screening weights |V_i| / sqrt(p_i), rounded up (isp holds
// 1/sqrt(p)).
func screenCopy(v, isp []float64, m int, b Block, pool Runner) ([]float32, []float64) {
	n := b.Len()
	s32 := hugemem.Make[float32](n * m)
	sw := make([]float64, n)
	up := 1 + float64(m+4)*0x1p-53
	const rows = 1024
	pool.Each(context.Background(), (n+rows-1)/rows, func(_, blk int) {
		for i := blk * rows; i < min(n, (blk+1)*rows); i++ {
			src := b.At(i)
			var ss float64
			for k, x := range v[src*m : (src+1)*m] {
				s32[i*m+k] = float32(x)
				ss += x * x
			}
			sw[i] = math.Sqrt(ss) * isp[src] * up
		}
	})
	return s32, sw
}

// CanScreen implements Screener.
func (r *Residual) CanScreen(qs, cs *Set) bool {
	return qs.S32 != nil && cs.S32 != nil && qs.SW != nil && cs.SW != nil
}

// screenParts computes the float32 dot tile into w.g32 and the kernel
// tile into w.k (both q.Len() x c.Len()) and returns the queries' and
// candidates' 1/sqrt(p) and screening weights; ok is false for an empty
// tile.
func (r *Residual) screenParts(w *Workspace, qs *Set, q Block, cs *Set, c Block) (sq, sc, wq, wc []float64, ok bool) {
	q.check(qs.N, "query")
	c.check(cs.N, "candidate")
	if q.Len() == 0 || c.Len() == 0 {
		return nil, nil, nil, nil, false
	}
	r.dot32(w, qs.S32, q, cs.S32, c)
	sq, sc = r.kernelScales(w, qs, q, cs, c)
	wq, wc = rowsOf(&w.swq, qs.SW, 1, q), rowsOf(&w.swc, cs.SW, 1, c)
	return sq, sc, wq, wc, true
}

// ScreenTile implements Screener.
func (r *Residual) ScreenTile(w *Workspace, lo2 []float64, ldd int, qs *Set, q Block, cs *Set, c Block) {
	sq, sc, wq, wc, ok := r.screenParts(w, qs, q, cs, c)
	if !ok {
		return
	}
	nq, nc := q.Len(), c.Len()
	e := screenFactor(kernels.Impl(), r.m)
	under := 2 * float64(r.m) * 0x1p-149 // float32 underflow, absolute
	const u = 0x1p-53
	for i := range nq {
		ki, gi, out := w.k[i*nc:(i+1)*nc], w.g32[i*nc:(i+1)*nc], lo2[i*ldd:i*ldd+nc]
		ew, si := e*wq[i], sq[i]
		for j := range out {
			s := sc[j] * si
			a := math.Abs((ki[j] - float64(gi[j])) * s)
			b := ew*wc[j] + under*s + 8*u*(1+a)
			t := 1 - math.Min(a+b, 1) - 4*u
			out[j] = max(t, 0) * (1 - 16*u)
		}
	}
	zeroSelf(w, lo2, ldd, qs, q, cs, c)
}

// ScreenRows implements Screener. On sets carrying F32 it runs the fused
// float32 row (screen32.go). Otherwise (the lookup gate), per row,
// one bound covers the block:
// B_i = E w_i max_j w_j + 2m 2^-149 sq_i max_j sc_j + 16u (the terms of the
// pair bound at the block's largest candidate weight), so the fused
// residual row with its radius test (kernels.ResidualRow, the float64
// epilogue on the float32 dot products) picks a superset of the
// candidates in SIMD: d32² >= (1 - min(|rho32|, 1))(1 - 3u), so a pair
// with (d32² (1-3u) - B_i - 8u)(1 - 32u) > kth2 has d64² > kth2. Each hit
// then gets its own pair bound B_ij = E w_i w_j + 2m 2^-149 sq_i sc_j + 16u
// and carries Lo2 = (d32² (1-3u) - B_ij - 8u)(1 - 32u) and Hi2 = (d32²
// (1+3u) + B_ij + 8u)(1 + 32u). The query's own point (same root point)
// gets Lo2 = Hi2 = 0.
func (r *Residual) ScreenRows(w *Workspace, qs *Set, q Block, cs *Set, c Block, kth2 []float64, margin Margin, out *ScreenHits) {
	if fusedOK(margin, qs, cs) && q.Len() > 0 && c.Len() > 0 {
		q.check(qs.N, "query")
		c.check(cs.N, "candidate")
		r.screenRowsFused(w, qs, q, cs, c, kth2, nil, out)
		return
	}
	sq, sc, wq, wc, ok := r.screenParts(w, qs, q, cs, c)
	if !ok {
		return
	}
	nq, nc, m := q.Len(), c.Len(), r.m
	w.g = grow(w.g, nq*nc)
	kernels.Widen(w.g, w.g32[:nq*nc])
	// The block's radius uses the largest weight among the light
	// candidates; the heavy ones (weights above r.heavy, the inducing
	// points and their like) are checked one by one below.
	wmax, scmax := 0.0, 0.0
	w.heavyCols = w.heavyCols[:0]
	for j := range nc {
		if wc[j] > r.heavy {
			w.heavyCols = append(w.heavyCols, int32(j))
		} else {
			wmax = max(wmax, wc[j])
		}
		scmax = max(scmax, sc[j])
	}
	e := screenFactor(kernels.Impl(), m)
	under := 2 * float64(m) * 0x1p-149
	const u = 0x1p-53
	// The query's own point: d64 = 0 by definition, whatever the bound.
	ownPairs(w, qs, q, cs, c)
	w.hits = grow(w.hits, nc)
	own := ownRows{pairs: w.selfPairs}
	for i := range nq {
		mine := own.next(i)
		bi := e*wq[i]*wmax + under*sq[i]*scmax + 16*u
		rad := math.Inf(1)
		var mlo, mhi float64
		if margin != nil {
			mlo, mhi = margin(math.Sqrt(kth2[i]))
			rad = math.Sqrt(kth2[i]) + mlo
		} else if k2 := kth2[i]; !math.IsInf(k2, 1) {
			rad = math.Sqrt((k2/(1-32*u)+bi+8*u)/(1-3*u)) * (1 + 4*u)
		}
		row := w.g[i*nc : (i+1)*nc]
		nh := kernels.ResidualRow(row, w.k[i*nc:(i+1)*nc], row, sc[:nc], sq[i], rad, w.hits)
		hits := w.hits[:nh]
		for _, j := range w.heavyCols {
			if !(row[j] <= rad) { // not already a hit
				hits = append(hits, j)
			}
		}
		for _, j := range hits {
			if isOwn(mine, j) {
				continue
			}
			// The pair's own bound, tighter than the block's.
			b := e*wq[i]*wc[j] + under*sq[i]*sc[j] + 16*u
			d2 := row[j] * row[j]
			lo := max((d2*(1-3*u)-b-8*u)*(1-32*u), 0)
			hi := (d2*(1+3*u) + b + 8*u) * (1 + 32*u)
			if margin != nil {
				l := max(row[j]-mlo, 0)
				lo, hi = l*l, (row[j]+mhi)*(row[j]+mhi)
			}
			out.add(i, c.At(int(j)), j, lo, hi)
		}
		for _, p := range mine {
			out.add(i, c.At(int(p[1])), p[1], 0, 0) // d64 = 0 by definition
		}
	}
}

// ownPairs collects into w.selfPairs the (row, column) pairs of the tile
// that are a query's own point, sorted.
func ownPairs(w *Workspace, qs *Set, q Block, cs *Set, c Block) {
	w.selfPairs = w.selfPairs[:0]
	forSelf(w, qs, q, cs, c, func(i, j int) { w.selfPairs = append(w.selfPairs, [2]int32{int32(i), int32(j)}) })
	slices.SortFunc(w.selfPairs, func(a, b [2]int32) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
}

// ownRows walks the sorted (row, column) own pairs row by row.
type ownRows struct {
	pairs [][2]int32
	at    int
}

// next returns row i's own pairs; rows must come in increasing order.
func (o *ownRows) next(i int) [][2]int32 {
	s0 := o.at
	for o.at < len(o.pairs) && o.pairs[o.at][0] == int32(i) {
		o.at++
	}
	return o.pairs[s0:o.at]
}

// add appends one hit.
func (h *ScreenHits) add(row, cand int, col int32, lo2, hi2 float64) {
	h.Query, h.Cand, h.Col = append(h.Query, int32(row)), append(h.Cand, int32(cand)), append(h.Col, col)
	h.Lo2, h.Hi2 = append(h.Lo2, lo2), append(h.Hi2, hi2)
}

// extend makes room for up to n more hits, to be written by index from
// the returned position x (with set) and kept by cut(x) after the last:
// one length check per tile row instead of five appends per hit.
func (h *ScreenHits) extend(n int) int {
	x := len(h.Cand)
	h.Query, h.Cand, h.Col = slices.Grow(h.Query, n)[:x+n], slices.Grow(h.Cand, n)[:x+n], slices.Grow(h.Col, n)[:x+n]
	h.Lo2, h.Hi2 = slices.Grow(h.Lo2, n)[:x+n], slices.Grow(h.Hi2, n)[:x+n]
	return x
}

// set writes hit x (within extend's room).
func (h *ScreenHits) set(x, row, cand int, col int32, lo2, hi2 float64) {
	h.Query[x], h.Cand[x], h.Col[x], h.Lo2[x], h.Hi2[x] = int32(row), int32(cand), col, lo2, hi2
}

// cut keeps the first x hits.
func (h *ScreenHits) cut(x int) {
	h.Query, h.Cand, h.Col, h.Lo2, h.Hi2 = h.Query[:x], h.Cand[:x], h.Col[:x], h.Lo2[:x], h.Hi2[:x]
}

// ScreenBoth implements Screener.
func (r *Residual) ScreenBoth(w *Workspace, qs *Set, q Block, cs *Set, c Block, kth2, ckth2 []float64, out *ScreenHits) {
	if fusedOK(nil, qs, cs) && q.Len() > 0 && c.Len() > 0 {
		q.check(qs.N, "query")
		c.check(cs.N, "candidate")
		r.screenRowsFused(w, qs, q, cs, c, kth2, ckth2, out)
		return
	}
	// The float64 kernel tile has one threshold per row: the larger of
	// the row's and the columns' largest.
	cmax := 0.0
	for _, k2 := range ckth2 {
		cmax = max(cmax, k2)
	}
	w.kth2 = grow(w.kth2, len(kth2))
	for i, k2 := range kth2 {
		w.kth2[i] = max(k2, cmax)
	}
	r.ScreenRows(w, qs, q, cs, c, w.kth2, nil, out)
}

func isOwn(own [][2]int32, j int32) bool {
	for _, p := range own {
		if p[1] == j {
			return true
		}
	}
	return false
}

// tile32 writes the float32 screening tile's distances d32 (the float32
// dot products through the float64 epilogue), with Tile's layout: the
// statistic the gate profiles record.
func (r *Residual) tile32(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block) {
	sq, sc, _, _, ok := r.screenParts(w, qs, q, cs, c)
	if !ok {
		return
	}
	nq, nc := q.Len(), c.Len()
	w.g = grow(w.g, nq*nc)
	kernels.Widen(w.g, w.g32[:nq*nc])
	kernels.ResidualTile(dst, ldd, w.k, nc, w.g, nc, sq, sc, nq, nc, nil)
	zeroSelf(w, dst, ldd, qs, q, cs, c)
}
