//go:build !amd64 || purego

package kernels

func rbfRow(a, bt []float64, ldbt, d, n int, s2 float64, out []float64) {
	rbfRowGeneric(a, bt, ldbt, d, n, s2, out)
}

func maternRow(a, bt []float64, ldbt, d, n int, s2 float64, out []float64) {
	maternRowGeneric(a, bt, ldbt, d, n, s2, out)
}

func euclidRow(a, bt []float64, ldbt, d, n int, out []float64, r float64, idx []int32) int {
	return euclidRowGeneric(a, bt, ldbt, d, n, out, r, idx)
}

func euclidHitsRow(a, bt []float64, ldbt, d, n int, out []float64, r float64, idx []int32) int {
	return euclidRowGeneric(a, bt, ldbt, d, n, out, r, idx)
}

func boxDist2(lo, hi, q []float64) float64 { return boxDist2Generic(lo, hi, q) }
