package tree

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// TestVarianceInvariance: the residual correlation does not depend on the
// kernel variance, so neither do the neighbours. Scaling by a power of 4
// scales K, V·V, p and the floor exactly, so the answers are bitwise the
// same; other factors change distances by rounding only.
func TestVarianceInvariance(t *testing.T) {
	const n, d, k = 2000, 2, 8
	x := uniformPoints(n, d, 21)
	answer := func(s2 float64) *Neighbours {
		m, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Variance: s2, Lengthscale: []float64{0.1}, Inducing: 128, Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		nb, err := BruteAllKNN(context.Background(), m, KNNOptions{K: k, Predecessor: true})
		if err != nil {
			t.Fatal(err)
		}
		return nb
	}
	one := answer(1)
	for _, s2 := range []float64{1.0 / 4096, 4096} {
		if got := answer(s2); !got.Equal(one) {
			t.Fatalf("variance %v: %s", s2, firstDiff(got, one))
		}
	}
	for _, s2 := range []float64{1e-4, 3.7, 1e4} {
		got := answer(s2)
		differ := 0
		for i := range n {
			gi, gd := got.Row(i)
			wi, wd := one.Row(i)
			for j := range gd {
				if math.Abs(gd[j]-wd[j]) > 1e-6 {
					t.Fatalf("variance %v, point %d: distances %v, with variance 1 %v", s2, i, gd, wd)
				}
			}
			if !slices.Equal(gi, wi) {
				differ++
			}
		}
		// Only near-ties may swap.
		if differ > n/200 {
			t.Fatalf("variance %v: %d of %d neighbour lists differ from variance 1", s2, differ, n)
		}
	}
}
