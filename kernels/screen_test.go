package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// screenCase is one row of ScreenRBF32 inputs with the float64 coordinates
// the float32 ones were rounded from.
type screenCase struct {
	x64, bt64 []float64 // d and d x ld
	x, bt     []float32
	ld        int
	g, sc     []float32
	s2, sq    float32
}

// newScreenCase draws n candidates in d dimensions around the origin
// moved by off, at distances around dist from the query.
func newScreenCase(r *rand.Rand, n, d int, off, dist float64) screenCase {
	c := screenCase{ld: n + r.IntN(3), s2: float32(0.5 + r.Float64()), sq: float32(1 + 9*r.Float64())}
	c.x64 = make([]float64, d)
	for k := range c.x64 {
		c.x64[k] = off * (2*r.Float64() - 1)
	}
	c.bt64 = make([]float64, d*c.ld)
	for j := range n {
		s := dist * r.Float64() / math.Sqrt(float64(max(d, 1)))
		for k := range d {
			c.bt64[k*c.ld+j] = c.x64[k] + s*(2*r.Float64()-1)
		}
	}
	c.x, c.bt = narrow(c.x64), narrow(c.bt64)
	c.g, c.sc = make([]float32, n), make([]float32, n)
	for j := range n {
		c.g[j] = float32(c.s2) * float32(r.Float64())
		c.sc[j] = float32(1 + 9*r.Float64())
	}
	return c
}

func narrow(s []float64) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}

func norm(s []float64, col, ld int) float64 {
	var ss float64
	for k := range len(s) / max(ld, 1) {
		ss += s[k*ld+col] * s[k*ld+col]
	}
	return math.Sqrt(ss)
}

// screenKernels are the fused rows under test, with their float64
// kernel functions (of r2, without s2) and error bounds.
var screenKernels = []struct {
	name  string
	row   func(out, x, bt []float32, ldbt int, g, sc, c1, tc []float32, s2, sq, wq, r1, t0 float32, idx []int32) int
	k64   func(r2 float64) float64
	bound func(d int) (float64, float64)
}{
	{"rbf", ScreenRBF32, func(r2 float64) float64 { return math.Exp(-r2 / 2) }, RBF32Error},
	{"matern52", ScreenMatern32, func(r2 float64) float64 {
		t := math.Sqrt(5 * r2)
		return (1 + t + t*t/3) * math.Exp(-t)
	}, Matern32Error},
}

// TestScreen32 checks every implementation against float64 arithmetic
// on the same inputs, within the error the screening bound allows (the
// kernel value's RBF32Error, six roundings of the residual, two of 1 -
// |rho|), and the hit list against the row's own values and per-column
// thresholds: odd sizes and tails, d = 0, NaN dot products (always hits).
func TestScreen32(t *testing.T) {
	const v = 0x1p-24
	forEachImpl(t, func(t *testing.T) {
		for _, kern := range screenKernels {
			r := rand.New(rand.NewPCG(7, 8))
			for _, n := range []int{1, 2, 7, 8, 15, 16, 17, 31, 33, 64, 65, 100} {
				for _, d := range []int{0, 1, 2, 3, 8, 17} {
					c := newScreenCase(r, n, d, 3, 3)
					if n > 5 {
						c.g[3] = float32(math.NaN())
					}
					out := make([]float32, n+1)
					out[n] = 42 // must stay
					idx := make([]int32, n)
					c1, tc := make([]float32, n), make([]float32, n)
					for j := range c1 {
						c1[j] = float32(r.Float64() * 0.1)
						if j%3 == 0 {
							tc[j] = float32(r.Float64()) // a column base of its own
						}
					}
					wq, r1, t0 := float32(r.Float64()), float32(r.Float64()*0.01), float32(r.Float64())
					h := kern.row(out[:n], c.x, c.bt, c.ld, c.g, c.sc, c1, tc, c.s2, c.sq, wq, r1, t0, idx)
					if out[n] != 42 {
						t.Fatalf("n=%d d=%d: wrote past out", n, d)
					}
					var want []int32
					alpha, beta := kern.bound(d)
					for j := range n {
						if !(out[j] > fma32(r1, c.sc[j], fma32(wq, c1[j], max(t0, tc[j])))) {
							want = append(want, int32(j))
						}
						var r2 float64
						for k := range d {
							t := float64(c.bt[k*c.ld+j]) - float64(c.x[k])
							r2 += t * t
						}
						k64 := float64(c.s2) * kern.k64(r2)
						s := float64(c.sc[j]) * float64(c.sq)
						rho := (k64 - float64(c.g[j])) * s
						ref := 1 - math.Abs(rho)
						if math.IsNaN(float64(c.g[j])) {
							if !math.IsNaN(float64(out[j])) {
								t.Fatalf("n=%d d=%d j=%d: NaN dot gave %v", n, d, j, out[j])
							}
							continue
						}
						ek := float64(c.s2) * (alpha + beta*(norm(c.bt64, j, c.ld)+norm(c.x64, 0, 1)))
						b := (ek+6*v*(float64(c.s2)+math.Abs(float64(c.g[j]))))*s + 2*v*(1+math.Abs(ref))
						if diff := math.Abs(float64(out[j]) - ref); !(diff <= b) {
							t.Fatalf("%s n=%d d=%d j=%d: out %v, float64 %v: |diff| %.3g > bound %.3g", kern.name, n, d, j, out[j], ref, diff, b)
						}
					}
					if !slices.Equal(idx[:h], want) {
						t.Fatalf("%s n=%d d=%d: hits %v, want %v", kern.name, n, d, idx[:h], want)
					}
				}
			}
		}
	})
}

