package tree

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
	// rescans) and only a winner is excluded.
	second []tnode
	// excl marks the points taken out (see take): they win no node but
	// keep their values.
	excl []bool
	// taken[c]: the points part c took out in its last job, best first
	// (see advance); heads: merge's cursors into them.
	taken [][]tnode
	heads []int
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
	tt.node, tt.second, tt.excl = make([]tnode, 2*tt.nb), make([]tnode, tt.nb), make([]bool, len(v))
	for b := range tt.nb {
		tt.rescan(b)
	}
	for k := tt.nb - 1; k >= 1; k-- {
		tt.node[k] = tt.better(tt.node[2*k], tt.node[2*k+1])
	}
	return tt
}

// rescan sets block b's winner and runner-up from its values (the
// excluded points left out).
func (tt *tournament) rescan(b int) {
	lo := b << tt.shift
	hi := min(lo+1<<tt.shift, len(tt.v))
	w, r := tnode{id: -1}, tnode{id: -1}
	for i := lo; i < hi; i++ {
		if tt.excl[i] {
			continue
		}
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

// lowerBelow decreases value i to v, replaying only the nodes from top
// down (top a power of two, at most nb: the nodes below top's level,
// whose subtrees are runs of size/top leaves). Only the nodes that i won
// can change, and they lie on the bottom of its path, so the replay stops
// at the first node that i does not win (and does nothing when i does not
// win its block).
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
