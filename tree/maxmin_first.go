package tree

import (
	"context"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
)

// The first level's table for the max-min steps' walks (see walk).
//
// A saturated metric's first level (the root's 1,000-1,300 children at
// 131,072 points, residual, m = 256) cannot be ruled out by the root's
// distances, and a step needs few of its nodes: at 131,072 points about
// 1 % of the (step, node) pairs had d - r <= radius(node) + slack, yet
// tiling every node against a batch's steps took 98.6 million of the
// walks' 106 million distances. A step z lies below one first-level node,
// its ancestor a, and d(z, c) >= d(a, c) - d(z, a) - slack for every node
// c: with the distances between the first-level nodes and from every
// point to its ancestor, computed once, a batch rules out 77 % of its
// pairs before any tile. What a step still needs of the first level lies
// around it, so the nodes are kept in an order that walks from each to a
// near one (chainOrder), and blocks of neighbours in it are tiled against
// only the steps that need one of them.

// firstTable holds the first level's distances.
type firstTable struct {
	kids []kid // the root's children, along chainOrder
	// gap[a*len(kids)+c] is d(a, c) - radius(c) for kids a and c,
	// rounded down to float32 (half the bytes for the walk to read: a
	// lower bound still), and blockGap[a*blocks+b] its least over the
	// firstBlockSize kids of block b.
	gap      []float32
	blockGap []float64
	anc      []int32   // by point: its ancestor's place in kids (-1: the root)
	danc     []float64 // by point: its distance to that ancestor
}

// The first levels the table is built for: from firstTableMin nodes
// (below, the root's children cost a step little to tile) to
// firstTableMax (16 MiB kept, 32 MiB of float64 distances while it is
// built), and at most a quarter of the points.
const (
	firstTableMin = 32
	firstTableMax = 2048
)

// tableRows is the number of first-level nodes a task of the table's job
// tiles against all of them.
const tableRows = 16

// table returns the first level's table, built on the first call on the
// pool, or nil where the first level is too small or too large for one
// (see firstTableMin): the walk then rules the root's children in or out
// by the steps' distances to the root alone.
func (s *maxMinSteps) table(ctx context.Context) (*firstTable, error) {
	if s.first != nil || s.noTable {
		return s.first, nil
	}
	t := s.t
	kids := t.kids[t.spans[t.root].k0:t.spans[t.root+1].k0]
	nf := len(kids)
	if nf < firstTableMin || nf > firstTableMax || 4*nf > t.N() {
		s.noTable = true
		return nil, nil
	}
	ids := make([]int32, nf)
	for j, x := range kids {
		ids[j] = x.id
	}
	dist := make([]float64, nf*nf)
	data := t.m.Data()
	js, err := s.pool.RunContext(ctx, (nf+tableRows-1)/tableRows, func(w, task int) {
		qw := s.worker(w)
		a0, a1 := task*tableRows, min(nf, (task+1)*tableRows)
		t.m.Tile(qw.w, dist[a0*nf:a1*nf], nf, data, metric.List(ids[a0:a1]), data, metric.List(ids))
		qw.dists += int64((a1 - a0) * nf)
	})
	s.stats.use.add(js)
	if err != nil {
		return nil, err
	}
	chain := chainOrder(dist, nf)
	nb := (nf + firstBlockSize - 1) / firstBlockSize
	tb := &firstTable{kids: make([]kid, nf), gap: make([]float32, nf*nf), blockGap: make([]float64, nf*nb)}
	pos := make(map[int32]int32, nf)
	for a, ka := range chain {
		tb.kids[a], pos[kids[ka].id] = kids[ka], int32(a)
	}
	js, err = s.pool.RunContext(ctx, nf, func(_, a int) {
		ka, row := chain[a], tb.gap[a*nf:(a+1)*nf]
		for c, kc := range chain {
			row[c] = down32(dist[ka*nf+kc] - t.spans[kids[kc].id].radius)
		}
		for b := range nb {
			tb.blockGap[a*nb+b] = float64(slices.Min(row[b*firstBlockSize : min(nf, (b+1)*firstBlockSize)]))
		}
	})
	s.stats.use.add(js)
	if err != nil {
		return nil, err
	}
	if err := s.ancestors(ctx, tb, pos); err != nil {
		return nil, err
	}
	s.first = tb
	return tb, nil
}

// ancestors fills tb.anc and tb.danc: the subtree of each root child (a
// run of the preorder) as a task, the child's row tiled against its
// subtree's points.
func (s *maxMinSteps) ancestors(ctx context.Context, tb *firstTable, pos map[int32]int32) error {
	t, data := s.t, s.t.m.Data()
	n := t.N()
	tb.anc, tb.danc = make([]int32, n), make([]float64, n)
	tb.anc[t.root] = -1
	sub := t.rootSubtrees()
	js, err := s.pool.RunContext(ctx, len(sub)-1, func(w, i int) {
		qw := s.worker(w)
		pts := t.order[sub[i]:sub[i+1]]
		a := pts[0] // the root's child heads its subtree's run
		qw.tile = grow(qw.tile, len(pts))
		qw.root = append(qw.root[:0], a)
		t.m.Tile(qw.w, qw.tile, len(pts), data, metric.List(qw.root), data, metric.List(pts))
		qw.dists += int64(len(pts))
		for j, z := range pts {
			tb.anc[z], tb.danc[z] = pos[a], qw.tile[j]
		}
	})
	s.stats.use.add(js)
	return err
}

// chainOrder returns an order of the nf points whose distances dist holds
// (nf x nf) that goes from each to the nearest not yet taken (ties to the
// lower place), from the first: runs of it are groups of near points.
func chainOrder(dist []float64, nf int) []int {
	chain := make([]int, 0, nf)
	taken := make([]bool, nf)
	for cur := 0; cur >= 0; {
		chain, taken[cur] = append(chain, cur), true
		next, best := -1, math.Inf(1)
		for j, d := range dist[cur*nf : (cur+1)*nf] {
			if !taken[j] && (next < 0 || d < best) {
				next, best = j, d
			}
		}
		cur = next
	}
	return chain
}

// down32 returns the largest float32 at most x (NaN for NaN).
func down32(x float64) float32 {
	f := float32(x)
	if float64(f) > x {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}
