package metric

import (
	"errors"
	"fmt"
	"math"
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
	Embed(x []float64, n int) (*Set, error)
	// Tile writes the distances between the points of q (in qs) and of c
	// (in cs) to dst[i*ldd+j]. A point against itself (same Set, same id) is
	// at distance exactly 0.
	Tile(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block)
	// Dist returns the distance between data points i and j, computed by
	// the same tile code (so it equals the tile's entry bit for bit).
	Dist(i, j int) float64
}

// Workspace holds one goroutine's scratch buffers for Tile.
type Workspace struct {
	g, k    []float64
	g32     []float32
	vq      []float64 // query rows picked by id (candidates are read in place)
	vq32    []float32
	xq, xct []float64
	isp     []float64
	iscp    []float64
}

// NewWorkspace returns an empty workspace; buffers grow on demand.
func NewWorkspace() *Workspace { return &Workspace{} }

// checkPoints validates an n x d coordinate matrix.
func checkPoints(x []float64, n, d int) error {
	switch {
	case n <= 0:
		return errors.New("no points (n = 0)")
	case d <= 0:
		return fmt.Errorf("points have dimension %d, need at least 1", d)
	case len(x) != n*d:
		return fmt.Errorf("coordinate array has %d values, want n x d = %d x %d = %d", len(x), n, d, n*d)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("point %d, coordinate %d is %v: coordinates must be finite", i/d, i%d, v)
		}
	}
	return nil
}

// zeroSelf sets the distance of every point against itself to exactly 0
// (same root Set, same root id): O(nq) for two unpacked sets and a range of
// candidates, else O(nq nc) integer compares.
func zeroSelf(dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block) {
	if qs.root() != cs.root() {
		return
	}
	nq, nc := q.Len(), c.Len()
	fast := qs.RootIDs == nil && cs.RootIDs == nil && c.IDs == nil
	for i := 0; i < nq; i++ {
		id := qs.rootID(q.At(i))
		if fast {
			if id >= c.Lo && id < c.Hi {
				dst[i*ldd+id-c.Lo] = 0
			}
			continue
		}
		for j := 0; j < nc; j++ {
			if cs.rootID(c.At(j)) == id {
				dst[i*ldd+j] = 0
			}
		}
	}
}
