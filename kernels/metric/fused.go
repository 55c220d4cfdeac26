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
// candidates whose key (Best.Key: the id, or its Rank) is below Below[i]
// (predecessor mode, Below[i] the query's own key); when Skip is not nil,
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

// Refuses reports whether query i never takes candidate id (Below, Skip,
// Exclude), whatever its distance.
func (o *Offer) Refuses(i int, id int32) bool {
	return (o.Below != nil && o.Best.Key(id) >= o.Below[i]) || (o.Skip != nil && id == o.Skip[i]) || (o.Exclude != nil && o.Exclude(id))
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

// radius is the radius of Nearest's fused test for query i: its row's
// current k-th distance.
func (o *Offer) radius(i int) float64 { return o.Best.Worst(int(o.Rows[i])) }

// take offers query i the hits of its row (the columns hits of out, the
// candidates c) within its k-th distance, rad at first: the distance only
// shrinks as they go in, so a hit beyond it now is one Push would refuse.
func (o *Offer) take(i int, out []float64, hits []int32, c Block, rad float64) {
	row := int(o.Rows[i])
	for _, j := range hits {
		d := out[j]
		if d > rad {
			continue
		}
		if id := int32(c.At(int(j))); !o.Refuses(i, id) {
			o.Best.Push(row, id, d)
			rad = o.Best.Worst(row)
		}
	}
}

// sink is where a fused row's hits go: radius(i) is the radius of query
// i's fused test, read just before its row, and take receives the row's
// hits, which may lie beyond a radius that shrank while they went in.
type sink interface {
	radius(i int) float64
	take(i int, out []float64, hits []int32, c Block, rad float64)
}

// within is the sink of Within: a fixed radius per query, hits to out.
type within struct {
	r   []float64
	out *Hits
}

func (s within) radius(i int) float64 { return s.r[i] }

func (s within) take(i int, out []float64, hits []int32, c Block, _ float64) {
	for _, j := range hits {
		s.out.add(i, int32(c.At(int(j))), out[j])
	}
}

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
	r.rows(w, nil, 0, qs, q, cs, c, within{radius, out})
}

// Nearest implements Metric.Nearest with kernels.ResidualRow's fused radius
// test at each row's current k-th distance.
func (r *Residual) Nearest(w *Workspace, qs *Set, q Block, cs *Set, c Block, o Offer) {
	r.rows(w, nil, 0, qs, q, cs, c, &o)
}

// TileNearest implements Metric.TileNearest: the rows of Nearest, written
// whole to dst.
func (r *Residual) TileNearest(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block, o Offer) {
	r.rows(w, dst, ldd, qs, q, cs, c, &o)
}

// rows runs kernels.ResidualRow for each query of the block at s's radius,
// writing the row to dst (row i at i*ldd) when dst is not nil, and passes
// the hits to s.
func (r *Residual) rows(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block, s sink) {
	sq, sc := r.parts(w, qs, q, cs, c)
	if sq == nil {
		return
	}
	r.fuseSelf(w, qs, q, cs, c)
	nc := c.Len()
	w.fusedRows(dst, ldd, q.Len(), c, s, func(i int, row []float64, rad float64, idx []int32) int {
		return kernels.ResidualRow(row, w.k[i*nc:(i+1)*nc], w.g[i*nc:(i+1)*nc], sc, sq[i], rad, idx)
	})
}

// fusedRows runs one fused row kernel per query i of a block (row computes
// the distances into its row and returns the count of columns within rad,
// listed in idx), at s.radius(i) read just before the row, into dst (row i
// at i*ldd) or scratch, and passes the hits to s.take.
func (w *Workspace) fusedRows(dst []float64, ldd, nq int, c Block, s sink, row func(i int, row []float64, rad float64, idx []int32) int) {
	nc := c.Len()
	out, idx := w.rowScratch(nc)
	for i := range nq {
		if dst != nil {
			out = dst[i*ldd : i*ldd+nc]
		}
		rad := s.radius(i)
		n := row(i, out, rad, idx)
		s.take(i, out, idx[:n], c, rad)
	}
}

// Within implements Metric.Within with kernels.EuclidRow's fused radius
// test. (Identical coordinates are at distance exactly 0 in every
// implementation, so no self rule is needed.)
func (e *Euclidean) Within(w *Workspace, qs *Set, q Block, cs *Set, c Block, radius []float64, out *Hits) {
	e.rows(w, nil, 0, qs, q, cs, c, within{radius, out})
}

// Nearest implements Metric.Nearest with kernels.EuclidRow's fused radius
// test at each row's current k-th distance.
func (e *Euclidean) Nearest(w *Workspace, qs *Set, q Block, cs *Set, c Block, o Offer) {
	e.rows(w, nil, 0, qs, q, cs, c, &o)
}

// TileNearest implements Metric.TileNearest: the rows of Nearest, written
// whole to dst.
func (e *Euclidean) TileNearest(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block, o Offer) {
	e.rows(w, dst, ldd, qs, q, cs, c, &o)
}

// rows runs kernels.EuclidRow for each query of the block at s's radius and
// passes the hits to s.
func (e *Euclidean) rows(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block, s sink) {
	xq, xct, ldc := e.coords(w, qs, q, cs, c)
	if xq == nil {
		return
	}
	nc, d := c.Len(), qs.D
	w.fusedRows(dst, ldd, q.Len(), c, s, func(i int, row []float64, rad float64, idx []int32) int {
		return kernels.EuclidRow(row, xq[i*d:(i+1)*d], xct, ldc, nc, rad, idx)
	})
}
