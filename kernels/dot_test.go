package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/pcct/pcct/internal/kerneltest"
)

// dotRef computes one dot product in float64 and the sum of |a_k b_k|.
func dotRef[T Float](a, b []T) (s, abs float64) {
	for k := range a {
		p := float64(a[k]) * float64(b[k])
		s += p
		abs += math.Abs(p)
	}
	return s, abs
}

func testDotTile[T Float](t *testing.T, eps float64, tile func(g []T, ldg int, a []T, lda int, b []T, ldb int, q, c, m int)) {
	r := rand.New(rand.NewPCG(1, 2))
	ms := []int{}
	for m := 0; m <= 4*16+3; m++ {
		ms = append(ms, m)
	}
	ms = append(ms, 255, 512, 1001)
	for _, m := range ms {
		for _, q := range []int{1, 2, 3, 4, 5, 7, 9} {
			for _, c := range []int{1, 2, 3, 4, 5, 6, 7, 11, 13, 25} {
				if m > 100 && (q > 5 || c > 13) {
					continue
				}
				lda, ldb, ldg := m+r.IntN(3), m+r.IntN(3), c+2
				off := r.IntN(3) // unaligned starts
				a := make([]T, off+q*lda)[off:]
				b := make([]T, off+c*ldb)[off:]
				for i := range a {
					a[i] = T(r.NormFloat64())
				}
				for i := range b {
					b[i] = T(r.NormFloat64())
				}
				const pad = 5
				buf := make([]T, pad+q*ldg+pad)
				for i := range buf {
					buf[i] = T(kerneltest.GuardVal)
				}
				g := buf[pad : pad+(q-1)*ldg+c]
				tile(g, ldg, a, lda, b, ldb, q, c, m)
				for i := range buf {
					in := i >= pad && i < pad+(q-1)*ldg+c && (i-pad)%ldg < c
					if !in && !math.IsNaN(float64(buf[i])) {
						t.Fatalf("m=%d q=%d c=%d: guard %d overwritten", m, q, c, i)
					}
				}
				for i := 0; i < q; i++ {
					for j := 0; j < c; j++ {
						want, abs := dotRef(a[i*lda:i*lda+m], b[j*ldb:j*ldb+m])
						got := float64(g[i*ldg+j])
						// Finite inputs: a NaN here is an entry never written
						// (the buffer holds NaN guards), so it must fail.
						if tol := 2*float64(m+1)*eps*abs + 1e-300; !(math.Abs(got-want) <= tol) {
							t.Fatalf("m=%d q=%d c=%d: g[%d][%d] = %g, want %g (tol %g)", m, q, c, i, j, got, want, tol)
						}
					}
				}
			}
		}
	}
}

func TestDotTile(t *testing.T) {
	forEachImpl(t, func(t *testing.T) { testDotTile(t, 0x1p-53, DotTile) })
}

func TestDotTile32(t *testing.T) {
	forEachImpl(t, func(t *testing.T) { testDotTile(t, 0x1p-24, DotTile32) })
}

// TestDotTileSpecial checks NaN, Inf and subnormal inputs against the generic
// twin: every implementation must agree on which outputs are NaN or infinite.
func TestDotTileSpecial(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	q, c := 5, 7
	for _, m := range []int{1, 7, 8, 9, 16, 17, 33} {
		a := randSlice(r, q*m, -1, 1)
		b := randSlice(r, c*m, -1, 1)
		a[1*m+r.IntN(m)] = math.NaN()
		b[2*m+r.IntN(m)] = math.Inf(1)
		b[4*m+r.IntN(m)] = math.Inf(-1)
		a[3*m] = 0x1p-1060 // subnormal
		b[5*m] = 0x1p-1040
		want := make([]float64, q*c)
		withImpl(t, ImplGeneric, func() { DotTile(want, c, a, m, b, m, q, c, m) })
		forEachImpl(t, func(t *testing.T) {
			got := make([]float64, q*c)
			DotTile(got, c, a, m, b, m, q, c, m)
			for i := range got {
				special, ok := sameSpecial(got[i], want[i])
				if !ok || (!special && math.Abs(got[i]-want[i]) > 1e-13*float64(m)) {
					t.Fatalf("m=%d: g[%d] = %g, generic %g", m, i, got[i], want[i])
				}
			}
		})
	}
}

