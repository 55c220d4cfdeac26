package kernels

import (
	"fmt"
	"math"

	"github.com/pcct/pcct/internal/hugemem"
)

// KBest keeps, for each of q queries, the k nearest candidates seen so far,
// sorted by distance and, among equal distances, by lower index. Rows are
// padded with index -1 and distance +Inf until k candidates have been seen.
// NaN distances are never kept. Rows are independent: different goroutines
// may update different rows.
type KBest struct {
	K    int
	Idx  []int32   // q x K, row-major
	Dist []float64 // q x K, row-major
	// Rank, when not nil, orders the candidates for ties instead of their
	// indices: among equal distances the lower Rank[j] goes first (a set
	// stored in another order answers as its original order would).
	Rank []int32
}

// NewKBest returns an empty KBest for q queries.
func NewKBest(q, k int) *KBest {
	b := NewKBestUnset(q, k)
	b.Reset()
	return b
}

// NewKBestUnset returns a KBest for q queries whose rows the caller empties
// (ResetRow) before their first use: a job whose workers each own some rows
// then spreads the first writes to the memory (at 10^6 queries and k = 30,
// 360 MB and over a second of page faults on one thread) over its workers.
func NewKBestUnset(q, k int) *KBest {
	if q < 0 || k < 1 {
		panic(fmt.Sprintf("kernels: NewKBest(q=%d, k=%d): need q >= 0 and k >= 1", q, k))
	}
	return &KBest{K: k, Idx: hugemem.Make[int32](q * k), Dist: hugemem.Make[float64](q * k)}
}

// Reset empties every row.
func (b *KBest) Reset() {
	for i := range b.Idx {
		b.Idx[i] = -1
		b.Dist[i] = math.Inf(1)
	}
}

// ResetRow empties row i.
func (b *KBest) ResetRow(i int) {
	idx, dist := b.Row(i)
	for p := range idx {
		idx[p], dist[p] = -1, math.Inf(1)
	}
}

// Rows returns the number of queries.
func (b *KBest) Rows() int { return len(b.Idx) / b.K }

// Row returns query i's indices and distances (views, not copies).
func (b *KBest) Row(i int) ([]int32, []float64) {
	return b.Idx[i*b.K : (i+1)*b.K], b.Dist[i*b.K : (i+1)*b.K]
}

// Worst returns the distance a candidate must not exceed to enter row i
// (+Inf while the row has fewer than K entries).
func (b *KBest) Worst(i int) float64 { return b.Dist[(i+1)*b.K-1] }

// Before reports whether candidate a goes before candidate c at equal
// distances: the lower index, or the lower Rank when there is one. An
// empty slot (c < 0) comes after every candidate.
func (b *KBest) Before(a, c int32) bool {
	if c < 0 {
		return true
	}
	if b.Rank != nil {
		return b.Rank[a] < b.Rank[c]
	}
	return a < c
}

// Key returns candidate a's place in the order ties follow: Rank[a], or
// a without a Rank. Predecessor searches compare keys too (metric.Offer).
func (b *KBest) Key(a int32) int32 {
	if b.Rank != nil {
		return b.Rank[a]
	}
	return a
}

// Push offers candidate j at distance d to row i; it is kept if it beats the
// row's last entry by distance, or ties it and goes before it (Before).
func (b *KBest) Push(i int, j int32, d float64) {
	idx, dist := b.Row(i)
	last := b.K - 1
	if !(d < dist[last] || (d == dist[last] && b.Before(j, idx[last]))) {
		return
	}
	p := last
	for p > 0 && (d < dist[p-1] || (d == dist[p-1] && b.Before(j, idx[p-1]))) {
		idx[p], dist[p] = idx[p-1], dist[p-1]
		p--
	}
	idx[p], dist[p] = j, d
}

// ResidualRowKNN computes a row of residual distances as ResidualRow does
// (into dst, which is overwritten) and offers every candidate to row i of
// best, candidate j having index ids[j], or base+j when ids is nil. The
// radius test, set at the row's current worst distance, keeps all but the
// few possible entrants out of Go. scratch needs room for len(dst) entries.
func ResidualRowKNN(best *KBest, i int, dst, k, g, sc []float64, sq float64, ids []int32, base int32, scratch []int32) {
	hits := ResidualRow(dst, k, g, sc, sq, best.Worst(i), scratch)
	best.pushHits(i, dst, ids, base, scratch[:hits])
}

// EuclidRowKNN is ResidualRowKNN for EuclidRow: out receives the distances
// from a to the columns of bt.
func EuclidRowKNN(best *KBest, i int, out, a, bt []float64, ldbt int, ids []int32, base int32, scratch []int32) {
	c := len(out)
	hits := EuclidRow(out, a, bt, ldbt, c, best.Worst(i), scratch)
	best.pushHits(i, out, ids, base, scratch[:hits])
}

func (b *KBest) pushHits(i int, dist []float64, ids []int32, base int32, hits []int32) {
	for _, j := range hits {
		id := base + j
		if ids != nil {
			id = ids[j]
		}
		b.Push(i, id, dist[j])
	}
}
