package tree

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest/every"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// checkKD verifies the k-d tree's structure: every point in exactly one
// leaf of at most KDLeaf(d) points (unless all its points coincide), each
// node's box holds its points, children split their parent's range, and
// minID is the lowest index below the node.
func checkKD(t *KDTree) error {
	s := t.m.Data()
	d := t.d
	if !slices.Equal(slices.Sorted(slices.Values(t.ids)), seq(s.N)) {
		return fmt.Errorf("ids are not a permutation")
	}
	for z, nd := range t.nodes {
		lo, hi := t.box[2*d*z:2*d*z+d], t.box[2*d*z+d:2*d*(z+1)]
		minID := int32(s.N)
		for _, id := range t.ids[nd.lo:nd.hi] {
			for k, v := range s.X[int(id)*d : int(id+1)*d] {
				if v < lo[k] || v > hi[k] {
					return fmt.Errorf("node %d: point %d outside its box", z, id)
				}
			}
			minID = min(minID, id)
		}
		if nd.minID != minID {
			return fmt.Errorf("node %d: minID %d, want %d", z, nd.minID, minID)
		}
		if nd.left < 0 {
			if nd.hi-nd.lo > KDLeaf(d) && !slices.Equal(lo, hi) {
				return fmt.Errorf("leaf %d holds %d distinct points", z, nd.hi-nd.lo)
			}
			continue
		}
		l, r := t.nodes[nd.left], t.nodes[nd.right]
		if l.lo != nd.lo || l.hi != r.lo || r.hi != nd.hi || l.hi <= l.lo || r.hi <= r.lo {
			return fmt.Errorf("node %d: children [%d,%d) [%d,%d) do not split [%d,%d)", z, l.lo, l.hi, r.lo, r.hi, nd.lo, nd.hi)
		}
	}
	return nil
}

// kdOf returns the Euclidean metric of the n x d points x and its k-d
// tree, built on a pool started for the call, whose structure it checks.
func kdOf(t testing.TB, x []float64, n, d int) (*metric.Euclidean, *KDTree) {
	t.Helper()
	m, err := metric.NewEuclidean(x, n, d)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := BuildKD(context.Background(), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkKD(kd); err != nil {
		t.Fatalf("n=%d d=%d: %v", n, d, err)
	}
	return m, kd
}

func seq(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(i)
	}
	return s
}

// TestKDAgainstBrute: on every data set, in 1 to 8 dimensions, the k-d
// tree's answers (all points, predecessor, a query set) equal brute force
// bit for bit for 1, 2 and 4 workers.
func TestKDAgainstBrute(t *testing.T) {
	pools := map[int]*streamer.Pool{}
	for _, w := range []int{1, 2, 4} {
		pools[w] = streamer.NewPool(w)
		defer pools[w].Close()
	}
	dims, sizes := []int{1, 2, 3, 8}, []int{1, 5, 33, 700}
	if raceDetector { // see race_test.go
		dims, sizes = []int{2, 8}, []int{5, 300}
	}
	for _, d := range dims {
		for _, n := range sizes {
			xq := uniformPoints(29, d, 99)
			for name, x := range shapes(n, d, uint64(n+d)) {
				m, kd := kdOf(t, x, n, d)
				qs, err := m.Embed(context.Background(), xq, 29)
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range []int{1, 6, 40} {
					for _, w := range []int{1, 2, 4} {
						for _, pred := range []bool{false, true} {
							opt := KNNOptions{K: k, Predecessor: pred, Pool: pools[w]}
							want, _ := BruteAllKNN(context.Background(), m, opt)
							got, _, err := kd.AllKNN(context.Background(), opt)
							if err != nil {
								t.Fatal(err)
							}
							if !got.Equal(want) {
								t.Fatalf("d=%d n=%d %s k=%d workers=%d pred=%v: %s", d, n, name, k, w, pred, firstDiff(got, want))
							}
						}
						opt := KNNOptions{K: k, Pool: pools[w]}
						want, _ := BruteKNN(context.Background(), m, qs, opt)
						got, _, err := kd.KNN(context.Background(), qs, opt)
						if err != nil {
							t.Fatal(err)
						}
						if !got.Equal(want) {
							t.Fatalf("queries d=%d n=%d %s k=%d workers=%d: %s", d, n, name, k, w, firstDiff(got, want))
						}
					}
				}
			}
		}
	}
}

