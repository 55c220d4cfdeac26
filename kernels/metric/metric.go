package metric

import (
	"context"
	"math"
	"slices"
)

// Metric is a distance over a fixed set of data points, evaluated in tiles.
// Implementations are safe for concurrent use as long as every goroutine
// has its own Workspace.
type Metric interface {
	// Name is "residual" or "euclidean".
	Name() string
	// Data returns the data points.
	Data() *Set
	// Embed prepares n new points (n x d row-major, unscaled) as a query set.
	Embed(ctx context.Context, x []float64, n int) (*Set, error)
	// Tile writes the distances between the points of q (in qs) and of c
	// (in cs) to dst[i*ldd+j]. A point against itself (same Set, same id) is
	// at distance exactly 0.
	Tile(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block)
	// Within appends to out, for each query q.At(i), the candidates c.At(j)
	// whose distance is at most radius[i] (NaN never passes), in ascending
	// column order, through the kernels' fused radius test. Distances are
	// bit-identical to Tile's, the query's own point included.
	Within(w *Workspace, qs *Set, q Block, cs *Set, c Block, radius []float64, out *Hits)
	// Nearest offers every candidate c.At(j) to row o.Rows[i] of o.Best for
	// query q.At(i), as Tile's distances would be offered one by one, but
	// through the fused radius test set at the row's current k-th distance,
	// so only possible entrants reach Go.
	Nearest(w *Workspace, qs *Set, q Block, cs *Set, c Block, o Offer)
	// TileNearest is Tile and Nearest in one pass: it writes every distance
	// to dst (as Tile does, bit for bit) and offers the candidates as
	// Nearest does, for a caller that needs both (a tree deciding which
	// subtrees to enter).
	TileNearest(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block, o Offer)
	// TriangleSlack bounds how far computed distances between points of the
	// data and of query sets like it may break the triangle inequality:
	// d(a, c) >= d(a, b) - d(b, c) - TriangleSlack() for computed values.
	// Exact pruning adds it to every bound.
	TriangleSlack() float64
	// Dist returns the distance between data points i and j, computed by
	// the same tile code (so it equals the tile's entry bit for bit).
	Dist(i, j int) float64
}

// Workspace holds one goroutine's scratch buffers for Tile.
type Workspace struct {
	g, k      []float64
	g32       []float32
	vq        []float64 // query rows picked by id (candidates are read in place)
	vq32      []float32
	xq, xct   []float64
	isp       []float64
	iscp      []float64
	self      []int64 // forSelf's sorted query ids
	row       []float64
	hits      []int32
	swq       []float64 // screening weights of the queries, candidates
	swc       []float64
	selfPairs [][2]int32 // ScreenRows: (row, column) of the queries' own points
	heavyCols []int32    // ScreenRows: the block's heavy candidates
	// The fused float32 row's: a list block's candidates, the query's
	// coordinates, one row.
	fc               Fused32
	x32, out32, tc32 []float32
	wq32, r132       []float32
	kth2             []float64 // ScreenBoth's row thresholds
}

// NewWorkspace returns an empty workspace; buffers grow on demand.
func NewWorkspace() *Workspace { return &Workspace{} }

// checkPoints validates an n x d coordinate matrix.
func checkPoints(x []float64, n, d int) error {
	switch {
	case n <= 0:
		return badInput("no points (n = 0)")
	case d <= 0:
		return badInput("points have dimension %d, need at least 1", d)
	case len(x) != n*d:
		return badInput("coordinate array has %d values, want n x d = %d x %d = %d", len(x), n, d, n*d)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return badInput("point %d, coordinate %d is %v: coordinates must be finite", i/d, i%d, v)
		}
	}
	return nil
}

// zeroSelf sets the distance of every point against itself to exactly 0.
func zeroSelf(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block) {
	forSelf(w, qs, q, cs, c, func(i, j int) { dst[i*ldd+j] = 0 })
}

// forSelf calls f(i, j) for every query row i and candidate column j that
// are the same point (same root Set, same root id): O(nq) when the
// candidates are a range of the root set's points; otherwise the queries'
// root ids are sorted once and each candidate is looked up, O((nq + nc) log
// nq).
func forSelf(w *Workspace, qs *Set, q Block, cs *Set, c Block, f func(i, j int)) {
	if qs.root() != cs.root() {
		return
	}
	nq, nc := q.Len(), c.Len()
	if cs.RootIDs == nil && c.IDs == nil {
		// Candidates are the root's points [c.Lo, c.Hi).
		for i := 0; i < nq; i++ {
			if id := qs.rootID(q.At(i)); id >= c.Lo && id < c.Hi {
				f(i, id-c.Lo)
			}
		}
		return
	}
	// keys: root id << 32 | query row, ascending.
	keys := w.self[:0]
	for i := 0; i < nq; i++ {
		keys = append(keys, int64(qs.rootID(q.At(i)))<<32|int64(i))
	}
	slices.Sort(keys)
	w.self = keys
	lo, hi := keys[0]>>32, keys[len(keys)-1]>>32
	for j := 0; j < nc; j++ {
		id := int64(cs.rootID(c.At(j)))
		if id < lo || id > hi {
			continue
		}
		k, _ := slices.BinarySearch(keys, id<<32)
		for ; k < len(keys) && keys[k]>>32 == id; k++ {
			f(int(keys[k]&(1<<32-1)), j)
		}
	}
}
