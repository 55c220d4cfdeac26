package tree

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// TestRankedSearch: the points stored in another order (a random one, and
// runs of equal points, whose ties the stored order would break
// otherwise), searched with that order as Rank and turned back with
// Unorder, give the original order's answers bit for bit: all points and
// query sets, auto, tree, brute force and the k-d tree, both metrics.
func TestRankedSearch(t *testing.T) {
	const n, d = 900, 2
	x := testData(n, d, 11)
	for i := 5; i < n; i += 9 { // many copies of one point: ties at the k-th distance
		copy(x[i*d:(i+1)*d], x[:d])
	}
	r := rand.New(rand.NewPCG(12, 13))
	order := make([]int32, n)
	for i, p := range r.Perm(n) {
		order[i] = int32(p)
	}
	cfg := metric.ResidualConfig{Inducing: 40, Lengthscale: []float64{0.2}, Seed: 1}
	res, err := metric.NewResidual(context.Background(), x, n, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Order = order
	resStored, err := metric.NewResidual(context.Background(), x, n, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	euc, _ := metric.NewEuclidean(x, n, d)
	eucStored, err := metric.Reorder(context.Background(), euc, order, nil)
	if err != nil {
		t.Fatal(err)
	}
	qx := uniformPoints(60, d, 14)
	copy(qx[:d], x[:d]) // a query on the repeated point
	for _, c := range []struct{ m, stored metric.Metric }{{res, resStored}, {euc, eucStored}} {
		qs, _ := c.m.Embed(context.Background(), qx, 60)
		for _, k := range []int{3, 20} {
			want, err := BruteAllKNN(context.Background(), c.m, KNNOptions{K: k})
			if err != nil {
				t.Fatal(err)
			}
			wantQ, _ := BruteKNN(context.Background(), c.m, qs, KNNOptions{K: k})
			for _, s := range []Search{SearchAuto, SearchTree, SearchBrute, SearchKD} {
				if s == SearchKD && c.m.Name() != "euclidean" {
					continue
				}
				opt := KNNOptions{K: k, Rank: order, Workers: 2}
				got, _, err := AllKNNSearch(context.Background(), c.stored, opt, s, Options{})
				if err != nil {
					t.Fatal(err)
				}
				got.Unorder(order, true)
				if !got.Equal(want) {
					t.Fatalf("%s %v k=%d, all points: %s", c.m.Name(), s, k, firstDiff(got, want))
				}
				gotQ, _, err := KNNSearch(context.Background(), c.stored, qs, opt, s, Options{})
				if err != nil {
					t.Fatal(err)
				}
				gotQ.Unorder(order, false)
				if !gotQ.Equal(wantQ) {
					t.Fatalf("%s %v k=%d, query set: %s", c.m.Name(), s, k, firstDiff(gotQ, wantQ))
				}
			}
		}
	}
	for _, bad := range []KNNOptions{
		{K: 3, Rank: order[:n-1]},
		{K: 3, Rank: append(append([]int32{}, order[:n-1]...), order[0])},
	} {
		if _, _, err := AllKNNSearch(context.Background(), resStored, bad, SearchTree, Options{}); !errors.Is(err, metric.ErrBadInput) {
			t.Errorf("Rank %d entries, predecessor %v: %v", len(bad.Rank), bad.Predecessor, err)
		}
	}
}

// TestUnorder: Unorder moves row i to row order[i] and renumbers the
// indices, padding kept, for every cycle structure of a permutation.
func TestUnorder(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{1, 2, 7, 100} {
		const k = 3
		order := make([]int32, n)
		for i, p := range r.Perm(n) {
			order[i] = int32(p)
		}
		idx, dist := make([]int32, n*k), make([]float64, n*k)
		for p := range idx {
			idx[p], dist[p] = int32(r.IntN(n+1)-1), float64(p)
		}
		nb := NewNeighbours(n, k, append([]int32{}, idx...), append([]float64{}, dist...))
		nb.Unorder(order, true)
		for i := range n {
			gi, gd := nb.Row(int(order[i]))
			for c := range k {
				wi := idx[i*k+c]
				if wi >= 0 {
					wi = order[wi]
				}
				if gi[c] != wi || gd[c] != dist[i*k+c] {
					t.Fatalf("n = %d: row %d slot %d = (%d, %v), want (%d, %v)", n, order[i], c, gi[c], gd[c], wi, dist[i*k+c])
				}
			}
		}
	}
}
