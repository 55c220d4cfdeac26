//go:build !purego

package kernels

var dotF64Blocks = [numLevels]*dotBlocks[float64]{
	levelAVX2: {r: 3, lanes: 4, blocks: []dotBlock[float64]{
		{4, dotF643x4AVX2, dotF641x4AVX2, dotF643x4RowsAVX2, dotF641x4RowsAVX2, dotF642x4AVX2, dotF642x4RowsAVX2},
		{2, dotF643x2AVX2, dotF641x2AVX2, dotF643x2RowsAVX2, dotF641x2RowsAVX2, dotF642x2AVX2, dotF642x2RowsAVX2},
		{1, dotF643x1AVX2, dotF641x1AVX2, nil, nil, dotF642x1AVX2, nil},
	}, fetch: dotF643x4RowsFetchAVX2},
}

// dotF64Packed are the outer-product kernels that replace the dot-product
// blocks where they exist (AVX-512 float64).
var dotF64Packed = [numLevels]*packedKernels[float64]{
	levelAVX512: {lanes: 8,
		full: []packedKernel[float64]{dotF64P8AVX512, dotF64P16AVX512, dotF64P24AVX512},
		rows: []packedRowsKernel[float64]{dotF64P8RowsAVX512, dotF64P16RowsAVX512, dotF64P24RowsAVX512},
		pack: packF64T8AVX512,
		col:  []columnKernel[float64]{dotF64C16RowsAVX512, dotF64C32RowsAVX512}},
}

var dotF32Blocks = [numLevels]*dotBlocks[float32]{
	levelAVX2: {r: 3, lanes: 8, blocks: []dotBlock[float32]{
		{4, dotF323x4AVX2, dotF321x4AVX2, dotF323x4RowsAVX2, dotF321x4RowsAVX2, dotF322x4AVX2, dotF322x4RowsAVX2},
		{2, dotF323x2AVX2, dotF321x2AVX2, dotF323x2RowsAVX2, dotF321x2RowsAVX2, dotF322x2AVX2, dotF322x2RowsAVX2},
		{1, dotF323x1AVX2, dotF321x1AVX2, nil, nil, dotF322x1AVX2, nil},
	}, fetch: dotF323x4RowsFetchAVX2},
	levelAVX512: {r: 4, lanes: 16, blocks: []dotBlock[float32]{
		{6, dotF324x6AVX512, dotF321x6AVX512, dotF324x6RowsAVX512, dotF321x6RowsAVX512, nil, nil},
		{4, dotF324x4AVX512, dotF321x4AVX512, dotF324x4RowsAVX512, dotF321x4RowsAVX512, nil, nil},
		{2, dotF324x2AVX512, dotF321x2AVX512, dotF324x2RowsAVX512, dotF321x2RowsAVX512, nil, nil},
		{1, dotF324x1AVX512, dotF321x1AVX512, nil, nil, nil, nil},
	}},
}

func dotTileF64(g []float64, ldg int, a []float64, lda int, b []float64, ldb int, q, c, m int) {
	if k := dotF64Packed[current()]; k != nil {
		k.drive(g, ldg, a, lda, b, ldb, nil, q, c, m, 8)
		return
	}
	if k := dotF64Blocks[current()]; k != nil {
		k.drive(g, ldg, a, lda, b, ldb, nil, q, c, m, 8)
		return
	}
	dotTileGeneric(g, ldg, a, lda, b, ldb, q, c, m)
}

func dotTileLowerF64(g []float64, ldg int, a []float64, lda int, b []float64, ldb int, q, c, m int) {
	if k := dotF64Packed[current()]; k != nil {
		k.driveLower(g, ldg, a, lda, b, ldb, nil, q, c, m, 8, true)
		return
	}
	if k := dotF64Blocks[current()]; k != nil {
		k.driveLower(g, ldg, a, lda, b, ldb, nil, q, c, m, 8, true)
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
	if k := dotF64Packed[current()]; k != nil {
		k.drive(g, ldg, a, lda, b, ldb, rows, q, len(rows), m, 8)
		return
	}
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
