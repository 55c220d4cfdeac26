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
	return reorder(ctx, m, perm, r, false)
}

// ReorderInPlace is Reorder moving the rows of V (and of a float32 V) into
// the new order in place instead of copying them: it saves their n m 8 (or
// 4) bytes, the largest part of the metric, for one serial pass along the
// permutation's cycles (about a second at 10^6 points, m = 256). m must
// not be used afterwards: the result owns its V. The other rows are copied
// as Reorder copies them (the coordinates may be the caller's).
func ReorderInPlace(ctx context.Context, m Metric, perm []int32, r Runner) (Metric, error) {
	return reorder(ctx, m, perm, r, true)
}

func reorder(ctx context.Context, m Metric, perm []int32, r Runner, inPlace bool) (Metric, error) {
	s := m.Data()
	inv, err := InversePerm(perm, s.N)
	if err != nil {
		return nil, err
	}
	data, err := reorderSet(ctx, s, perm, r, inPlace)
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
// Pack's copy, its rows copied in ranges of reorderPart on r (nil: in
// turn); with inPlace, V and V32 are s's, permuted in place.
func reorderSet(ctx context.Context, s *Set, perm []int32, r Runner, inPlace bool) (*Set, error) {
	n := len(perm)
	dst := &Set{N: n, D: s.D, M: s.M}
	if s.X != nil {
		dst.X, dst.XT = make([]float64, n*s.D), make([]float64, n*s.D)
	}
	if s.V != nil && !inPlace {
		dst.V = hugemem.Make[float64](n * s.M)
	}
	if s.V32 != nil && !inPlace {
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
		if dst.V != nil {
			gatherRows(dst.V[lo*s.M:hi*s.M], s.V, s.M, b)
		}
		if dst.V32 != nil {
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
		if s.F32.rec != nil {
			dst.F32.addRecords(dst)
		}
	}
	if inPlace {
		if err := permuteRows(ctx, s.V, s.M, perm); err != nil {
			return nil, err
		}
		if err := permuteRows(ctx, s.V32, s.M, perm); err != nil {
			return nil, err
		}
		dst.V, dst.V32 = s.V, s.V32
	}
	return dst, nil
}

// permuteRows puts row perm[i] of the n x w matrix a (nil: nothing to do)
// at row i, in place: each cycle of perm is followed once, its first row
// held aside. ctx is checked every 4096 rows; when it is done, a's rows
// are left partly moved and its error is returned.
func permuteRows[T any](ctx context.Context, a []T, w int, perm []int32) error {
	if a == nil {
		return nil
	}
	done := make([]bool, len(perm))
	held := make([]T, w)
	moved := 0
	for start := range perm {
		if done[start] {
			continue
		}
		copy(held, a[start*w:(start+1)*w])
		i := start
		for {
			done[i] = true
			if moved++; moved%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			j := int(perm[i])
			if j == start {
				copy(a[i*w:(i+1)*w], held)
				break
			}
			copy(a[i*w:(i+1)*w], a[j*w:(j+1)*w])
			i = j
		}
	}
	return nil
}
