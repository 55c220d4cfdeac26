package metric

import (
	"math"

	"github.com/pcct/pcct/kernels"
)

// Hits is what Within finds: Query[h] is the row in the query block,
// Cand[h] the candidate's id in its Set and Dist[h] the distance.
type Hits struct {
	Query []int32
	Cand  []int32
	Dist  []float64
}

// Reset empties h, keeping its storage.
func (h *Hits) Reset() { h.Query, h.Cand, h.Dist = h.Query[:0], h.Cand[:0], h.Dist[:0] }

// add appends one hit.
func (h *Hits) add(i int, id int32, d float64) {
	h.Query, h.Cand, h.Dist = append(h.Query, int32(i)), append(h.Cand, id), append(h.Dist, d)
}

// Len returns the number of hits.
func (h *Hits) Len() int { return len(h.Cand) }

// Offer says where Nearest puts what it finds: query i of the block goes
// to row Rows[i] of Best. When Below is not nil, query i takes only
// candidate ids below Below[i] (predecessor mode); when Skip is not nil,
// never the id Skip[i] (the query's own point); when Exclude is not nil,
// no id for which it is true (candidates offered before). The rules are
// applied to the few candidates the fused radius test lets through.
type Offer struct {
	Best    *kernels.KBest
	Rows    []int32
	Below   []int32
	Skip    []int32
	Exclude func(id int32) bool
}

func (o *Offer) take(i int, id int32, d float64) {
	if o.Refuses(i, id) {
		return
	}
	o.Best.Push(int(o.Rows[i]), id, d)
}

// Refuses reports whether query i never takes candidate id (Below, Skip,
// Exclude), whatever its distance.
func (o *Offer) Refuses(i int, id int32) bool {
	return (o.Below != nil && id >= o.Below[i]) || (o.Skip != nil && id == o.Skip[i]) || (o.Exclude != nil && o.Exclude(id))
}

// Row returns the offer of query i alone, for a one-row tile of it.
func (o *Offer) Row(i int) Offer {
	r := Offer{Best: o.Best, Rows: o.Rows[i : i+1], Exclude: o.Exclude}
	if o.Below != nil {
		r.Below = o.Below[i : i+1]
	}
	if o.Skip != nil {
		r.Skip = o.Skip[i : i+1]
	}
	return r
}

// worst is the radius of Nearest's fused test for query i.
func (o *Offer) worst(i int) float64 { return o.Best.Worst(int(o.Rows[i])) }

// rowScratch sizes the workspace's row buffers for nc columns.
func (w *Workspace) rowScratch(nc int) ([]float64, []int32) {
	w.row = grow(w.row, nc)
	w.hits = grow(w.hits, nc)
	return w.row, w.hits
}

// fuseSelf makes the residual kernel give exactly 0 for a query against its
// own point: k = +Inf, g = 0 give an infinite rho, so d = 0 (see
// kernels.ResidualRow), as Tile's self rule does.
func (r *Residual) fuseSelf(w *Workspace, qs *Set, q Block, cs *Set, c Block) {
	nc := c.Len()
	forSelf(w, qs, q, cs, c, func(i, j int) {
		w.k[i*nc+j], w.g[i*nc+j] = math.Inf(1), 0
	})
}

// Within implements Metric.Within with kernels.ResidualRow's fused radius
// test and compaction.
func (r *Residual) Within(w *Workspace, qs *Set, q Block, cs *Set, c Block, radius []float64, out *Hits) {
	r.rows(w, nil, 0, qs, q, cs, c, func(i int) float64 { return radius[i] }, out.add)
}

// Nearest implements Metric.Nearest with kernels.ResidualRow's fused radius
// test at each row's current k-th distance.
func (r *Residual) Nearest(w *Workspace, qs *Set, q Block, cs *Set, c Block, o Offer) {
	r.rows(w, nil, 0, qs, q, cs, c, o.worst, o.take)
}