// TestKDEveryImpl: the k-d tree is exact under each kernel implementation
// (in 11 dimensions its box distances take kernels.BoxDist2's loop and
// tail).
func TestKDEveryImpl(t *testing.T) {
	every.Impl(t, func(t *testing.T) {
		for _, d := range []int{2, 5, 11} {
			m, kd := kdOf(t, uniformPoints(1500, d, 3), 1500, d)
			for _, pred := range []bool{false, true} {
				opt := KNNOptions{K: 7, Predecessor: pred, Workers: 2}
				want, _ := BruteAllKNN(context.Background(), m, opt)
				got, _, err := kd.AllKNN(context.Background(), opt)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(want) {
					t.Fatalf("d=%d pred=%v: %s", d, pred, firstDiff(got, want))
				}
			}
		}
	})
}

// TestKDErrors: the residual metric, k < 1, predecessor queries of a
// query set, a query set of another dimension and a cancelled context are
// errors, not panics.
func TestKDErrors(t *testing.T) {
	x := uniformPoints(200, 2, 1)
	r, err := metric.NewResidual(context.Background(), x, 200, 2, metric.ResidualConfig{Inducing: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildKD(context.Background(), r, nil); !errors.Is(err, metric.ErrBadInput) {
		t.Fatalf("residual metric: %v", err)
	}
	m, kd := kdOf(t, x, 200, 2)
	if _, _, err := kd.AllKNN(context.Background(), KNNOptions{K: 0}); !errors.Is(err, metric.ErrBadInput) {
		t.Fatalf("k = 0: %v", err)
	}
	qs, _ := m.Embed(context.Background(), x[:20], 10)
	if _, _, err := kd.KNN(context.Background(), qs, KNNOptions{K: 3, Predecessor: true}); !errors.Is(err, metric.ErrBadInput) {
		t.Fatalf("predecessor query set: %v", err)
	}
	m3, _ := metric.NewEuclidean(uniformPoints(10, 3, 1), 10, 3)
	q3, _ := m3.Embed(context.Background(), uniformPoints(4, 3, 2), 4)
	if _, _, err := kd.KNN(context.Background(), q3, KNNOptions{K: 3}); err == nil {
		t.Fatal("a 3-dimensional query set against 2-dimensional points: no error")
	}
	if _, _, err := AllKNNSearch(context.Background(), m, KNNOptions{K: 3, Gate: GateScreen}, SearchKD, Options{}); !errors.Is(err, metric.ErrBadInput) {
		t.Fatalf("gate screen with the k-d tree: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := BuildKD(ctx, m, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled build: %v", err)
	}
	if _, _, err := kd.AllKNN(ctx, KNNOptions{K: 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled queries: %v", err)
	}
}

// TestKDLarge: a tree big enough to be split on the pool (its top level
// by level, subtrees as tasks) is sound, the same for 1 and 4 workers, and
// exact.
func TestKDLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large")
	}
	n, d := 3*kdTask, 3
	x := shapes(n, d, 9)["clustered"]
	m, err := metric.NewEuclidean(x, n, d)
	if err != nil {
		t.Fatal(err)
	}
	var trees []*KDTree
	for _, w := range []int{1, 4} {
		p := streamer.NewPool(w)
		kd, err := BuildKD(context.Background(), m, p)
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := checkKD(kd); err != nil {
			t.Fatalf("%d workers: %v", w, err)
		}
		trees = append(trees, kd)
	}
	if !slices.Equal(trees[0].nodes, trees[1].nodes) || !slices.Equal(trees[0].ids, trees[1].ids) {
		t.Fatal("1 and 4 workers built different trees")
	}
	want, _ := BruteAllKNN(context.Background(), m, KNNOptions{K: 5, Predecessor: true})
	got, _, err := trees[1].AllKNN(context.Background(), KNNOptions{K: 5, Predecessor: true})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Fatal(firstDiff(got, want))
	}
}

