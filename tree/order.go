package tree

import (
	"math"
	"math/bits"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
)

// coherentGroups cuts the points of s into groups of at most size that are
// close in space, so that a group's queries share their candidates: points
// are sorted by their Morton (Z-order) code on the coordinates the metric
// reads (scaled by the lengthscales for the residual metric), and in
// predecessor mode first by the bit length of their index, so that a group
// holds queries with similar numbers of predecessors (and so similar k-th
// distances). Within a group ids are ascending. The grouping changes only
// the work, never the answer.
func coherentGroups(s *metric.Set, size int, pred bool) [][]int32 {
	keys := mortonKeys(s, pred)
	var groups [][]int32
	for g0 := 0; g0 < len(keys); g0 += size {
		ids := make([]int32, 0, size)
		for _, k := range keys[g0:min(len(keys), g0+size)] {
			ids = append(ids, k.id)
		}
		slices.Sort(ids)
		groups = append(groups, ids)
	}
	return groups
}

// mortonKey is a point's sort key: its index band (predecessor mode), its
// Morton code, its id.
type mortonKey struct {
	band uint8
	code uint64
	id   int32
}

// mortonGrid maps coordinates to Morton codes over a bounding box: b
// bits for each of the first dims coordinates, interleaved.
type mortonGrid struct {
	d, dims, b int
	lo, hi     []float64
}

// newMortonGrid returns the grid over the bounding box of s's points.
func newMortonGrid(s *metric.Set) *mortonGrid {
	dims := min(s.D, 63)
	g := &mortonGrid{d: s.D, dims: dims, b: max(1, 63/dims), lo: make([]float64, dims), hi: make([]float64, dims)}
	for k := range dims {
		g.lo[k], g.hi[k] = math.Inf(1), math.Inf(-1)
	}
	for i := range s.N {
		for k := range dims {
			v := s.X[i*s.D+k]
			g.lo[k], g.hi[k] = min(g.lo[k], v), max(g.hi[k], v)
		}
	}
	return g
}

// code returns the Morton code of point x (coordinates outside the box
// are clamped to it).
func (g *mortonGrid) code(x []float64) uint64 {
	cells := float64(uint64(1)<<g.b - 1)
	var code uint64
	for k := range g.dims {
		c := uint64(0)
		if g.hi[k] > g.lo[k] {
			c = uint64(min(max((x[k]-g.lo[k])/(g.hi[k]-g.lo[k]), 0), 1) * cells)
		}
		for bit := range g.b {
			if bit*g.dims+k < 64 {
				code |= (c >> bit & 1) << (bit*g.dims + k)
			}
		}
	}
	return code
}

// mortonKeys returns the points' keys, sorted (see coherentGroups).
func mortonKeys(s *metric.Set, pred bool) []mortonKey {
	g := newMortonGrid(s)
	keys := make([]mortonKey, s.N)
	for i := range s.N {
		keys[i] = mortonKey{code: g.code(s.X[i*s.D : (i+1)*s.D]), id: int32(i)}
		if pred {
			keys[i].band = uint8(bits.Len(uint(i)))
		}
	}
	slices.SortFunc(keys, func(a, b mortonKey) int {
		switch {
		case a.band != b.band:
			return int(a.band) - int(b.band)
		case a.code != b.code:
			if a.code < b.code {
				return -1
			}
			return 1
		}
		return int(a.id - b.id)
	})
	return keys
}
