package kernels

import "sync"

// packedKernel is an outer-product kernel: a k-major panel of A rows (ap,
// vectors of rows per k) against 8 B rows read in place, storing rows
// i < nrows and columns j < cols of the block at out.
type packedKernel[T Float] func(ap *T, m int, b *T, ldb int, out *T, ldo int, nrows, cols int)

// packedRowsKernel is a packedKernel whose 8 B rows are picked by id (ids),
// which fetches the 8 rows of ids next into the cache while it reads its
// own (the drive passes the rows of its next call).
type packedRowsKernel[T Float] func(ap *T, m int, b *T, ldb int, ids, next *int32, out *T, ldo int, nrows, cols int)

// columnKernel is one A row against the B rows picked by ids (as many as
// the kernel is wide, all readable), storing out[j] for j < cols: each
// output one FMA chain over k in order, the packed kernels' bits.
type columnKernel[T Float] func(a *T, m int, b *T, ldb int, ids *int32, out *T, cols int)

// packedKernels are the outer-product kernels of one ISA and precision:
// panels of 1, 2, ... vectors of lanes rows each (full[v-1], rows[v-1]),
// and pack, which transposes lanes rows of A into a panel; and the column
// kernels of one A row against 16 and 32 B rows (col[0], col[1]), for
// tiles of columnRows A rows or fewer. scratch holds the
// drives' scratch (*packScratch[T]), so that steady-state calls allocate
// nothing.
type packedKernels[T Float] struct {
	lanes   int
	full    []packedKernel[T]
	rows    []packedRowsKernel[T]
	pack    func(dst *T, ldd int, src *T, lds int, m int)
	col     []columnKernel[T]
	scratch sync.Pool
}

// columnRows is the most A rows a tile runs through the column kernels,
// one row at a time. (Measured on the 2-vCPU Zen 5 machine, m = 256, B
// rows by id from L2: one A row against 8 rows took 83-97 ns a distance
// in a panel, 45 in the column kernels, against 32 rows 59 and 26-30;
// from memory, 32 rows, about 140 either way. Two A rows gain nothing:
// a panel of 8 rows then computes a quarter of its lanes, not an eighth.)
const columnRows = 1

// packedCols is how many B rows one kernel call meets.
const packedCols = 8

// Cache budgets of the packed drive, in bytes. (Measured on the 2-vCPU
// AVX-512 machine, q=504 c=8192 m=512, prototype of the same loops: B blocks
// of 64 to 128 rows (256 to 512 KiB) ran 99 to 100 GFLOP/s, 256 rows 98,
// 512 rows 97; splitting k into blocks of 128 to 256 gained nothing.)
// Variables so that tests can shrink them and reach every loop.
var (
	packedABudget = 2 << 20
	packedBBudget = 512 << 10
)

// drive packs A in blocks of row panels and sweeps each block's panels
// over B in blocks that stay in L2, 8 rows per kernel call; with rows, B row
// j is row rows[j] of b. B rows left over when c is not a multiple of 8 are
// copied into a zero-padded block of 8 rows (picked by id, the last id
// repeated, with rows), and the last panel of A is
// padded with zero rows (computed, never stored), so every kernel call reads
// whole panels and whole groups of 8 rows.
func (k *packedKernels[T]) drive(g []T, ldg int, a []T, lda int, b []T, ldb int, rows []int32, q, c, m int, es int) {
	k.driveLower(g, ldg, a, lda, b, ldb, rows, q, c, m, es, false)
}