func TestDotTileAliasing(t *testing.T) {
	// A and B may be the same matrix (a Gram tile); G may not overlap them.
	r := rand.New(rand.NewPCG(5, 6))
	n, m := 9, 13
	x := randSlice(r, n*m, -1, 1)
	forEachImpl(t, func(t *testing.T) {
		g := make([]float64, n*n)
		DotTile(g, n, x, m, x, m, n, n, m)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				want, abs := dotRef(x[i*m:i*m+m], x[j*m:j*m+m])
				if !(math.Abs(g[i*n+j]-want) <= 2*float64(m)*0x1p-53*abs) {
					t.Fatalf("gram[%d][%d] = %g want %g", i, j, g[i*n+j], want)
				}
			}
		}
		defer func() {
			if recover() == nil {
				t.Fatal("DotTile with g overlapping a did not panic")
			}
		}()
		DotTile(x[:4], 4, x, m, x, m, 1, 4, m)
	})
}

func TestDotTileBadArgs(t *testing.T) {
	cases := []func(){
		func() { DotTile(make([]float64, 3), 2, make([]float64, 4), 2, make([]float64, 4), 2, 2, 2, 2) },
		func() { DotTile(make([]float64, 4), 2, make([]float64, 3), 2, make([]float64, 4), 2, 2, 2, 2) },
		func() { DotTile(make([]float64, 4), 2, make([]float64, 4), 1, make([]float64, 4), 2, 2, 2, 2) },
		func() { DotTile(nil, 0, nil, 0, nil, 0, -1, 0, 0) },
	}
	for i, f := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("case %d did not panic", i)
				}
			}()
			f()
		}()
	}
	// Empty tiles are fine.
	DotTile(nil, 0, nil, 0, nil, 0, 0, 5, 3)
}

// TestDotTilePositionInvariant: a dot product rounds the same wherever it
// falls in a tile (full register block, edge block, 1x1), so distances do
// not depend on tile shapes, block sizes or worker counts.
func TestDotTilePositionInvariant(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	forEachImpl(t, func(t *testing.T) {
		// q = 11: full row groups and leftover rows; c = 13, 15, 17: full
		// column groups and leftover columns of every edge width.
		for _, qc := range [][3]int{{1, 11, 13}, {7, 11, 15}, {8, 11, 17}, {16, 11, 13}, {33, 11, 15}, {100, 11, 17}, {512, 11, 13}, {512, 11, 15}, {512, 11, 17},
			// Packed panels (AVX-512 float64): 57 rows in panels of 24, 24
			// and 16 (9 rows used), 33 in 24 and 16, 49 in 24, 16 and 16.
			{9, 57, 19}, {70, 33, 9}, {64, 49, 17}, {33, 113, 9}} {
			m, q, c := qc[0], qc[1], qc[2]
			a := randSlice(r, q*m, -1, 1)
			b := randSlice(r, c*m, -1, 1)
			g := make([]float64, q*c)
			DotTile(g, c, a, m, b, m, q, c, m)
			a32, b32 := make([]float32, len(a)), make([]float32, len(b))
			for i := range a {
				a32[i] = float32(a[i])
			}
			for i := range b {
				b32[i] = float32(b[i])
			}
			g32 := make([]float32, q*c)
			DotTile32(g32, c, a32, m, b32, m, q, c, m)
			for i := 0; i < q; i++ {
				for j := 0; j < c; j++ {
					var one [1]float64
					DotTile(one[:], 1, a[i*m:(i+1)*m], m, b[j*m:(j+1)*m], m, 1, 1, m)
					if one[0] != g[i*c+j] {
						t.Fatalf("m=%d (%d,%d): in tile %v, alone %v", m, i, j, g[i*c+j], one[0])
					}
					var one32 [1]float32
					DotTile32(one32[:], 1, a32[i*m:(i+1)*m], m, b32[j*m:(j+1)*m], m, 1, 1, m)
					if one32[0] != g32[i*c+j] {
						t.Fatalf("float32 m=%d (%d,%d): in tile %v, alone %v", m, i, j, g32[i*c+j], one32[0])
					}
				}
			}
		}
	})
}

