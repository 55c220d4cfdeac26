package scope

import (
	"math"

	"github.com/pcct/pcct/kernels/metric"
)

// tile writes the distances between the queries qb of qs (query i of the
// block has radius r.Radius[q0+i]) and the candidates cb into sw.tile
// (row i at i*nc) and returns it. With r.Screen the tile is screened
// first: a pair the screen proves beyond its query's radius is written as
// +Inf (it can be no member), every other pair as its float64 distance,
// computed row by row for the candidates that stayed; so the members are
// exactly the unscreened ones. A heavy query (screening weight above
// Heavy(): its bound is too wide to decide) is computed whole.
func (c *Collector) tile(r *Request, sw *scopeWorker, qs *metric.Set, qb metric.Block, q0 int, cb metric.Block) []float64 {
	nq, nc := qb.Len(), cb.Len()
	sw.tile = grow(sw.tile, nq*nc)
	if r.Screen == nil {
		r.Metric.Tile(sw.mw, sw.tile, nc, qs, qb, r.Candidates, cb)
		return sw.tile
	}
	sw.kth2 = grow(sw.kth2, nq)
	heavy := r.Screen.Heavy()
	for i := range nq {
		rad := r.Radius[q0+i]
		sw.kth2[i] = rad * rad
		if rad < 0 {
			sw.kth2[i] = -1 // nothing lies within a negative radius
		}
		if !math.IsInf(heavy, 1) && qs.SW[qb.At(i)] > heavy {
			sw.kth2[i] = math.Inf(1) // every pair stays: the row is computed whole
		}
	}
	sw.hits.Reset()
	r.Screen.ScreenRows(sw.mw, qs, qb, r.Candidates, cb, sw.kth2, nil, &sw.hits)
	for x := range sw.tile[:nq*nc] {
		sw.tile[x] = math.Inf(1)
	}
	h := &sw.hits
	sw.counters.Gate1Candidates += int64(nq * nc)
	sw.counters.Gate1Pruned += int64(nq*nc - h.Len())
	for a := 0; a < h.Len(); {
		i := h.Query[a]
		b := a + 1
		for b < h.Len() && h.Query[b] == i {
			b++
		}
		ids, cols := h.Cand[a:b], h.Col[a:b]
		sw.row = grow(sw.row, b-a)
		r.Metric.Tile(sw.mw, sw.row, b-a, qs, row(qb, int(i)), r.Candidates, metric.List(ids))
		for k, col := range cols {
			sw.tile[int(i)*nc+int(col)] = sw.row[k]
		}
		a = b
	}
	return sw.tile
}

// row returns the block of query i of b alone.
func row(b metric.Block, i int) metric.Block {
	if b.IDs != nil {
		return metric.List(b.IDs[i : i+1])
	}
	return metric.Range(b.Lo+i, b.Lo+i+1)
}
