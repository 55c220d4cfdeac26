//go:build !purego

package kernels

var dotF64Blocks = [numLevels]*dotBlocks[float64]{
	levelAVX2:   {r: 3, c: 4, full: dotF643x4AVX2, row: dotF641x4AVX2, col: dotF643x1AVX2, one: dotF641x1AVX2},
	levelAVX512: {r: 4, c: 6, full: dotF644x6AVX512, row: dotF641x6AVX512, col: dotF644x1AVX512, one: dotF641x1AVX512},
}

var dotF32Blocks = [numLevels]*dotBlocks[float32]{
	levelAVX2:   {r: 3, c: 4, full: dotF323x4AVX2, row: dotF321x4AVX2, col: dotF323x1AVX2, one: dotF321x1AVX2},
	levelAVX512: {r: 4, c: 6, full: dotF324x6AVX512, row: dotF321x6AVX512, col: dotF324x1AVX512, one: dotF321x1AVX512},
}

func dotTileF64(g []float64, ldg int, a []float64, lda int, b []float64, ldb int, q, c, m int) {
	if k := dotF64Blocks[current()]; k != nil {
		k.drive(g, ldg, a, lda, b, ldb, q, c, m, 8)
		return
	}
	dotTileGeneric(g, ldg, a, lda, b, ldb, q, c, m)
}

func dotTileF32(g []float32, ldg int, a []float32, lda int, b []float32, ldb int, q, c, m int) {
	if k := dotF32Blocks[current()]; k != nil {
		k.drive(g, ldg, a, lda, b, ldb, q, c, m, 4)
		return
	}
	dotTileGeneric(g, ldg, a, lda, b, ldb, q, c, m)
}
