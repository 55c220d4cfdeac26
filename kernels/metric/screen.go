package metric

import (
	"math"

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
}

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
	addScreening(r.data)
	return nil
}

// addScreening computes S32 and SW for a float64 set.
func addScreening(s *Set) {
	if s.S32 != nil || s.V == nil {
		return
	}
	m := s.M
	s.S32 = make([]float32, len(s.V))
	for i, x := range s.V {
		s.S32[i] = float32(x)
	}
	s.SW = make([]float64, s.N)
	up := 1 + float64(m+4)*0x1p-53
	for i := range s.N {
		var ss float64
		for _, x := range s.V[i*m : (i+1)*m] {
			ss += x * x
		}
		s.SW[i] = math.Sqrt(ss) * s.ISP[i] * up
	}
}

// CanScreen implements Screener.
func (r *Residual) CanScreen(qs, cs *Set) bool {
	return qs.S32 != nil && cs.S32 != nil && qs.SW != nil && cs.SW != nil
}

// ScreenTile implements Screener.
func (r *Residual) ScreenTile(w *Workspace, lo2 []float64, ldd int, qs *Set, q Block, cs *Set, c Block) {
	q.check(qs.N, "query")
	c.check(cs.N, "candidate")
	nq, nc, d, m := q.Len(), c.Len(), r.d, r.m
	if nq == 0 || nc == 0 {
		return
	}
	w.g32 = grow(w.g32, nq*nc)
	w.k = grow(w.k, nq*nc)
	vq := rowsOf(&w.vq32, qs.S32, m, q)
	if c.IDs != nil {
		kernels.DotTile32Rows(w.g32, nc, vq, m, cs.S32, m, c.IDs, nq, m)
	} else {
		kernels.DotTile32(w.g32, nc, vq, m, cs.S32[c.Lo*m:], m, nq, nc, m)
	}
	e := screenFactor(kernels.Impl(), m)
	under := 2 * float64(m) * 0x1p-149 // float32 underflow, absolute
	xq := rowsOf(&w.xq, qs.X, d, q)
	xct, ldc := colsOf(&w.xct, cs.XT, d, cs.N, c)
	r.kernelTile(w.k, nc, xq, d, xct, ldc, nq, nc)
	sq, sc := rowsOf(&w.isp, qs.ISP, 1, q), rowsOf(&w.iscp, cs.ISP, 1, c)
	wq, wc := rowsOf(&w.swq, qs.SW, 1, q), rowsOf(&w.swc, cs.SW, 1, c)
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
