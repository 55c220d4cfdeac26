package tree

import (
	"context"
	"math"
	"time"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// KDTree is an exact k-d tree over the points of a Euclidean metric: the
// points are split at the median of their widest coordinate until at most
// KDLeaf(d) remain, and copied leaf by leaf into blocks (the same
// coordinates, so every pair keeps its distance bits), so that a leaf's
// scan is one fused distance row over contiguous columns. Each node keeps
// the bounding box of its points and their lowest index. In few
// dimensions axis-aligned boxes prune far better than the cover tree's
// balls (Euclidean, d = 8, uniform: a cover tree query computes about
// 12,000 distances, one here about 2,800 with leaves of 64), and the
// answers are the same bit for bit: boxes only ever rule out points that
// are farther than the k-th distance (see kdPrune).
type KDTree struct {
	m     metric.Metric // the caller's metric (ids are its indices)
	ids   []int32       // ids[p]: the index in m of the point at position p of the leaf order
	nodes []kdNode
	box   []float64 // node z's box: lo at box[2dz:2dz+d], hi after it
	lxt   []float64 // the leaves' points for their scans (see leafLayout)
	d     int
	Stats BuildStats
}

// kdNode is a node of the KDTree: its points are those at positions [lo,
// hi) of the leaf order (t.ids); left and right are its children (-1 for
// a leaf), split at coordinate dim: the left child's points have
// coordinates at most split, the right child's at least; minID is the
// lowest index (in m) among its points.
type kdNode struct {
	lo, hi      int32
	left, right int32
	minID       int32
	dim         int32
	split       float64
}

// KDLeaf returns the largest number of points in a leaf of a KDTree over
// d dimensions: 64 up to 4 dimensions, 128 above, where a node visit (its
// box distance) costs more against a leaf's scan. On one worker, the same
// answers: d = 8, 32,768 uniform points, 8-NN: leaves of 128 6-15 %
// faster than 64 (256: 8 %; 32: 22 % slower); d = 2, 10^6 points,
// predecessor 30-NN: 128 8 % slower than 64.
func KDLeaf(d int) int32 {
	if d > 4 {
		return 128
	}
	return 64
}

// BuildKD builds the k-d tree of m's points; m must be Euclidean. The tree
// depends only on the points (ties in a split go by index), not on the
// worker count: the top of the tree is split on the calling goroutine, its
// subtrees of at most kdTask points on pool (nil: a pool of GOMAXPROCS
// workers for the call), each into its own node list, spliced in a fixed
// order.
func BuildKD(ctx context.Context, m metric.Metric, pool *streamer.Pool) (*KDTree, error) {
	if _, ok := m.(*metric.Euclidean); !ok {
		return nil, metric.BadInput("a k-d tree needs the Euclidean metric, not the %s metric", m.Name())
	}
	t0 := time.Now()
	s := m.Data()
	t := &KDTree{m: m, d: s.D, ids: make([]int32, s.N)}
	if pool == nil {
		pool = streamer.NewPool(0)
		defer pool.Close()
	}
	var use usage
	forChunks(pool, &use, s.N, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t.ids[i] = int32(i)
		}
	})
	// Node 0 is the root.
	tasks, err := t.splitTop(ctx, s, int32(max(kdTask, s.N/128)), pool, &use)
	if err != nil {
		return nil, err
	}
	if len(tasks) > 0 {
		sub := make([][]kdNode, len(tasks))
		st, err := pool.RunContext(ctx, len(tasks), labelled(phaseBuild, func(_, k int) {
			sub[k] = t.split(ctx, s, []kdNode{t.nodes[tasks[k]]})
		}))
		use.add(st)
		if err == nil {
			err = ctx.Err() // a task that saw it stopped early
		}
		if err != nil {
			return nil, err
		}
		for k, z := range tasks {
			t.splice(z, sub[k])
		}
	}
	t.bounds(s, pool, &use)
	t.leafLayout(pool, &use)
	t.Stats.Wall = time.Since(t0)
	t.Stats.Utilisation, t.Stats.Serial = use.utilisation(), use.serial(t.Stats.Wall)
	t.Stats.Busy, t.Stats.Steals = use.perWorker, use.steals
	return t, nil
}

// kdTask is the size (in points) below which BuildKD splits subtrees as
// pool tasks (or n/128 when larger). (Like the other sizes that choose
// the pool paths, a variable only so that TestParallelPaths can run those
// paths on small sets.)
var kdTask = 1 << 13

