package metric

import (
	"context"

	"github.com/pcct/pcct/internal/hugemem"
)

// Reorder returns m over the same points in another order: point i of the
// result is point perm[i] of m, for perm a permutation of 0..n-1. The
// points' rows (coordinates, V, p) are copied, not recomputed, so every
// pair keeps its distance bits, and the inducing points stay the same.
// This is how a job runs in a chosen ordering (for example max-min) without
// changing the metric. The rows are copied in ranges on r (nil: on the
// caller's goroutine).
func Reorder(ctx context.Context, m Metric, perm []int32, r Runner) (Metric, error) {
	s := m.Data()
	inv, err := InversePerm(perm, s.N)
	if err != nil {
		return nil, err
	}
	data, err := reorderSet(ctx, s, perm, r)
	if err != nil {
		return nil, err
	}
	switch mm := m.(type) {
	case *Euclidean:
		return &Euclidean{data: data}, nil
	case *Residual:
		c := *mm
		c.data = data
		c.inducing = make([]int, len(mm.inducing))
		for k, i := range mm.inducing {
			c.inducing[k] = int(inv[i])
		}
		return &c, nil
	}
	return nil, badInput("reorder: the %s metric cannot be reordered", m.Name())
}

// reorderPart is the number of points per task of reorderSet.
const reorderPart = 1 << 14

// reorderSet returns the points perm of s as a Set of their own (no Root):
// Pack's copy, its rows copied in ranges of reorderPart on r (nil: in turn).
func reorderSet(ctx context.Context, s *Set, perm []int32, r Runner) (*Set, error) {
	n := len(perm)
	dst := &Set{N: n, D: s.D, M: s.M}
	if s.X != nil {
		dst.X, dst.XT = make([]float64, n*s.D), make([]float64, n*s.D)
	}
	if s.V != nil {
		dst.V = hugemem.Make[float64](n * s.M)
	}
	if s.V32 != nil {
		dst.V32 = hugemem.Make[float32](n * s.M)
	}
	if s.ISP != nil {
		dst.ISP, dst.P = make([]float64, n), make([]float64, n)
	}
	if s.S32 != nil {
		dst.S32, dst.SW = hugemem.Make[float32](n*s.M), make([]float64, n)
	}
	part := func(_, k int) {
		lo, hi := k*reorderPart, min(n, (k+1)*reorderPart)
		b := List(perm[lo:hi])
		if s.X != nil {
			gatherRows(dst.X[lo*s.D:hi*s.D], s.X, s.D, b)
			for i := lo; i < hi; i++ {
				for c := range s.D {
					dst.XT[c*n+i] = dst.X[i*s.D+c]
				}
			}
		}
		if s.V != nil {
			gatherRows(dst.V[lo*s.M:hi*s.M], s.V, s.M, b)
		}
		if s.V32 != nil {
			gatherRows(dst.V32[lo*s.M:hi*s.M], s.V32, s.M, b)
		}
		if s.ISP != nil {
			gatherRows(dst.ISP[lo:hi], s.ISP, 1, b)
			gatherRows(dst.P[lo:hi], s.P, 1, b)
		}
		if s.S32 != nil {
			gatherRows(dst.S32[lo*s.M:hi*s.M], s.S32, s.M, b)
			gatherRows(dst.SW[lo:hi], s.SW, 1, b)
		}
	}
	parts := (n + reorderPart - 1) / reorderPart
	if r == nil {
		for k := range parts {
			part(0, k)
		}
	} else if err := r.Each(ctx, parts, part); err != nil {
		return nil, err
	}
	if s.S32 != nil && s.F32 != nil {
		dst.F32 = s.F32.pack(nil, s.N, s.D, List(perm))
	}
	return dst, nil
}
