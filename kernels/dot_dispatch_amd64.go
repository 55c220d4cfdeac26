//go:build !purego

package kernels

var dotF64Blocks = [numLevels]*dotBlocks[float64]{
	levelAVX2: {r: 3, c: 4, full: dotF643x4AVX2, row: dotF641x4AVX2, col: dotF643x1AVX2, one: dotF641x1AVX2,
		fullRows: dotF643x4RowsAVX2, rowRows: dotF641x4RowsAVX2},
	levelAVX512: {r: 4, c: 6, full: dotF644x6AVX512, row: dotF641x6AVX512, col: dotF644x1AVX512, one: dotF641x1AVX512,
		fullRows: dotF644x6RowsAVX512, rowRows: dotF641x6RowsAVX512},
}

var dotF32Blocks = [numLevels]*dotBlocks[float32]{
	levelAVX2: {r: 3, c: 4, full: dotF323x4AVX2, row: dotF321x4AVX2, col: dotF323x1AVX2, one: dotF321x1AVX2,
		fullRows: dotF323x4RowsAVX2, rowRows: dotF321x4RowsAVX2},
	levelAVX512: {r: 4, c: 6, full: dotF324x6AVX512, row: dotF321x6AVX512, col: dotF324x1AVX512, one: dotF321x1AVX512,
		fullRows: dotF324x6RowsAVX512, rowRows: dotF321x6RowsAVX512},
}

func dotTileF64(g []float64, ldg int, a []float64, lda int, b []float64, ldb int, q, c, m int) {
	if k := dotF64Blocks[current()]; k != nil {
		k.drive(g, ldg, a, lda, b, ldb, nil, q, c, m, 8)
		return
	}
	dotTileGeneric(g, ldg, a, lda, b, ldb, q, c, m)
}

func dotTileF32(g []float32, ldg int, a []float32, lda int, b []float32, ldb int, q, c, m int) {
	if k := dotF32Blocks[current()]; k != nil {
		k.drive(g, ldg, a, lda, b, ldb, nil, q, c, m, 4)
		return
	}
	dotTileGeneric(g, ldg, a, lda, b, ldb, q, c, m)
}

func dotTileRowsF64(g []float64, ldg int, a []float64, lda int, b []float64, ldb int, rows []int32, q, m int) {
	if k := dotF64Blocks[current()]; k != nil {
		k.drive(g, ldg, a, lda, b, ldb, rows, q, len(rows), m, 8)
		return
	}
	dotTileRowsGeneric(g, ldg, a, lda, b, ldb, rows, q, m)
}

func dotTileRowsF32(g []float32, ldg int, a []float32, lda int, b []float32, ldb int, rows []int32, q, m int) {
	if k := dotF32Blocks[current()]; k != nil {
		k.drive(g, ldg, a, lda, b, ldb, rows, q, len(rows), m, 4)
		return
	}
	dotTileRowsGeneric(g, ldg, a, lda, b, ldb, rows, q, m)
}