// splitTop splits the top of the tree into t.nodes level by level, the
// nodes of one level as the tasks of one pool job (their points are
// disjoint ranges of t.ids) or, the largest, each with the whole pool
// (cutOnPool), down to nodes of at most task points, and
// returns the indices of those that still need splitting, in order. It
// stops with ctx.Err() when ctx is done.
func (t *KDTree) splitTop(ctx context.Context, s *metric.Set, task int32, pool *streamer.Pool, use *usage) ([]int32, error) {
	t.nodes = []kdNode{{lo: 0, hi: int32(s.N), left: -1, right: -1}}
	var level, later []int32
	sort := func(z int32) {
		switch size := t.nodes[z].hi - t.nodes[z].lo; {
		case size <= KDLeaf(t.d):
		case size <= task:
			later = append(later, z)
		default:
			level = append(level, z)
		}
	}
	sort(0)
	for len(level) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Nodes of kdPoolCut points or more are cut one after another, each
		// with the whole pool; the others as the tasks of one job.
		cuts := make([]kdCut, len(level))
		var small []int
		for k, z := range level {
			if nd := t.nodes[z]; int(nd.hi-nd.lo) >= kdPoolCut {
				cuts[k] = t.cutOnPool(s, nd, pool, use)
			} else {
				small = append(small, k)
			}
		}
		forTasks(pool, use, len(small), func(k int) { cuts[small[k]] = t.cut(s, t.nodes[level[small[k]]]) })
		this := level
		level = nil
		for k, z := range this {
			if l, r, ok := t.apply(z, cuts[k]); ok {
				sort(l)
				sort(r)
			}
		}
	}
	return later, nil
}

// kdCut is how a node splits: along dim at the point of position mid of
// t.ids, whose coordinate is split; dim < 0 keeps the node a leaf.
type kdCut struct {
	dim   int
	mid   int32
	split float64
}

// cut chooses node nd's split, widest coordinate at the median, and
// arranges the node's points of t.ids around it.
func (t *KDTree) cut(s *metric.Set, nd kdNode) kdCut {
	dim := widest(s, t.ids[nd.lo:nd.hi], nil, nil)
	if dim < 0 {
		return kdCut{dim: -1} // the points all coincide: a leaf
	}
	mid := (nd.lo + nd.hi) / 2
	selectByCoord(t.ids[nd.lo:nd.hi], s.X, s.D, dim, int(mid-nd.lo))
	return kdCut{dim: dim, mid: mid, split: s.X[int(t.ids[mid])*s.D+dim]}
}

// apply gives node z of t.nodes the children of cut c and returns them
// (ok false when c keeps z a leaf).
func (t *KDTree) apply(z int32, c kdCut) (l, r int32, ok bool) {
	if c.dim < 0 {
		return 0, 0, false
	}
	t.nodes, l, r = addChildren(t.nodes, z, c)
	return l, r, true
}

// addChildren appends the children of node z by cut c to nodes.
func addChildren(nodes []kdNode, z int32, c kdCut) ([]kdNode, int32, int32) {
	nd := nodes[z]
	l, r := int32(len(nodes)), int32(len(nodes)+1)
	nodes = append(nodes, kdNode{lo: nd.lo, hi: c.mid, left: -1, right: -1}, kdNode{lo: c.mid, hi: nd.hi, left: -1, right: -1})
	nodes[z].left, nodes[z].right = l, r
	nodes[z].dim, nodes[z].split = int32(c.dim), c.split
	return nodes, l, r
}

// split splits the subtree of nodes[0] depth first, appending the new
// nodes to nodes (children after their parent), and returns them. It
// stops early when ctx is done (the caller reports ctx.Err()).
func (t *KDTree) split(ctx context.Context, s *metric.Set, nodes []kdNode) []kdNode {
	stack := []int32{0}
	for len(stack) > 0 && ctx.Err() == nil {
		z := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		nd := nodes[z]
		if nd.hi-nd.lo <= KDLeaf(t.d) {
			continue
		}
		c := t.cut(s, nd)
		if c.dim < 0 {
			continue
		}
		var l, r int32
		nodes, l, r = addChildren(nodes, z, c)
		stack = append(stack, r, l)
	}
	return nodes
}

// splice puts the nodes of a subtree split on its own (sub[0] its root,
// node z of the tree) into the tree: the root's fields into node z, the
// others appended, their child indices moved along.
func (t *KDTree) splice(z int32, sub []kdNode) {
	base := int32(len(t.nodes)) - 1 // sub[i] becomes node base + i, i >= 1
	at := func(i int32) int32 {
		switch {
		case i < 0:
			return i
		case i == 0:
			return z
		}
		return base + i
	}
	for i, nd := range sub {
		nd.left, nd.right = at(nd.left), at(nd.right)
		if i == 0 {
			t.nodes[z] = nd
			continue
		}
		t.nodes = append(t.nodes, nd)
	}
}

