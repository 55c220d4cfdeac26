package metric

import (
	"math"

	"github.com/pcct/pcct/kernels"
)

// The fused float32 screening row.
//
// The float64 kernel tile (one exp per pair, 8 lanes) and the float64
// epilogue cost about a third of a screened tile's time once its dot
// products run in float32. ScreenRows therefore runs kernels.ScreenRBF32
// (or ScreenMatern32) instead: kernel value, residual correlation and
// 1 - |rho| in float32 (16 lanes), from coordinates moved by the data's
// centre and rounded to float32, with the threshold test fused. Its
// result out = 1 - |rho32'| differs from the float64 path's 1 - |rho64|
// by at most
//
//	B = (E + 5.2v) w_q w_c + (2m 2^-149 + EK + 5.1v s2) sq sc + 2v (1 + |out|)
//
// with E the dot product's factor (screenFactor), EK = s2 (α + v + β (|a|
// + |b|)) the kernel value's error (kernels.RBF32Error or Matern32Error, a and b the two
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

// Fused32 holds a set's per-point inputs of the fused row: coordinates
// from the metric's centre in float32, transposed (D x N), their norms
// (rounded up), and 1/sqrt(p) and the screening weight rounded up to
// float32.
type Fused32 struct {
	XT      []float32
	Norm    []float64
	ISP, SW []float32
	MaxNorm float64
	rec     []fusedRec // each point's inputs in one cache line (d <= recDims), or nil
}

// fusedRec holds one point's inputs of the fused row, the float32 ones and
// its float64 1/sqrt(p) and screening weight (the set's ISP and SW), in one
// 64-byte record: a tile of candidates picked by id gathers each from one
// cache line instead of d + 5 lines spread over as many arrays (at 262,144
// points the gathers took 12 % of a screened tree walk's time).
type fusedRec struct {
	x           [recDims]float32
	isp, sw     float32
	norm        float64
	isp64, sw64 float64
	_           float64
}

// recDims is the largest dimension with records: the weakly structured
// data where a screened tree walk pays have few dimensions, and 6
// coordinates fill a cache line with the rest.
const recDims = 6

// addRecords fills f.rec from f and the set s whose copy f is (the float64
// ISP and SW are s's); none beyond recDims dimensions.
func (f *Fused32) addRecords(s *Set) {
	n, d := s.N, s.D
	if d > recDims {
		return
	}
	f.rec = make([]fusedRec, n)
	for i := range f.rec {
		r := &f.rec[i]
		for k := range d {
			r.x[k] = f.XT[k*n+i]
		}
		r.isp, r.sw, r.norm = f.ISP[i], f.SW[i], f.Norm[i]
		r.isp64, r.sw64 = s.ISP[i], s.SW[i]
	}
}

// packRecords is pack from the records (f.rec not nil) of the points ids,
// also gathering their float64 ISP and SW into *isp and *sw.
func (f *Fused32) packRecords(old *Fused32, d int, ids []int32, isp, sw *[]float64) *Fused32 {
	c := len(ids)
	out := &Fused32{XT: grow(old.XT, d*c), Norm: grow(old.Norm, c), ISP: grow(old.ISP, c), SW: grow(old.SW, c), MaxNorm: f.MaxNorm}
	*isp, *sw = grow(*isp, c), grow(*sw, c)
	xt, norm, is, ws, i64, w64 := out.XT[:d*c], out.Norm[:c], out.ISP[:c], out.SW[:c], (*isp)[:c], (*sw)[:c]
	for j, id := range ids {
		r := &f.rec[id]
		for k := range d {
			xt[k*c+j] = r.x[k]
		}
		norm[j], is[j], ws[j], i64[j], w64[j] = r.norm, r.isp, r.sw, r.isp64, r.sw64
	}
	return out
}

// fused32 returns s's Fused32 (s has X, ISP and SW), or nil when the
// fused row does not apply: a point too far from the centre, or a variance
// beyond fusedLimit.
func (r *Residual) fused32(s *Set) *Fused32 {
	if r.centre == nil || !(r.s2 < fusedLimit) {
		return nil
	}
	n, d := s.N, s.D
	f := &Fused32{XT: make([]float32, d*n), Norm: make([]float64, n), ISP: make([]float32, n), SW: make([]float32, n)}
	for i := range n {
		var ss float64
		for k, v := range s.X[i*d : (i+1)*d] {
			t := v - r.centre[k]
			f.XT[k*n+i] = float32(t)
			ss += t * t
		}
		f.Norm[i] = math.Sqrt(ss) * (1 + 1e-9)
		f.MaxNorm = max(f.MaxNorm, f.Norm[i])
		f.ISP[i], f.SW[i] = up32(s.ISP[i]), up32(s.SW[i])
	}
	if !(f.MaxNorm <= fusedLimit) {
		return nil
	}
	f.addRecords(s)
	return f
}

// pack returns the Fused32 of the points b of a set of n points in d
// dimensions, reusing old's storage.
func (f *Fused32) pack(old *Fused32, n, d int, b Block) *Fused32 {
	if old == nil {
		old = &Fused32{}
	}
	c := b.Len()
	out := &Fused32{XT: grow(old.XT, d*c), MaxNorm: f.MaxNorm}
	for k := range d {
		row := f.XT[k*n : (k+1)*n]
		for j := range c {
			out.XT[k*c+j] = row[b.At(j)]
		}
	}
	out.Norm = gatherRows(grow(old.Norm, c), f.Norm, 1, b)
	out.ISP = gatherRows(grow(old.ISP, c), f.ISP, 1, b)
	out.SW = gatherRows(grow(old.SW, c), f.SW, 1, b)
	return out
}

