package metric

import (
	"fmt"

	"github.com/pcct/pcct/internal/hugemem"
)

// Set holds the per-point data a metric's tiles read, for the data points
// (Metric.Data) or for a query set embedded with Metric.Embed. Fields a
// metric does not use are nil.
type Set struct {
	N, D int
	X    []float64 // N x D row-major coordinates (scaled by the lengthscales for the residual metric)
	XT   []float64 // D x N: X transposed, so the tiles vectorise over candidates
	M    int       // columns of V
	V    []float64 // N x M low-rank factor rows (residual metric, float64 storage)
	V32  []float32 // N x M, when the metric stores V in float32
	ISP  []float64 // 1/sqrt(p_i), p_i the residual variance
	P    []float64 // p_i
	// S32 and SW, with screening enabled (Residual.EnableScreening): a
	// float32 copy of V and each point's |V_i| / sqrt(p_i), rounded up.
	S32 []float32
	SW  []float64
	// F32 holds the fused float32 screening row's per-point inputs (RBF
	// kernel, Residual.EnableScreening), nil where it does not apply.
	F32 *Fused32
	// Root and RootIDs are set on a Set made by Pack: point i here is point
	// RootIDs[i] of Root. Distances between points of sets with the same
	// root are exactly 0 for the same root point.
	Root    *Set
	RootIDs []int32
}

// Pack copies the points of b out of s into a new contiguous Set, so that
// tiles against them need no gathering; the new Set remembers where its
// points came from.
func Pack(s *Set, b Block) *Set { return PackInto(&Set{}, s, b) }

// PackInto is Pack into dst, reusing its buffers where they are large
// enough; it returns dst.
func PackInto(dst, s *Set, b Block) *Set { return packInto(dst, s, b, true, true) }

// PackPlainInto is PackInto without the screening copy (S32, SW): for
// tiles that are not screened, it saves copying n m 4 bytes.
func PackPlainInto(dst, s *Set, b Block) *Set { return packInto(dst, s, b, false, true) }

// packInto packs b out of s, with the float64 V when withV and the
// screening copy when screen.
func packInto(dst, s *Set, b Block, screen, withV bool) *Set {
	b.check(s.N, "pack")
	n := b.Len()
	old := *dst
	*dst = Set{N: n, D: s.D, M: s.M, Root: s.root(), RootIDs: grow(old.RootIDs, n)}
	for k := 0; k < n; k++ {
		dst.RootIDs[k] = int32(s.rootID(b.At(k)))
	}
	if s.X != nil {
		dst.X = gatherRows(grow(old.X, n*s.D), s.X, s.D, b)
		dst.XT = transposeInto(grow(old.XT, n*s.D), dst.X, n, s.D)
	}
	if s.V != nil && withV {
		dst.V = gatherRows(grow(old.V, n*s.M), s.V, s.M, b)
	}
	if s.V32 != nil {
		dst.V32 = gatherRows(grow(old.V32, n*s.M), s.V32, s.M, b)
	}
	if s.ISP != nil {
		dst.ISP = gatherRows(grow(old.ISP, n), s.ISP, 1, b)
		dst.P = gatherRows(grow(old.P, n), s.P, 1, b)
	}
	if s.S32 != nil && screen {
		dst.S32 = gatherRows(grow(old.S32, n*s.M), s.S32, s.M, b)
		dst.SW = gatherRows(grow(old.SW, n), s.SW, 1, b)
		if s.F32 != nil {
			dst.F32 = s.F32.pack(old.F32, s.N, s.D, b)
		}
	}
	return dst
}

func (s *Set) root() *Set {
	if s.Root != nil {
		return s.Root
	}
	return s
}

func (s *Set) rootID(i int) int {
	if s.RootIDs != nil {
		return int(s.RootIDs[i])
	}
	return i
}

// Compatible reports an error unless tiles may pair the points of a and b:
// the same dimension and the same low-rank factor width and precision.
func Compatible(a, b *Set) error {
	switch {
	case a == nil || b == nil:
		return &classified{"missing point set", ErrIncompatible}
	case a.D != b.D:
		return &classified{fmt.Sprintf("point sets have dimensions %d and %d", a.D, b.D), ErrIncompatible}
	case a.M != b.M || (a.V32 == nil) != (b.V32 == nil) || (a.ISP == nil) != (b.ISP == nil):
		return &classified{fmt.Sprintf("point sets come from different metrics (m = %d and %d)", a.M, b.M), ErrIncompatible}
	}
	return nil
}

// Block names points of a Set: the contiguous range [Lo, Hi) when IDs is
// nil, else the listed ids in the listed order.
type Block struct {
	Lo, Hi int
	IDs    []int32
}

