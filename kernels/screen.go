package kernels

import (
	"fmt"
	"math"
)

// ScreenRBF32 is the fused float32 screening row of the residual metric
// with the RBF kernel: for j < len(out), with x the query's coordinates
// and column j of bt (d = len(x) rows, leading dimension ldbt) the
// candidate's, all scaled by the lengthscales and moved by one common
// centre, g[j] the float32 dot product V_q·V_j and sc[j] = 1/sqrt(p_j),
// sq = 1/sqrt(p_q),
//
//	r2     = Σ_k (bt[k*ldbt+j] - x[k])²   (one FMA chain over k)
//	K      = s2 exp32(-r2/2)
//	rho    = (K - g[j]) * (sc[j] * sq)
//	out[j] = 1 - |rho|
//	t_j    = max(t0, tc[j]) + wq c1[j] + r1 sc[j]   (two FMA steps)
//
// all in float32, and the columns with !(out[j] > t_j) (NaN passes) are
// written to idx in ascending order; their count is returned. The
// threshold t_j lets a caller give each pair its own error bound (wq c1[j]
// for the dot product's, r1 sc[j] for the rest) and each column a base of
// its own (tc: the candidate's k-th bound, when a tile serves both sides;
// zeros otherwise). out must not overlap the
// inputs; idx needs room for len(out) entries.
//
// exp32 is the same algorithm on every path (clamp to [-87, 0], Cody-Waite
// reduction with ln2 in two parts, degree-7 Taylor polynomial, scaling by
// 2^n); the paths may still differ in the last bits (the generic one
// rounds a float64 FMA to float32). RBF32Error bounds them all.
func ScreenRBF32(out, x, bt []float32, ldbt int, g, sc, c1, tc []float32, s2, sq, wq, r1, t0 float32, idx []int32) int {
	return screen32(false, out, x, bt, ldbt, g, sc, c1, tc, s2, sq, wq, r1, t0, idx)
}

// ScreenMatern32 is ScreenRBF32 for the Matern 5/2 kernel:
//
//	t = sqrt(r2 * 5),   K = (exp32(-t) * ((t * (1/3) + 1) * t + 1)) * s2
//
// (the polynomial in two FMA steps). Matern32Error bounds K's error.
func ScreenMatern32(out, x, bt []float32, ldbt int, g, sc, c1, tc []float32, s2, sq, wq, r1, t0 float32, idx []int32) int {
	return screen32(true, out, x, bt, ldbt, g, sc, c1, tc, s2, sq, wq, r1, t0, idx)
}

func screen32(matern bool, out, x, bt []float32, ldbt int, g, sc, c1, tc []float32, s2, sq, wq, r1, t0 float32, idx []int32) int {
	n, d := len(out), len(x)
	if len(g) < n || len(sc) < n || len(c1) < n || len(tc) < n || len(idx) < n {
		panic(fmt.Sprintf("kernels: ScreenRBF32 inputs shorter than out (%d): g=%d sc=%d c1=%d tc=%d idx=%d", n, len(g), len(sc), len(c1), len(tc), len(idx)))
	}
	if n == 0 {
		return 0
	}
	if d > 0 && (ldbt < n || len(bt) < (d-1)*ldbt+n) {
		panic(fmt.Sprintf("kernels: ScreenRBF32 bt too short: %d for d=%d ldbt=%d n=%d", len(bt), d, ldbt, n))
	}
	return screenRow32(matern, out, x, bt, ldbt, g[:n], sc[:n], c1[:n], tc[:n], s2, sq, wq, r1, t0, idx)
}