// TestDotTileRows: picking B rows by id gives, bit for bit, DotTile on a
// copy of those rows, for every implementation, shape and precision, with
// repeated ids, and writes nothing outside the tile.
func TestDotTileRows(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	forEachImpl(t, func(t *testing.T) {
		for _, m := range []int{0, 1, 7, 8, 9, 16, 33, 100, 512} {
			// q = 5, 8: two rows left over; q = 25: more strips than the fetch is spread over
			// (fetchStrips), then a row left over.
			for _, q := range []int{1, 3, 4, 5, 8, 9, 25} {
				for _, c := range []int{1, 5, 6, 7, 8, 10, 13, 25} {
					const nb = 40
					ldb := m + r.IntN(3)
					// The last row and A end at an unreadable page.
					b := kerneltest.Guarded(t, (nb-1)*ldb+m)
					copy(b, randSlice(r, len(b), -1, 1))
					a := kerneltest.Guarded(t, q*m)
					copy(a, randSlice(r, q*m, -1, 1))
					rows := make([]int32, c)
					for j := range rows {
						rows[j] = int32(r.IntN(nb))
					}
					rows[c/2] = nb - 1
					rows[c-1] = rows[0] // a repeat
					gathered := make([]float64, c*m)
					for j, id := range rows {
						copy(gathered[j*m:(j+1)*m], b[int(id)*ldb:int(id)*ldb+m])
					}
					want := make([]float64, q*c)
					DotTile(want, c, a, m, gathered, m, q, c, m)
					const pad = 3
					ldg := c + 1
					buf := make([]float64, pad+q*ldg+pad)
					for i := range buf {
						buf[i] = kerneltest.GuardVal
					}
					DotTileRows(buf[pad:pad+(q-1)*ldg+c], ldg, a, m, b, ldb, rows, q, m)
					for i := range buf {
						in := i >= pad && i < pad+(q-1)*ldg+c && (i-pad)%ldg < c
						if !in && !math.IsNaN(buf[i]) {
							t.Fatalf("m=%d q=%d c=%d: guard %d overwritten", m, q, c, i)
						}
						if in {
							k := i - pad
							if got, w := buf[i], want[k/ldg*c+k%ldg]; got != w {
								t.Fatalf("m=%d q=%d c=%d (%d,%d): %v, want %v", m, q, c, k/ldg, k%ldg, got, w)
							}
						}
					}
					// float32
					a32, b32, gath32 := to32(a), to32(b), to32(gathered)
					want32 := make([]float32, q*c)
					DotTile32(want32, c, a32, m, gath32, m, q, c, m)
					got32 := make([]float32, q*c)
					DotTile32Rows(got32, c, a32, m, b32, ldb, rows, q, m)
					if !slices.Equal(got32, want32) {
						t.Fatalf("float32 m=%d q=%d c=%d: %v, want %v", m, q, c, got32, want32)
					}
				}
			}
		}
	})
	// Ids outside b and overlapping outputs panic.
	b := make([]float64, 10*4)
	for _, f := range []func(){
		func() { DotTileRows(make([]float64, 2), 2, make([]float64, 4), 4, b, 4, []int32{0, 10}, 1, 4) },
		func() { DotTileRows(make([]float64, 2), 2, make([]float64, 4), 4, b, 4, []int32{-1, 0}, 1, 4) },
		func() { DotTileRows(b[:2], 2, make([]float64, 4), 4, b, 4, []int32{0, 1}, 1, 4) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
	DotTileRows(nil, 0, nil, 0, b, 4, nil, 3, 4) // empty
}

func to32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// TestDotTilePanels covers the panel and block structure of the packed
// (AVX-512 float64) kernels: row counts around multiples of 8 and 24, column
// counts around multiples of 8, and cache budgets shrunk so that A is packed
// in several blocks and B swept in several blocks. Every implementation runs
// the same shapes against the float64 reference, in both precisions (float32
// runs the dot-product blocks).
func TestDotTilePanels(t *testing.T) {
	ab, bb := packedABudget, packedBBudget
	defer func() { packedABudget, packedBBudget = ab, bb }()
	forEachImpl(t, func(t *testing.T) {
		for _, budgets := range [][2]int{{ab, bb}, {1, 1}, {48 * 8 * 70, 16 * 8 * 70}} {
			packedABudget, packedBBudget = budgets[0], budgets[1]
			testPanels(t, 0x1p-53, DotTile)
			testPanels(t, 0x1p-24, DotTile32)
			testPanels(t, 0x1p-53, byIDs(DotTileRows))
			testPanels(t, 0x1p-24, byIDs(DotTile32Rows))
		}
	})
}

// byIDs returns DotTile through a by-id tile: B's rows are copied in
// reverse order, with one spare row between them, and picked back by id, so
// that every block size, panel height and group of 8 rows (with the rows
// that each kernel call fetches for the next) meets rows read by id.
func byIDs[T Float](rowsTile func(g []T, ldg int, a []T, lda int, b []T, ldb int, rows []int32, q, m int)) func(g []T, ldg int, a []T, lda int, b []T, ldb int, q, c, m int) {
	return func(g []T, ldg int, a []T, lda int, b []T, ldb int, q, c, m int) {
		ids := make([]int32, c)
		rev := make([]T, 2*c*ldb)
		for j := range c {
			ids[j] = int32(2 * (c - 1 - j))
			copy(rev[int(ids[j])*ldb:], b[j*ldb:j*ldb+m])
		}
		rowsTile(g, ldg, a, lda, rev, ldb, ids, q, m)
	}
}

func testPanels[T Float](t *testing.T, eps float64, tile func(g []T, ldg int, a []T, lda int, b []T, ldb int, q, c, m int)) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, m := range []int{1, 7, 8, 9, 33, 70} {
		for _, q := range []int{8, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40, 47, 48, 49, 57, 64, 65, 80, 97} {
			for _, c := range []int{7, 8, 9, 16, 17, 23, 40} {
				lda, ldb, ldg := m+r.IntN(3), m+r.IntN(3), c+r.IntN(3)
				a := make([]T, (q-1)*lda+m)
				b := make([]T, (c-1)*ldb+m)
				for i := range a {
					a[i] = T(r.Float64()*2 - 1)
				}
				for i := range b {
					b[i] = T(r.Float64()*2 - 1)
				}
				const pad = 4
				buf := make([]T, pad+(q-1)*ldg+c+pad)
				for i := range buf {
					buf[i] = T(kerneltest.GuardVal)
				}
				tile(buf[pad:pad+(q-1)*ldg+c], ldg, a, lda, b, ldb, q, c, m)
				for x := range buf {
					in := x >= pad && x < pad+(q-1)*ldg+c && (x-pad)%ldg < c
					if !in {
						if !math.IsNaN(float64(buf[x])) {
							t.Fatalf("es=%d m=%d q=%d c=%d: guard %d overwritten", unsafe.Sizeof(buf[0]), m, q, c, x)
						}
						continue
					}
					i, j := (x-pad)/ldg, (x-pad)%ldg
					want, abs := dotRef(a[i*lda:i*lda+m], b[j*ldb:j*ldb+m])
					if tol := 2 * float64(m+1) * eps * abs; !(math.Abs(float64(buf[x])-want) <= tol) {
						t.Fatalf("es=%d m=%d q=%d c=%d: g[%d][%d] = %g, want %g", unsafe.Sizeof(buf[0]), m, q, c, i, j, buf[x], want)
					}
					// The packed kernels are one FMA chain over k: exactly
					// math.FMA applied in order.
					if packed := Impl() == ImplAVX512 && unsafe.Sizeof(buf[0]) == 8; packed {
						s := 0.0
						for k := 0; k < m; k++ {
							s = math.FMA(float64(a[i*lda+k]), float64(b[j*ldb+k]), s)
						}
						if float64(buf[x]) != s {
							t.Fatalf("m=%d q=%d c=%d: g[%d][%d] = %v, the FMA chain gives %v", m, q, c, i, j, buf[x], s)
						}
					}
				}
			}
		}
	}
}

// TestDotTileNoAllocs: steady-state tiles allocate nothing (the packed
// kernels' scratch comes from a pool; under the race detector sync.Pool
// drops items at random on purpose, so the test is skipped there).
func TestDotTileNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	r := rand.New(rand.NewPCG(61, 62))
	const q, c, m = 50, 70, 33
	a, b := randSlice(r, q*m, -1, 1), randSlice(r, c*m, -1, 1)
	rows := []int32{3, 1, 4, 1, 5, 9, 2, 6, 5}
	g := make([]float64, q*c)
	forEachImpl(t, func(t *testing.T) {
		DotTile(g, c, a, m, b, m, q, c, m)
		if n := testing.AllocsPerRun(50, func() {
			DotTile(g, c, a, m, b, m, q, c, m)
			DotTileRows(g, c, a, m, b, m, rows, q, m)
		}); n >= 1 {
			t.Fatalf("%v allocations per call", n)
		}
	})
}

