package bench

import (
	"container/heap"
	"context"
	"math"

	"github.com/pcct/pcct/kernels/metric"
)

// gpTree re-creates the cover tree GPBoost searches for Vecchia neighbours
// (Gyger, Furrer and Sigrist), from its published description: an explicit
// tree built top-down on all points, level l with radius R / 2^l where R is
// the largest distance from the first point; each node's points are covered
// greedily, first point first, and a node's own point continues as its
// child one level down; every distance is computed on its own (one pair
// at a time), as the original's scalar loops do. Queries walk it level by
// level, keeping the nodes whose subtrees can still hold a neighbour.
type gpTree struct {
	m     metric.Metric
	w     *metric.Workspace
	r     float64 // R, the root's cover radius
	slack float64 // the metric's rounding slack on the triangle inequality
	pt    []int32 // node -> point
	lvl   []int32
	kids  [][]int32
	// Dists counts the distances computed.
	Dists int64
}

// gpMinRadius stops the levels: below it the remaining points (duplicates,
// or closer than rounding) hang as leaves.
const gpMinRadius = 1e-12

func (g *gpTree) dist(qs *metric.Set, q int, p int32) float64 {
	var one [1]float64
	g.m.Tile(g.w, one[:], 1, qs, metric.Range(q, q+1), g.m.Data(), metric.Range(int(p), int(p)+1))
	g.Dists++
	return one[0]
}

// buildGP builds the tree over all of m's points, stopping when ctx is done.
func buildGP(ctx context.Context, m metric.Metric) (*gpTree, error) {
	n := m.Data().N
	g := &gpTree{m: m, w: metric.NewWorkspace(), slack: m.TriangleSlack()}
	data := m.Data()
	rest := make([]int32, 0, n-1)
	d := make([]float64, 0, n-1)
	for j := 1; j < n; j++ {
		rest, d = append(rest, int32(j)), append(d, g.dist(data, 0, int32(j)))
		g.r = max(g.r, d[len(d)-1])
	}
	if g.r == 0 {
		g.r = 1
	}
	type work struct {
		node int32
		pts  []int32
		d    []float64
	}
	g.add(0, 0)
	stack := []work{{0, rest, d}}
	for len(stack) > 0 {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		w := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if len(w.pts) == 0 {
			continue
		}
		l := g.lvl[w.node] + 1
		r := g.r / math.Pow(2, float64(l))
		if r < gpMinRadius*g.r {
			for _, p := range w.pts {
				g.kids[w.node] = append(g.kids[w.node], g.add(p, l))
			}
			continue
		}
		// The node's own point continues, with the points within r of it;
		// the others are covered greedily by new children.
		var self work
		var left []int32
		for k, p := range w.pts {
			if w.d[k] <= r {
				self.pts, self.d = append(self.pts, p), append(self.d, w.d[k])
			} else {
				left = append(left, p)
			}
		}
		self.node = g.add(g.pt[w.node], l)
		g.kids[w.node] = append(g.kids[w.node], self.node)
		stack = append(stack, self)
		for len(left) > 0 {
			c := left[0]
			child := work{node: g.add(c, l)}
			g.kids[w.node] = append(g.kids[w.node], child.node)
			var still []int32
			for _, p := range left[1:] {
				if dp := g.dist(data, int(c), p); dp <= r {
					child.pts, child.d = append(child.pts, p), append(child.d, dp)
				} else {
					still = append(still, p)
				}
			}
			stack = append(stack, child)
			left = still
		}
	}
	return g, nil
}

func (g *gpTree) add(p, l int32) int32 {
	g.pt, g.lvl, g.kids = append(g.pt, p), append(g.lvl, l), append(g.kids, nil)
	return int32(len(g.pt) - 1)
}

// knn returns query q's k nearest data points (ids, distances; ties to the
// lower index), among those below limit (the predecessor rule; n for all).
func (g *gpTree) knn(qs *metric.Set, q, k int, limit int32) ([]int32, []float64) {
	seen := map[int32]float64{}
	best := &kHeap{}
	offer := func(p int32) float64 {
		if d, ok := seen[p]; ok {
			return d
		}
		d := g.dist(qs, q, p)
		seen[p] = d
		if p < limit {
			best.offer(k, p, d)
		}
		return d
	}
	front := []int32{0}
	dfront := []float64{offer(g.pt[0])}
	for len(front) > 0 {
		var next []int32
		var dnext []float64
		for i, z := range front {
			// A subtree of a node at level l lies within R / 2^l of it.
			if dfront[i]-g.r/math.Pow(2, float64(g.lvl[z]))-g.slack > best.bound(k) {
				continue
			}
			for _, c := range g.kids[z] {
				next, dnext = append(next, c), append(dnext, offer(g.pt[c]))
			}
		}
		front, dfront = next, dnext
	}
	return best.sorted()
}

// kHeap keeps the k best (distance, id) pairs, worst on top.
type kHeap struct {
	id []int32
	d  []float64
}

func (h *kHeap) Len() int { return len(h.id) }
func (h *kHeap) Less(a, b int) bool {
	return h.d[a] > h.d[b] || (h.d[a] == h.d[b] && h.id[a] > h.id[b])
}
func (h *kHeap) Swap(a, b int) { h.id[a], h.id[b], h.d[a], h.d[b] = h.id[b], h.id[a], h.d[b], h.d[a] }
func (h *kHeap) Push(x any)    { panic("unused") }
func (h *kHeap) Pop() any      { panic("unused") }

func (h *kHeap) bound(k int) float64 {
	if len(h.id) < k {
		return math.Inf(1)
	}
	return h.d[0]
}

func (h *kHeap) offer(k int, p int32, d float64) {
	if len(h.id) < k {
		h.id, h.d = append(h.id, p), append(h.d, d)
		heap.Init(h)
		return
	}
	if d < h.d[0] || (d == h.d[0] && p < h.id[0]) {
		h.id[0], h.d[0] = p, d
		heap.Fix(h, 0)
	}
}

// sorted returns the pairs nearest first (ties to the lower index).
func (h *kHeap) sorted() ([]int32, []float64) {
	ids, ds := append([]int32(nil), h.id...), append([]float64(nil), h.d...)
	for i := 1; i < len(ids); i++ { // insertion sort: k is small
		for j := i; j > 0 && (ds[j] < ds[j-1] || (ds[j] == ds[j-1] && ids[j] < ids[j-1])); j-- {
			ids[j], ids[j-1], ds[j], ds[j-1] = ids[j-1], ids[j], ds[j-1], ds[j]
		}
	}
	return ids, ds
}
