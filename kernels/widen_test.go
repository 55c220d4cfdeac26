package kernels

import (
	"math"
	"slices"
	"testing"
)

// TestWiden: every implementation widens exactly, for every length around
// the vector widths, with NaN, infinities, signed zeros and subnormals,
// and leaves the rest of dst alone.
func TestWiden(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 1e-45, 3.4e38, -1.5}
		for n := 0; n <= 37; n++ {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(i)*0.37 - 3
				if i%5 == 0 {
					src[i] = special[i%len(special)]
				}
			}
			dst := make([]float64, n+3)
			for i := range dst {
				dst[i] = 7
			}
			Widen(dst, src)
			for i, x := range src {
				if math.Float64bits(dst[i]) != math.Float64bits(float64(x)) {
					t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, dst[i], float64(x))
				}
			}
			if !slices.Equal(dst[n:], []float64{7, 7, 7}) {
				t.Fatalf("n=%d: wrote past the end: %v", n, dst[n:])
			}
		}
	})
	defer func() {
		if recover() == nil {
			t.Fatal("a short dst did not panic")
		}
	}()
	Widen(make([]float64, 2), make([]float32, 3))
}