// TestDotTileLower: with B lower triangular (row j zero beyond element j),
// DotTileLower gives DotTile's values bit for bit under every
// implementation, for whole and partial column groups, strides and m not
// a multiple of the vector.
func TestDotTileLower(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(21, 22))
		for _, sh := range [][3]int{{1, 1, 1}, {5, 8, 8}, {24, 16, 16}, {30, 37, 37}, {50, 64, 64}, {7, 20, 33}, {64, 256, 256}} {
			q, c, m := sh[0], sh[1], sh[2]
			lda, ldb, ldg := m+r.IntN(3), m+r.IntN(3), c+r.IntN(3)
			a := randSlice(r, q*lda, -1, 1)
			b := randSlice(r, c*ldb, -1, 1)
			for j := range c {
				for k := j + 1; k < m; k++ {
					b[j*ldb+k] = 0
				}
			}
			want, got := make([]float64, q*ldg), make([]float64, q*ldg)
			DotTile(want, ldg, a, lda, b, ldb, q, c, m)
			DotTileLower(got, ldg, a, lda, b, ldb, q, c, m)
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) && !(got[i] == 0 && want[i] == 0) {
					t.Fatalf("q=%d c=%d m=%d: element %d is %v, DotTile %v", q, c, m, i, got[i], want[i])
				}
			}
		}
	})
}

