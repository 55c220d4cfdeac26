package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest"
)

// TestBoxDist2: every implementation gives the generic twin's bits, for 0
// to 27 coordinates (whole vectors and every tail), points inside, outside
// and on the boxes, degenerate boxes, inputs at the end of guarded memory
// (no read past d), NaN and infinite coordinates; and the result is within
// (d+2) eps of the exactly rounded sum.
func TestBoxDist2(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for d := 0; d <= 27; d++ {
		for trial := 0; trial < 40; trial++ {
			lo, hi := kerneltest.Guarded(t, d), kerneltest.Guarded(t, d)
			q := kerneltest.Guarded(t, d)
			for k := 0; k < d; k++ {
				a, b := r.NormFloat64(), r.NormFloat64()
				if trial%5 == 0 {
					b = a // a flat box
				}
				lo[k], hi[k] = min(a, b), max(a, b)
				switch r.IntN(4) {
				case 0:
					q[k] = lo[k] + (hi[k]-lo[k])*r.Float64() // inside
				case 1:
					q[k] = lo[k] // on the boundary
				default:
					q[k] = 3 * r.NormFloat64()
				}
			}
			if d > 0 && trial == 7 {
				q[r.IntN(d)] = math.NaN()
			}
			if d > 0 && trial == 8 {
				q[r.IntN(d)] = math.Inf(1)
			}
			want := boxDist2Generic(lo, hi, q)
			forEachImpl(t, func(t *testing.T) {
				got := BoxDist2(lo, hi, q)
				if math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("d=%d trial %d: %v (%#x), generic %v (%#x)", d, trial, got, math.Float64bits(got), want, math.Float64bits(want))
				}
			})
			if trial == 7 && d > 0 {
				if !math.IsNaN(want) {
					t.Fatalf("d=%d: NaN coordinate gave %v", d, want)
				}
				continue
			}
			if trial == 8 && d > 0 {
				if !math.IsInf(want, 1) {
					t.Fatalf("d=%d: infinite coordinate gave %v", d, want)
				}
				continue
			}
			var ref float64 // in order, each gap's square and sum rounded
			for k := 0; k < d; k++ {
				e := math.Max(lo[k]-q[k], 0) + math.Max(q[k]-hi[k], 0)
				ref += e * e
			}
			if want < 0 || math.Abs(want-ref) > float64(2*d+4)*0x1p-53*ref {
				t.Fatalf("d=%d trial %d: %v, in-order sum %v", d, trial, want, ref)
			}
		}
	}
}
