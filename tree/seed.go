package tree

import (
	"cmp"
	"slices"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// The seeds of query groups: the data points each group is offered before
// its walk, so that its queries start with k-th distances near their final
// ones.

// mortonSeed is what predSeed and querySeed need: the data points in
// Morton order (with their codes and the grid that makes them), each
// point's position in that order, and the seed size.
type mortonSeed struct {
	*mortonIndex
	pos  []int32
	size int // predSeed: points per group
	per  int // querySeed: points per query
}

// newMortonSeed makes seeds of size points from the data's Morton index.
func newMortonSeed(mi *mortonIndex, size int) *mortonSeed {
	near := &mortonSeed{mortonIndex: mi, pos: make([]int32, len(mi.order)), size: size}
	for p, id := range mi.order {
		near.pos[id] = int32(p)
	}
	return near
}

// querySeed returns the seed of a group of query points (not data) and
// marks it in qw.member: for each query, the near.per data points around
// its code in the data's Morton order (the query codes on the data's
// grid), nearest first. A group of query points can be spread out (1,024
// queries over the data's whole box), so each query gets its own window;
// dense groups share most of theirs.
func (t *Tree) querySeed(qw *queryWorker, qs *metric.Set, g *group) []int32 {
	near, n := g.near, len(g.near.order)
	seed := qw.seed[:0]
	add := func(p int) {
		if id := near.order[p]; qw.member[id] != qw.stamp {
			qw.member[id] = qw.stamp
			seed = append(seed, id)
		}
	}
	for _, q := range g.qids {
		mid, _ := slices.BinarySearch(near.codes, near.grid.code(qs.X[int(q)*qs.D:(int(q)+1)*qs.D]))
		for lo, hi := mid-1, mid; hi-lo-1 < near.per && (lo >= 0 || hi < n); lo, hi = lo-1, hi+1 {
			if hi < n {
				add(hi)
			}
			if lo >= 0 {
				add(lo)
			}
		}
	}
	qw.seed = seed
	return seed
}

// predSeed returns the seed of a predecessor group and marks it in
// qw.member: the group's points, then, from the middle of the group's
// positions in the Morton order outwards, the points keyed below maxQ
// (Tree.key), up to size in all (a group with maxQ <= size takes every
// point keyed below maxQ without a scan). The seed stays in that order, nearest the middle
// first: a query's row fills with near candidates early, so that fewer
// later ones pass its k-th distance (the answer does not depend on the
// order).
func (t *Tree) predSeed(qw *queryWorker, g *group) []int32 {
	near := g.near
	seed := append(qw.seed[:0], g.qids...)
	for _, id := range g.qids {
		qw.member[id] = qw.stamp
	}
	add := func(id int32) {
		if qw.member[id] != qw.stamp {
			qw.member[id] = qw.stamp
			seed = append(seed, id)
		}
	}
	if int(g.maxQ) <= near.size {
		for k := range g.maxQ {
			add(t.atKey(k))
		}
	} else {
		ps := qw.posBuf[:0]
		for _, id := range g.qids {
			ps = append(ps, near.pos[id])
		}
		slices.Sort(ps)
		qw.posBuf = ps
		n, mid := len(near.order), int(ps[len(ps)/2])
		for lo, hi := mid-1, mid; len(seed) < near.size && (lo >= 0 || hi < n); lo, hi = lo-1, hi+1 {
			if hi < n && t.key(near.order[hi]) < g.maxQ {
				add(near.order[hi])
			}
			if lo >= 0 && t.key(near.order[lo]) < g.maxQ {
				add(near.order[lo])
			}
		}
	}
	qw.seed = seed
	return seed
}

// seedRows is the number of queries in a block of seedBelow: blocks of 16,
// 32 or 64 cut the seed's time by 8 % at n = 262,144 (k = 30), one block
// of the whole group is the plain tile.
const seedRows = 32

// seedBelow offers the queries of predecessor group g (packed in pq) their
// seed in blocks of seedRows queries by key: a block takes only the seed
// points keyed below its largest key, in the seed's order (the others are no
// query's predecessor there), so the group's own points, and the seed
// points of its band, are tiled only against the queries above them: 5 %
// fewer query distances in all at n = 262,144.
func (t *Tree) seedBelow(qw *queryWorker, pq *metric.Set, g *group, seed []int32, best *kernels.KBest) {
	order := qw.byIndex(g)
	for b0 := 0; b0 < len(order); b0 += seedRows {
		block := order[b0:min(len(order), b0+seedRows)]
		hi := g.keys[block[len(block)-1]]
		below := qw.below[:0]
		for _, id := range seed {
			if t.key(id) < hi {
				below = append(below, id)
			}
		}
		qw.below = below
		if len(below) == 0 {
			continue
		}
		sub := &qw.seedSub
		g.subgroupInto(sub, block)
		t.m.Nearest(qw.w, pq, positions(sub.pos), t.m.Data(), metric.List(below), sub.offer(best))
		qw.dists += int64(len(block) * len(below))
	}
}

// positions returns the block of the rows pos of a group's packed set: a
// range where they follow each other (a predecessor group's keys ascend, so
// its blocks by key are ranges, read in place), else the list.
func positions(pos []int32) metric.Block {
	if len(pos) == 0 {
		return metric.List(pos)
	}
	for i, p := range pos {
		if p != pos[0]+int32(i) {
			return metric.List(pos)
		}
	}
	return metric.Range(int(pos[0]), int(pos[0])+len(pos))
}

// byIndex returns the positions of predecessor group g's queries by
// ascending key.
func (qw *queryWorker) byIndex(g *group) []int {
	order := grow(qw.order, len(g.qids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(g.keys[a], g.keys[b]) })
	qw.order = order
	return order
}
