package tree

import (
	"context"
	"math"

	"github.com/pcct/pcct/streamer"
)

// The max-min choice's candidates, taken out of the tournament in parts.
//
// A batch's candidates are its best points (see batch.choose). Taken out
// one after another on the calling goroutine, each replay waiting for the
// last one's, they were half of the ordering's serial time. So the leaves
// are cut into parts (runs of whole blocks, a power of two of them, see
// applyParts), and each part, in the job that lowers it by the last
// batch's hits (advance), also takes out its own best few. The caller
// merges the parts' lists (merge): the best points overall are the merge
// up to the first point that is a part's best left in (its subtree's
// winner), which stands for the rest of that part. A point taken out is
// excluded, winning no node, but keeps its value, which the steps' range
// queries read as its distance to the chosen set. The batch's steps go to
// -Inf and stay out; the rest come back in their part's next job.

// take excludes the winner of node k's subtree and returns it: its block's
// new winner is the runner-up of the block's last scan where that still
// holds its value (about half the time: the block is not read again),
// then the nodes above it are replayed up to node k.
func (tt *tournament) take(k int) tnode {
	w := tt.node[k]
	tt.excl[w.id] = true
	b := int(w.id) >> tt.shift
	j := tt.nb + b
	if s := tt.second[b]; s.id >= 0 && math.Float64bits(tt.v[s.id]) == math.Float64bits(s.val) {
		tt.node[j], tt.second[b] = s, tnode{id: -1}
	} else {
		tt.rescan(b)
	}
	for j /= 2; j >= k; j /= 2 {
		tt.node[j] = tt.better(tt.node[2*j], tt.node[2*j+1])
	}
	return w
}

// restore includes point p again, at its value now, replaying the nodes
// it wins up to the level of top (a power of two, as in lowerBelow): no
// other value changed, so p either wins a node or leaves it as it was.
func (tt *tournament) restore(p int32, top int) {
	tt.excl[p] = false
	x := tnode{p, tt.v[p]}
	b := int(p) >> tt.shift
	j := tt.nb + b
	if w := tt.node[j]; w.id >= 0 && !tt.wins(x.id, x.val, w.id, w.val) {
		// The winner stays; p may be the new runner-up (an unknown one
		// stays unknown: p need not be the best of the rest).
		if s := tt.second[b]; s.id >= 0 && tt.wins(x.id, x.val, s.id, s.val) {
			tt.second[b] = x
		}
		return
	}
	tt.node[j], tt.second[b] = x, tt.node[j]
	for j /= 2; j >= top && (tt.node[j].id < 0 || tt.wins(x.id, x.val, tt.node[j].id, tt.node[j].val)); j /= 2 {
		tt.node[j] = x
	}
}

// applyLeaves is the fewest leaves a part of advance's parallel pass
// covers: below it the pass's scans of every hit cost more than the
// replays they share out.
const applyLeaves = 1 << 14

// applyParts is the number of parts advance splits the leaves into for
// workers (a power of two, at most the blocks; 1: the calling goroutine
// alone).
func (tt *tournament) applyParts(workers int) int {
	parts := 1
	for parts < workers && parts < tt.nb && tt.size/(2*parts) >= applyLeaves {
		parts *= 2
	}
	return parts
}

// advance readies the tournament for the next batch, part by part (parts
// a power of two, at most nb): it includes again the points the part took
// out last time that were not steps (at -Inf), lowers each point of the
// hits to its hit's distance where that is below its value, and takes
// out the part's best points, up to m of them and before the first at 0
// or -Inf, into tt.taken. The tournament is a function of the values and
// the excluded points, so the order of the hits does not matter. With
// parts > 1 each part is a task on p, replaying its own nodes only, and
// then the nodes above the parts are replayed here; the job is added to
// use.
func (tt *tournament) advance(ctx context.Context, p *streamer.Pool, parts int, hits [][]rangeHit, m int, use *usage) error {
	for len(tt.taken) < parts {
		tt.taken = append(tt.taken, nil)
	}
	tt.taken = tt.taken[:parts]
	run := tt.size / parts
	part := func(c int) {
		lo, hi := int32(c*run), int32((c+1)*run)
		for _, x := range tt.taken[c] {
			if !math.IsInf(tt.v[x.id], -1) {
				tt.restore(x.id, parts)
			}
		}
		for _, hs := range hits {
			for _, h := range hs {
				if h.id >= lo && h.id < hi && h.d < tt.v[h.id] {
					tt.lowerBelow(h.id, h.d, parts)
				}
			}
		}
		tk := tt.taken[c][:0]
		for root := parts + c; len(tk) < m; {
			if w := tt.node[root]; w.id < 0 || w.val == 0 || math.IsInf(w.val, -1) {
				break
			}
			tk = append(tk, tt.take(root))
		}
		tt.taken[c] = tk
	}
	if parts <= 1 {
		part(0)
		return ctx.Err()
	}
	js, err := p.RunContext(ctx, parts, func(_, c int) { part(c) })
	use.add(js)
	for k := parts - 1; k >= 1; k-- {
		tt.node[k] = tt.better(tt.node[2*k], tt.node[2*k+1])
	}
	return err
}

// takePerPart is how many points advance has each of parts parts take
// out so that their merge is likely to give size candidates: a part's
// share, and about two standard deviations more; all of them with one
// part.
func takePerPart(size, parts int) int {
	if parts <= 1 {
		return size
	}
	per := (size + parts - 1) / parts
	return min(size, per+2+int(2*math.Sqrt(float64(per))))
}

// merge appends to cand (and their values to cur) the best points taken
// out, best first, up to size of them, and stops before the best point
// left is a part's own best left in or is at 0 or -Inf; it returns that
// point, the best outside the candidates (-1: none). The candidates are
// the best points of the whole tournament, since each part's taken points
// beat all it kept.
func (tt *tournament) merge(size int, cand []int32, cur []float64) ([]int32, []float64, int32) {
	parts := len(tt.taken)
	tt.heads = grow(tt.heads, parts)
	clear(tt.heads)
	for {
		best, bn, taken := -1, tnode{id: -1}, false
		for c, tk := range tt.taken {
			x, in := tt.node[parts+c], tt.heads[c] < len(tk)
			if in {
				x = tk[tt.heads[c]]
			}
			if x.id >= 0 && (best < 0 || tt.wins(x.id, x.val, bn.id, bn.val)) {
				best, bn, taken = c, x, in
			}
		}
		if len(cand) == size || !taken || bn.val == 0 || math.IsInf(bn.val, -1) {
			return cand, cur, bn.id
		}
		cand, cur = append(cand, bn.id), append(cur, bn.val)
		tt.heads[best]++
	}
}
