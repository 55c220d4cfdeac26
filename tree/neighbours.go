package tree

import (
	"math"

	"github.com/pcct/pcct/kernels"
)

// Neighbours is a k-NN answer: row i lists query i's K neighbours by
// increasing distance, ties by lower index, padded with index -1 and
// distance +Inf where fewer than K exist. It is read-only: Row, Indices
// and Distances return views of its storage (for zero-copy export), which
// callers must not modify.
type Neighbours struct {
	k    int
	idx  []int32
	dist []float64
}

// newNeighbours takes over a finished KBest's storage.
func newNeighbours(b *kernels.KBest) *Neighbours {
	return &Neighbours{k: b.K, idx: b.Idx, dist: b.Dist}
}

// NewNeighbours makes an answer of n rows of k from row-major indices and
// distances (taken over, not copied), for answers computed elsewhere, such
// as a baseline's. It panics when the lengths are not n x k.
func NewNeighbours(n, k int, idx []int32, dist []float64) *Neighbours {
	if k < 1 || len(idx) != n*k || len(dist) != n*k {
		panic("tree.NewNeighbours: lengths are not n x k")
	}
	return &Neighbours{k: k, idx: idx, dist: dist}
}

// wrap turns a search's KBest into its answer, or passes its error on.
func wrap(b *kernels.KBest, err error) (*Neighbours, error) {
	if err != nil {
		return nil, err
	}
	return newNeighbours(b), nil
}

// K returns the number of neighbours per row.
func (nb *Neighbours) K() int { return nb.k }

// N returns the number of rows (queries).
func (nb *Neighbours) N() int { return len(nb.idx) / nb.k }

// Row returns query i's neighbour indices and distances.
func (nb *Neighbours) Row(i int) ([]int32, []float64) {
	return nb.idx[i*nb.k : (i+1)*nb.k], nb.dist[i*nb.k : (i+1)*nb.k]
}

// Indices returns all rows' indices, N x K row-major.
func (nb *Neighbours) Indices() []int32 { return nb.idx }

// Distances returns all rows' distances, N x K row-major.
func (nb *Neighbours) Distances() []float64 { return nb.dist }

// Equal reports whether a and b hold the same indices and the same distance
// bits.
func (nb *Neighbours) Equal(o *Neighbours) bool {
	if nb.k != o.k || len(nb.idx) != len(o.idx) {
		return false
	}
	for p := range nb.idx {
		if nb.idx[p] != o.idx[p] || math.Float64bits(nb.dist[p]) != math.Float64bits(o.dist[p]) {
			return false
		}
	}
	return true
}

// Unorder turns an answer over points stored in another order (the
// order's point i is the original point order[i]; see KNNOptions.Rank)
// into the answer over the original points, in place: row i moves to row
// order[i] and every index j becomes order[j] (padding stays -1). With a
// query set (rows not the stored points), pass rows false: only the
// indices are renumbered. order must be a permutation of the stored
// points, as KNNOptions.Rank is.
func (nb *Neighbours) Unorder(order []int32, rows bool) {
	for p, j := range nb.idx {
		if j >= 0 {
			nb.idx[p] = order[j]
		}
	}
	if !rows {
		return
	}
	// Follow each cycle of the permutation once, carrying one row.
	k := nb.k
	done := make([]bool, len(order))
	held, heldD := make([]int32, k), make([]float64, k)
	for start := range order {
		if done[start] {
			continue
		}
		i0, d0 := nb.Row(start)
		copy(held, i0)
		copy(heldD, d0)
		for i := start; ; {
			done[i] = true
			next := int(order[i])
			ni, nd := nb.Row(next)
			if next == start {
				copy(ni, held)
				copy(nd, heldD)
				break
			}
			// The held row (row i's) goes to row next, whose own is held now.
			for c := range k {
				ni[c], held[c] = held[c], ni[c]
				nd[c], heldD[c] = heldD[c], nd[c]
			}
			i = next
		}
	}
}
