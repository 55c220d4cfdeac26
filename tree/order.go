package tree

import (
	"cmp"
	"math"
	"math/bits"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
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
	var key func(int32) int32
	if pred {
		key = idKey
	}
	return newMortonIndex(s, nil, nil).groups(size, key, 0, nil, nil)
}

// MortonOrder returns the ids of s's points sorted along a Morton
// (Z-order) curve over the bounding box of their coordinates (s.X, n x
// d; equal codes by id), sorted on the pool (nil: on the caller's
// goroutine): an order in which points near in space lie near in memory,
// for storing them (metric.ResidualConfig.Order, KNNOptions.Rank).
func MortonOrder(s *metric.Set, pool *streamer.Pool) []int32 {
	return newMortonIndex(s, pool, nil).order
}

// LayoutMin is the number of points from which pcct's front ends (the
// command and the C library) store the residual metric's points in a
// space-filling order (MortonOrder, BandOrder): below it V fits the
// caches well enough that the order gained nothing measurable.
const LayoutMin = 1 << 16

// BandOrder returns the ids of s's points by index band (the bit length
// of the id: 1, 2-3, 4-7, ...), each band along the Morton curve (see
// MortonOrder), sorted on the pool (nil: on the caller's goroutine): the
// storage order for a predecessor job, whose queries of one band read
// only lower bands, each band's points near in space near in memory.
func BandOrder(s *metric.Set, pool *streamer.Pool) []int32 {
	return byBand(MortonOrder(s, pool), idKey, 0)
}

// idKey is the key of a point when its index is its place in the order
// (no Rank).
func idKey(z int32) int32 { return z }

// mortonIndex holds the points of a set in Morton order: their ids sorted
// by code, equal codes by id, the codes in that order, and the grid that
// made them.
type mortonIndex struct {
	grid  *mortonGrid
	order []int32
	codes []uint64
}

// newMortonIndex sorts the points of s by their Morton codes, on the pool
// (nil: on the caller's goroutine), adding its jobs to use.
func newMortonIndex(s *metric.Set, pool *streamer.Pool, use *usage) *mortonIndex {
	g := newMortonGrid(s, pool, use)
	codes := make([]uint64, s.N)
	forParts(pool, use, s.N, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			codes[i] = g.code(s.X[i*s.D : (i+1)*s.D])
		}
	})
	order, sorted := radixOrder(codes, pool, use)
	return &mortonIndex{grid: g, order: order, codes: sorted}
}

// groups cuts the index into groups of at most size (see coherentGroups),
// sorting each group's ids on the pool (nil: in turn), adding its job to
// use. In predecessor mode key is not nil: the bands are its bit lengths
// (the ids', or a tree's Rank's, see Tree.key), each cut in 2^sub by the
// next bits (byBand), and each group is sorted by it.
func (mi *mortonIndex) groups(size int, key func(int32) int32, sub int, pool *streamer.Pool, use *usage) [][]int32 {
	all := mi.order
	if key != nil {
		all = byBand(all, key, sub)
	} else {
		all = slices.Clone(all)
	}
	n := len(all)
	groups := make([][]int32, (n+size-1)/size)
	for g := range groups {
		groups[g] = all[g*size : min(n, (g+1)*size) : min(n, (g+1)*size)]
	}
	const per = 256 // groups per task
	forTasks(pool, use, (len(groups)+per-1)/per, func(k int) {
		for _, ids := range groups[k*per : min(len(groups), (k+1)*per)] {
			if key == nil {
				slices.Sort(ids)
			} else {
				slices.SortFunc(ids, func(a, b int32) int { return cmp.Compare(key(a), key(b)) })
			}
		}
	})
	return groups
}

