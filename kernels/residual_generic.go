package kernels

import "math"

func residualRowGeneric(dst, k, g, sc []float64, sq, r float64, idx []int32) int {
	hits := 0
	for j := range dst {
		rho := (k[j] - g[j]) * (sc[j] * sq)
		d := math.Sqrt(1 - math.Min(math.Abs(rho), 1))
		dst[j] = d
		if d <= r {
			idx[hits] = int32(j)
			hits++
		}
	}
	return hits
}
