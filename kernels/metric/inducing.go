package metric

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/pcct/pcct/kernels"
)

// rng returns the package's seeded generator for a purpose, so that the
// same seed gives the same choices everywhere.
func rng(seed uint64, purpose uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15^purpose))
}

// sampleDistinct draws m distinct indices from [0, n) uniformly (a partial
// Fisher-Yates shuffle) and returns them sorted ascending.
func sampleDistinct(n, m int, seed uint64) []int {
	r := rng(seed, 1)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	for i := 0; i < m; i++ {
		j := i + r.IntN(n-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	out := perm[:m:m]
	slices.Sort(out)
	return out
}

// kmeansIters is the number of Lloyd iterations after k-means++ seeding.
const kmeansIters = 10

// kmeans returns m centres (m x d) of the n points xs: k-means++ seeding
// (D² sampling) then kmeansIters Lloyd iterations. An emptied cluster keeps
// its previous centre.
func kmeans(xs []float64, n, d, m int, seed uint64) []float64 {
	c := kmeansSeed(xs, n, d, m, seed)
	assign := make([]int, n)
	for range kmeansIters {
		nearestCentres(assign, xs, n, d, c, m)
		recentre(c, m, xs, d, assign)
	}
	return c
}

// kmeansSeed returns m centres of the n points xs picked by k-means++ (each
// next one with probability proportional to its squared distance to the
// nearest picked so far).
func kmeansSeed(xs []float64, n, d, m int, seed uint64) []float64 {
	r := rng(seed, 2)
	c := make([]float64, m*d)
	dist2 := func(i int, cen []float64) float64 {
		var s float64
		for k := 0; k < d; k++ {
			t := xs[i*d+k] - cen[k]
			s += t * t
		}
		return s
	}
	first := r.IntN(n)
	copy(c[:d], xs[first*d:(first+1)*d])
	best := make([]float64, n)
	total := 0.0
	for i := range best {
		best[i] = dist2(i, c[:d])
		total += best[i]
	}
	for a := 1; a < m; a++ {
		pick := r.IntN(n)
		if total > 0 {
			u := r.Float64() * total
			for i, b := range best {
				u -= b
				if u <= 0 && b > 0 {
					pick = i
					break
				}
			}
		}
		cen := c[a*d : (a+1)*d]
		copy(cen, xs[pick*d:(pick+1)*d])
		total = 0
		for i := range best {
			best[i] = min(best[i], dist2(i, cen))
			total += best[i]
		}
	}
	return c
}

// nearestCentres sets assign[i] to the centre of c (m x d) nearest point i
// of xs (the first of equals), in tiles of 256 points.
func nearestCentres(assign []int, xs []float64, n, d int, c []float64, m int) {
	const block = 256
	tile := make([]float64, block*m)
	ct := transpose(c, m, d)
	for lo := 0; lo < n; lo += block {
		q := min(block, n-lo)
		kernels.EuclidTile(tile, m, xs[lo*d:], d, ct, m, q, m, d)
		for i := 0; i < q; i++ {
			bi, bd := 0, math.Inf(1)
			for a, dd := range tile[i*m : (i+1)*m] {
				if dd < bd {
					bi, bd = a, dd
				}
			}
			assign[lo+i] = bi
		}
	}
}

// recentre moves each centre of c (m x d) to the mean of the points of xs
// assigned to it; a centre with none stays.
func recentre(c []float64, m int, xs []float64, d int, assign []int) {
	sums := make([]float64, m*d)
	counts := make([]int, m)
	for i, a := range assign {
		counts[a]++
		for k := 0; k < d; k++ {
			sums[a*d+k] += xs[i*d+k]
		}
	}
	for a := 0; a < m; a++ {
		if counts[a] > 0 {
			for k := 0; k < d; k++ {
				c[a*d+k] = sums[a*d+k] / float64(counts[a])
			}
		}
	}
}