// TestKDLatticeTies: points on an integer lattice (scaled by 2^-3, so every
// distance is exact) meet many equal distances across split planes and
// leaf boxes: every tie must go to the lower index, as in brute force.
func TestKDLatticeTies(t *testing.T) {
	for _, d := range []int{1, 2, 3} {
		side := map[int]int{1: 300, 2: 25, 3: 9}[d]
		n := 1
		for range d {
			n *= side
		}
		x := make([]float64, 0, n*d)
		for i := range n {
			for k, c := 0, i; k < d; k, c = k+1, c/side {
				x = append(x, float64(c%side)/8)
			}
		}
		// A fixed shuffle, so that lattice order and index order differ.
		r := rand.New(rand.NewPCG(uint64(d), 1))
		perm := r.Perm(n)
		xs := make([]float64, n*d)
		for i, p := range perm {
			copy(xs[i*d:(i+1)*d], x[p*d:(p+1)*d])
		}
		m, kd := kdOf(t, xs, n, d)
		for _, k := range []int{4, 5, 9, 13} {
			for _, pred := range []bool{false, true} {
				opt := KNNOptions{K: k, Predecessor: pred, Workers: 2}
				want, _ := BruteAllKNN(context.Background(), m, opt)
				got, _, err := kd.AllKNN(context.Background(), opt)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(want) {
					t.Fatalf("d=%d k=%d pred=%v: %s", d, k, pred, firstDiff(got, want))
				}
			}
		}
	}
}

// TestCutOnPool: the pool's cut (radix selection, three-way partition)
// makes the same cut as the serial one (dimension, median point, split)
// with the same points on each side, on sets with many equal coordinates,
// negative zeros and negative values, for several sizes and worker counts.
func TestCutOnPool(t *testing.T) {
	defer func(p int) { partSize = p }(partSize)
	partSize = 64 // several ranges per set
	rng := rand.New(rand.NewPCG(8, 9))
	for _, n := range []int{2, 3, 65, 1000, 4099} {
		for _, w := range []int{1, 3} {
			const d = 3
			x := make([]float64, n*d)
			for i := range x {
				switch rng.IntN(4) {
				case 0:
					x[i] = float64(rng.IntN(3)) - 1 // many ties, -1, 0, 1
				case 1:
					x[i] = math.Copysign(0, -1)
				default:
					x[i] = rng.NormFloat64()
				}
			}
			s := must(metric.NewEuclidean(x, n, d)).Data()
			pool := streamer.NewPool(w)
			nd := kdNode{lo: 0, hi: int32(n)}
			a, b := &KDTree{ids: make([]int32, n)}, &KDTree{ids: make([]int32, n)}
			for i := range n {
				a.ids[i], b.ids[i] = int32(i), int32(n-1-i)
			}
			want, got := a.cut(s, nd), b.cutOnPool(s, nd, pool, nil)
			pool.Close()
			if got != want || a.ids[want.mid] != b.ids[got.mid] {
				t.Fatalf("n=%d w=%d: cut %+v (point %d), want %+v (point %d)", n, w, got, b.ids[got.mid], want, a.ids[want.mid])
			}
			l1, l2 := slices.Sorted(slices.Values(a.ids[:want.mid])), slices.Sorted(slices.Values(b.ids[:got.mid]))
			if !slices.Equal(l1, l2) {
				t.Fatalf("n=%d w=%d: the points before the median differ", n, w)
			}
		}
	}
}
