package tree

import (
	"math"
	"runtime"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// Tree is a compressed cover tree over a metric's data points: one node per
// point, in flat arrays indexed by the point's id. Node z has an integer
// level l(z); its children have lower levels and lie within base^l(z) of
// it (covering); the children one net step created are more than
// base^scale apart and from z (separation, see Check); radius(z) is the
// largest computed distance from z to any of its descendants, reach(z) the
// largest from z's parent to z or any of its descendants, and minDesc(z)
// the lowest point index among the descendants (or the lowest Rank, for a
// tree built with Options.Rank). Queries need only the radii, reaches and
// minimum indices to be exact.
type Tree struct {
	m     metric.Metric
	base  float64
	root  int32
	slack float64 // the metric's TriangleSlack, added to every pruning bound

	level    []int32   // leafLevel for nodes without children
	scale    []int32   // the level of the net step that made the node a child
	parent   []int32   // -1 for the root
	dparent  []float64 // distance to the parent
	radius   []float64 // max distance to a descendant (0 for a leaf)
	reach    []float64 // max distance from the parent to the node or any of its descendants
	minDesc  []int32   // lowest descendant key (see key; noDesc for a leaf)
	rank     []int32   // Options.Rank: the keys of the points (nil: their ids)
	byKey    []int32   // rank's inverse: the point of each key
	childOff []int32   // children of z: child[childOff[z]:childOff[z+1]]
	child    []int32
	// What the queries' scans read, in records of 16 bytes so that one
	// cache line serves each node and each child (the tree's other arrays,
	// indexed by point, cost a miss each at a million points).
	spans []span  // by node, and one more that closes the last node's children
	kids  []kid   // each node's children (spans[z].k0 on) by descending reach
	order []int32 // depth-first preorder: subtrees are contiguous
	depth int     // nodes on the longest root-to-leaf path

	Stats BuildStats
}

// span is a node as the queries' scans read it: its radius, its lowest
// descendant index (minDesc) and the position of its first child (childOff;
// the next node's span closes its children).
type span struct {
	radius float64
	lo     int32
	k0     int32
}

// kid is a child as the queries' scans read it: the child, its reach and
// the lowest key (Tree.key) among it and its descendants. A node's kids run from
// its span's k0 (its first position in child) by descending reach.
type kid struct {
	reach float64
	id    int32
	lo    int32
}

// leafLevel is the level of a node without children; noDesc its minDesc;
// flatScale the scale of the leaves a net step hung without a net, where
// the points were farther apart than its radius (not separated).
const (
	leafLevel = math.MinInt32
	noDesc    = math.MaxInt32
	flatScale = math.MinInt32 + 1
)

// Options configures Build.
type Options struct {
	// Base is the ratio between the cover radii of consecutive levels
	// (> 1); 0 means 2.
	Base float64
	// Pool runs the build (its worker count wins over Workers); nil starts
	// a pool of Workers workers (0: GOMAXPROCS) for the call.
	Pool    *streamer.Pool
	Workers int
	// NetBatch is the number of tentative centres tiled together in a net
	// step; 0 means 64.
	NetBatch int
	// Algorithm is how Build makes the tree (Nets by default).
	Algorithm Algorithm
	// Batch is the number of points inserted together by Insert and by
	// the Insertion build (which grows its batches 1, 2, 4, ... up to
	// it); 0 means DefaultBatch.
	Batch int
	// Seed sets the insertion MIS's hash priorities and the order of the
	// nets (see NetOrder): the same seed gives the same tree for any
	// worker count.
	Seed uint64
	// NetOrder is the order in which the nets consider the points
	// (NetAuto: NetBands).
	NetOrder NetOrder
	// GridConflicts builds the insertion's conflict graph through a grid
	// (Euclidean metric, up to 4 dimensions, groups of 128 points or more):
	// only pairs in neighbouring cells are measured; the tree is the same.
	GridConflicts bool
	// Rank, when not nil, is the order that predecessor queries of the
	// tree follow: the points are stored in another order (for memory
	// locality, as metric.ResidualConfig.Order does), Rank[i] is point
	// i's index in the job's order, a permutation of 0..n-1. The lowest
	// descendant indices and NetBands' bands are then Rank's, and the
	// tree answers predecessor queries with the same Rank
	// (KNNOptions.Rank). Build only: Insert keeps the tree's, new points
	// following the old ones.
	Rank []int32
}

func (o *Options) defaults() error {
	if o.Base == 0 {
		o.Base = 2
	}
	if !(o.Base > 1) || math.IsInf(o.Base, 0) {
		return metric.BadInput("tree base must be a finite number above 1, got %v", o.Base)
	}
	if o.NetBatch <= 0 {
		o.NetBatch = 64
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Algorithm != Nets && o.Algorithm != Insertion {
		return metric.BadInput("unknown tree algorithm %d", int(o.Algorithm))
	}
	switch o.NetOrder {
	case NetAuto:
		o.NetOrder = NetBands
	case NetBands, NetRandom:
	default:
		return metric.BadInput("unknown net order %d", int(o.NetOrder))
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return nil
}

// key returns z's place in the order predecessor queries follow: its Rank
// (Options.Rank), or z itself without one and for the points Insert added
// after a ranked build.
func (t *Tree) key(z int32) int32 {
	if int(z) < len(t.rank) {
		return t.rank[z]
	}
	return z
}

// atKey returns the point whose key is k (the inverse of key).
func (t *Tree) atKey(k int32) int32 {
	if int(k) < len(t.byKey) {
		return t.byKey[k]
	}
	return k
}

// minKey returns the lowest key of the points ids.
func (t *Tree) minKey(ids []int32) int32 {
	if t.rank == nil {
		return slices.Min(ids)
	}
	lo := int32(math.MaxInt32)
	for _, z := range ids {
		lo = min(lo, t.key(z))
	}
	return lo
}

// Metric returns the metric the tree was built over.
func (t *Tree) Metric() metric.Metric { return t.m }

// N returns the number of points (nodes).
func (t *Tree) N() int { return len(t.level) }

// Root returns the root's point id.
func (t *Tree) Root() int { return int(t.root) }

// Base returns the ratio between consecutive levels' cover radii.
func (t *Tree) Base() float64 { return t.base }

// Children returns the children of node z (a view, not to be modified).
func (t *Tree) Children(z int) []int32 { return t.child[t.childOff[z]:t.childOff[z+1]] }

// Level returns node z's level (math.MinInt32 for a leaf).
func (t *Tree) Level(z int) int { return int(t.level[z]) }

// Radius returns the largest distance from z to a descendant.
func (t *Tree) Radius(z int) float64 { return t.radius[z] }

// Depth returns the number of nodes on the longest root-to-leaf path.
func (t *Tree) Depth() int { return t.depth }

// cover returns base^l.
func (t *Tree) cover(l int32) float64 { return math.Pow(t.base, float64(l)) }

// levelFor returns the smallest level l with base^l >= r (r > 0).
func levelFor(base, r float64) int32 {
	l := int32(math.Ceil(math.Log(r) / math.Log(base)))
	for math.Pow(base, float64(l)) < r {
		l++
	}
	for math.Pow(base, float64(l-1)) >= r {
		l--
	}
	return l
}
