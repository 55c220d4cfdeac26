package tree

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest/every"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// naiveKNN is the reference: every distance through Metric.Dist (the same
// tile code, so bit-identical values), sorted by distance then index.
func naiveKNN(m metric.Metric, k int, predecessor bool) ([]int32, []float64) {
	n := m.Data().N
	idx := make([]int32, n*k)
	dist := make([]float64, n*k)
	for i := 0; i < n; i++ {
		type cand struct {
			j int32
			d float64
		}
		var cs []cand
		for j := 0; j < n; j++ {
			if j == i || (predecessor && j > i) {
				continue
			}
			cs = append(cs, cand{int32(j), m.Dist(i, j)})
		}
		slices.SortFunc(cs, func(a, b cand) int {
			if c := cmp.Compare(a.d, b.d); c != 0 {
				return c
			}
			return cmp.Compare(a.j, b.j)
		})
		for p := 0; p < k; p++ {
			idx[i*k+p], dist[i*k+p] = -1, posInf
			if p < len(cs) {
				idx[i*k+p], dist[i*k+p] = cs[p].j, cs[p].d
			}
		}
	}
	return idx, dist
}

var posInf = func() float64 { var z float64; return 1 / z }()

// testData has exact duplicates (ties) and near-duplicates.
func testData(n, d int, seed uint64) []float64 {
	x := uniformPoints(n, d, seed)
	r := rand.New(rand.NewPCG(seed, 1))
	for range n / 8 {
		a, b := r.IntN(n), r.IntN(n)
		copy(x[a*d:(a+1)*d], x[b*d:(b+1)*d])
	}
	return x
}

func testMetrics(t *testing.T, n, d int) []metric.Metric {
	x := testData(n, d, 3)
	res, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Inducing: min(30, n), Lengthscale: []float64{0.3}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	mat, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Kernel: metric.Matern52, Inducing: min(30, n), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	euc, err := metric.NewEuclidean(x, n, d)
	if err != nil {
		t.Fatal(err)
	}
	return []metric.Metric{res, mat, euc}
}

func TestBruteAllKNNAgainstNaive(t *testing.T) {
	every.Impl(t, func(t *testing.T) {
		impl := kernels.Impl()
		for _, m := range testMetrics(t, 157, 3) {
			for _, pred := range []bool{false, true} {
				for _, k := range []int{1, 5, 12} {
					wantIdx, wantDist := naiveKNN(m, k, pred)
					for _, opt := range []KNNOptions{
						{K: k, Predecessor: pred, Workers: 1},
						{K: k, Predecessor: pred, Workers: 3, QueryBlock: 7, CandidateBlock: 13},
						{K: k, Predecessor: pred, Workers: 8, QueryBlock: 200, CandidateBlock: 1000},
					} {
						saved := symBlock
						if opt.Workers == 3 {
							// Small symmetric tiles: many off-diagonal block pairs.
							symBlock = 16
						}
						got, err := BruteAllKNN(context.Background(), m, opt)
						symBlock = saved
						if err != nil {
							t.Fatal(err)
						}
						if !slices.Equal(got.Indices(), wantIdx) || !slices.Equal(got.Distances(), wantDist) {
							for i := 0; i < got.N(); i++ {
								gi, gd := got.Row(i)
								if !slices.Equal(gi, wantIdx[i*k:(i+1)*k]) || !slices.Equal(gd, wantDist[i*k:(i+1)*k]) {
									t.Fatalf("%s %s pred=%v k=%d %+v: row %d = %v %v, want %v %v", impl, m.Name(), pred, k, opt, i,
										gi, gd, wantIdx[i*k:(i+1)*k], wantDist[i*k:(i+1)*k])
								}
							}
						}
					}
				}
			}
		}
	})
}

