package tree

import (
	"context"
	"math"

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
//     one a task; for each block of 16 queries a task tiles the root's
//     row, takes the children of its chunk that some query of the block
//     needs (the first level), tiles them against the block and keeps its
//     hits and each query's nodes to enter below;
//  2. each query walks alone from its nodes, one task a query.
//
// One task per block of a batch's queries, each tiling the first level
// for its block and then walking its queries, split the first level's
// tiles into ever thinner row blocks as workers were added (4 rows a
// tile for 16 workers: 1.4 times the time of 1 worker's 16 rows at
// 131,072 points) and left a worker's few long walks to finish after the
// others. Each task tiles the root's row again (16 distances a block),
// which costs less than a serial step between the jobs would. The hits
// are the same; only their order within a query's list differs.
func (s *maxMinSteps) walk(ctx context.Context, qids []int32, radii, mind []float64, hits [][]rangeHit) error {
	t, nq := s.t, len(qids)
	root := t.root
	kids := t.kids[t.spans[root].k0:t.spans[root+1].k0]
	chunks := min(max(1, len(kids)/walkChunk), 2*s.split)
	for len(s.chunkHits) < chunks {
		s.chunkHits = append(s.chunkHits, nil)
		s.chunkFront = append(s.chunkFront, nil)
	}
	_, err := s.pool.RunContext(ctx, chunks, labelled(phaseQuery, func(w, c int) {
		qw := s.worker(w)
		ch, cf := grow(s.chunkHits[c], nq), grow(s.chunkFront[c], nq)
		s.chunkHits[c], s.chunkFront[c] = ch, cf
		for i := range nq {
			ch[i], cf[i] = ch[i][:0], cf[i][:0]
		}
		for r0 := 0; r0 < nq; r0 += walkRows {
			r1 := min(nq, r0+walkRows)
			hit := func(i int, h rangeHit) {
				if h.d < mind[h.id] {
					ch[r0+i] = append(ch[r0+i], h)
				}
			}
			nodes := s.firstLevel(qw, qids[r0:r1], radii[r0:r1], kids, c, chunks, hit)
			t.rangeStep(qw, t.m.Data(), qids[r0:r1], radii[r0:r1], s.bound, nodes, hit, cf[r0:r1])
		}
	}))
	if err != nil {
		return err
	}
	_, err = s.pool.RunContext(ctx, nq, labelled(phaseQuery, func(w, i int) {
		qw := s.worker(w)
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
	return err
}

// firstLevel tiles the root's row for a block of queries (passing the
// root to hit, in chunk 0 only, where it is within a query's radius) and
// returns the root's children kids[c], kids[c+chunks], ... that some
// query of the block needs, by the rule of enter: a subset of the
// children rangeStep's step from the root would enter for the block,
// dealt among the chunks.
func (s *maxMinSteps) firstLevel(qw *queryWorker, qids []int32, radii []float64, kids []kid, c, chunks int, hit func(i int, h rangeHit)) []int32 {
	t, root, data := s.t, s.t.root, s.t.m.Data()
	nq := len(qids)
	qw.tile = grow(qw.tile, nq)
	t.m.Tile(qw.w, qw.tile, 1, data, metric.List(qids), data, metric.List([]int32{root}))
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