// TestNextRows: the ids that a by-id kernel call fetches for the next one
// are always 8 readable ids (of rows or of the last group), and those of
// the next call where it is in the same block.
func TestNextRows(t *testing.T) {
	var last [packedCols]int32
	for c := 1; c <= 70; c++ {
		rows := make([]int32, c)
		cfull := c / packedCols * packedCols
		for _, nc := range []int{8, 16, 24, 64} {
			for j0 := 0; j0 < c; j0 += nc {
				jend := min(c, j0+nc)
				for j := j0; j < jend; j += packedCols {
					p := nextRows(rows, &last, j, jend, cfull, j0)
					at := -1
					for x := range rows {
						if &rows[x] == p {
							at = x
						}
					}
					switch {
					case p == &last[0]:
						if cfull == c {
							t.Fatalf("c=%d nc=%d j=%d: the last group, which c has not", c, nc, j)
						}
					case at < 0 || at+packedCols > c:
						t.Fatalf("c=%d nc=%d j=%d: ids at %d: not 8 readable ids", c, nc, j, at)
					}
					if nx := j + packedCols; nx < jend && nx+packedCols <= cfull && at != nx {
						t.Fatalf("c=%d nc=%d j=%d: fetches %d, the next call reads %d", c, nc, j, at, nx)
					}
				}
			}
		}
	}
}

