package tree

import (
	"math"
	"slices"
	"testing"
)

// TestChainOrder: the chain takes every point once, from the first,
// each time the nearest of those left (ties to the lower place), also
// with a NaN distance.
func TestChainOrder(t *testing.T) {
	// Points on a line at 0, 5, 1, 4, 2: the chain 0, 2, 4, 3, 1.
	x := []float64{0, 5, 1, 4, 2}
	nf := len(x)
	dist := make([]float64, nf*nf)
	for a := range nf {
		for c := range nf {
			dist[a*nf+c] = math.Abs(x[a] - x[c])
		}
	}
	if got, want := chainOrder(dist, nf), []int{0, 2, 4, 3, 1}; !slices.Equal(got, want) {
		t.Fatalf("chain %v, want %v", got, want)
	}
	// Ties go to the lower place; a NaN row still reaches every point.
	for i := range dist {
		dist[i] = 1
	}
	if got, want := chainOrder(dist, nf), []int{0, 1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("tied chain %v, want %v", got, want)
	}
	for i := range dist {
		dist[i] = math.NaN()
	}
	got := chainOrder(dist, nf)
	if s := slices.Sorted(slices.Values(got)); !slices.Equal(s, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("NaN chain %v is not a permutation", got)
	}
}

// TestDown32: the float32 the table keeps is the largest at most the
// float64 value, so that a bound read from it still holds.
func TestDown32(t *testing.T) {
	for _, x := range []float64{0, 1, -1, 0.1, -0.1, 1.0 / 3, 0.999999999, 1e-30, -1e-30, 3e38, math.Inf(1), math.Inf(-1)} {
		f := down32(x)
		if float64(f) > x {
			t.Fatalf("down32(%v) = %v, above", x, f)
		}
		if up := math.Nextafter32(f, float32(math.Inf(1))); !math.IsInf(x, 0) && float64(up) <= x {
			t.Fatalf("down32(%v) = %v, but %v is at most x too", x, f, up)
		}
	}
	if !math.IsNaN(float64(down32(math.NaN()))) {
		t.Fatal("down32(NaN) is a number")
	}
}
