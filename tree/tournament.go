package tree

import (
	"context"
	"math"

	"github.com/pcct/pcct/streamer"
)

// tournament keeps the index of the largest value (ties to the lower
// index, or the lower rank) over a slice it shares, under point updates.
//
// The leaves are grouped in blocks of 1<<shift consecutive indices, and a
// binary tree over the blocks holds in each node its subtree's winner and
// the winner's value. A change replays the block by a scan of its values
// (a few cache lines read in order) and then the nodes above it, whose
// comparisons read only the nodes: the tree (16 bytes a node, 2 per block)
// stays in cache, where a tree over single leaves reading the winners'
// values made every replay a chain of scattered reads.
type tournament struct {
	v     []float64
	rank  []int32 // nil: the indices
	shift uint    // log2 of the leaves a block
	nb    int     // blocks, a power of two
	size  int     // nb << shift: the leaves, padding included
	node  []tnode // node[nb+b]: block b's winner; node[k] the better of its children
	// second[b] is block b's runner-up at its last scan (id -1: none, or
	// not known): while it keeps that value it is still the best of the
	// block but its winner, since values only fall between scans (set
	// rescans).
	second []tnode
}

// tnode is a tournament node: the winner of its subtree (-1 for a block
// past the last index) and the winner's value.
type tnode struct {
	id  int32
	val float64
}

// tournamentShift is log2 of the leaves of a tournament's block (a
// variable so that the tests can make many small blocks).
var tournamentShift uint = 5

func newTournament(v []float64, rank []int32) *tournament {
	tt := &tournament{v: v, rank: rank, shift: tournamentShift, nb: 1}
	for tt.nb<<tt.shift < len(v) {
		tt.nb *= 2
	}
	tt.size = tt.nb << tt.shift
	tt.node, tt.second = make([]tnode, 2*tt.nb), make([]tnode, tt.nb)
	for b := range tt.nb {
		tt.rescan(b)
	}
	for k := tt.nb - 1; k >= 1; k-- {
		tt.node[k] = tt.better(tt.node[2*k], tt.node[2*k+1])
	}
	return tt
}

// rescan sets block b's winner and runner-up from its values.
func (tt *tournament) rescan(b int) {
	lo := b << tt.shift
	hi := min(lo+1<<tt.shift, len(tt.v))
	w, r := tnode{id: -1}, tnode{id: -1}
	for i := lo; i < hi; i++ {
		x := tnode{int32(i), tt.v[i]}
		switch {
		case w.id < 0 || tt.wins(x.id, x.val, w.id, w.val):
			w, r = x, w
		case r.id < 0 || tt.wins(x.id, x.val, r.id, r.val):
			r = x
		}
	}
	tt.node[tt.nb+b], tt.second[b] = w, r
}

// better returns the better of two nodes; a node without a winner loses.
func (tt *tournament) better(a, b tnode) tnode {
	if a.id < 0 || b.id >= 0 && tt.wins(b.id, b.val, a.id, a.val) {
		return b
	}
	return a
}

// wins reports whether point a at value va goes before point b at vb:
// the larger value, ties to the lower index (or rank).
func (tt *tournament) wins(a int32, va float64, b int32, vb float64) bool {
	return va > vb || (va == vb && tt.before(a, b))
}

// before reports whether a goes before b in a tie.
func (tt *tournament) before(a, b int32) bool {
	if tt.rank != nil {
		return tt.rank[a] < tt.rank[b]
	}
	return a < b
}

func (tt *tournament) best() int32 { return tt.node[1].id }

// set changes value i and replays its block and the path above it.
func (tt *tournament) set(i int32, v float64) {
	tt.v[i] = v
	k := tt.nb + int(i)>>tt.shift
	tt.rescan(k - tt.nb)
	tt.replayAbove(k)
}

// replayAbove replays the nodes above node k, up to the root.
func (tt *tournament) replayAbove(k int) {
	for k /= 2; k >= 1; k /= 2 {
		tt.node[k] = tt.better(tt.node[2*k], tt.node[2*k+1])
	}
}

// takeBest takes the best point out (its value to -Inf, never the best
// again) and returns it with its value, as set would, except that its
// block's new winner is the runner-up of the block's last scan where that
// still holds its value above -Inf: the block is not read again. Taking
// a batch's candidates out one after another, each waits for the last
// one's replay; the block's scan was two thirds of a replay's time.
func (tt *tournament) takeBest() (int32, float64) {
	w := tt.node[1]
	tt.v[w.id] = math.Inf(-1)
	b := int(w.id) >> tt.shift
	k := tt.nb + b
	if s := tt.second[b]; s.id >= 0 && s.val > math.Inf(-1) && math.Float64bits(tt.v[s.id]) == math.Float64bits(s.val) {
		tt.node[k], tt.second[b] = s, tnode{id: -1}
	} else {
		tt.rescan(b)
	}
	tt.replayAbove(k)
	return w.id, w.val
}

// lower decreases value i to v: only the nodes that i won can change, and
// they lie on the bottom of its path, so the replay stops at the first
// node that i does not win (and does nothing when i does not win its
// block).
func (tt *tournament) lower(i int32, v float64) { tt.lowerBelow(i, v, 1) }

// lowerBelow is lower replaying only the nodes from top down (top a
// power of two, at most nb: the nodes below top's level, whose subtrees
// are runs of size/top leaves).
func (tt *tournament) lowerBelow(i int32, v float64, top int) {
	tt.v[i] = v
	k := tt.nb + int(i)>>tt.shift
	if tt.node[k].id != i {
		return
	}
	tt.rescan(k - tt.nb)
	for k /= 2; k >= top && tt.node[k].id == i; k /= 2 {
		tt.node[k] = tt.better(tt.node[2*k], tt.node[2*k+1])
	}
}

// applyLeaves is the fewest leaves a part of lowerAll's parallel pass
// covers: below it the pass's scans of every hit cost more than the
// replays they share out.
const applyLeaves = 1 << 14

// applyParts is the number of parts lowerAll splits the leaves into for
// workers (a power of two, at most the blocks; 1: the calling goroutine
// alone).
func (tt *tournament) applyParts(workers int) int {
	parts := 1
	for parts < workers && parts < tt.nb && tt.size/(2*parts) >= applyLeaves {
		parts *= 2
	}
	return parts
}

// lowerAll lowers each point of the hits to its hit's distance where that
// is below its value, as lower one hit at a time would: the tournament is
// a function of the values, which only fall, so the order of the hits
// does not matter. With parts > 1 (a power of two, at most nb) the leaves
// are split into parts runs of whole blocks, one a task on p: each task
// scans every hit for its own run's and replays its run's nodes only;
// then the nodes above the runs are replayed here. The job is added to
// use.
func (tt *tournament) lowerAll(ctx context.Context, p *streamer.Pool, parts int, hits [][]rangeHit, use *usage) error {
	if parts <= 1 {
		for _, hs := range hits {
			for _, h := range hs {
				if h.d < tt.v[h.id] {
					tt.lower(h.id, h.d)
				}
			}
		}
		return nil
	}
	run := tt.size / parts
	js, err := p.RunContext(ctx, parts, func(_, c int) {
		lo, hi := int32(c*run), int32((c+1)*run)
		for _, hs := range hits {
			for _, h := range hs {
				if h.id >= lo && h.id < hi && h.d < tt.v[h.id] {
					tt.lowerBelow(h.id, h.d, parts)
				}
			}
		}
	})
	use.add(js)
	for k := parts - 1; k >= 1; k-- {
		tt.node[k] = tt.better(tt.node[2*k], tt.node[2*k+1])
	}
	return err
}
