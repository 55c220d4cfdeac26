package tree

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// TestSeedBelow: predecessor groups take their seed in blocks of queries by
// index (seedBelow), each block only the seed points below its largest
// index. On points with many exact duplicates (ties at distance 0, decided
// by the lower index) and k above and below the block size, both metrics
// give brute force's answer, and the seed computes fewer distances than the
// group's full tile would.
func TestSeedBelow(t *testing.T) {
	const n, d, sites = 1200, 2, 150
	r := rand.New(rand.NewPCG(5, 6))
	site := uniformPoints(sites, d, 7)
	x := make([]float64, 0, n*d)
	for range n {
		s := r.IntN(sites)
		x = append(x, site[s*d:(s+1)*d]...)
	}
	res, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 60, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	euc, err := metric.NewEuclidean(x, n, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []metric.Metric{res, euc} {
		tr := buildOrFail(t, m, Options{Workers: 2})
		for _, k := range []int{12, 40} {
			want, err := BruteAllKNN(context.Background(), m, KNNOptions{K: k, Predecessor: true})
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := tr.AllKNN(context.Background(), KNNOptions{K: k, Predecessor: true, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatalf("%s, k = %d: %s", m.Name(), k, firstDiff(got, want))
			}
		}
	}

	// One group's seed: the blocks' rows equal the group's full tile's,
	// and the blocks cover fewer pairs, every pair they skip having its
	// candidate at or above the query's index.
	tr := buildOrFail(t, res, Options{Workers: 1})
	ids := make([]int32, 128)
	for i := range ids {
		ids[i] = int32(n - 1 - 3*i)
	}
	seed := make([]int32, 0, 512)
	for id := range int32(512) {
		seed = append(seed, id*2)
	}
	g := group{qids: ids, rows: ids, keys: ids, self: true, pred: true, maxQ: ids[0]}
	qw := &queryWorker{w: metric.NewWorkspace()}
	best, full := kernels.NewKBest(n, 12), kernels.NewKBest(n, 12)
	tr.seedBelow(qw, metric.PackPlainInto(&metric.Set{}, res.Data(), metric.List(ids)), &g, seed, best)
	res.Nearest(metric.NewWorkspace(), res.Data(), metric.List(ids), res.Data(), metric.List(seed), g.offer(full))
	for _, q := range ids {
		gi, gd := best.Row(int(q))
		wi, wd := full.Row(int(q))
		if !slices.Equal(gi, wi) || !slices.Equal(gd, wd) {
			t.Fatalf("query %d: seed blocks gave %v %v, the full tile %v %v", q, gi, gd, wi, wd)
		}
	}
	eligible := 0
	for _, q := range ids {
		for _, s := range seed {
			if s < q {
				eligible++
			}
		}
	}
	if all := len(ids) * len(seed); qw.dists >= int64(all) || qw.dists < int64(eligible) {
		t.Fatalf("seed tiles covered %d pairs: want fewer than the group's %d and at least the %d eligible", qw.dists, all, eligible)
	}
}

// TestPositions: consecutive positions of a packed group are tiled as a
// range (read in place), any others as their list.
func TestPositions(t *testing.T) {
	for _, c := range []struct {
		pos   []int32
		lo    int
		isIDs bool
	}{
		{[]int32{5}, 5, false},
		{[]int32{0, 1, 2, 3}, 0, false},
		{[]int32{32, 33, 34}, 32, false},
		{[]int32{0, 2, 3}, 0, true},
		{[]int32{3, 2, 1}, 0, true},
		{[]int32{4, 4}, 0, true},
		{nil, 0, true},
	} {
		b := positions(c.pos)
		switch {
		case c.isIDs && !slices.Equal(b.IDs, c.pos):
			t.Fatalf("%v: block %+v, want the list", c.pos, b)
		case !c.isIDs && (b.IDs != nil || b.Lo != c.lo || b.Hi != c.lo+len(c.pos)):
			t.Fatalf("%v: block %+v, want [%d, %d)", c.pos, b, c.lo, c.lo+len(c.pos))
		}
		if b.Len() != len(c.pos) {
			t.Fatalf("%v: %d rows", c.pos, b.Len())
		}
		for i := range c.pos {
			if b.At(i) != int(c.pos[i]) {
				t.Fatalf("%v: row %d is %d", c.pos, i, b.At(i))
			}
		}
	}
}
