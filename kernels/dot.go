package kernels

// Float is the element type of the dot tiles.
type Float interface{ ~float32 | ~float64 }

// DotTile computes the q x c tile G = A Bᵀ of two row-major matrices that
// share their inner dimension m:
//
//	for i < q, j < c:
//		g[i*ldg+j] = Σ_{k<m} a[i*lda+k] * b[j*ldb+k]
//
// Strides are in elements. g must not overlap a or b (DotTile panics if it
// does); a and b may be the same matrix.
//
// AVX-512 float64 packs A (with 8x8 transposes) into k-major panels of 24,
// 16 or 8 rows and runs outer-product kernels: each step k broadcasts
// element k of 8 B rows, read in place, against the panel's column k, so
// every output is one FMA chain over k = 0, 1, ..., m-1 (bit for bit
// s = math.FMA(a_ik, b_jk, s) in order, which TestDotTilePanels checks). The other assembly
// kernels (AVX2, and float32) keep register blocks of 4x6 (AVX-512) or 3x4
// (AVX2) dot products, with narrower blocks for leftover columns, each
// summed in vector lanes and reduced at the end. Either way results differ
// from the generic loop by reassociation only: |Δ| <= 2 m eps Σ_k |a_ik
// b_jk|, and within one implementation every kernel (panel height, block
// width, padding) sums in one order, so g[i][j] depends only on the rows a_i
// and b_j and the implementation, never on the tile's shape or where the
// pair falls in it. A and B are walked in blocks that fit the caches; the
// packed panels live in a pooled scratch buffer (at most 2 MiB plus 16
// padding rows), so steady-state calls allocate nothing. Short slices or
// negative sizes panic.
func DotTile(g []float64, ldg int, a []float64, lda int, b []float64, ldb int, q, c, m int) {
	if checkTile("DotTile", g, ldg, a, lda, b, ldb, nil, q, c, m) {
		dotTileF64(g, ldg, a, lda, b, ldb, q, c, m)
	}
}

// DotTileLower is DotTile for a B whose row j is zero beyond element j
// (b[j*ldb+k] = 0 for k > j, a lower-triangular factor as rows), which an
// implementation may exploit: the values are DotTile's bit for bit (the
// terms it leaves out are products with +0; only an all-zero sum's sign
// may differ). The AVX-512 and AVX2 kernels skip those terms (AVX2 in
// whole vectors: a block of columns [j, j+w) sums j+w elements rounded up
// to a vector), halving the flops of c = m; the generic loop computes
// DotTile.
func DotTileLower(g []float64, ldg int, a []float64, lda int, b []float64, ldb int, q, c, m int) {
	if checkTile("DotTileLower", g, ldg, a, lda, b, ldb, nil, q, c, m) {
		dotTileLowerF64(g, ldg, a, lda, b, ldb, q, c, m)
	}
}

// DotTile32 is DotTile in float32, accumulated in float32
// (|Δ| <= 2 m eps32 Σ_k |a_ik b_jk| against the generic loop).
func DotTile32(g []float32, ldg int, a []float32, lda int, b []float32, ldb int, q, c, m int) {
	if checkTile("DotTile32", g, ldg, a, lda, b, ldb, nil, q, c, m) {
		dotTileF32(g, ldg, a, lda, b, ldb, q, c, m)
	}
}

// DotTileRows is DotTile against rows of B picked by id:
//
//	for i < q, j < len(rows):
//		g[i*ldg+j] = Σ_{k<m} a[i*lda+k] * b[rows[j]*ldb+k]
//
// The picked rows are read where they are, not copied, and every value is
// bit-identical to DotTile on a copy of them (the same kernels run). The
// kernels ask for the next rows' cache lines while they multiply the
// current ones (AVX-512: the next panel's, inside each call; AVX2: the
// next group's, a share of its lines in each of the first 8 strips of
// query rows against each group). Ids may
// repeat; an id whose row is not inside b, like the other misuses DotTile
// rejects, panics.
func DotTileRows(g []float64, ldg int, a []float64, lda int, b []float64, ldb int, rows []int32, q, m int) {
	if checkTile("DotTileRows", g, ldg, a, lda, b, ldb, rows, q, len(rows), m) {
		dotTileRowsF64(g, ldg, a, lda, b, ldb, rows, q, m)
	}
}

