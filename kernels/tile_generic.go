package kernels

import "math"

func sqdistGeneric(a, bt []float64, ldbt, j int) float64 {
	var r2 float64
	for k, ak := range a {
		t := ak - bt[k*ldbt+j]
		r2 += t * t
	}
	return r2
}

func rbfRowGeneric(a, bt []float64, ldbt, d, n int, s2 float64, out []float64) {
	for j := range out[:n] {
		out[j] = s2 * math.Exp(-0.5*sqdistGeneric(a[:d], bt, ldbt, j))
	}
}

func maternRowGeneric(a, bt []float64, ldbt, d, n int, s2 float64, out []float64) {
	for j := range out[:n] {
		t := math.Sqrt(5 * sqdistGeneric(a[:d], bt, ldbt, j))
		out[j] = s2 * ((t/3+1)*t + 1) * math.Exp(-t)
	}
}

func euclidRowGeneric(a, bt []float64, ldbt, d, n int, out []float64, r float64, idx []int32) int {
	hits := 0
	for j := range out[:n] {
		out[j] = math.Sqrt(sqdistGeneric(a[:d], bt, ldbt, j))
		if out[j] <= r {
			idx[hits] = int32(j)
			hits++
		}
	}
	return hits
}
