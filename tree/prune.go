package tree

import (
	"cmp"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels"
)

// The walk's pruning: which children of the nodes a block of queries just
// tiled it enters next.

// needs prepares pushChildren for a block of queries: each query's row
// offset in the distance buffer (query i of g is row rows[i] of a buffer
// with stride ld, or row i when rows is nil) and its current k-th distance.
// (The k-th distances only shrink; a stale one would only enter more.)
func (qw *queryWorker) needs(g *group, best *kernels.KBest, rows []int, ld int) {
	qw.off, qw.kth = qw.off[:0], qw.kth[:0]
	for i := range g.qids {
		r := i
		if rows != nil {
			r = rows[i]
		}
		qw.off = append(qw.off, r*ld)
		qw.kth = append(qw.kth, best.Worst(int(g.rows[i])))
	}
}

// pushChildren adds to the frontier the children that some query of the
// block may need, of the nodes c whose distances to the queries are in buf
// (query i's row at qw.off[i], node j in column j; qw.byQ and qw.qDesc set
// for the block by blockOrder). A node is entered when
// some query may find a neighbour among its descendants (d - kth <=
// radius(z) + slack for the query's k-th distance kth and, in predecessor
// mode, a descendant below the query's key, Tree.key); then of its children x only
// those with d - kth <= reach(x) + slack for such a query: x and its
// descendants lie within reach(x) of z, so the others are strictly
// farther than the k-th (no tie is lost). Children made by fine nets near
// z have small reaches, so a query at some distance from z skips them even
// when it needs z's coarser children.
//
// Both tests read one table: with the block's queries sorted by descending
// index, pm[p][j] is the smallest d - kth at node j over the first p+1 of
// them, and the queries that may take a subtree whose lowest key is lo
// are a prefix of that order (all of them outside predecessor mode, and
// when lo is below every query's key: then the last row decides). So
// each node and each child costs one lookup, whichever query needs it.
func (t *Tree) pushChildren(qw *queryWorker, g *group, c []int32, buf []float64) {
	n, nq := len(c), len(qw.off)
	pm := grow(qw.pm, nq*n)
	qw.pm = pm
	for p, i := range qw.byQ {
		row, kth, cur := buf[qw.off[i]:qw.off[i]+n], qw.kth[i], pm[p*n:(p+1)*n]
		// A NaN distance enters nothing, as in brute force: it counts as
		// +Inf (a branch never taken with finite data), so the minima,
		// taken without branches, stay free of NaN.
		if p == 0 {
			for j, d := range row {
				v := d - kth
				if v != v {
					v = math.Inf(1)
				}
				cur[j] = v
			}
			continue
		}
		for j, prev := range pm[(p-1)*n : p*n] {
			v := row[j] - kth
			if v != v {
				v = math.Inf(1)
			}
			cur[j] = min(prev, v)
		}
	}
	all := pm[(nq-1)*n : nq*n] // the minima over the whole block
	qmin := qw.qDesc[nq-1]
	for j, z := range c {
		sp := t.spans[z]
		m, rz := all[j], sp.radius+t.slack
		if !(m <= rz) {
			continue // no query of the block can use z
		}
		if g.pred && sp.lo >= qmin && !qw.takes(pm, n, j, sp.lo, rz) {
			continue
		}
		for _, x := range t.kids[sp.k0:t.spans[z+1].k0] {
			r := x.reach + t.slack
			if !(m <= r) {
				break // no query of the block can use x, nor the kids after it
			}
			if g.pred && x.lo >= qmin && !qw.takes(pm, n, j, x.lo, r) {
				continue
			}
			qw.front = append(qw.front, x.id)
		}
	}
}

// takes reports whether a query of the block above index lo has d - kth
// <= r at node j: those queries are a prefix of qw.qDesc, whose minimum
// over node j is a row of pm.
func (qw *queryWorker) takes(pm []float64, n, j int, lo int32, r float64) bool {
	// p: how many keys exceed lo (a binary search: qDesc descends).
	p, hi := 0, len(qw.qDesc)
	for p < hi {
		if mid := int(uint(p+hi) >> 1); qw.qDesc[mid] > lo {
			p = mid + 1
		} else {
			hi = mid
		}
	}
	return p > 0 && pm[(p-1)*n+j] <= r
}

// blockOrder sets qw.byQ and qw.qDesc for a block: its queries by
// descending key in predecessor mode (in block order otherwise).
func (qw *queryWorker) blockOrder(g *group) {
	nq := len(g.qids)
	qw.byQ, qw.qDesc = grow(qw.byQ, nq), grow(qw.qDesc, nq)
	for i := range qw.byQ {
		qw.byQ[i] = i
	}
	keys := g.qids
	if g.pred {
		keys = g.keys
		slices.SortFunc(qw.byQ, func(a, b int) int { return cmp.Compare(keys[b], keys[a]) })
	}
	for p, i := range qw.byQ {
		qw.qDesc[p] = keys[i]
	}
}
