package scope

import (
	"context"

	"github.com/pcct/pcct/kernels/metric"
)

// denseOrder is the order of dense tasks, "chunk" or "query" (benchmarks
// compare them).
var denseOrder = "query"

// dense: every query scans the same list, in (query block x chunk) tiles.
// Candidates picked by id are read in place by the tiles (packing chunks
// of them once per collection measured 2.2x slower: 128 MiB of copies).
func (c *Collector) dense(ctx context.Context, r *Request) (*Result, error) {
	nq, list := r.nq(), *r.Dense
	n := list.Len()
	nchunks := (n + r.Chunk - 1) / r.Chunk
	var stats Stats
	nblocks := (nq + r.QueryBlock - 1) / r.QueryBlock
	// Query blocks picked by QueryIDs that meet more than one chunk are
	// packed once (Packed) instead of gathered by every tile; the tiles
	// then read contiguous query rows (PackedHits).
	var packedQ []*metric.Set
	if r.QueryIDs != nil && nchunks > 1 {
		packedQ = make([]*metric.Set, nblocks)
		st, err := c.run(ctx, r, nblocks, func(w, b int) {
			packedQ[b] = metric.Pack(r.Queries, r.queryBlock(b*r.QueryBlock, min(nq, (b+1)*r.QueryBlock)))
			c.ws[w].counters.Packed++
		})
		stats.Jobs = append(stats.Jobs, st)
		if err != nil {
			return nil, err
		}
	}
	results := make([][]hit, nblocks*nchunks)
	st, err := c.run(ctx, r, nblocks*nchunks, func(w, t int) {
		// Query-major order (default): one query block, kept in cache, meets
		// the chunks in turn. Chunk-major: the query blocks that read one
		// candidate chunk run back to back. On a 16-core Xeon the two were
		// within noise of each other (see BenchmarkScope).
		b, k := t/nchunks, t%nchunks
		if denseOrder == "chunk" {
			k, b = t/nblocks, t%nblocks
		}
		var pq *metric.Set
		if packedQ != nil {
			pq = packedQ[b]
		}
		results[t] = c.scanDense(r, c.ws[w], b, k, pq)
	})
	stats.Jobs = append(stats.Jobs, st)
	if err != nil {
		return nil, err
	}
	blockOf := func(t int) int { return t / nchunks }
	if denseOrder == "chunk" {
		blockOf = func(t int) int { return t % nblocks }
	}
	s, jobs, err := c.merge(ctx, r, nq, func(int) int { return n }, results, blockOf)
	if err != nil {
		return nil, err
	}
	s.Stats.Jobs = append(stats.Jobs, jobs...)
	return s, nil
}

// scanDense tiles query block b against candidate chunk k (only the
// columns some query's window reaches) and keeps the pairs within each
// query's radius and window. packed, if not nil, holds the block's query
// rows packed once for all its tiles.
func (c *Collector) scanDense(r *Request, sw *scopeWorker, b, k int, packed *metric.Set) []hit {
	nq, list := r.nq(), *r.Dense
	n := list.Len()
	q0, q1 := b*r.QueryBlock, min(nq, (b+1)*r.QueryBlock)
	c0, c1 := k*r.Chunk, min(n, (k+1)*r.Chunk)
	// Columns any query of the block scans.
	need0, need1 := c1, c0
	for i := q0; i < q1; i++ {
		lo, hi, _ := r.window(i, n)
		need0, need1 = min(need0, max(lo, c0)), max(need1, min(hi, c1))
	}
	if need0 >= need1 {
		return nil
	}
	nc := need1 - need0
	cb := metric.Range(list.Lo+need0, list.Lo+need1)
	if list.IDs != nil {
		cb = metric.List(list.IDs[need0:need1])
	}
	qs, qb := r.Queries, r.queryBlock(q0, q1)
	if packed != nil {
		qs, qb = packed, metric.Range(0, q1-q0)
		sw.counters.PackedHits++
	}
	c.tile(r, sw, qs, qb, q0, cb)
	var out []hit
	for i := q0; i < q1; i++ {
		lo, hi, _ := r.window(i, n)
		lo, hi = max(lo, need0), min(hi, need1)
		row := sw.tile[(i-q0)*nc : (i-q0+1)*nc]
		rad := r.Radius[i]
		for j := lo; j < hi; j++ {
			if d := row[j-need0]; d <= rad {
				out = append(out, hit{int32(i), int32(list.At(j)), d})
			}
		}
		if hi > lo {
			sw.counters.Scans += int64(hi - lo)
		}
	}
	return out
}
