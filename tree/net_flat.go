package tree

import (
	"context"

	"github.com/pcct/pcct/kernels/metric"
)

// flatProbeTally counts a net step's first centres and the other points
// they cover, for the flat test (flatAt); off once a sample has found the
// step's points dense (see denseSample).
type flatProbeTally struct {
	accepted, covered int
	off               bool
}

// flatAt adds a batch's centres (their children, in order; nu points were
// uncovered before the batch) to the tally and returns the index of the
// centre at which the step's first flatProbe centres are found to cover
// fewer than flatCoverMin other points each with more than flatMin left,
// or -1.
func (p *flatProbeTally) flatAt(children []child, nu int) int {
	left := nu // the points that no centre up to the current one took
	for i, ch := range children {
		left -= 1 + len(ch.s)
		if p.off || p.accepted >= flatProbe {
			return -1
		}
		p.accepted, p.covered = p.accepted+1, p.covered+len(ch.s)
		if p.accepted == flatProbe && p.covered < flatCoverMin(left)*p.accepted && left > flatMin {
			return i
		}
	}
	return -1
}

// denseSample reports whether flatProbe points spread evenly over u (in
// its order) have flatCoverMin other points of u within rr each on average:
// the test that the step's first centres failed, on points that are not
// the first. The tile runs in chunks of netChunk candidates (on the pool
// when parallel).
func (b *builder) denseSample(ctx context.Context, w int, u []int32, rr float64, parallel bool) (bool, error) {
	data := b.t.m.Data()
	sample := make([]int32, flatProbe)
	rad := make([]float64, flatProbe)
	for j := range sample {
		sample[j], rad[j] = u[j*len(u)/flatProbe], rr
	}
	chunks := (len(u) + netChunk - 1) / netChunk
	hits := make([]int, chunks)
	tile := func(tw, k int) {
		var h metric.Hits
		b.t.m.Within(b.ws[tw].w, data, metric.List(sample), data, metric.List(u[k*netChunk:min(len(u), (k+1)*netChunk)]), rad, &h)
		hits[k] = h.Len()
	}
	if err := b.runChunks(ctx, w, chunks, parallel, tile); err != nil {
		return false, err
	}
	b.dists.Add(int64(flatProbe * len(u)))
	covered := -flatProbe // each sampled point finds itself
	for _, c := range hits {
		covered += c
	}
	return covered >= flatCoverMin(len(u))*flatProbe, nil
}

// hangFlat makes the points of u (at distances ud from c) that no centre
// took leaves of c.
func (b *builder) hangFlat(w int, c int32, u []int32, ud []float64) {
	owner := b.ws[w].owner
	for j, p := range u {
		if owner[p] < 0 {
			b.attach(c, p, ud[j], flatScale)
		}
	}
}
