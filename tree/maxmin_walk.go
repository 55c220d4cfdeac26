package tree

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
)

// The max-min steps' walks through the tree, once scanning stops paying
// (see maxMinSteps): a batch's range queries in two jobs, so that many
// workers share them evenly without splitting the first level's tiles
// into thin ones.

// walkChunk is the fewest root children a task of the first job takes.
const walkChunk = 64

// walk finds, for each query qids[i], the points within radii[i] that it
// brings closer to the chosen set (computed distance below mind), into
// hits[i], as rangeSplit does for a block, in two jobs:
//  1. the root's children are dealt into chunks (every chunks-th child),
//     one a task (walkChunks); a task tiles the root against every query,
//     takes the children of its chunk that some query needs (the first
//     level), tiles them against every query (firstLevel, tileFirst) and
//     keeps its hits and each query's nodes to enter below;
//  2. each query walks alone from its nodes, one task a query, the
//     queries with the most nodes first.
//
// One task per block of a batch's queries, each tiling the first level
// for its block and then walking its queries, split the first level's
// tiles into ever thinner row blocks as workers were added (4 rows a
// tile for 16 workers: 1.4 times the time of 1 worker's 16 rows at
// 131,072 points) and left a worker's few long walks to finish after the
// others. Each task tiles the root's row again (one row against the
// queries), which costs less than a serial step between the jobs would.
// The hits are the same; only their order within a query's list differs.
func (s *maxMinSteps) walk(ctx context.Context, qids []int32, radii, mind []float64, hits [][]rangeHit) error {
	t, nq := s.t, len(qids)
	root := t.root
	kids := t.kids[t.spans[root].k0:t.spans[root+1].k0]
	chunks := walkChunks(len(kids), s.split)
	for len(s.chunkHits) < chunks {
		s.chunkHits = append(s.chunkHits, nil)
		s.chunkFront = append(s.chunkFront, nil)
	}
	js, err := s.pool.RunContext(ctx, chunks, labelled(phaseQuery, func(w, c int) {
		qw := s.worker(w)
		ch, cf := grow(s.chunkHits[c], nq), grow(s.chunkFront[c], nq)
		s.chunkHits[c], s.chunkFront[c] = ch, cf
		for i := range nq {
			ch[i], cf[i] = ch[i][:0], cf[i][:0]
		}
		hit := func(i int, h rangeHit) {
			if h.d < mind[h.id] {
				ch[i] = append(ch[i], h)
			}
		}
		nodes := s.firstLevel(qw, qids, radii, kids, c, chunks, hit)
		s.tileFirst(qw, qids, radii, nodes, hit, cf)
	}))
	s.stats.use.add(js)
	if err != nil {
		return err
	}
	// The longest walks first (by the nodes they start from), so that the
	// workers finish together.
	s.byLen = grow(s.byLen, nq)
	for i := range nq {
		s.byLen[i] = int32(i)
	}
	s.startLen = grow(s.startLen, nq)
	for i := range nq {
		s.startLen[i] = 0
		for c := range chunks {
			s.startLen[i] += len(s.chunkFront[c][i])
		}
	}
	slices.SortFunc(s.byLen, func(a, b int32) int { return cmp.Compare(s.startLen[b], s.startLen[a]) })
	js, err = s.pool.RunContext(ctx, nq, labelled(phaseQuery, func(w, task int) {
		qw, i := s.worker(w), int(s.byLen[task])
		hits[i] = hits[i][:0]
		f := qw.root[:0]
		for c := range chunks {
			hits[i] = append(hits[i], s.chunkHits[c][i]...)
			f = append(f, s.chunkFront[c][i]...)
		}
		qw.root = f
		one := func(_ int, h rangeHit) {
			if h.d < mind[h.id] {
				hits[i] = append(hits[i], h)
			}
		}
		for len(f) > 0 {
			qw.front = t.rangeStep(qw, t.m.Data(), qids[i:i+1], radii[i:i+1], s.bound, f, one, nil)
			f = qw.front
		}
	}))
	s.stats.use.add(js)
	return err
}

// walkChunks is the number of chunks walk deals n root children into for
// split workers: one or two a worker, so that the workers finish
// together, each of at least walkChunk children when there are enough
// (of at least 8 otherwise, and one chunk below 16 children).
func walkChunks(n, split int) int {
	if n >= 2*walkChunk*split {
		return 2 * split
	}
	if n >= walkChunk*split {
		return split
	}
	return max(1, min(split, n/8))
}

// firstLevel tiles the root against the queries (passing the root to
// hit, in chunk 0 only, where it is within a query's radius) and returns
// the root's children kids[c], kids[c+chunks], ... that some query needs,
// by the rule of enter: the children rangeStep's step from the root
// would enter, dealt among the chunks.
func (s *maxMinSteps) firstLevel(qw *queryWorker, qids []int32, radii []float64, kids []kid, c, chunks int, hit func(i int, h rangeHit)) []int32 {
	t, root, data := s.t, s.t.root, s.t.m.Data()
	nq := len(qids)
	qw.tile = grow(qw.tile, nq)
	// The root as the row and the queries as columns: one row gathered
	// (the columns are read in place), the same bits (distances are
	// symmetric bit for bit).
	qw.root = append(qw.root[:0], root)
	t.m.Tile(qw.w, qw.tile, nq, data, metric.List(qw.root), data, metric.List(qids))
	qw.dists += int64(nq)
	m, dmin := math.Inf(1), math.Inf(1)
	for i, d := range qw.tile[:nq] {
		if c == 0 && d <= radii[i] {
			hit(i, rangeHit{root, d})
		}
		if v := d - radii[i]; v < m {
			m = v
		}
		dmin = min(dmin, d)
	}
	nodes := qw.level1[:0]
	if m <= t.spans[root].radius+t.slack {
		for j := c; j < len(kids); j += chunks {
			if x := kids[j]; t.enters(x, m, dmin, s.bound) {
				nodes = append(nodes, x.id)
			}
		}
	}
	qw.level1 = nodes
	return nodes
}

// tileFirst tiles first-level nodes against the queries in one call,
// the nodes as rows (gathered: each task's own) and the queries as
// columns (read in place, shared by every task; gathered, in blocks of
// 16 for a fused leaf test and a tile of the inner nodes, they cost every
// task copies of all 64 rows: at 262,144 points, split for 16 workers,
// the first job's work was 3.5 s that way, 2.8 s now), passes each hit to hit and appends to
// split[i] the children query i needs (enter). Distances are symmetric
// bit for bit, so the bits are the other orientation's.
func (s *maxMinSteps) tileFirst(qw *queryWorker, qids []int32, radii []float64, nodes []int32, hit func(i int, h rangeHit), split [][]int32) {
	t, data := s.t, s.t.m.Data()
	nq, nc := len(qids), len(nodes)
	if nc == 0 {
		return
	}
	qw.tile = grow(qw.tile, nq*nc)
	t.m.Tile(qw.w, qw.tile, nq, data, metric.List(nodes), data, metric.List(qids))
	qw.dists += int64(nq * nc)
	for j, z := range nodes {
		row, inner := qw.tile[j*nq:(j+1)*nq], t.spans[z+1].k0 > t.spans[z].k0
		for i, d := range row {
			if d <= radii[i] {
				hit(i, rangeHit{z, d})
			}
			if inner {
				split[i] = t.enter(split[i], z, d-radii[i], d, s.bound)
			}
		}
	}
}