// fusedOK reports whether ScreenRows may run the fused float32 row.
func fusedOK(margin Margin, qs, cs *Set) bool {
	return margin == nil && qs.F32 != nil && cs.F32 != nil
}

// screenRowsFused is ScreenRows (ckth2 nil) or ScreenBoth through
// kernels.ScreenRBF32 or ScreenMatern32.
func (r *Residual) screenRowsFused(w *Workspace, qs *Set, q Block, cs *Set, c Block, kth2, ckth2 []float64, out *ScreenHits) {
	nq, nc, d, m := q.Len(), c.Len(), r.d, r.m
	fq, fc := qs.F32, cs.F32
	// The candidates' columns: views for a range, gathered for a list.
	ct, ldc := fc.XT, cs.N
	cn, sc32, sw32 := fc.Norm, fc.ISP, fc.SW
	var sc, wc []float64
	switch {
	case c.IDs == nil:
		ct, cn, sc32, sw32 = ct[c.Lo:], cn[c.Lo:], sc32[c.Lo:], sw32[c.Lo:]
		sc, wc = cs.ISP[c.Lo:], cs.SW[c.Lo:]
	case fc.rec != nil:
		w.fc = *fc.packRecords(&w.fc, d, c.IDs, &w.iscp, &w.swc)
		ct, ldc, cn, sc32, sw32 = w.fc.XT, nc, w.fc.Norm, w.fc.ISP, w.fc.SW
		sc, wc = w.iscp, w.swc
	default:
		w.fc = *fc.pack(&w.fc, cs.N, d, c)
		ct, ldc, cn, sc32, sw32 = w.fc.XT, nc, w.fc.Norm, w.fc.ISP, w.fc.SW
		sc, wc = rowsOf(&w.iscp, cs.ISP, 1, c), rowsOf(&w.swc, cs.SW, 1, c)
	}
	wq := rowsOf(&w.swq, qs.SW, 1, q)
	sq := rowsOf(&w.isp, qs.ISP, 1, q)
	const u, v = 0x1p-53, 0x1p-24
	e := screenFactor(kernels.Impl(), m) + 5.2*v
	row32, bound := kernels.ScreenRBF32, kernels.RBF32Error
	if r.kernel == Matern52 {
		row32, bound = kernels.ScreenMatern32, kernels.Matern32Error
	}
	alpha, beta := bound(d)
	s2 := r.s2
	kc := 2*float64(m)*0x1p-149 + s2*(alpha+v) + 5.1*v*s2 // the (a, b)-free part of the sq sc term
	scmax, swmax := float32(0), float32(0)
	for j := range nc {
		scmax, swmax = max(scmax, sc32[j]), max(swmax, sw32[j])
	}
	// t_ij = max(t0_i, tc_j) + wq'_i sw32_j + r1_i sc32_j >= the pair's
	// bound: wq' sw32_j >= E w_q w_j, r1 sc32_j >= the sq sc term, and
	// each base carries the slack of the two FMA roundings at the tile's
	// largest threshold.
	w.wq32, w.r132 = grow(w.wq32, nq), grow(w.r132, nq)
	wqmax, r1max := 0.0, 0.0
	for i := range nq {
		an := fq.Norm[q.At(i)]
		w.wq32[i], w.r132[i] = up32(e*wq[i]), up32(sq[i]*(kc+s2*beta*(an+fc.MaxNorm)))
		wqmax, r1max = max(wqmax, float64(w.wq32[i])), max(r1max, float64(w.r132[i]))
	}
	base := func(k2 float64) float32 {
		if math.IsInf(k2, 1) {
			return float32(math.Inf(1))
		}
		t := k2/(1-32*u) + 8*u + 4*v + 16*u
		return up32(t + 2.01*v*(t+wqmax*float64(swmax)+r1max*float64(scmax)))
	}
	w.tc32 = grow(w.tc32, nc)
	for j := range nc {
		w.tc32[j] = 0
		if ckth2 != nil {
			w.tc32[j] = base(ckth2[j])
		}
	}
	r.dot32(w, qs.S32, q, cs.S32, c)
	ownPairs(w, qs, q, cs, c)
	w.hits = grow(w.hits, nc)
	w.out32 = grow(w.out32, nc)
	w.x32 = grow(w.x32, d)
	own := ownRows{pairs: w.selfPairs}
	for i := range nq {
		mine := own.next(i)
		qi := q.At(i)
		for k := range d {
			w.x32[k] = fq.XT[k*qs.N+qi]
		}
		an := fq.Norm[qi]
		row := w.out32[:nc]
		nh := row32(row, w.x32, ct, ldc, w.g32[i*nc:(i+1)*nc], sc32[:nc], sw32[:nc], w.tc32[:nc], float32(s2), float32(sq[i]), w.wq32[i], w.r132[i], base(kth2[i]), w.hits)
		x := out.extend(nh + len(mine))
		ewq, sqi := e*wq[i], sq[i]
		for _, j := range w.hits[:nh] {
			if isOwn(mine, j) {
				continue
			}
			o := float64(row[j])
			s := sqi * sc[j]
			b := ewq*wc[j] + (kc+s2*beta*(an+cn[j]))*s + 2*v*(1+math.Abs(o)) + 16*u
			out.set(x, i, c.At(int(j)), j, max((o-b-8*u)*(1-32*u), 0), max((o+b+8*u)*(1+32*u), 0))
			x++
		}
		for _, p := range mine {
			out.set(x, i, c.At(int(p[1])), p[1], 0, 0) // d64 = 0 by definition
			x++
		}
		out.cut(x)
	}
}

// up32 rounds x up to a float32: a relative 2^-22 is more than the half
// unit of rounding to nearest (2^-24 of x), and 2^-148 more than a
// subnormal's.
func up32(x float64) float32 { return float32(x*(1+0x1p-22) + 0x1p-148) }
