package tree

import (
	"context"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
)

// The max-min steps' walks through the tree, once scanning stops paying
// (see maxMinSteps): a batch's range queries in two jobs, so that many
// workers share them evenly without splitting the first level's tiles
// into thin ones.

// walk finds, for each query qids[i], the points within radii[i] that it
// brings closer to the chosen set (computed distance below mind), into
// hits[i], as rangeSplit does for a block, in two jobs (after prepare):
//  1. the root's children (the first level, in the table's order, see
//     firstTable) are cut into blocks of firstBlockSize neighbours, one a
//     task: a task tiles its block's nodes that some query needs against
//     the queries that need one of them (firstBlock), and keeps its hits
//     and each query's nodes to enter below;
//  2. each query walks alone from its nodes, one task a query (or a
//     chunk of its nodes, in a batch of few queries), the queries with
//     the most nodes first.
//
// One task per block of a batch's queries, each tiling the first level
// for its block and then walking its queries, split the first level's
// tiles into ever thinner row blocks as workers were added (4 rows a
// tile for 16 workers: 1.4 times the time of 1 worker's 16 rows at
// 131,072 points) and left a worker's few long walks to finish after the
// others. The hits are the same; only their order within a query's list
// differs.
func (s *maxMinSteps) walk(ctx context.Context, qids []int32, radii, mind []float64, hits [][]rangeHit) error {
	tb, err := s.table(ctx)
	if err != nil {
		return err
	}
	t, nq := s.t, len(qids)
	kids := t.kids[t.spans[t.root].k0:t.spans[t.root+1].k0]
	if tb != nil {
		kids = tb.kids
	}
	s.prepare(tb, qids, radii)
	blocks := (len(kids) + firstBlockSize - 1) / firstBlockSize
	for len(s.blockHits) < blocks {
		s.blockHits = append(s.blockHits, nil)
		s.blockFront = append(s.blockFront, nil)
	}
	js, err := s.pool.RunContext(ctx, blocks, labelled(phaseQuery, func(w, b int) {
		qw := s.worker(w)
		ch, cf := grow(s.blockHits[b], nq), grow(s.blockFront[b], nq)
		s.blockHits[b], s.blockFront[b] = ch, cf
		for i := range nq {
			ch[i], cf[i] = ch[i][:0], cf[i][:0]
		}
		s.firstBlock(qw, tb, qids, radii, mind, kids, b, ch, cf)
	}))
	s.stats.use.add(js)
	if err != nil {
		return err
	}
	// The longest walks first (by the nodes they start from), so that the
	// workers finish together. Keys: the complement of the length, then
	// the query, in ascending order (a sort of plain integers, without a
	// comparison function).
	s.byLen = grow(s.byLen, nq)
	for i := range nq {
		f := 0
		for b := range blocks {
			f += len(s.blockFront[b][i])
		}
		s.byLen[i] = uint64(math.MaxUint32-uint32(f))<<32 | uint64(i)
	}
	slices.Sort(s.byLen)
	// A batch with fewer steps than twice the workers (one that ended
	// where a step would lower the next best, most often just after the
	// scans, when the radii are large) cuts each step's nodes into chunks,
	// a task each, so that a few long walks do not leave workers idle:
	// at 10^6 points such batches of 2 to 12 steps were 0.11 s of the 3.0 s
	// projected onto 16 workers. Chunk 0 gathers the step's hits, the
	// others' are appended after the job.
	chunks := max(1, (2*s.split+nq-1)/max(nq, 1))
	s.chunkHits = grow(s.chunkHits, nq*(chunks-1))
	js, err = s.pool.RunContext(ctx, nq*chunks, labelled(phaseQuery, func(w, task int) {
		qw, i, c := s.worker(w), int(uint32(s.byLen[task/chunks])), task%chunks
		hs := &hits[i]
		if c > 0 {
			hs = &s.chunkHits[i*(chunks-1)+c-1]
		}
		*hs = (*hs)[:0]
		f := qw.root[:0]
		for b := range blocks {
			f = append(f, s.blockFront[b][i]...)
		}
		qw.root = f
		f = f[c*len(f)/chunks : (c+1)*len(f)/chunks]
		if c == 0 {
			if d, ok := s.rootHit(qw, tb, qids[i:i+1], i, mind); ok && d <= radii[i] && d < mind[t.root] {
				*hs = append(*hs, rangeHit{t.root, d})
			}
			for b := range blocks {
				*hs = append(*hs, s.blockHits[b][i]...)
			}
		}
		one := func(_ int, h rangeHit) {
			if h.d < mind[h.id] {
				*hs = append(*hs, h)
			}
		}
		for len(f) > 0 {
			qw.front = t.rangeStep(qw, t.m.Data(), qids[i:i+1], radii[i:i+1], s.bound, f, one, nil)
			f = qw.front
		}
	}))
	s.stats.use.add(js)
	for i := range nq {
		for c := 1; c < chunks; c++ {
			hits[i] = append(hits[i], s.chunkHits[i*(chunks-1)+c-1]...)
		}
	}
	return err
}

