package tree

import (
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/streamer"
)

// The leaves' scans: each leaf's points in one contiguous block, scanned
// with the fused row that keeps only the hits' square roots.

// leafLayout lays out each leaf's points for its scans (t.lxt): the
// leaf of positions [lo, hi) of the leaf order at lxt[lo*d:hi*d],
// coordinate k of its point at position lo+j (index t.ids[lo+j]) at
// lxt[lo*d + k*(hi-lo) + j], so that a scan reads one contiguous block.
func (t *KDTree) leafLayout(pool *streamer.Pool, use *usage) {
	s, d := t.m.Data(), t.d
	t.lxt = make([]float64, s.N*d)
	forChunks(pool, use, len(t.nodes), func(a, b int) {
		for z := a; z < b; z++ {
			nd := &t.nodes[z]
			if nd.left >= 0 {
				continue
			}
			lo, nc := int(nd.lo), int(nd.hi-nd.lo)
			blk := t.lxt[lo*d : (lo+nc)*d]
			for j, id := range t.ids[lo : lo+nc] {
				for k, v := range s.X[int(id)*d : int(id+1)*d] {
					blk[k*nc+j] = v
				}
			}
		}
	})
}

// scanLeaf computes the distances from the point x to the points of leaf
// z within rad (kernels.EuclidRowHits on the leaf's block: the bits of
// every other distance path of the metric), returning the row (valid
// only at the hits) and the hits' columns.
func (t *KDTree) scanLeaf(kw *kdWorker, x []float64, z int32, rad float64) ([]float64, []int32) {
	nd := &t.nodes[z]
	lo, nc := int(nd.lo), int(nd.hi-nd.lo)
	kw.dist, kw.hits = grow(kw.dist, nc), grow(kw.hits, nc)
	n := kernels.EuclidRowHits(kw.dist, x, t.lxt[lo*t.d:(lo+nc)*t.d], nc, nc, rad, kw.hits)
	kw.dists += int64(nc)
	return kw.dist, kw.hits[:n]
}