// bounds computes every node's box and lowest index: the leaves' from
// their points, in ranges of nodes on the pool (nil: in turn), then the
// inner nodes' from their children, children before parents (children
// always follow their parent in t.nodes).
func (t *KDTree) bounds(s *metric.Set, pool *streamer.Pool, use *usage) {
	d := t.d
	t.box = make([]float64, 2*d*len(t.nodes))
	// The leaves first, from their points, in ranges of nodes on the pool
	// (1,024 nodes hold about 32,000 points).
	const per = 1024
	forTasks(pool, use, (len(t.nodes)+per-1)/per, func(r int) {
		for z := r * per; z < min(len(t.nodes), (r+1)*per); z++ {
			nd := &t.nodes[z]
			if nd.left >= 0 {
				continue
			}
			lo, hi := t.box[2*d*z:2*d*z+d], t.box[2*d*z+d:2*d*(z+1)]
			for k := range d {
				lo[k], hi[k] = math.Inf(1), math.Inf(-1)
			}
			nd.minID = math.MaxInt32
			for _, id := range t.ids[nd.lo:nd.hi] {
				for k, v := range s.X[int(id)*d : int(id+1)*d] {
					lo[k], hi[k] = min(lo[k], v), max(hi[k], v)
				}
				nd.minID = min(nd.minID, id)
			}
		}
	})
	for z := len(t.nodes) - 1; z >= 0; z-- {
		nd := &t.nodes[z]
		if nd.left < 0 {
			continue
		}
		lo, hi := t.box[2*d*z:2*d*z+d], t.box[2*d*z+d:2*d*(z+1)]
		a, b := int(nd.left), int(nd.right)
		for k := range d {
			lo[k] = min(t.box[2*d*a+k], t.box[2*d*b+k])
			hi[k] = max(t.box[2*d*a+d+k], t.box[2*d*b+d+k])
		}
		nd.minID = min(t.nodes[a].minID, t.nodes[b].minID)
	}
}

// selectByCoord reorders ids so that ids[k] is the point that a sort by
// coordinate dim (ties by id) would put there, with smaller ones before it
// and larger ones after: quickselect with a median-of-three pivot.
func selectByCoord(ids []int32, x []float64, d, dim, k int) {
	less := func(a, b int32) bool {
		va, vb := x[int(a)*d+dim], x[int(b)*d+dim]
		return va < vb || (va == vb && a < b)
	}
	lo, hi := 0, len(ids)-1
	for hi > lo {
		mid := lo + (hi-lo)/2
		if less(ids[mid], ids[lo]) {
			ids[mid], ids[lo] = ids[lo], ids[mid]
		}
		if less(ids[hi], ids[lo]) {
			ids[hi], ids[lo] = ids[lo], ids[hi]
		}
		if less(ids[hi], ids[mid]) {
			ids[hi], ids[mid] = ids[mid], ids[hi]
		}
		p := ids[mid]
		i, j := lo, hi
		for i <= j {
			for less(ids[i], p) {
				i++
			}
			for less(p, ids[j]) {
				j--
			}
			if i <= j {
				ids[i], ids[j] = ids[j], ids[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}

// Metric returns the metric the tree was built over.
func (t *KDTree) Metric() metric.Metric { return t.m }

// N returns the number of points.
func (t *KDTree) N() int { return len(t.ids) }

// Leaves returns the number of leaves.
func (t *KDTree) Leaves() int { return (len(t.nodes) + 1) / 2 }

// boxDist2 returns the squared distance from point q to node z's box,
// each operation rounded once and the clamps exact: kernels.BoxDist2 in
// more than 4 dimensions, an inline loop in fewer, where the call costs
// more than it saves (10^6 points, d = 2: 7 % slower queries through the
// kernel; d = 4 the same; d = 8: 11 % faster).
func (t *KDTree) boxDist2(q []float64, z int32) float64 {
	d := t.d
	box := t.box[2*d*int(z) : 2*d*int(z)+2*d]
	lo, hi := box[:d], box[d:]
	if d > 4 {
		return kernels.BoxDist2(lo, hi, q)
	}
	q = q[:d]
	var s float64
	for k := range lo {
		e := max(lo[k]-q[k], 0) + max(q[k]-hi[k], 0) // at most one is positive
		s += e * e
	}
	return s
}
