package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pcct/pcct/internal/benchutil"
)

// The dot tiles' benchmarks: dense tiles, and the tree's shapes (rows
// picked by id from a V larger than the cache).

func benchDot[T Float](b *testing.B, tile func(g []T, ldg int, a []T, lda int, b []T, ldb int, q, c, m int), q, c, m int) {
	r := rand.New(rand.NewPCG(1, 1))
	a := make([]T, q*m)
	bb := make([]T, c*m)
	for i := range a {
		a[i] = T(r.Float64())
	}
	for i := range bb {
		bb[i] = T(r.Float64())
	}
	g := mapped[T](q * c)
	for b.Loop() {
		tile(g, c, a, m, bb, m, q, c, m)
	}
	b.ReportMetric(2*float64(q)*float64(c)*float64(m)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// mapped returns a slice whose pages have been written, so that a benchmark
// times the kernel rather than the first-touch page faults of its output
// buffer. (On the 2-vCPU VM these cost 11 to 15 us per 4 KiB page for memory
// fresh from the kernel: about 100 ms for the 32 MiB output of the
// q=512 c=8192 tile, twice the tile's own time, which made short runs of
// that benchmark read 60 GFLOP/s instead of 90.)
func mapped[T Float](n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

func benchImpls(b *testing.B, f func(b *testing.B)) {
	for _, name := range List() {
		b.Run("impl="+name, func(b *testing.B) {
			withImpl(b, name, func() { f(b) })
		})
	}
}

// benchDense runs a dense tile on each implementation at three shapes,
// from a walk's block to brute force's.
func benchDense[T Float](b *testing.B, tile func(g []T, ldg int, a []T, lda int, b []T, ldb int, q, c, m int)) {
	benchImpls(b, func(b *testing.B) {
		for _, s := range [][3]int{{8, 256, 512}, {64, 1024, 512}, {512, 8192, 512}} {
			b.Run(fmt.Sprintf("q=%d/c=%d/m=%d", s[0], s[1], s[2]), func(b *testing.B) { benchDot(b, tile, s[0], s[1], s[2]) })
		}
	})
}

func BenchmarkDotTile(b *testing.B)   { benchDense(b, DotTile) }
func BenchmarkDotTile32(b *testing.B) { benchDense(b, DotTile32) }

// benchByID times DotTileRows for q rows of a against c rows of v (rows
// of m) picked at random, reporting per call through report. The ids
// come in sets covering 65,536 rows in all, so that a set's rows have
// left the cache when it comes round again (when v is larger than the
// cache).
func benchByID(b *testing.B, r *rand.Rand, a, v []float64, q, c, m int, report func(b *testing.B)) {
	rows := len(v) / m
	sets := max(64, 65536/c)
	ids := make([]int32, sets*c)
	for j := range ids {
		ids[j] = int32(r.IntN(rows))
	}
	g := make([]float64, q*c)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % sets
		DotTileRows(g, c, a, m, v, m, ids[k*c:(k+1)*c], q, m)
	}
	report(b)
}

// BenchmarkDotTileRows: the tree's tile shapes, 16 query rows (8: a walk's
// last block, 32: a seed block; both leave two rows over from the strips of
// 3) against c rows of a V picked at random (rows*8 bytes at m = 256: 16
// MiB, past L2; the tree's V at 10^6 points is 2 GiB and slower still:
// PCCT_BENCH_ROWS sets the rows, 262144 for 512 MiB), c odd so that the
// last group of 8 rows is partial.
func BenchmarkDotTileRows(b *testing.B) {
	const m = 256
	rows := benchutil.EnvInt("PCCT_BENCH_ROWS", 8192)
	r := rand.New(rand.NewPCG(5, 6))
	v := randSlice(r, rows*m, -1, 1)
	a := randSlice(r, 32*m, -1, 1)
	benchImpls(b, func(b *testing.B) {
		for _, s := range [][2]int{{16, 13}, {16, 61}, {16, 509}, {8, 61}, {32, 61}} {
			q, c := s[0], s[1]
			b.Run(fmt.Sprintf("q=%d/c=%d/m=%d", q, c, m), func(b *testing.B) {
				benchByID(b, r, a, v, q, c, m, func(b *testing.B) {
					b.ReportMetric(float64(b.N)*float64(q*c*m)*2/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			})
		}
	})
}

// BenchmarkDotTileLone: the walks' lone query, one A row against c rows
// of a V picked at random: 1,024 rows (2 MiB at m = 256, about L2) and
// PCCT_BENCH_ROWS (default 8192, 16 MiB). The column kernels take this
// shape on AVX-512.
func BenchmarkDotTileLone(b *testing.B) {
	const m = 256
	r := rand.New(rand.NewPCG(7, 8))
	a := randSlice(r, m, -1, 1)
	var vs [][]float64
	for _, rows := range []int{1024, benchutil.EnvInt("PCCT_BENCH_ROWS", 8192)} {
		vs = append(vs, randSlice(r, rows*m, -1, 1))
	}
	benchImpls(b, func(b *testing.B) {
		for _, v := range vs {
			for _, c := range []int{8, 32, 100} {
				b.Run(fmt.Sprintf("rows=%d/c=%d/m=%d", len(v)/m, c, m), func(b *testing.B) {
					benchByID(b, r, a, v, 1, c, m, func(b *testing.B) {
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c), "ns/dist")
					})
				})
			}
		}
	})
}

// BenchmarkDotTileLower: the metric's embedding step, a block of 256
// kernel rows against L⁻¹ (m = 256); GFLOP/s counts the whole tile's
// flops, those skipped included.
func BenchmarkDotTileLower(b *testing.B) {
	benchImpls(b, func(b *testing.B) {
		b.Run("q=256/c=256/m=256", func(b *testing.B) { benchDot(b, DotTileLower, 256, 256, 256) })
	})
}
