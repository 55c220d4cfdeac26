package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestEuclidRowHits: under each implementation EuclidRowHits finds
// EuclidRow's hits with the same distance bits, never writes past them,
// and never writes out past c: odd sizes and tails, 1-9 dimensions, NaN
// and infinite coordinates, and radii at, just below and just above a
// distance of the row, negative, zero, tiny, huge, infinite and NaN.
func TestEuclidRowHits(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, c := range tileSizes() {
		d := 1 + r.IntN(9)
		cc := newCoordCase(r, t, 1, c, d)
		switch {
		case c > 5:
			cc.bt[c-2] = math.Inf(-1)
			fallthrough
		case c > 3:
			cc.bt[1] = math.NaN()
		}
		forEachImpl(t, func(t *testing.T) {
			full := make([]float64, c)
			EuclidRow(full, cc.a[:d], cc.bt, cc.ldbt, c, -1, nil)
			radii := []float64{-1, 0, 1e-300, 0.5, 1, 2.5, 1e200, math.Inf(1), math.NaN()}
			if c > 0 {
				at := full[r.IntN(c)]
				radii = append(radii, at, math.Nextafter(at, 0), math.Nextafter(at, math.Inf(1)))
			}
			for _, rad := range radii {
				want := make([]int32, c)
				wn := EuclidRow(make([]float64, c), cc.a[:d], cc.bt, cc.ldbt, c, rad, want)
				buf := make([]float64, c+2)
				buf[c], buf[c+1] = -3, -3
				out := buf[:c]
				idx := make([]int32, c+8)
				fill32(idx, -7)
				n := EuclidRowHits(out, cc.a[:d], cc.bt, cc.ldbt, c, rad, idx)
				if !slices.Equal(idx[:n], want[:wn]) {
					t.Fatalf("c=%d d=%d r=%g: hits %v, want %v", c, d, rad, idx[:n], want[:wn])
				}
				for _, j := range idx[:n] {
					if math.Float64bits(out[j]) != math.Float64bits(full[j]) {
						t.Fatalf("c=%d d=%d r=%g: column %d = %v, EuclidRow %v", c, d, rad, j, out[j], full[j])
					}
				}
				for _, v := range idx[n:] {
					if v != -7 {
						t.Fatalf("c=%d r=%g: wrote past the hits: %v", c, rad, idx)
					}
				}
				if buf[c] != -3 || buf[c+1] != -3 {
					t.Fatalf("c=%d r=%g: wrote past out", c, rad)
				}
			}
		})
	}
}

// TestHitsBound: every squared distance whose rounded square root is at
// most r lies within hitsBound(r), at the edge of the rounding and across
// the exponent range down to subnormal radii.
func TestHitsBound(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	check := func(rad, x float64) {
		if x >= 0 && math.Sqrt(x) <= rad && !(x <= hitsBound(rad)) {
			t.Fatalf("r = %g (%#x): x = %g has sqrt %g <= r but exceeds the bound %g", rad, math.Float64bits(rad), x, math.Sqrt(x), hitsBound(rad))
		}
	}
	for i := 0; i < 200000; i++ {
		rad := math.Ldexp(1+r.Float64(), r.IntN(2100)-1074)
		if i%7 == 0 {
			rad = math.Float64frombits(uint64(r.IntN(1 << 20))) // subnormal
		}
		// The largest x whose square root rounds to rad: around (rad +
		// ulp/2)², found by stepping from a point below it.
		ulp := math.Nextafter(rad, math.Inf(1)) - rad
		x := (rad + ulp/2) * (rad + ulp/2)
		if math.IsInf(x, 0) {
			continue
		}
		for k := 0; k < 8; k++ {
			check(rad, x)
			x = math.Nextafter(x, math.Inf(1))
		}
		x = rad * rad
		for k := 0; k < 8; k++ {
			check(rad, x)
			x = math.Nextafter(x, math.Inf(1))
		}
	}
	if b := hitsBound(-1); b >= 0 {
		t.Fatalf("negative radius: bound %g", b)
	}
	if b := hitsBound(math.NaN()); b == b {
		t.Fatalf("NaN radius: bound %g", b)
	}
	if b := hitsBound(math.Inf(1)); !math.IsInf(b, 1) {
		t.Fatalf("infinite radius: bound %g", b)
	}
}
