package kernels

import "math"

// BoxDist2 returns the squared Euclidean distance from the point q to the
// box [lo, hi] (lo[k] <= hi[k]; d = len(lo), and hi and q need d
// entries):
//
//	for k < d:
//		e = max(lo[k] - q[k], 0) + max(q[k] - hi[k], 0)
//		lane[k mod 8] = FMA(e, e, lane[k mod 8])
//	s = ((lane[0]+lane[4]) + (lane[2]+lane[6])) + ((lane[1]+lane[5]) + (lane[3]+lane[7]))
//
// Every implementation adds the same terms in this order, so the result is
// the same bits on every path; each term and each sum is rounded once, so
// s is within (d+2) eps relative of the true squared distance. A NaN gap
// gives NaN. A k-d tree's search calls it for nearly every node it
// considers.
func BoxDist2(lo, hi, q []float64) float64 {
	d := len(lo)
	hi, q = hi[:d], q[:d]
	return boxDist2(lo, hi, q)
}

func boxDist2Generic(lo, hi, q []float64) float64 {
	var lane [8]float64
	for k := range lo {
		e := max(lo[k]-q[k], 0) + max(q[k]-hi[k], 0)
		lane[k%8] = math.FMA(e, e, lane[k%8])
	}
	var h [4]float64
	for l := range h {
		h[l] = lane[l] + lane[l+4]
	}
	return (h[0] + h[2]) + (h[1] + h[3])
}
