package tree

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// TestRankedPredecessor: points stored in another order (a random one, the
// Morton curve's and BandOrder's), with runs of equal points whose ties the stored
// order would break otherwise, answer the predecessor job of their given
// order bit for bit when searched with that order as Rank: the tree (built
// by nets and by insertion with the same Rank, Check after each), brute
// force and auto, both metrics, 1 and 3 workers.
func TestRankedPredecessor(t *testing.T) {
	const n, d = 1100, 2
	x := testData(n, d, 21)
	for i := 7; i < n; i += 11 {
		copy(x[i*d:(i+1)*d], x[3*d:4*d])
	}
	random := make([]int32, n)
	for i, p := range rand.New(rand.NewPCG(22, 23)).Perm(n) {
		random[i] = int32(p)
	}
	cfg := metric.ResidualConfig{Inducing: 48, Lengthscale: []float64{0.15}, Seed: 2}
	res, err := metric.NewResidual(context.Background(), x, n, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	euc, _ := metric.NewEuclidean(x, n, d)
	morton := MortonOrder(&metric.Set{N: n, D: d, X: x}, nil)
	bands := BandOrder(&metric.Set{N: n, D: d, X: x}, nil)
	orders, ks, workers := [][]int32{random, morton, bands}, []int{1, 4, 25}, []int{1, 3}
	if raceDetector { // concurrency, not every case: see race_test.go
		orders, ks, workers = orders[:1], ks[1:2], workers[1:]
	}
	for _, order := range orders {
		cfg.Order = order
		resStored, err := metric.NewResidual(context.Background(), x, n, d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		eucStored, err := metric.Reorder(context.Background(), euc, order, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ m, stored metric.Metric }{{res, resStored}, {euc, eucStored}} {
			for _, k := range ks {
				want, err := BruteAllKNN(context.Background(), c.m, KNNOptions{K: k, Predecessor: true})
				if err != nil {
					t.Fatal(err)
				}
				check := func(what string, got *Neighbours, err error) {
					t.Helper()
					if err != nil {
						t.Fatalf("%s %s k=%d: %v", c.m.Name(), what, k, err)
					}
					got.Unorder(order, true)
					if !got.Equal(want) {
						t.Fatalf("%s %s k=%d: %s", c.m.Name(), what, k, firstDiff(got, want))
					}
				}
				for _, w := range workers {
					opt := KNNOptions{K: k, Predecessor: true, Rank: order, Workers: w}
					for _, s := range []Search{SearchAuto, SearchTree, SearchBrute} {
						got, _, err := AllKNNSearch(context.Background(), c.stored, opt, s, Options{Workers: w})
						check(s.String(), got, err)
					}
					if c.m.Name() == "residual" {
						screened := opt
						screened.Gate = GateScreen
						got, _, err := AllKNNSearch(context.Background(), c.stored, screened, SearchTree, Options{Workers: w})
						check("screened tree", got, err)
						// Brute force screens by rank too, whatever its probe says.
						func() {
							screenAlways = true
							defer func() { screenAlways = false }()
							for _, g := range []Gate{GateScreen, GateBound} {
								gated := opt
								gated.Gate = g
								var st ScreenStats
								gated.ScreenStats = &st
								got, err := BruteAllKNN(context.Background(), c.stored, gated)
								check("brute force, gate "+g.String(), got, err)
								if st.Screened == 0 {
									t.Errorf("brute force, gate %s: screened nothing", g)
								}
							}
						}()
					}
					for _, alg := range []Algorithm{Nets, Insertion} {
						tr := buildOrFail(t, c.stored, Options{Workers: w, Algorithm: alg, Rank: order, Batch: 64})
						got, _, err := tr.AllKNN(context.Background(), opt)
						check("built tree", got, err)
					}
				}
			}
		}
	}
}

// TestRankedTree: a tree built with a Rank keeps its lowest indices in
// that order (Check), refuses a predecessor search in another order, and
// grows by Insert with the new points after the old ones (saved and
// loaded, it keeps that order); a Rank that is
// not a permutation, or one given to Insert, is refused, and the k-d tree
// refuses a Rank with predecessors.
func TestRankedTree(t *testing.T) {
	const n, n0, d = 700, 500, 2
	x := testData(n, d, 31)
	rank := make([]int32, n0)
	for i, p := range rand.New(rand.NewPCG(32, 33)).Perm(n0) {
		rank[i] = int32(p)
	}
	small := prefixResidual(t, x, n0, d)
	tr := buildOrFail(t, small, Options{Rank: rank})
	for _, bad := range []KNNOptions{{K: 3, Predecessor: true}, {K: 3, Predecessor: true, Rank: append(slices.Clone(rank[1:]), rank[0])}} {
		if _, _, err := tr.AllKNN(context.Background(), bad); !errors.Is(err, metric.ErrBadInput) {
			t.Errorf("a predecessor search in another order: %v", err)
		}
	}
	// Insert: the grown tree answers in the order rank, then n0, n0+1, ...
	full := prefixResidual(t, x, n, d)
	if err := tr.Insert(context.Background(), full, Options{Rank: rank}); !errors.Is(err, metric.ErrBadInput) {
		t.Errorf("Insert with a Rank: %v", err)
	}
	if err := tr.Insert(context.Background(), full, Options{Batch: 64}); err != nil {
		t.Fatal(err)
	}
	if errs := tr.Check(); len(errs) > 0 {
		t.Fatalf("Check after Insert: %d violations, first %v", len(errs), errs[0])
	}
	grown := append(slices.Clone(rank), make([]int32, n-n0)...)
	for i := n0; i < n; i++ {
		grown[i] = int32(i)
	}
	opt := KNNOptions{K: 6, Predecessor: true, Rank: grown}
	want, err := BruteAllKNN(context.Background(), full, opt)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := tr.AllKNN(context.Background(), opt)
	if err != nil || !got.Equal(want) {
		t.Fatalf("the grown tree: %v %s", err, firstDiff(got, want))
	}
	// Saved and loaded, the grown tree keeps its order.
	var buf bytes.Buffer
	if err := tr.Save(&buf); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(&buf, full)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := loaded.AllKNN(context.Background(), opt); err != nil || !got.Equal(want) {
		t.Fatalf("the loaded tree: %v %s", err, firstDiff(got, want))
	}
	if _, _, err := loaded.AllKNN(context.Background(), KNNOptions{K: 6, Predecessor: true}); !errors.Is(err, metric.ErrBadInput) {
		t.Errorf("the loaded tree in the stored order: %v", err)
	}
	for _, bad := range [][]int32{rank[:n0-1], append(slices.Clone(rank[:n0-1]), rank[0])} {
		if _, err := Build(context.Background(), small, Options{Rank: bad}); !errors.Is(err, metric.ErrBadInput) {
			t.Errorf("Build with a Rank of %d entries: %v", len(bad), err)
		}
	}
	euc, _ := metric.NewEuclidean(x[:n0*d], n0, d)
	kd, err := BuildKD(context.Background(), euc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := kd.AllKNN(context.Background(), KNNOptions{K: 3, Predecessor: true, Rank: rank}); !errors.Is(err, metric.ErrBadInput) {
		t.Errorf("the k-d tree with a Rank and predecessors: %v", err)
	}
}
