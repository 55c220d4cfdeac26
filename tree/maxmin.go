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
// 2018). order[i] is the i-th point's index.
//
// After the first point's distances to all points, each step runs a range
// query around the chosen point with radius its own max-min distance: no
// point farther than that can have its distance to the chosen set
// lowered, since every unchosen point's is at most the maximum. Points at
// max-min distance 0 (duplicates of chosen points) follow in index order.
// The steps are sequential, on the calling goroutine; ctx is checked
// every 256 steps.
func (t *Tree) MaxMinOrder(ctx context.Context, first int) ([]int32, error) {
	n := t.N()
	if first < 0 || first >= n {
		return nil, metric.BadInput("max-min order: first point %d is not one of the %d points", first, n)
	}
	data := t.m.Data()
	mind := make([]float64, n)
	// The first point's distances to every point.
	w := metric.NewWorkspace()
	for lo := 0; lo < n; lo += 4096 {
		hi := min(n, lo+4096)
		t.m.Tile(w, mind[lo:hi], hi-lo, data, metric.Range(first, first+1), data, metric.Range(lo, hi))
	}
	tt := newTournament(mind)
	order := make([]int32, 0, n)
	take := func(p int32) {
		order = append(order, p)
		tt.set(p, math.Inf(-1)) // chosen: never the maximum again
	}
	take(int32(first))
	qw := &queryWorker{w: w}
	perQuery := make([][]rangeHit, n)
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
		perQuery[p] = perQuery[p][:0]
		t.walkRange(qw, data, []int32{p}, v, perQuery)
		for _, h := range perQuery[p] {
			if h.d < mind[h.id] {
				tt.set(h.id, h.d)
			}
		}
		perQuery[p] = nil
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
