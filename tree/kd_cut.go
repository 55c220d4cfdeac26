package tree

import (
	"math"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// kdPoolCut is the node size from which the k-d tree cuts a node with the
// pool (cutOnPool) rather than in one task: the first levels, whose few
// nodes hold most points. The choice depends on the size only, so the tree
// does not depend on the worker count. (A variable only so that
// TestParallelPaths can run this path on small sets.)
var kdPoolCut = 1 << 17

// cutOnPool is cut for a large node, in ranges on the pool: the widest
// coordinate by a reduction, then the median by a radix selection over
// the coordinates' order-preserving bit patterns (a byte at a time, from
// the top, counting only the points that share the digits chosen so far;
// equal coordinates go by id), then a stable three-way partition around
// it. It makes the same cut as cut, the same points on each side, in an
// order of its own (the points' order within each side, stable).
func (t *KDTree) cutOnPool(s *metric.Set, nd kdNode, pool *streamer.Pool, use *usage) kdCut {
	ids := t.ids[nd.lo:nd.hi]
	n, d := len(ids), s.D
	dim := widest(s, ids, pool, use)
	if dim < 0 {
		return kdCut{dim: -1}
	}
	keys := make([]uint64, n)
	forParts(pool, use, n, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			keys[i] = orderKey(s.X[int(ids[i])*d+dim])
		}
	})
	k := int((nd.lo+nd.hi)/2 - nd.lo) // cut's median position, relative to nd.lo
	key, rank := radixSelect(keys, k, pool, use)
	// Among the points whose coordinate has that key the selected one is
	// the rank-th by id.
	var ties []int32
	for i, c := range keys {
		if c == key {
			ties = append(ties, ids[i])
		}
	}
	slices.Sort(ties)
	pivot := ties[rank]
	at := slices.Index(ids, pivot) // its position now
	before := func(i int) bool { return keys[i] < key || (keys[i] == key && ids[i] < pivot) }
	// Stable three-way partition: before the pivot, the pivot, after.
	parts := partCount(pool, n)
	below := make([]int, parts+1)
	forParts(pool, use, n, func(p, lo, hi int) {
		c := 0
		for i := lo; i < hi; i++ {
			if before(i) {
				c++
			}
		}
		below[p+1] = c
	})
	for p := range parts {
		below[p+1] += below[p]
	}
	out := make([]int32, n)
	forParts(pool, use, n, func(p, lo, hi int) {
		// The next slots before and after the pivot: the earlier ranges'
		// points after it follow it.
		after := lo - below[p]
		if at < lo {
			after--
		}
		a, b := below[p], k+1+after
		for i := lo; i < hi; i++ {
			switch {
			case before(i):
				out[a] = ids[i]
				a++
			case ids[i] == pivot:
			default:
				out[b] = ids[i]
				b++
			}
		}
	})
	out[k] = pivot
	copy(ids, out)
	return kdCut{dim: dim, mid: nd.lo + int32(k), split: s.X[int(pivot)*d+dim]}
}

// orderKey maps a coordinate to a uint64 whose unsigned order is the
// coordinate's (-0 as +0; coordinates are never NaN).
func orderKey(v float64) uint64 {
	if v == 0 {
		v = 0
	}
	b := math.Float64bits(v)
	if b>>63 != 0 {
		return ^b
	}
	return b | 1<<63
}

// radixSelect returns the k-th smallest of keys (0-based) and how many
// keys equal to it come before it in sorted order.
func radixSelect(keys []uint64, k int, pool *streamer.Pool, use *usage) (key uint64, rank int) {
	parts := partCount(pool, len(keys))
	hist := make([][256]int, parts)
	var prefix, mask uint64
	for shift := 56; shift >= 0; shift -= 8 {
		forParts(pool, use, len(keys), func(p, lo, hi int) {
			h := &hist[p]
			clear(h[:])
			for _, c := range keys[lo:hi] {
				if c&mask == prefix {
					h[c>>shift&255]++
				}
			}
		})
		for digit := range 256 {
			c := 0
			for p := range parts {
				c += hist[p][digit]
			}
			if k < c {
				prefix |= uint64(digit) << shift
				break
			}
			k -= c
		}
		mask |= 255 << shift
	}
	return prefix, k
}

// widest returns the coordinate along which the points ids spread most,
// or -1 when they all coincide: each range's bounding box (forParts: one
// range without a pool), then their union.
func widest(s *metric.Set, ids []int32, pool *streamer.Pool, use *usage) int {
	d := s.D
	parts := partCount(pool, len(ids))
	lo, hi := make([]float64, parts*d), make([]float64, parts*d)
	forParts(pool, use, len(ids), func(p, a, b int) {
		for k := range d { // one coordinate at a time, its bounds in registers
			mn, mx := math.Inf(1), math.Inf(-1)
			for _, id := range ids[a:b] {
				v := s.X[int(id)*d+k]
				mn, mx = min(mn, v), max(mx, v)
			}
			lo[p*d+k], hi[p*d+k] = mn, mx
		}
	})
	best, dim := 0.0, -1
	for k := range d {
		mn, mx := math.Inf(1), math.Inf(-1)
		for p := range parts {
			mn, mx = min(mn, lo[p*d+k]), max(mx, hi[p*d+k])
		}
		if mx-mn > best {
			best, dim = mx-mn, k
		}
	}
	return dim
}