// prepare sets, by query, the first level's test for firstBlock: s.anc,
// its ancestor's place in the table (-1: no table's bound; -2: the root's
// distance rules out every node), and s.thr, the bound's threshold
// (r + d(q, a) + 2 slack). Without a table it tiles the root against
// the queries (one row, on the caller's goroutine) into s.dRoot for the
// root's own test (enters); with one, the table's bounds take its place
// and each walk tests the root itself, in the pool's job (at 10^6
// points the root's row against a batch's cold rows on the caller cost
// 0.4 s of serial time).
func (s *maxMinSteps) prepare(tb *firstTable, qids []int32, radii []float64) {
	t, root, data := s.t, s.t.root, s.t.m.Data()
	nq := len(qids)
	s.anc, s.thr = grow(s.anc, nq), grow(s.thr, nq)
	s.rootRow[0] = root
	if tb != nil {
		for i, z := range qids {
			s.anc[i], s.thr[i] = tb.anc[z], radii[i]+tb.danc[z]+2*t.slack
		}
		return
	}
	if s.lead == nil {
		s.lead = metric.NewWorkspace()
	}
	s.dRoot = grow(s.dRoot, nq)
	// The root as the row and the queries as columns: one row gathered
	// (the columns are read in place), the same bits (distances are
	// symmetric bit for bit).
	t.m.Tile(s.lead, s.dRoot, nq, data, metric.List(s.rootRow[:]), data, metric.List(qids))
	s.stats.dists += int64(nq)
	rootR := t.spans[root].radius + t.slack
	for i := range qids {
		s.anc[i] = -1
		if !(s.dRoot[i]-radii[i] <= rootR) {
			s.anc[i] = -2
		}
	}
}

// rootHit returns query i's distance to the root (q its point, a
// one-element slice): the batch's (prepare) or, with a table, computed
// now, unless the root can no longer come closer to the chosen set (mind
// 0: chosen), which it reports as false.
func (s *maxMinSteps) rootHit(qw *queryWorker, tb *firstTable, q []int32, i int, mind []float64) (float64, bool) {
	t := s.t
	if tb == nil {
		return s.dRoot[i], true
	}
	if !(mind[t.root] > 0) {
		return 0, false
	}
	qw.tile = grow(qw.tile, 1)
	t.m.Tile(qw.w, qw.tile, 1, t.m.Data(), metric.List(q), t.m.Data(), metric.List(s.rootRow[:]))
	qw.dists++
	return qw.tile[0], true
}

// firstBlockSize is the number of first-level nodes firstBlock tiles at
// a time (neighbours in the table's order).
const firstBlockSize = 32

// firstBlock tiles block b of the first-level nodes kids (the root's
// children, in the table's order with tb, cut into blocks of
// firstBlockSize): the block's nodes that some query needs (rows,
// gathered) against the queries that need one of them (columns, read in
// place: shared by every task). It appends each query's hits (computed
// distance within its radius and below mind) to hits[i] and the children
// it needs below (enter) to split[i]. Without tb, query i needs node c
// unless the root's distance rules it out (enters); with tb, unless the
// table's bound through the query's ancestor a does: d(a, c) - d(q, a) -
// slack > r + radius(c) + slack, so that no point of c's subtree is
// within r (tested for the whole block first, by the block's least d(a,
// c) - radius(c)), or the same bound on the subtree's points is at least
// the node's bound (see maxMinSteps.bound). Distances are symmetric bit
// for bit, so the bits are the other orientation's.
func (s *maxMinSteps) firstBlock(qw *queryWorker, tb *firstTable, qids []int32, radii, mind []float64, kids []kid, b int, hits [][]rangeHit, split [][]int32) {
	t, data := s.t, s.t.m.Data()
	nf := len(kids)
	nb := (nf + firstBlockSize - 1) / firstBlockSize
	b0 := b * firstBlockSize
	blk := kids[b0:min(nf, b0+firstBlockSize)]
	var used [firstBlockSize]bool
	cols, at := qw.inner[:0], qw.cols[:0]
	for i, z := range qids {
		a, thr := s.anc[i], s.thr[i]
		if a == -2 {
			continue
		}
		any := false
		if a >= 0 {
			if tb.blockGap[int(a)*nb+b] > thr { // (a NaN rules out nothing)
				continue
			}
			// g - (thr - r) bounds d(q, y) - slack from below for every
			// point y of the node's subtree: none of them comes closer to
			// the chosen set where it is at least the node's bound.
			gap, lift := tb.gap[int(a)*nf+b0:], thr-radii[i]
			for j, x := range blk {
				g := float64(gap[j])
				if g > thr || s.bound != nil && g-lift >= s.bound[x.id] {
					continue
				}
				used[j], any = true, true
			}
		} else if tb != nil { // the root's own walk: no bound
			for j := range blk {
				used[j], any = true, true
			}
		} else {
			dr := s.dRoot[i]
			m := dr - radii[i]
			for j, x := range blk {
				if t.enters(x, m, dr, s.bound) {
					used[j], any = true, true
				}
			}
		}
		if any {
			cols, at = append(cols, z), append(at, int32(i))
		}
	}
	qw.inner, qw.cols = cols, at
	if len(cols) == 0 {
		return
	}
	nodes, inner := qw.level1[:0], qw.innerAt[:0]
	for j, x := range blk {
		if used[j] {
			nodes = append(nodes, x.id)
			inner = append(inner, t.spans[x.id+1].k0 > t.spans[x.id].k0)
		}
	}
	qw.level1, qw.innerAt = nodes, inner
	nc, nr := len(cols), len(nodes)
	qw.tile = grow(qw.tile, nr*nc)
	t.m.Tile(qw.w, qw.tile, nc, data, metric.List(nodes), data, metric.List(cols))
	qw.dists += int64(nr * nc)
	for j, z := range nodes {
		for c, d := range qw.tile[j*nc : (j+1)*nc] {
			i := at[c]
			if d <= radii[i] && d < mind[z] {
				hits[i] = append(hits[i], rangeHit{z, d})
			}
			if inner[j] {
				split[i] = t.enter(split[i], z, d-radii[i], d, s.bound)
			}
		}
	}
}
