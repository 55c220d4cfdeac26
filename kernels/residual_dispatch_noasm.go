//go:build !amd64 || purego

package kernels

func residualRow(dst, k, g, sc []float64, sq, r float64, idx []int32) int {
	return residualRowGeneric(dst, k, g, sc, sq, r, idx)
}

func widen(dst []float64, src []float32) int { return 0 }
