package metric

// Reorder returns m over the same points in another order: point i of the
// result is point perm[i] of m, for perm a permutation of 0..n-1. The
// points' rows (coordinates, V, p) are copied, not recomputed, so every
// pair keeps its distance bits, and the inducing points stay the same.
// This is how a job runs in a chosen ordering (for example max-min) without
// changing the metric.
func Reorder(m Metric, perm []int32) (Metric, error) {
	s := m.Data()
	if len(perm) != s.N {
		return nil, badInput("reorder: %d indices for %d points", len(perm), s.N)
	}
	inv := make([]int32, s.N)
	for i := range inv {
		inv[i] = -1
	}
	for i, p := range perm {
		if p < 0 || int(p) >= s.N || inv[p] >= 0 {
			return nil, badInput("reorder: index %d at position %d: not a permutation of 0..%d", p, i, s.N-1)
		}
		inv[p] = int32(i)
	}
	data := PackInto(&Set{}, s, List(perm))
	data.Root, data.RootIDs = nil, nil // a metric's own data, not a view of another set
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
