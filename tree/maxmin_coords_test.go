package tree

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// TestOrderMaxMinCoords: the max-min ordering of scaled coordinates
// equals the definition's on the coordinates divided beforehand (the same
// division, so the same bits), from the point nearest their mean, for 1
// and 3 workers, with duplicates; without a scale it is the Euclidean
// metric's; a bad scale is refused with its reason.
func TestOrderMaxMinCoords(t *testing.T) {
	const n, d = 700, 3
	rng := rand.New(rand.NewPCG(5, 6))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = rng.Float64()
	}
	copy(x[40*d:41*d], x[7*d:8*d]) // a duplicate
	scale := []float64{1, 4, 0.5}
	scaled := slices.Clone(x)
	for i := range scaled {
		scaled[i] /= scale[i%d]
	}
	for _, c := range []struct {
		scale []float64
		ref   []float64 // the coordinates the definition orders
	}{{nil, x}, {scale, scaled}} {
		e, err := metric.NewEuclidean(c.ref, n, d)
		if err != nil {
			t.Fatal(err)
		}
		want := naiveMaxMin(e, CentralPoint(c.ref, n, d))
		for _, workers := range []int{1, 3} {
			got, rep, err := OrderMaxMinCoords(context.Background(), x, n, d, c.scale, KNNOptions{Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("scale %v, %d workers: order %v..., want %v...", c.scale, workers, got[:10], want[:10])
			}
			if rep.Method != SearchKD || rep.Query.Distances == 0 {
				t.Fatalf("scale %v: report %+v: want the k-d tree and its distances", c.scale, rep)
			}
		}
	}
	for _, c := range []struct {
		scale []float64
		want  string
	}{
		{[]float64{1, 2}, "scale has 2 values for 3 dimensions"},
		{[]float64{1, 0, 1}, "scale of dimension 1 is 0"},
		{[]float64{1, 1, -2}, "scale of dimension 2 is -2"},
		{[]float64{1, 1, math.NaN()}, "scale of dimension 2 is NaN"},
		{[]float64{1e-310, 1, 1}, "overflows when divided by its scale"},
	} {
		big := slices.Clone(x)
		big[0] = 1e300
		if _, _, err := OrderMaxMinCoords(context.Background(), big, n, d, c.scale, KNNOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("scale %v: error %v, want %q", c.scale, err, c.want)
		}
	}
}

// TestCoordScale: each lengthscale over the smallest; nil where they are
// all equal (or none is given).
func TestCoordScale(t *testing.T) {
	if s := CoordScale([]float64{0.2, 0.05, 0.1}); len(s) != 3 || s[0] != 0.2/0.05 || s[1] != 1 || s[2] != 0.1/0.05 {
		t.Fatalf("scale %v", s)
	}
	for _, ls := range [][]float64{nil, {0.3}, {0.3, 0.3}} {
		if s := CoordScale(ls); s != nil {
			t.Fatalf("%v: scale %v, want nil", ls, s)
		}
	}
}