// RBF32Error returns α and β such that, for the kernel value K32 of
// ScreenRBF32 and the exact K = s2 exp(-|a-b|²/2) of coordinates a and b
// (before their rounding to float32, measured from the common centre),
//
//	|K32 - K| <= s2 (α + β (|a| + |b|)).
//
// Derivation, v = 2^-24, to first order: rounding a and b to float32
// moves each coordinate difference by at most v(|a_k| + |b_k|); the
// subtraction and the d FMA steps add a relative (d+2)v, so |r2_32 - r2|
// <= v((d+2) r2 + 2 r (|a| + |b|)). exp32 adds a relative 4.2v: the
// truncated series at |r| <= ln2/2 (0.12v), the reduction's rounding of r
// (0.35v) and ln2lo (0.03v), the Horner steps (2.7v: v times the partial
// sums 1.42 + 0.35 x 1.2 + ..., over e^r >= 0.7) and the product by s2
// (v). With K |Δr2|/2 and the maxima (r2/2) e^{-r2/2} <= 1/e and
// r e^{-r2/2} <= e^{-1/2}:
//
//	|K32 - K| <= s2 v ((d+2)/e + 4.2 + e^{-1/2}(|a| + |b|)) + s2 2^-120
//
// (the last term: the clamp at -87 and float32 underflow). The
// coefficients carry a factor 1.25 against second-order terms;
// TestScreen32Error checks them against float64 on adversarial inputs.
func RBF32Error(d int) (alpha, beta float64) {
	const v = 0x1p-24
	return 1.25*v*(float64(d+2)/math.E+4.2) + 0x1p-120, 1.25 * v * math.Exp(-0.5)
}

// Matern32Error is RBF32Error for ScreenMatern32. With f(t) = (1 + t +
// t²/3) e^-t, f'(t) = -t(1+t)/3 e^-t, and Δr2 as for the RBF kernel,
// t = sqrt(5 r2) moves by at most Δt <= sqrt5 Δr2 / r (the exact bound,
// not the linear one, so that r near 0 is covered) plus 1.5 v t for the
// product by 5 and the square root: Δt <= v ((d+3.5) t + 2 sqrt5 (|a| +
// |b|)). With max t²(1+t)/3 e^-t <= 0.605 and max t(1+t)/3 e^-t <= 0.28,
// f moves by at most v (0.605 (d+3.5) + 1.25 (|a| + |b|)); evaluating f
// adds a relative 8.5v (the polynomial's two FMA steps and 1/3 in float32:
// 3v; exp32: 3.2v; the product with it and with s2: 2v, rounded up). So
// |K32 - K| <= s2 v (0.605 (d+3.5) + 8.5 + 1.25 (|a| + |b|)) + s2 2^-100,
// with a factor 1.25 against second-order terms, checked by
// TestScreen32Error.
func Matern32Error(d int) (alpha, beta float64) {
	const v = 0x1p-24
	return 1.25*v*(0.605*(float64(d)+3.5)+8.5) + 0x1p-100, 1.25 * 1.25 * v
}

// exp32Coeffs are the generated kernels' constants (vecgen.Exp32Coeffs):
// the clamp, log2 e, ln2 in two parts and 1/k! for k = 7 down to 0.
var exp32Coeffs = [...]float32{-87, 0, math.Log2E, 0.693359375, -2.12194440e-4,
	1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1}

// fma32 rounds a*b+c to float32 (through float64: a*b is exact there).
func fma32(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }

// exp32 is the generated kernels' exp, x <= 0.
func exp32(x float32) float32 {
	c := exp32Coeffs
	x = min(max(x, c[0]), c[1])
	n := float32(math.RoundToEven(float64(x * c[2])))
	r := fma32(-n, c[3], x)
	r = fma32(-n, c[4], r)
	p := c[5]
	for _, ck := range c[6:] {
		p = fma32(p, r, ck)
	}
	return float32(math.Ldexp(float64(p), int(n)))
}

// matern32 is the generated Matern kernel value without s2, from r2.
func matern32(r2 float32) float32 {
	t := float32(math.Sqrt(float64(r2 * 5)))
	p := fma32(fma32(t, 1.0/3, 1), t, 1)
	return exp32(-t) * p
}

func screenRow32Generic(matern bool, out, x, bt []float32, ldbt int, g, sc, c1, tc []float32, s2, sq, wq, r1, t0 float32, idx []int32) int {
	hits := 0
	for j := range out {
		var r2 float32
		for k, xk := range x {
			t := bt[k*ldbt+j] - xk
			r2 = fma32(t, t, r2)
		}
		var kv float32
		if matern {
			kv = matern32(r2) * s2
		} else {
			kv = s2 * exp32(-0.5*r2)
		}
		rho := (kv - g[j]) * (sc[j] * sq)
		v := 1 - float32(math.Abs(float64(rho)))
		out[j] = v
		if !(v > fma32(r1, sc[j], fma32(wq, c1[j], max(t0, tc[j])))) {
			idx[hits] = int32(j)
			hits++
		}
	}
	return hits
}