// DotTile32Rows is DotTileRows in float32.
func DotTile32Rows(g []float32, ldg int, a []float32, lda int, b []float32, ldb int, rows []int32, q, m int) {
	if checkTile("DotTile32Rows", g, ldg, a, lda, b, ldb, rows, q, len(rows), m) {
		dotTileRowsF32(g, ldg, a, lda, b, ldb, rows, q, m)
	}
}

// dotKernel is the signature of one generated register block.
type dotKernel[T Float] func(a *T, lda int, b *T, ldb int, m int, out *T, ldo int)

// dotRowsKernel is a register block whose B rows are picked by id.
type dotRowsKernel[T Float] func(a *T, lda int, b *T, ldb int, ids *int32, m int, out *T, ldo int)

// dotBlock is one block width w: R x w and 1 x w kernels (for the rows left
// when q is not a multiple of R), on strided B rows and on B rows picked by
// id (nil for w = 1, where the strided kernel takes the row's address);
// where R = 3, also 2 x w kernels (pair, pairRows), which take two rows left
// over at the full rate (a 1 x w block's w accumulators wait on the FMA
// latency) and read their B rows once. Every kernel sums each product's
// lanes in the same order, whatever its height.
type dotBlock[T Float] struct {
	w                 int
	full, row         dotKernel[T]
	fullRows, rowRows dotRowsKernel[T]
	pair              dotKernel[T]
	pairRows          dotRowsKernel[T]
}

// dotBlocks are the register-block kernels of one ISA and precision: R rows
// of A against each width of B rows, widest (the full block) first, down to
// 1. Every kernel sums the lanes of a dot product in the same order.
type dotBlocks[T Float] struct {
	r      int
	lanes  int // elements per vector
	blocks []dotBlock[T]
	// fetch, when not nil, is the full block's kernel on rows picked by id
	// that also fetches bytes [from, from+64 lines) of the next group's
	// rows (ids next) into the cache.
	fetch func(a *T, lda int, b *T, ldb int, ids, next *int32, from, lines, m int, out *T, ldo int)
}

// fetchStrips is the most strips of A rows over which a group of B rows
// picked by id spreads the fetch of the next group's lines. A strip that
// asks for all of them (128 lines of 4 rows at m = 256) fills the core's
// miss buffers and waits; a share of them in each strip overlaps the
// arithmetic. (Measured on the avx2 VM, BenchmarkDotTileRows from a 512
// MiB V, 16 rows: 13.38 -> 14.27 GFLOP/s geometric mean over 8 strips,
// 13.97 over 3; goal 2's job at 131,072 points, pairs run at once: 5.6 %
// faster.)
const fetchStrips = 8

// Cache budgets of drive, in bytes.
// (Measured on the 2-vCPU AVX-512 machine, q=512 c=8192 m=512: larger A
// panels keep each L1-resident B group busy longer; a 512 KiB A panel was
// clearly best, and a 1 MiB B panel came out 1 to 1.5 % ahead of 2 MiB in
// two sweeps, inside the machine's noise.)
const (
	aBudget = 512 << 10
	bBudget = 1 << 20
)

// tileTrivial is what every drive does first: with m = 0 it clears the tile
// and reports true (nothing left to do); under the race detector it
// declares the reads and writes the assembly will make.
func tileTrivial[T Float](g []T, ldg int, a []T, lda int, b []T, ldb int, rows []int32, q, c, m int) bool {
	if m == 0 {
		for i := 0; i < q; i++ {
			clear(g[i*ldg : i*ldg+c])
		}
		return true
	}
	if raceEnabled {
		raceRead(a[:(q-1)*lda+m])
		if rows == nil {
			raceRead(b[:(c-1)*ldb+m])
		} else {
			for _, id := range rows {
				raceRead(b[int(id)*ldb : int(id)*ldb+m])
			}
		}
		raceWrite(g[:(q-1)*ldg+c])
	}
	return false
}