// TestBruteTiesAgainstNaive: a third of the points are one point, so the
// k-th distance of most rows is a tie among more candidates than k, met
// in every order across the symmetric search's blocks: the lower indices
// win, as in the naive reference.
func TestBruteTiesAgainstNaive(t *testing.T) {
	const n, d = 157, 2
	x := uniformPoints(n, d, 5)
	for i := 1; i < n; i += 3 {
		copy(x[i*d:(i+1)*d], x[:d])
	}
	res, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Inducing: 30, Lengthscale: []float64{0.3}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	euc, err := metric.NewEuclidean(x, n, d)
	if err != nil {
		t.Fatal(err)
	}
	saved := symBlock
	defer func() { symBlock = saved }()
	symBlock = 16
	for _, m := range []metric.Metric{res, euc} {
		for _, pred := range []bool{false, true} {
			for _, k := range []int{5, 12} {
				wantIdx, wantDist := naiveKNN(m, k, pred)
				got, err := BruteAllKNN(context.Background(), m, KNNOptions{K: k, Predecessor: pred, Workers: 3, QueryBlock: 7, CandidateBlock: 13})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got.Indices(), wantIdx) || !slices.Equal(got.Distances(), wantDist) {
					t.Fatalf("%s pred=%v k=%d: answers differ from the naive reference", m.Name(), pred, k)
				}
			}
		}
	}
}

func TestPredecessorPadding(t *testing.T) {
	m := testMetrics(t, 20, 2)[0]
	got, err := BruteAllKNN(context.Background(), m, KNNOptions{K: 4, Predecessor: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		idx, _ := got.Row(i)
		for p, j := range idx {
			if (p < i) != (j >= 0) || j >= int32(i) {
				t.Fatalf("row %d = %v: want %d predecessors then -1", i, idx, min(i, 4))
			}
		}
	}
}

func TestBruteKNNQuerySet(t *testing.T) {
	const n, d = 90, 2
	for _, m := range testMetrics(t, n, d) {
		xq := uniformPoints(25, d, 77)
		qs, err := m.Embed(context.Background(), xq, 25)
		if err != nil {
			t.Fatal(err)
		}
		got, err := BruteKNN(context.Background(), m, qs, KNNOptions{K: 6, QueryBlock: 4, CandidateBlock: 11})
		if err != nil {
			t.Fatal(err)
		}
		w := metric.NewWorkspace()
		row := make([]float64, n)
		for i := 0; i < 25; i++ {
			m.Tile(w, row, n, qs, metric.Range(i, i+1), m.Data(), metric.Range(0, n))
			order := make([]int32, n)
			for j := range order {
				order[j] = int32(j)
			}
			slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(row[a], row[b]) })
			gi, gd := got.Row(i)
			for p := range gi {
				if gi[p] != order[p] || gd[p] != row[order[p]] {
					t.Fatalf("%s query %d: %v %v, want %v", m.Name(), i, gi, gd, order[:6])
				}
			}
		}
	}
}

func TestBruteBadK(t *testing.T) {
	m := testMetrics(t, 10, 2)[2]
	qs, _ := m.Embed(context.Background(), uniformPoints(3, 2, 1), 3)
	for _, k := range []int{0, -1} {
		if _, err := BruteAllKNN(context.Background(), m, KNNOptions{K: k}); !errors.Is(err, metric.ErrBadInput) || !strings.Contains(err.Error(), "k must be") {
			t.Errorf("k=%d: err = %v", k, err)
		}
		if _, err := BruteKNN(context.Background(), m, qs, KNNOptions{K: k}); !errors.Is(err, metric.ErrBadInput) {
			t.Errorf("queries k=%d: err = %v", k, err)
		}
	}
	if _, err := BruteKNN(context.Background(), m, qs, KNNOptions{K: 2, Predecessor: true}); !errors.Is(err, metric.ErrBadInput) {
		t.Errorf("queries in predecessor mode: err = %v", err)
	}
	// A query set from another metric is an error, not a panic.
	other := testMetrics(t, 10, 3)[0]
	q3, _ := other.Embed(context.Background(), uniformPoints(2, 3, 1), 2)
	if _, err := BruteKNN(context.Background(), m, q3, KNNOptions{K: 2}); !errors.Is(err, metric.ErrIncompatible) || !strings.Contains(err.Error(), "dimensions 2 and 3") {
		t.Errorf("mismatched query set: %v", err)
	}
	res := testMetrics(t, 10, 2)[0]
	if _, err := BruteKNN(context.Background(), res, qs, KNNOptions{K: 2}); !errors.Is(err, metric.ErrIncompatible) || !strings.Contains(err.Error(), "different metrics") {
		t.Errorf("Euclidean queries on a residual metric: %v", err)
	}
}
