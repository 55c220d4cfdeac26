package metric

import (
	"math"

	"github.com/pcct/pcct/kernels"
)

// The fused float32 screening row (RBF kernel).
//
// The float64 kernel tile (one exp per pair, 8 lanes) and the float64
// epilogue cost about a third of a screened tile's time once its dot
// products run in float32. For the RBF kernel ScreenRows therefore runs
// kernels.ScreenRBF32 instead: kernel value, residual correlation and
// 1 - |rho| in float32 (16 lanes), from coordinates moved by the data's
// centre and rounded to float32, with the threshold test fused. Its
// result out = 1 - |rho32'| differs from the float64 path's 1 - |rho64|
// by at most
//
//	B = (E + 5.2v) w_q w_c + (2m 2^-149 + EK + 5.1v s2) sq sc + 2v (1 + |out|)
//
// with E the dot product's factor (screenFactor), EK = s2 (α + v + β (|a|
// + |b|)) the kernel value's error (kernels.RBF32Error, a and b the two
// points' coordinates from the centre; v for s2's own rounding), five
// roundings of the residual (sc and sq to float32, their product, K - g
// and the product with it; |K - g| <= s2 + 1.01 |V_q||V_c|) and the
// rounding of 1 - |rho|.
// A pair then carries Lo2 = max((out - B - 8u)(1 - 32u), 0) and Hi2 =
// max((out + B + 8u)(1 + 32u), 0) around the float64 d64² (the 8u and 32u
// cover d64's own roundings, as in ScreenRows' float64 epilogue). The row's
// threshold uses the block's largest B (|out| <= 1 for the pairs it
// drops): out > thr >= kth2/(1 - 32u) + B_i + 8u gives Lo2 > kth2.

// fusedLimit bounds the coordinates (from the centre) and the variance
// for which the fused row is used: far beyond float32's range of exact
// enough values, the float64 kernel tile takes over.
const fusedLimit = 1e15

// centreOf returns the midpoint of the bounding box of n points x (n x d).
func centreOf(x []float64, n, d int) []float64 {
	lo, hi := make([]float64, d), make([]float64, d)
	copy(lo, x[:d])
	copy(hi, x[:d])
	for i := 1; i < n; i++ {
		for k, v := range x[i*d : (i+1)*d] {
			lo[k], hi[k] = min(lo[k], v), max(hi[k], v)
		}
	}
	for k := range lo {
		lo[k] = lo[k]/2 + hi[k]/2
	}
	return lo
}

// fusedOK reports whether ScreenRows may run the fused float32 row.
func (r *Residual) fusedOK(margin Margin) bool {
	return margin == nil && r.kernel == RBF && r.centre != nil && r.s2 < fusedLimit
}

// centred32 writes float32(x - centre) into dst (d values) and returns
// |x - centre|, rounded up.
func (r *Residual) centred32(dst []float32, x []float64) float64 {
	var ss float64
	for k, v := range x {
		t := v - r.centre[k]
		dst[k] = float32(t)
		ss += t * t
	}
	return math.Sqrt(ss) * (1 + 1e-9)
}