// drive walks the tile in register blocks, B in L2-sized panels; with rows,
// B row j is row rows[j] of b.
func (k *dotBlocks[T]) drive(g []T, ldg int, a []T, lda int, b []T, ldb int, rows []int32, q, c, m int, es int) {
	k.driveLower(g, ldg, a, lda, b, ldb, rows, q, c, m, es, false)
}

// driveLower is drive; with lower, row j of B is known to be zero beyond
// element j (DotTileLower), so a block of columns [j, j+w) sums only its
// first min(m, j+w rounded up to the vector's lanes) elements: the terms
// left out are products with +0, which the full sum adds in the same
// lanes after the same terms (the values are the same, an all-zero sum's
// sign aside). For c = m that halves the flops.
func (k *dotBlocks[T]) driveLower(g []T, ldg int, a []T, lda int, b []T, ldb int, rows []int32, q, c, m int, es int, lower bool) {
	if tileTrivial(g, ldg, a, lda, b, ldb, rows, q, c, m) {
		return
	}
	// Three levels of reuse: a panel of B rows (bBudget bytes) is read from
	// memory once and stays in L2/L3 while it meets every panel of A rows
	// (aBudget bytes, in L2); within them each group of k.c rows of B, held in
	// L1, meets every row of the A panel.
	wide := k.blocks[0].w
	apanel := max(k.r, aBudget/(m*es)/k.r*k.r)
	bpanel := max(wide, bBudget/(m*es)/wide*wide)
	for j0 := 0; j0 < c; j0 += bpanel {
		jend := min(c, j0+bpanel)
		for i0 := 0; i0 < q; i0 += apanel {
			iend := min(q, i0+apanel)
			ifull := i0 + (iend-i0)/k.r*k.r
			for j := j0; j < jend; {
				// The widest block that fits: the full width except for
				// the panel's last few columns.
				bk := &k.blocks[len(k.blocks)-1]
				for x := range k.blocks {
					if j+k.blocks[x].w <= jend {
						bk = &k.blocks[x]
						break
					}
				}
				i := i0
				if rows != nil && bk.fullRows != nil {
					if k.fetch != nil && bk == &k.blocks[0] && i < ifull {
						// The strips also fetch the next group's rows (its
						// own when it is the last), a share of their
						// lines each.
						next := rows[j:]
						if j+2*bk.w <= c {
							next = rows[j+bk.w:]
						}
						lines := (m*es + 63) / 64
						s := min(fetchStrips, (ifull-i)/k.r)
						per := (lines + s - 1) / s
						for from := 0; from < lines && i < ifull; from, i = from+per, i+k.r {
							k.fetch(&a[i*lda], lda, &b[0], ldb, &rows[j], &next[0], from*64, min(per, lines-from), m, &g[i*ldg+j], ldg)
						}
					}
					for ; i < ifull; i += k.r {
						bk.fullRows(&a[i*lda], lda, &b[0], ldb, &rows[j], m, &g[i*ldg+j], ldg)
					}
					if bk.pairRows != nil && iend-i >= 2 {
						bk.pairRows(&a[i*lda], lda, &b[0], ldb, &rows[j], m, &g[i*ldg+j], ldg)
						i += 2
					}
					for ; i < iend; i++ {
						bk.rowRows(&a[i*lda], lda, &b[0], ldb, &rows[j], m, &g[i*ldg+j], ldg)
					}
				} else {
					bj := &b[j*ldb]
					if rows != nil {
						bj = &b[int(rows[j])*ldb]
					}
					mj := m
					if lower {
						mj = min(m, (j+bk.w+k.lanes-1)/k.lanes*k.lanes)
					}
					for ; i < ifull; i += k.r {
						bk.full(&a[i*lda], lda, bj, ldb, mj, &g[i*ldg+j], ldg)
					}
					if bk.pair != nil && iend-i >= 2 {
						bk.pair(&a[i*lda], lda, bj, ldb, mj, &g[i*ldg+j], ldg)
						i += 2
					}
					for ; i < iend; i++ {
						bk.row(&a[i*lda], lda, bj, ldb, mj, &g[i*ldg+j], ldg)
					}
				}
				j += bk.w
			}
		}
	}
}
