package tree

import (
	"context"
	"math"

	"github.com/pcct/pcct/kernels/metric"
)

// MaxMinOrder returns the exact max-min ordering of the tree's points
// under its metric: first the point first, then repeatedly the point
// whose distance to the nearest point already chosen is largest (ties to
// the lower index), as the Vecchia literature orders points (Guinness
// 2018). order[i] is the i-th point's index. Each step is a range query
// through the tree (see maxMinOrder).
func (t *Tree) MaxMinOrder(ctx context.Context, first int) ([]int32, error) {
	qw := &queryWorker{w: metric.NewWorkspace()}
	data := t.m.Data()
	perQuery := make([][]rangeHit, t.N())
	return maxMinOrder(ctx, t.m, first, func(p int32, v float64, visit func(id int32, d float64)) {
		perQuery[p] = perQuery[p][:0]
		t.walkRange(qw, data, []int32{p}, v, perQuery)
		for _, h := range perQuery[p] {
			visit(h.id, h.d)
		}
		perQuery[p] = nil
	})
}

// maxMinOrder computes the max-min ordering of m's points from first;
// within(p, v, visit) must visit every point whose computed distance to
// point p is at most v (others may be visited too), with that distance.
//
// After the first point's distances to all points, each step runs a range
// query around the chosen point with radius its own max-min distance: no
// point farther than that can have its distance to the chosen set
// lowered, since every unchosen point's is at most the maximum. Points at
// max-min distance 0 (duplicates of chosen points) follow in index order.
// The steps are sequential, on the calling goroutine; ctx is checked
// every 256 steps.
func maxMinOrder(ctx context.Context, m metric.Metric, first int, within func(p int32, v float64, visit func(id int32, d float64))) ([]int32, error) {
	data := m.Data()
	n := data.N
	if first < 0 || first >= n {
		return nil, metric.BadInput("max-min order: first point %d is not one of the %d points", first, n)
	}
	mind := make([]float64, n)
	// The first point's distances to every point.
	w := metric.NewWorkspace()
	for lo := 0; lo < n; lo += 4096 {
		hi := min(n, lo+4096)
		m.Tile(w, mind[lo:hi], hi-lo, data, metric.Range(first, first+1), data, metric.Range(lo, hi))
	}
	tt := newTournament(mind)
	order := make([]int32, 0, n)
	take := func(p int32) {
		order = append(order, p)
		tt.set(p, math.Inf(-1)) // chosen: never the maximum again
	}
	lower := func(id int32, d float64) {
		if d < mind[id] {
			tt.lower(id, d)
		}
	}
	take(int32(first))
	for len(order) < n {
		if len(order)%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p := tt.best()
		v := mind[p]
		if v == 0 { // the rest are duplicates of chosen points
			for i := range int32(n) {
				if mind[i] == 0 {
					order = append(order, i)
				}
			}
			break
		}
		take(p)
		within(p, v, lower)
	}
	return order, nil
}

// tournament keeps the index of the largest value (ties to the lower
// index) over a slice it shares, under point updates.
type tournament struct {
	v    []float64
	size int
	win  []int32 // win[size+i] = i; win[k] = the better of its children
}

func newTournament(v []float64) *tournament {
	size := 1
	for size < len(v) {
		size *= 2
	}
	tt := &tournament{v: v, size: size, win: make([]int32, 2*size)}
	for i := range size {
		tt.win[size+i] = int32(min(i, len(v)-1)) // padding repeats the last leaf
	}
	for k := size - 1; k >= 1; k-- {
		tt.win[k] = tt.better(tt.win[2*k], tt.win[2*k+1])
	}
	return tt
}

func (tt *tournament) better(a, b int32) int32 {
	if tt.v[b] > tt.v[a] || (tt.v[b] == tt.v[a] && b < a) {
		return b
	}
	return a
}

func (tt *tournament) best() int32 { return tt.win[1] }

// set changes value i and replays its path to the root.
func (tt *tournament) set(i int32, v float64) {
	tt.v[i] = v
	for k := (tt.size + int(i)) / 2; k >= 1; k /= 2 {
		tt.win[k] = tt.better(tt.win[2*k], tt.win[2*k+1])
	}
}

// lower decreases value i to v: only the nodes that i won can change, and
// they lie on the bottom of its path, so the replay stops at the first
// node that i does not win. The last index, which the padding leaves
// repeat, may win nodes off its own path's bottom run: it is replayed
// whole.
func (tt *tournament) lower(i int32, v float64) {
	if int(i) == len(tt.v)-1 {
		tt.set(i, v)
		return
	}
	tt.v[i] = v
	for k := (tt.size + int(i)) / 2; k >= 1 && tt.win[k] == i; k /= 2 {
		tt.win[k] = tt.better(tt.win[2*k], tt.win[2*k+1])
	}
}
