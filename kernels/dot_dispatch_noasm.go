//go:build !amd64 || purego

package kernels

func dotTileF64(g []float64, ldg int, a []float64, lda int, b []float64, ldb int, q, c, m int) {
	dotTileGeneric(g, ldg, a, lda, b, ldb, q, c, m)
}

func dotTileLowerF64(g []float64, ldg int, a []float64, lda int, b []float64, ldb int, q, c, m int) {
	dotTileGeneric(g, ldg, a, lda, b, ldb, q, c, m)
}

func dotTileF32(g []float32, ldg int, a []float32, lda int, b []float32, ldb int, q, c, m int) {
	dotTileGeneric(g, ldg, a, lda, b, ldb, q, c, m)
}

func dotTileRowsF64(g []float64, ldg int, a []float64, lda int, b []float64, ldb int, rows []int32, q, m int) {
	dotTileRowsGeneric(g, ldg, a, lda, b, ldb, rows, q, m)
}

func dotTileRowsF32(g []float32, ldg int, a []float32, lda int, b []float32, ldb int, rows []int32, q, m int) {
	dotTileRowsGeneric(g, ldg, a, lda, b, ldb, rows, q, m)
}