// driveLower is drive; with lower, row j of B is known to be zero beyond
// element j (B lower triangular), and each group of 8 B rows stops its sum
// there: the terms left out are products with +0, which change no sum
// (the kernels add the terms in order of k), so the values are DotTile's.
func (k *packedKernels[T]) driveLower(g []T, ldg int, a []T, lda int, b []T, ldb int, rows []int32, q, c, m int, es int, lower bool) {
	if tileTrivial(g, ldg, a, lda, b, ldb, rows, q, c, m) {
		return
	}
	if q <= columnRows && k.col != nil {
		k.columns(g, ldg, a, lda, b, ldb, rows, q, c, m)
		return
	}
	L := k.lanes
	// Rows of A packed at a time: whole panels, within the budget.
	ablock := min(k.aBlock(m, es), (q+L-1)/L*L)

	// Scratch: the packed rows of A, the last rows of A padded to L, and
	// the leftover B rows padded to 8.
	sp, buf := k.getScratch(ablock*m + L*m + packedCols*m)
	defer k.scratch.Put(sp)
	ap, lastA, lastB := buf[:ablock*m], buf[ablock*m:(ablock+L)*m], buf[(ablock+L)*m:]
	k.lastGroup(sp, lastB, b, ldb, rows, c, m)
	for i0 := 0; i0 < q; i0 += ablock {
		iend := min(q, i0+ablock)
		k.packRows(ap, lastA, a[i0*lda:], lda, iend-i0, m)
		k.sweep(g[i0*ldg:], ldg, ap, iend-i0, b, ldb, rows, c, m, es, lower, sp, lastB)
	}
}

// columns computes the tile one A row at a time through the column
// kernels: 32 B rows per call, the last call 16 wide when that holds what
// is left (ids past c repeat the last; the 8-wide kernel, one FMA chain,
// waited on rows from memory twice as long). Strided B rows are picked by
// their index. Rows of B known to be lower triangular are read whole: the
// terms past the diagonal are products with +0, which change no sum.
func (k *packedKernels[T]) columns(g []T, ldg int, a []T, lda int, b []T, ldb int, rows []int32, q, c, m int) {
	sp, _ := k.getScratch(0)
	defer k.scratch.Put(sp)
	ids := &sp.colIDs
	for j0 := 0; j0 < c; {
		w := 16
		if c-j0 > 16 {
			w = 32
		}
		n := min(w, c-j0)
		for t := range w {
			id := min(j0+t, c-1)
			if rows != nil {
				ids[t] = rows[id]
			} else {
				ids[t] = int32(id)
			}
		}
		kern := k.col[w/32] // 16, 32 -> 0, 1
		for i := range q {
			kern(&a[i*lda], m, &b[0], ldb, &ids[0], &g[i*ldg+j0], n)
		}
		j0 += n
	}
}

// aBlock is the most rows of A that the drive packs at a time: whole
// panels within packedABudget.
func (k *packedKernels[T]) aBlock(m, es int) int {
	maxH := len(k.full) * k.lanes
	return max(maxH, packedABudget/(m*es)/maxH*maxH)
}

// lastGroup sets up the last group of B rows when c is not a multiple of
// 8: picked by id, the last id repeated (its columns are computed, never
// stored) in sp.lastIDs; else copied into lastB after zero rows.
func (k *packedKernels[T]) lastGroup(sp *packScratch[T], lastB []T, b []T, ldb int, rows []int32, c, m int) {
	cfull := c / packedCols * packedCols
	switch {
	case cfull == c:
	case rows != nil:
		for j := range sp.lastIDs {
			sp.lastIDs[j] = rows[min(cfull+j, c-1)]
		}
	default:
		clear(lastB[(c-cfull)*m:])
		for j := cfull; j < c; j++ {
			copy(lastB[(j-cfull)*m:(j-cfull+1)*m], b[j*ldb:j*ldb+m])
		}
	}
}

// packRows packs the q rows of a (row i at a[i*lda:]) into the panels of
// ap: panels of maxH rows (the last of fewer, see panelHeight), each
// k-major, the rows past q zero (lastA: scratch for L padded rows).
func (k *packedKernels[T]) packRows(ap, lastA, a []T, lda, q, m int) {
	L := k.lanes
	maxH := len(k.full) * L
	qp := (q + L - 1) / L * L // rows packed, a multiple of L
	for p := 0; p < qp; {
		h := panelHeight(qp-p, maxH, L)
		for s := p; s < p+h; s += L {
			dst := &ap[p*m+(s-p)]
			if s+L <= q {
				k.pack(dst, h, &a[s*lda], lda, m)
				continue
			}
			// The last rows, padded with zero rows.
			clear(lastA[(q-s)*m:])
			for i := s; i < q; i++ {
				copy(lastA[(i-s)*m:(i-s+1)*m], a[i*lda:i*lda+m])
			}
			k.pack(dst, h, &lastA[0], m, m)
		}
		p += h
	}
}