// Range returns the block [lo, hi).
func Range(lo, hi int) Block { return Block{Lo: lo, Hi: hi} }

// List returns the block of the given ids.
func List(ids []int32) Block { return Block{IDs: ids} }

// Len returns the number of points in the block.
func (b Block) Len() int {
	if b.IDs != nil {
		return len(b.IDs)
	}
	return b.Hi - b.Lo
}

// At returns the id of the block's k-th point.
func (b Block) At(k int) int {
	if b.IDs != nil {
		return int(b.IDs[k])
	}
	return b.Lo + k
}

func (b Block) check(n int, what string) {
	if b.IDs == nil {
		if b.Lo < 0 || b.Hi < b.Lo || b.Hi > n {
			panic(fmt.Sprintf("metric: %s block [%d, %d) outside [0, %d)", what, b.Lo, b.Hi, n))
		}
		return
	}
	for _, id := range b.IDs {
		if id < 0 || int(id) >= n {
			panic(fmt.Sprintf("metric: %s block id %d outside [0, %d)", what, id, n))
		}
	}
}

// transpose returns the D x N transpose of an N x D row-major matrix.
func transpose(x []float64, n, d int) []float64 {
	return transposeInto(hugemem.Make[float64](n*d), x, n, d)
}

// transposeInto writes the D x N transpose of x into t and returns it.
func transposeInto(t, x []float64, n, d int) []float64 {
	for i := 0; i < n; i++ {
		for k := 0; k < d; k++ {
			t[k*n+i] = x[i*d+k]
		}
	}
	return t
}

// gatherRows copies rows ids of an N x w matrix into dst (len(ids) x w).
// Narrow rows (w < 8: single values such as the 1/sqrt(p) of a candidate
// list, or low-dimensional coordinates) are assigned, not copied: a copy
// call per row cost more than the row.
func gatherRows[T any](dst, src []T, w int, b Block) []T {
	dst = dst[:b.Len()*w]
	switch {
	case b.IDs == nil:
		copy(dst, src[b.Lo*w:])
	case w == 1:
		for k, i := range b.IDs {
			dst[k] = src[i]
		}
	case w < 8:
		for k, i := range b.IDs {
			row, out := src[int(i)*w:int(i)*w+w], dst[k*w:k*w+w]
			//lint:ignore S1001 a copy call per narrow row costs more than the row
			for j, v := range row {
				out[j] = v
			}
		}
	default:
		for k, i := range b.IDs {
			copy(dst[k*w:(k+1)*w], src[int(i)*w:(int(i)+1)*w])
		}
	}
	return dst
}

// gatherCols writes the rows ids of the N x D coordinates x, transposed,
// into dst (D x len(ids)): one read of each point's coordinates (one cache
// line for small D) instead of D reads far apart in the transposed copy.
// Most candidate lists come by id from far apart in x, one cache miss
// each; the loops keep many of those misses in flight at once (at D = 2,
// with the two output rows held apart, a gather from 10^6 points took a
// third of the time of the loop over D it replaces).
func gatherCols(dst, x []float64, d int, b Block) []float64 {
	c := b.Len()
	dst = dst[:d*c]
	switch {
	case b.IDs == nil:
		for k := range d {
			out := dst[k*c : k*c+c]
			for j := range out {
				out[j] = x[(b.Lo+j)*d+k]
			}
		}
	case d == 1:
		for j, i := range b.IDs {
			dst[j] = x[i]
		}
	case d == 2:
		d0, d1 := dst[:c], dst[c:2*c]
		for j, i := range b.IDs {
			p := x[2*int(i) : 2*int(i)+2]
			d0[j], d1[j] = p[0], p[1]
		}
	default:
		for j, i := range b.IDs {
			for k, v := range x[int(i)*d : int(i)*d+d] {
				dst[k*c+j] = v
			}
		}
	}
	return dst
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// rowsOf returns the rows of block b of an N x w matrix: a view into src for
// a range, else the rows gathered into *buf (grown as needed).
func rowsOf[T any](buf *[]T, src []T, w int, b Block) []T {
	if b.IDs == nil {
		return src[b.Lo*w:]
	}
	*buf = gatherRows(grow(*buf, b.Len()*w), src, w, b)
	return *buf
}

// colsOf returns the columns of block b of s's D x N transposed
// coordinates and their stride: a view into s.XT for a range, else gathered
// from s.X into *buf.
func colsOf(buf *[]float64, s *Set, b Block) ([]float64, int) {
	if b.IDs == nil {
		return s.XT[b.Lo:], s.N
	}
	*buf = gatherCols(grow(*buf, s.D*b.Len()), s.X, s.D, b)
	return *buf, b.Len()
}
