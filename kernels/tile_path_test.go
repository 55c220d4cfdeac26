package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCoordRowPaths: a column's value does not depend on the path its row
// kernel takes (a block of vectors, whose kernel steps are interleaved, a
// single vector, or the masked tail): under every implementation, each
// column of a 45-column row (one block of 4 vectors on AVX-512, 2 blocks
// on AVX2, then single vectors and a tail) has the bits of the same column
// computed alone (the tail) and in a row of 9 (a vector and a tail), for
// the coordinate kernels, with NaN, infinite, huge and subnormal
// coordinates among ordinary ones.
func TestCoordRowPaths(t *testing.T) {
	const c, d = 45, 3
	r := rand.New(rand.NewPCG(21, 22))
	bt := make([]float64, d*c)
	for i := range bt {
		bt[i] = r.Float64()*4 - 2
	}
	bt[0*c+3] = math.NaN()
	bt[1*c+9] = math.Inf(1)
	bt[2*c+17] = math.Inf(-1)
	bt[0*c+26] = 0x1p-1070
	bt[1*c+33] = 1e160 // r2 overflows to +Inf
	bt[2*c+40] = 37    // exp underflows to a subnormal or 0
	a := []float64{0.5, 0x1p-1060, -0.25}
	rows := map[string]func(out, bt []float64, ldbt, c int){
		"rbf":    func(out, bt []float64, ldbt, c int) { RBFTile(out, c, a, d, bt, ldbt, 1, c, d, 1.3) },
		"matern": func(out, bt []float64, ldbt, c int) { MaternTile(out, c, a, d, bt, ldbt, 1, c, d, 0.7) },
		"euclid": func(out, bt []float64, ldbt, c int) { EuclidTile(out, c, a, d, bt, ldbt, 1, c, d) },
	}
	for name, f := range rows {
		t.Run(name, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T) {
				whole := make([]float64, c)
				f(whole, bt, c, c)
				for j := range c {
					one := make([]float64, 1)
					f(one, bt[j:], c, 1)
					nine := make([]float64, 9)
					j0 := min(j, c-9)
					f(nine, bt[j0:], c, 9)
					w := math.Float64bits(whole[j])
					if got := math.Float64bits(one[0]); got != w {
						t.Fatalf("%s column %d: %v alone, %v in the row", name, j, one[0], whole[j])
					}
					if got := math.Float64bits(nine[j-j0]); got != w {
						t.Fatalf("%s column %d: %v in a row of 9, %v in the row", name, j, nine[j-j0], whole[j])
					}
				}
			})
		})
	}
}