// screenRowsFused is ScreenRows through kernels.ScreenRBF32; it reports
// false (having done nothing) when a point lies too far from the centre.
func (r *Residual) screenRowsFused(w *Workspace, qs *Set, q Block, cs *Set, c Block, kth2 []float64, out *ScreenHits) bool {
	nq, nc, d, m := q.Len(), c.Len(), r.d, r.m
	xq := rowsOf(&w.xq, qs.X, d, q)
	xct, ldc := colsOf(&w.xct, cs, c)
	w.ct32 = grow(w.ct32, d*nc)
	w.cn = grow(w.cn, nc)
	w.sc32 = grow(w.sc32, nc)
	clear(w.cn[:nc])
	for k := range d {
		ck, row := r.centre[k], w.ct32[k*nc:(k+1)*nc]
		for j, v := range xct[k*ldc : k*ldc+nc] {
			t := v - ck
			row[j] = float32(t)
			w.cn[j] += t * t
		}
	}
	sc := rowsOf(&w.iscp, cs.ISP, 1, c)
	wq, wc := rowsOf(&w.swq, qs.SW, 1, q), rowsOf(&w.swc, cs.SW, 1, c)
	const u, v = 0x1p-53, 0x1p-24
	e := screenFactor(kernels.Impl(), m) + 5.2*v
	alpha, beta := kernels.RBF32Error(d)
	s2 := r.s2
	kc := 2*float64(m)*0x1p-149 + s2*(alpha+v) + 5.1*v*s2 // the (a, b)-free part of the sq sc term
	scmax, c1max, cnmax := 0.0, 0.0, 0.0
	w.c132 = grow(w.c132, nc)
	for j := range nc {
		w.cn[j] = math.Sqrt(w.cn[j]) * (1 + 1e-9)
		w.sc32[j] = up32(sc[j])
		w.c132[j] = up32(e * wc[j])
		scmax = max(scmax, float64(w.sc32[j]))
		c1max = max(c1max, float64(w.c132[j]))
		cnmax = max(cnmax, w.cn[j])
	}
	if !(cnmax <= fusedLimit) {
		return false
	}
	sq := rowsOf(&w.isp, qs.ISP, 1, q)
	w.x32 = grow(w.x32, nq*d)
	w.qn = grow(w.qn, nq)
	for i := range nq {
		w.qn[i] = r.centred32(w.x32[i*d:(i+1)*d], xq[i*d:(i+1)*d])
		if !(w.qn[i] <= fusedLimit) {
			return false
		}
	}
	r.dot32(w, qs.S32, q, cs.S32, c)
	ownPairs(w, qs, q, cs, c)
	w.hits = grow(w.hits, nc)
	w.out32 = grow(w.out32, nc)
	sp := 0
	for i := range nq {
		s0 := sp
		for sp < len(w.selfPairs) && w.selfPairs[sp][0] == int32(i) {
			sp++
		}
		own := w.selfPairs[s0:sp]
		an := w.qn[i]
		wq32, r1 := up32(wq[i]), up32(sq[i]*(kc+s2*beta*(an+cnmax)))
		t0 := float32(math.Inf(1))
		if k2 := kth2[i]; !math.IsInf(k2, 1) {
			t := k2/(1-32*u) + 8*u + 4*v + 16*u
			top := t + float64(wq32)*c1max + float64(r1)*scmax // above every t_j
			t0 = up32(t + 2.01*v*top)
		}
		row := w.out32[:nc]
		nh := kernels.ScreenRBF32(row, w.x32[i*d:(i+1)*d], w.ct32, nc, w.g32[i*nc:(i+1)*nc], w.sc32[:nc], w.c132[:nc], float32(s2), float32(sq[i]), wq32, r1, t0, w.hits)
		for _, j := range w.hits[:nh] {
			if isOwn(own, j) {
				continue
			}
			o := float64(row[j])
			s := sq[i] * sc[j]
			b := e*wq[i]*wc[j] + (kc+s2*beta*(an+w.cn[j]))*s + 2*v*(1+math.Abs(o)) + 16*u
			out.Query, out.Cand, out.Col = append(out.Query, int32(i)), append(out.Cand, int32(c.At(int(j)))), append(out.Col, j)
			out.Lo2 = append(out.Lo2, max((o-b-8*u)*(1-32*u), 0))
			out.Hi2 = append(out.Hi2, max((o+b+8*u)*(1+32*u), 0))
		}
		for _, p := range own {
			out.Query, out.Cand, out.Col = append(out.Query, int32(i)), append(out.Cand, int32(c.At(int(p[1])))), append(out.Col, p[1])
			out.Lo2, out.Hi2 = append(out.Lo2, 0), append(out.Hi2, 0)
		}
	}
	return true
}

// up32 rounds x up to a float32: a relative 2^-22 is more than the half
// unit of rounding to nearest (2^-24 of x), and 2^-148 more than a
// subnormal's.
func up32(x float64) float32 { return float32(x*(1+0x1p-22) + 0x1p-148) }
