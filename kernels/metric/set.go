package metric

import "fmt"

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

// transpose writes the D x N transpose of an N x D row-major matrix.
func transpose(x []float64, n, d int) []float64 {
	t := make([]float64, n*d)
	for i := 0; i < n; i++ {
		for k := 0; k < d; k++ {
			t[k*n+i] = x[i*d+k]
		}
	}
	return t
}

// gatherRows copies rows ids of an N x w matrix into dst (len(ids) x w).
func gatherRows[T any](dst, src []T, w int, b Block) []T {
	dst = dst[:b.Len()*w]
	for k := 0; k < b.Len(); k++ {
		i := b.At(k)
		copy(dst[k*w:(k+1)*w], src[i*w:(i+1)*w])
	}
	return dst
}

// gatherCols copies columns ids of a D x N matrix into dst (D x len(ids)).
func gatherCols(dst, src []float64, d, n int, b Block) []float64 {
	c := b.Len()
	dst = dst[:d*c]
	for k := 0; k < d; k++ {
		row := src[k*n : (k+1)*n]
		out := dst[k*c : (k+1)*c]
		for j := range out {
			out[j] = row[b.At(j)]
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