// TestDotTileColumns covers the column kernels (AVX-512 float64, one A
// row): every width and padding of the last call (c around 16 and 32),
// tails of m, B rows by id ending at an unreadable page and strided. Each
// output must be, bit for bit, the FMA chain over k, the value the same
// row gets inside a packed panel (the row repeated 9 times), and on the
// other implementations the same tile inside a taller one; NaN and
// infinities propagate.
func TestDotTileColumns(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	forEachImpl(t, func(t *testing.T) {
		for _, m := range []int{1, 7, 8, 9, 15, 16, 17, 63, 255, 256, 257} {
			for _, c := range []int{1, 2, 8, 15, 16, 17, 31, 32, 33, 47, 48, 49, 64, 65, 100} {
				const nb = 120
				ldb := m + r.IntN(3)
				b := kerneltest.Guarded(t, (nb-1)*ldb+m)
				copy(b, randSlice(r, len(b), -1, 1))
				a := kerneltest.Guarded(t, m)
				copy(a, randSlice(r, m, -1, 1))
				rows := make([]int32, c)
				for j := range rows {
					rows[j] = int32(r.IntN(nb))
				}
				rows[c-1] = nb - 1
				if c > 4 { // special values in a few rows
					b[int(rows[1])*ldb+m/2] = math.NaN()
					b[int(rows[2])*ldb] = math.Inf(1)
					b[int(rows[3])*ldb+m-1] = math.Inf(-1)
				}
				const pad = 3
				buf := make([]float64, pad+c+pad)
				for i := range buf {
					buf[i] = kerneltest.GuardVal
				}
				DotTileRows(buf[pad:pad+c], c, a, m, b, ldb, rows, 1, m)
				kerneltest.CheckGuards(t, buf, pad, pad+c, fmt.Sprintf("m=%d c=%d", m, c))
				got := buf[pad : pad+c]
				// The same row inside a taller tile (panels on AVX-512).
				const reps = 9
				tall := make([]float64, reps*m)
				for i := range reps {
					copy(tall[i*m:], a)
				}
				in := make([]float64, reps*c)
				DotTileRows(in, c, tall, m, b, ldb, rows, reps, m)
				strided := make([]float64, c*m)
				for j, id := range rows {
					copy(strided[j*m:], b[int(id)*ldb:int(id)*ldb+m])
				}
				gs := make([]float64, c)
				DotTile(gs, c, a, m, strided, m, 1, c, m)
				for j, id := range rows {
					same := func(x, y float64) bool {
						return math.Float64bits(x) == math.Float64bits(y) || (math.IsNaN(x) && math.IsNaN(y))
					}
					if !same(got[j], in[(reps-1)*c+j]) || !same(got[j], gs[j]) {
						t.Fatalf("m=%d c=%d col %d: alone %v, in a tile %v, strided %v", m, c, j, got[j], in[(reps-1)*c+j], gs[j])
					}
					if Impl() != ImplAVX512 {
						continue
					}
					s := 0.0
					for k := range m {
						s = math.FMA(a[k], b[int(id)*ldb+k], s)
					}
					if !same(got[j], s) {
						t.Fatalf("m=%d c=%d col %d: %v, the FMA chain gives %v", m, c, j, got[j], s)
					}
				}
			}
		}
	})
}
