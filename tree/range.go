package tree

import (
	"context"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
)

// Ranges is a range query's answer: query i's data points within the
// radius are IDs[Offsets[i]:Offsets[i+1]], ascending, at distances Dist
// (the query's own point included, at 0, when the queries are the data).
type Ranges struct {
	Offsets []int
	IDs     []int32
	Dist    []float64
}

// Range finds, for every point of qs (the data itself, or a set from
// m.Embed), the data points within distance r, through the tree; the
// answer equals a scan of every pair's distance, bit for bit.
func (t *Tree) Range(ctx context.Context, qs *metric.Set, r float64, opt KNNOptions) (*Ranges, QueryStats, error) {
	if !(r >= 0) {
		return nil, QueryStats{}, metric.BadInput("range radius must be a number >= 0, got %v", r)
	}
	if err := metric.Compatible(t.m.Data(), qs); err != nil {
		return nil, QueryStats{}, err
	}
	opt.defaults()
	groups := coherentGroups(qs, walkRows, false)
	perQuery := make([][]rangeHit, qs.N)
	st, err := t.onGroups(ctx, opt, len(groups), func(qw *queryWorker, g int) {
		t.walkRange(qw, qs, groups[g], r, perQuery)
	})
	if err != nil {
		return nil, st, err
	}
	out := &Ranges{Offsets: make([]int, qs.N+1)}
	for i, hs := range perQuery {
		slices.SortFunc(hs, func(a, b rangeHit) int { return int(a.id - b.id) })
		for _, h := range hs {
			out.IDs, out.Dist = append(out.IDs, h.id), append(out.Dist, h.d)
		}
		out.Offsets[i+1] = len(out.IDs)
	}
	return out, st, nil
}

type rangeHit struct {
	id int32
	d  float64
}

// walkRange walks the tree for a block of queries at radius r: every
// frontier node is tiled, kept when within r, and its children followed
// when d(q, z) - radius(z) - slack <= r for some query of the block.
func (t *Tree) walkRange(qw *queryWorker, qs *metric.Set, qids []int32, r float64, perQuery [][]rangeHit) {
	data := t.m.Data()
	nq := len(qids)
	qb := metric.List(qids)
	rad := make([]float64, nq)
	for i := range rad {
		rad[i] = r
	}
	var hits metric.Hits
	qw.front = append(qw.front[:0], t.root)
	for len(qw.front) > 0 {
		qw.leaves, qw.inner = qw.leaves[:0], qw.inner[:0]
		for _, z := range qw.front {
			if t.childOff[z+1] > t.childOff[z] {
				qw.inner = append(qw.inner, z)
			} else {
				qw.leaves = append(qw.leaves, z)
			}
		}
		for c0 := 0; c0 < len(qw.leaves); c0 += queryChunk {
			c := qw.leaves[c0:min(len(qw.leaves), c0+queryChunk)]
			hits.Reset()
			t.m.Within(qw.w, qs, qb, data, metric.List(c), rad, &hits)
			for h := range hits.Cand {
				q := qids[hits.Query[h]]
				perQuery[q] = append(perQuery[q], rangeHit{hits.Cand[h], hits.Dist[h]})
			}
			qw.dists += int64(nq * len(c))
		}
		qw.front = qw.front[:0]
		for c0 := 0; c0 < len(qw.inner); c0 += queryChunk {
			c := qw.inner[c0:min(len(qw.inner), c0+queryChunk)]
			nc := len(c)
			qw.tile = grow(qw.tile, nq*nc)
			t.m.Tile(qw.w, qw.tile, nc, qs, qb, data, metric.List(c))
			qw.dists += int64(nq * nc)
			for i := range nq {
				for j, z := range c {
					if d := qw.tile[i*nc+j]; d <= r {
						perQuery[qids[i]] = append(perQuery[qids[i]], rangeHit{z, d})
					}
				}
			}
			for j, z := range c {
				for i := range nq {
					if qw.tile[i*nc+j]-t.radius[z]-t.slack <= r {
						qw.front = append(qw.front, t.Children(int(z))...)
						break
					}
				}
			}
		}
	}
}