// sweep runs the panels ap of q packed rows over the c rows of B, in
// blocks of B rows that stay in L2, 8 rows per kernel call, storing row i
// of the tile at g[i*ldg:] (see drive; lastGroup set up sp and lastB).
func (k *packedKernels[T]) sweep(g []T, ldg int, ap []T, q int, b []T, ldb int, rows []int32, c, m, es int, lower bool, sp *packScratch[T], lastB []T) {
	L := k.lanes
	maxH := len(k.full) * L
	qp := (q + L - 1) / L * L
	nc := max(packedCols, packedBBudget/(m*es)/packedCols*packedCols)
	cfull := c / packedCols * packedCols
	lastIDs := &sp.lastIDs
	for j0 := 0; j0 < c; j0 += nc {
		jend := min(c, j0+nc)
		for p := 0; p < qp; {
			h := panelHeight(qp-p, maxH, L)
			kf, kr := k.full[h/L-1], k.rows[h/L-1]
			nr := min(h, q-p)
			pa := &ap[p*m]
			for j := j0; j < jend; j += packedCols {
				out := &g[p*ldg+j]
				switch {
				case j >= cfull && rows != nil:
					kr(pa, m, &b[0], ldb, &lastIDs[0], nextRows(rows, lastIDs, j, jend, cfull, j0), out, ldg, nr, c-j)
				case j >= cfull:
					kf(pa, m, &lastB[0], m, out, ldg, nr, c-j)
				case rows != nil:
					kr(pa, m, &b[0], ldb, &rows[j], nextRows(rows, lastIDs, j, jend, cfull, j0), out, ldg, nr, packedCols)
				case lower:
					kf(pa, min(m, j+packedCols), &b[j*ldb], ldb, out, ldg, nr, packedCols)
				default:
					kf(pa, m, &b[j*ldb], ldb, out, ldg, nr, packedCols)
				}
			}
			p += h
		}
	}
}

// nextRows returns the ids of the 8 B rows that the call after the one at
// column j reads, in the drive's loop over the columns [j0, jend) of a
// panel (full groups of 8 below cfull, the rest in last): the next group,
// else the first of the block, which the next panel's first call reads.
// They are always 8 readable ids.
func nextRows(rows []int32, last *[packedCols]int32, j, jend, cfull, j0 int) *int32 {
	nx := j + packedCols
	if nx >= jend {
		nx = j0
	}
	if nx+packedCols <= cfull {
		return &rows[nx]
	}
	return &last[0]
}

// panelHeight is the height of the next panel when rest rows (a multiple of
// L) are left: the tallest, maxH, except that maxH + L rows (32 for panels of
// 24) become two panels of 16 rather than 24 and 8, since a one-vector panel
// is load-bound (9 loads per 8 FMAs) and runs at about half speed.
func panelHeight(rest, maxH, L int) int {
	if rest == maxH+L && maxH >= 3*L {
		return (rest / L / 2) * L
	}
	return min(maxH, rest)
}

// packScratch is one drive's scratch: the packing buffers and the ids of
// the last group of B rows.
type packScratch[T Float] struct {
	buf     []T
	lastIDs [packedCols]int32
	colIDs  [32]int32 // the column kernels' B rows
}

// getScratch returns a scratch whose buffer holds at least n elements from
// k.scratch (put it back with k.scratch.Put(sp)) and its first n elements.
func (k *packedKernels[T]) getScratch(n int) (*packScratch[T], []T) {
	sp, _ := k.scratch.Get().(*packScratch[T])
	if sp == nil {
		sp = new(packScratch[T])
	}
	if cap(sp.buf) < n {
		sp.buf = make([]T, n)
	}
	return sp, sp.buf[:n]
}