// TestScreen32Error checks RBF32Error and Matern32Error on inputs chosen to make the
// float32 kernel value as wrong as possible: coordinates far from the
// centre (|a| up to 1e4) with near neighbours, r2 around 2 (where (r2/2)
// e^{-r2/2} peaks) and far out to the clamp, d up to 64. The kernel's K32
// is read back exactly: g is K rounded to float32 and sc a power of two
// that makes rho = (K32 - g) sc of order 2^-7, so out = 1 - |rho| keeps
// its bits.
func TestScreen32Error(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		for _, kern := range screenKernels {
			r := rand.New(rand.NewPCG(9, 10))
			worst := 0.0
			for _, d := range []int{1, 2, 3, 8, 64} {
				for _, off := range []float64{0, 1, 100, 1e4} {
					for _, dist := range []float64{0, 1e-6, 0.01, 1.5, 3, 12, 40} {
						const n = 200
						c := newScreenCase(r, n, d, off, dist)
						c.sq = 1
						k64 := make([]float64, n)
						for j := range n {
							var r2 float64
							for k := range d {
								t := c.bt64[k*c.ld+j] - c.x64[k]
								r2 += t * t
							}
							k64[j] = float64(c.s2) * kern.k64(r2)
							c.g[j] = float32(k64[j])
							_, e := math.Frexp(k64[j])
							c.sc[j] = float32(math.Ldexp(1, 17-e))
							if k64[j] < 0x1p-100 {
								c.g[j], c.sc[j] = 0, 1 // too small for the read-back
							}
						}
						out, idx := make([]float32, n), make([]int32, n)
						kern.row(out, c.x, c.bt, c.ld, c.g, c.sc, c.g, make([]float32, n), c.s2, c.sq, 0, 0, 2, idx)
						alpha, beta := kern.bound(d)
						for j := range n {
							diff := math.Abs(1-float64(out[j]))/float64(c.sc[j]) + math.Abs(float64(c.g[j])-k64[j])
							bound := float64(c.s2) * (alpha + beta*(norm(c.bt64, j, c.ld)+norm(c.x64, 0, 1)))
							if !(diff <= bound) {
								t.Fatalf("%s d=%d off=%g dist=%g j=%d: |K32 - K| = %.3g > bound %.3g (K = %.6g)", kern.name, d, off, dist, j, diff, bound, k64[j])
							}
							worst = max(worst, diff/bound)
						}
					}
				}
			}
			t.Logf("%s: largest error %.2f of the bound", kern.name, worst)
		}
	})
}
