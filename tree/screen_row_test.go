package tree

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestScreenRow: offerBound keeps the k smallest upper bounds (ubMax the
// largest of them, +Inf until k are known, a NaN counting as +Inf), and
// with tidy after every batch of offers pendingIDs returns exactly the
// candidates whose lower bound does not exceed the final ubMax, as a prune
// after every batch would.
func TestScreenRow(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{1, 2, 7, 30} {
		var row screenRow
		row.reset(k)
		var seen []float64
		var all []pendingCand
		for batch := range 200 {
			for range 1 + r.IntN(40) {
				hi := r.Float64()
				if r.IntN(50) == 0 {
					hi = math.NaN()
				}
				row.offerBound(k, hi)
				if hi != hi {
					hi = math.Inf(1)
				}
				seen = append(seen, hi)
				sorted := slices.Sorted(slices.Values(seen))
				want := math.Inf(1)
				if len(sorted) >= k {
					want = sorted[k-1]
				}
				if row.ubMax != want {
					t.Fatalf("k = %d, after %d offers: ubMax %v, want %v", k, len(seen), row.ubMax, want)
				}
				lo := hi * r.Float64()
				if !(lo > row.ubMax) {
					c := pendingCand{int32(len(all)), lo}
					row.pending, all = append(row.pending, c), append(all, c)
				}
			}
			if batch%3 != 0 {
				row.tidy()
			}
		}
		var want []int32
		for _, c := range all {
			if !(c.lo2 > row.ubMax) {
				want = append(want, c.id)
			}
		}
		if got := row.pendingIDs(nil); !slices.Equal(got, want) {
			t.Fatalf("k = %d: %d pending, want %d", k, len(got), len(want))
		}
	}
}