// byBand returns order stably sorted by the bit length of the ids' keys
// (the index bands of predecessor mode) and, with sub > 0, by the key's
// next sub bits (each band from 2^sub keys on cut into 2^sub equal
// bands), Morton order kept within a band.
func byBand(order []int32, key func(int32) int32, sub int) []int32 {
	band := func(k int32) int {
		l := bits.Len32(uint32(k))
		b := l << sub
		if l-1 >= sub {
			b |= int(k>>(l-1-sub)) & (1<<sub - 1)
		}
		return b
	}
	start := make([]int, 34<<sub+1)
	for _, id := range order {
		start[band(key(id))+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	out := make([]int32, len(order))
	for _, id := range order {
		b := band(key(id))
		out[start[b]] = id
		start[b]++
	}
	return out
}

// radixDigit is the width in bits of one pass of radixOrder.
const radixDigit = 11

// radixOrder returns the indices of codes sorted by code, equal codes in
// index order, and the codes in that order: a least-significant-digit
// radix sort, which is stable, skipping the digits every code shares. Each
// pass counts and scatters the ranges of forParts on the pool (nil: on the
// caller's goroutine); the ranges' places follow digit, then range, so
// that the pass stays stable.
func radixOrder(codes []uint64, pool *streamer.Pool, use *usage) ([]int32, []uint64) {
	const digits = 1 << radixDigit
	n := len(codes)
	ids, keys := make([]int32, n), make([]uint64, n)
	forChunks(pool, use, n, func(lo, hi int) { // fresh pages: first touched on the pool
		for i := lo; i < hi; i++ {
			ids[i] = int32(i)
		}
		copy(keys[lo:hi], codes[lo:hi])
	})
	ids2, keys2 := make([]int32, n), make([]uint64, n)
	parts := partCount(pool, n)
	count := make([][digits]int, parts) // by range
	for shift := 0; shift < 64; shift += radixDigit {
		digit := func(c uint64) int { return int(c >> shift & (digits - 1)) }
		forParts(pool, use, n, func(k, lo, hi int) {
			cnt := &count[k]
			clear(cnt[:])
			for _, c := range keys[lo:hi] {
				cnt[digit(c)]++
			}
		})
		if n == 0 {
			break
		}
		total := 0
		for k := range parts {
			total += count[k][digit(keys[0])]
		}
		if total == n {
			continue // one digit for all: the pass would not move anything
		}
		sum := 0
		for d := range digits {
			for k := range parts {
				count[k][d], sum = sum, sum+count[k][d]
			}
		}
		forParts(pool, use, n, func(k, lo, hi int) {
			at := &count[k]
			for i := lo; i < hi; i++ {
				c := keys[i]
				d := digit(c)
				ids2[at[d]], keys2[at[d]] = ids[i], c
				at[d]++
			}
		})
		ids, ids2, keys, keys2 = ids2, ids, keys2, keys
	}
	return ids, keys
}

// mortonGrid maps coordinates to Morton codes over a bounding box: b
// bits for each of the first dims coordinates, interleaved.
type mortonGrid struct {
	d, dims, b int
	lo, hi     []float64
}

// newMortonGrid returns the grid over the bounding box of s's points.
func newMortonGrid(s *metric.Set, pool *streamer.Pool, use *usage) *mortonGrid {
	dims := min(s.D, 63)
	g := &mortonGrid{d: s.D, dims: dims, b: max(1, 63/dims), lo: make([]float64, dims), hi: make([]float64, dims)}
	boxes := make([][2][]float64, partCount(pool, s.N)) // by range: its bounding box
	forParts(pool, use, s.N, func(p, lo, hi int) {
		box := [2][]float64{make([]float64, dims), make([]float64, dims)}
		for k := range dims {
			box[0][k], box[1][k] = math.Inf(1), math.Inf(-1)
		}
		for i := lo; i < hi; i++ {
			for k, v := range s.X[i*s.D : i*s.D+dims] {
				box[0][k], box[1][k] = min(box[0][k], v), max(box[1][k], v)
			}
		}
		boxes[p] = box
	})
	for k := range dims {
		g.lo[k], g.hi[k] = math.Inf(1), math.Inf(-1)
		for _, box := range boxes {
			g.lo[k], g.hi[k] = min(g.lo[k], box[0][k]), max(g.hi[k], box[1][k])
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
