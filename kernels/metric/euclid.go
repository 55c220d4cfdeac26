package metric

import (
	"context"
	"math"

	"github.com/pcct/pcct/kernels"
)

// Euclidean is the Euclidean metric on raw coordinates, or on
// coordinates divided per dimension by a scale (NewEuclideanScaled).
type Euclidean struct {
	data  *Set
	scale []float64 // per dimension, or nil: the coordinates as given
}

// NewEuclidean validates x (n x d row-major) and returns the metric.
func NewEuclidean(x []float64, n, d int) (*Euclidean, error) {
	s, err := newCoordSet(x, n, d, nil)
	if err != nil {
		return nil, err
	}
	return &Euclidean{data: s}, nil
}

// NewEuclideanScaled validates x (n x d row-major) and scale (d positive,
// finite values) and returns the Euclidean metric on the coordinates
// divided by the scale, dimension by dimension: with a kernel's
// lengthscales, the kernel's own distance r. Embedded query points are
// scaled alike. A nil scale is NewEuclidean; a scale of all ones gives its
// distances, bit for bit.
func NewEuclideanScaled(x []float64, n, d int, scale []float64) (*Euclidean, error) {
	if scale == nil {
		return NewEuclidean(x, n, d)
	}
	if len(scale) != d {
		return nil, badInput("scale has %d values for %d dimensions", len(scale), d)
	}
	for k, v := range scale {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, badInput("scale of dimension %d is %v: it must be positive and finite", k, v)
		}
	}
	s, err := newCoordSet(x, n, d, scale)
	if err != nil {
		return nil, err
	}
	return &Euclidean{data: s, scale: append([]float64(nil), scale...)}, nil
}

func newCoordSet(x []float64, n, d int, scale []float64) (*Set, error) {
	if err := checkPoints(x, n, d); err != nil {
		return nil, err
	}
	xs := make([]float64, n*d)
	copy(xs, x)
	if scale != nil {
		for i := range xs {
			if xs[i] /= scale[i%d]; math.IsInf(xs[i], 0) {
				return nil, badInput("point %d, coordinate %d overflows when divided by its scale %v", i/d, i%d, scale[i%d])
			}
		}
	}
	return &Set{N: n, D: d, X: xs, XT: transpose(xs, n, d)}, nil
}

func (e *Euclidean) Name() string { return "euclidean" }
func (e *Euclidean) Data() *Set   { return e.data }

func (e *Euclidean) Embed(_ context.Context, x []float64, n int) (*Set, error) {
	return newCoordSet(x, n, e.data.D, e.scale)
}

func (e *Euclidean) Tile(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block) {
	xq, xct, ldc := e.coords(w, qs, q, cs, c)
	if xq == nil {
		return
	}
	kernels.EuclidTile(dst, ldd, xq, qs.D, xct, ldc, q.Len(), c.Len(), qs.D)
	zeroSelf(w, dst, ldd, qs, q, cs, c)
}

// coords checks the blocks and returns the query rows and the candidates'
// transposed coordinates with their stride; nil when the tile is empty.
func (e *Euclidean) coords(w *Workspace, qs *Set, q Block, cs *Set, c Block) (xq, xct []float64, ldc int) {
	q.check(qs.N, "query")
	c.check(cs.N, "candidate")
	if q.Len() == 0 || c.Len() == 0 {
		return nil, nil, 0
	}
	xq = rowsOf(&w.xq, qs.X, qs.D, q)
	xct, ldc = colsOf(&w.xct, cs, c)
	return xq, xct, ldc
}

func (e *Euclidean) Dist(i, j int) float64 {
	var out [1]float64
	e.Tile(NewWorkspace(), out[:], 1, e.data, Range(i, i+1), e.data, Range(j, j+1))
	return out[0]
}

// TriangleSlack returns 8 (d+2) eps max|x|: each computed distance is
// within (d+2) eps relative of the true one (see kernels.EuclidTile), and
// distances are at most 2 max|x|.
func (e *Euclidean) TriangleSlack() float64 {
	maxNorm := 0.0
	s := e.data
	for i := 0; i < s.N; i++ {
		var ss float64
		for _, v := range s.X[i*s.D : (i+1)*s.D] {
			ss += v * v
		}
		maxNorm = max(maxNorm, ss)
	}
	return 8 * float64(s.D+2) * 0x1p-53 * math.Sqrt(maxNorm) * 1.01
}

// RangeRow computes the distances from the point with coordinates xq to
// the data points [lo, hi) through the fused row that Nearest and Within
// run (the same bits), and returns them (row[j] for point lo+j, valid
// until the workspace's next use) with the columns within rad, ascending.
// It is Nearest for one query and a contiguous range without the offer: a
// search that scans many short ranges one query at a time (a k-d tree's
// leaves) spends less per call.
func (e *Euclidean) RangeRow(w *Workspace, xq []float64, lo, hi int, rad float64) ([]float64, []int32) {
	s := e.data
	Range(lo, hi).check(s.N, "candidate")
	nc := hi - lo
	out, idx := w.rowScratch(nc)
	n := kernels.EuclidRow(out, xq[:s.D], s.XT[lo:], s.N, nc, rad, idx)
	return out, idx[:n]
}