// TileNearest implements Metric.TileNearest: the rows of Nearest, written
// whole to dst.
func (r *Residual) TileNearest(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block, o Offer) {
	r.rows(w, dst, ldd, qs, q, cs, c, o.worst, o.take)
}

// rows runs kernels.ResidualRow for each query of the block at radius(i),
// reading radius(i) just before the row, writing the row to dst (row i at
// i*ldd) when dst is not nil, and passes the hits to emit.
func (r *Residual) rows(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block, radius func(i int) float64, emit func(i int, id int32, d float64)) {
	sq, sc := r.parts(w, qs, q, cs, c)
	if sq == nil {
		return
	}
	r.fuseSelf(w, qs, q, cs, c)
	nc := c.Len()
	w.fusedRows(dst, ldd, q.Len(), c, radius, emit, func(i int, row []float64, rad float64, idx []int32) int {
		return kernels.ResidualRow(row, w.k[i*nc:(i+1)*nc], w.g[i*nc:(i+1)*nc], sc, sq[i], rad, idx)
	})
}

// fusedRows runs one fused row kernel per query i of a block (row computes
// the distances into its row and returns the count of columns within rad,
// listed in idx), at radius(i) read just before the row, into dst (row i
// at i*ldd) or scratch, and passes the hits to emit, re-reading radius(i)
// after each: radius must never grow while emit runs (a fixed radius, or a
// k-th distance), and emit must refuse what lies beyond it.
func (w *Workspace) fusedRows(dst []float64, ldd, nq int, c Block, radius func(i int) float64, emit func(i int, id int32, d float64),
	row func(i int, row []float64, rad float64, idx []int32) int) {
	nc := c.Len()
	out, idx := w.rowScratch(nc)
	for i := range nq {
		if dst != nil {
			out = dst[i*ldd : i*ldd+nc]
		}
		rad := radius(i)
		n := row(i, out, rad, idx)
		for _, j := range idx[:n] {
			// radius(i) only shrinks as the hits go in (a query's k-th
			// distance): a hit beyond it now is one emit would refuse.
			if out[j] > rad {
				continue
			}
			emit(i, int32(c.At(int(j))), out[j])
			rad = radius(i)
		}
	}
}

// Within implements Metric.Within with kernels.EuclidRow's fused radius
// test. (Identical coordinates are at distance exactly 0 in every
// implementation, so no self rule is needed.)
func (e *Euclidean) Within(w *Workspace, qs *Set, q Block, cs *Set, c Block, radius []float64, out *Hits) {
	e.rows(w, nil, 0, qs, q, cs, c, func(i int) float64 { return radius[i] }, out.add)
}

// Nearest implements Metric.Nearest with kernels.EuclidRow's fused radius
// test at each row's current k-th distance.
func (e *Euclidean) Nearest(w *Workspace, qs *Set, q Block, cs *Set, c Block, o Offer) {
	e.rows(w, nil, 0, qs, q, cs, c, o.worst, o.take)
}

// TileNearest implements Metric.TileNearest: the rows of Nearest, written
// whole to dst.
func (e *Euclidean) TileNearest(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block, o Offer) {
	e.rows(w, dst, ldd, qs, q, cs, c, o.worst, o.take)
}

// rows runs kernels.EuclidRow for each query of the block at radius(i) and
// passes the hits to emit.
func (e *Euclidean) rows(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block, radius func(i int) float64, emit func(i int, id int32, d float64)) {
	xq, xct, ldc := e.coords(w, qs, q, cs, c)
	if xq == nil {
		return
	}
	nc, d := c.Len(), qs.D
	w.fusedRows(dst, ldd, q.Len(), c, radius, emit, func(i int, row []float64, rad float64, idx []int32) int {
		return kernels.EuclidRow(row, xq[i*d:(i+1)*d], xct, ldc, nc, rad, idx)
	})
}
