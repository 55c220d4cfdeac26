package metric

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest/every"
)

// TestReorder: a reordered metric gives every pair the distance bits it
// had, for both metrics and every implementation; bad permutations are
// refused.
func TestReorder(t *testing.T) {
	const n, d = 97, 3
	x, perm := shuffledPoints(n, d, 3)
	every.Impl(t, func(t *testing.T) {
		res, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Lengthscale: []float64{0.3}, Inducing: 20, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		euc, _ := NewEuclidean(x, n, d)
		for _, m := range []Metric{res, euc} {
			o, err := Reorder(context.Background(), m, perm, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				for j := range n {
					a, b := dist(o, i, j), dist(m, int(perm[i]), int(perm[j]))
					if math.Float64bits(a) != math.Float64bits(b) {
						t.Fatalf("%s: d'(%d, %d) = %v, d(%d, %d) = %v", m.Name(), i, j, a, perm[i], perm[j], b)
					}
				}
			}
		}
		ro, _ := Reorder(context.Background(), res, perm, nil)
		for k, i := range ro.(*Residual).InducingIndices() {
			if perm[i] != int32(res.InducingIndices()[k]) {
				t.Fatalf("inducing point %d: position %d holds point %d, want %d", k, i, perm[i], res.InducingIndices()[k])
			}
		}
		for _, bad := range [][]int32{perm[:n-1], append(append([]int32{}, perm[:n-1]...), perm[0]), append(append([]int32{}, perm[:n-1]...), int32(n))} {
			if _, err := Reorder(context.Background(), res, bad, nil); !errors.Is(err, ErrBadInput) {
				t.Fatalf("bad permutation accepted: %v", err)
			}
		}
	})
}

// dist computes one distance through Tile.
func dist(m Metric, i, j int) float64 {
	var one [1]float64
	m.Tile(NewWorkspace(), one[:], 1, m.Data(), Range(i, i+1), m.Data(), Range(j, j+1))
	return one[0]
}

// TestReorderParts: the rows copied in ranges on a runner make the Set
// that Pack makes, every field, screening copies included.
func TestReorderParts(t *testing.T) {
	const n, d = 2*reorderPart + 7, 2
	x, perm := shuffledPoints(n, d, 5)
	res, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Lengthscale: []float64{0.2}, Inducing: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.EnableScreening(); err != nil {
		t.Fatal(err)
	}
	euc, _ := NewEuclidean(x, n, d)
	for _, m := range []Metric{res, euc} {
		o, err := Reorder(context.Background(), m, perm, goRunner{workers: 3})
		if err != nil {
			t.Fatal(err)
		}
		got, want := o.Data(), Pack(m.Data(), List(perm))
		same := slices.Equal(got.X, want.X) && slices.Equal(got.XT, want.XT) && slices.Equal(got.V, want.V) &&
			slices.Equal(got.V32, want.V32) && slices.Equal(got.ISP, want.ISP) && slices.Equal(got.P, want.P) &&
			slices.Equal(got.S32, want.S32) && slices.Equal(got.SW, want.SW) && (got.F32 == nil) == (want.F32 == nil)
		if got.F32 != nil {
			same = same && slices.Equal(got.F32.XT, want.F32.XT) && slices.Equal(got.F32.Norm, want.F32.Norm) &&
				slices.Equal(got.F32.ISP, want.F32.ISP) && slices.Equal(got.F32.SW, want.F32.SW)
			// The reordered copy keeps its records, built from its own rows.
			recs := *got.F32
			recs.addRecords(got)
			same = same && got.F32.rec != nil && slices.Equal(got.F32.rec, recs.rec)
		}
		if !same || got.Root != nil || got.N != n {
			t.Fatalf("%s: the reordered set differs from Pack's", m.Name())
		}
	}
	if res.Data().S32 == nil {
		t.Fatal("screening copy missing: the test does not cover it")
	}
}

// shuffledPoints returns n uniform points in [0,1]^d and a random
// permutation of 0..n-1.
func shuffledPoints(n, d int, seed uint64) ([]float64, []int32) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = r.Float64()
	}
	perm := make([]int32, n)
	for i, p := range r.Perm(n) {
		perm[i] = int32(p)
	}
	return x, perm
}

// TestResidualOrder: a residual metric built with Order holds, bit for
// bit, the rows of the metric built in the given order and reordered
// (coordinates, V, p, 1/sqrt(p)), with the same inducing points, for the
// random and k-means++ choices and every implementation; bad orders are
// refused.
func TestResidualOrder(t *testing.T) {
	const n, d = 700, 2 // several blocks of V's construction
	x, perm := shuffledPoints(n, d, 5)
	every.Impl(t, func(t *testing.T) {
		for _, method := range []InducingMethod{InducingRandom, InducingKMeansPP} {
			cfg := ResidualConfig{Lengthscale: []float64{0.2, 0.4}, Inducing: 40, Method: method, Seed: 2}
			m, err := NewResidual(context.Background(), x, n, d, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Reorder(context.Background(), m, perm, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Order = perm
			got, err := NewResidual(context.Background(), x, n, d, cfg)
			if err != nil {
				t.Fatal(err)
			}
			g, w := got.Data(), want.Data()
			for _, c := range []struct {
				name string
				a, b []float64
			}{{"X", g.X, w.X}, {"V", g.V, w.V}, {"P", g.P, w.P}, {"ISP", g.ISP, w.ISP}} {
				if len(c.a) != len(c.b) || !slices.EqualFunc(c.a, c.b, func(u, v float64) bool { return math.Float64bits(u) == math.Float64bits(v) }) {
					t.Fatalf("method %v: %s differs from the reordered metric's", method, c.name)
				}
			}
			if !slices.Equal(got.InducingIndices(), want.(*Residual).InducingIndices()) {
				t.Fatalf("method %v: inducing indices %v, want %v", method, got.InducingIndices(), want.(*Residual).InducingIndices())
			}
		}
		for _, bad := range [][]int32{perm[:n-1], append(append([]int32{}, perm[:n-1]...), perm[0])} {
			if _, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Inducing: 40, Order: bad}); !errors.Is(err, ErrBadInput) {
				t.Fatalf("bad order accepted: %v", err)
			}
		}
	})
}

// TestReorderInPlace: moving V's rows in place gives the Set Reorder copies,
// float64 and float32 V, for a random permutation, the identity, one long
// cycle and swapped pairs; the source's other rows are left as they were;
// a cancelled context stops it with its error.
func TestReorderInPlace(t *testing.T) {
	const n, d = 3*4096 + 5, 2
	x, random := shuffledPoints(n, d, 7)
	identity, cycle, pairs := make([]int32, n), make([]int32, n), make([]int32, n)
	for i := range n {
		identity[i], cycle[i], pairs[i] = int32(i), int32((i+1)%n), int32(i^1)
	}
	pairs[n-1] = n - 1 // n is odd: the last point stays
	for _, f32 := range []bool{false, true} {
		for _, perm := range [][]int32{random, identity, cycle, pairs} {
			// Inducing points away from the data, so that float32 V is accepted.
			u := []float64{1.5, 1.5, 1.7, 1.6, 1.6, 1.9}
			cfg := ResidualConfig{Method: InducingExplicit, InducingPoints: u, Lengthscale: []float64{0.5}, Float32: f32}
			src, err := NewResidual(context.Background(), x, n, d, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := Reorder(context.Background(), src, perm, nil)
			xBefore := slices.Clone(src.Data().X)
			got, err := ReorderInPlace(context.Background(), src, perm, goRunner{workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			g, w := got.Data(), want.Data()
			if !slices.Equal(g.V, w.V) || !slices.Equal(g.V32, w.V32) || !slices.Equal(g.X, w.X) || !slices.Equal(g.XT, w.XT) ||
				!slices.Equal(g.ISP, w.ISP) || !slices.Equal(g.P, w.P) || !slices.Equal(got.(*Residual).InducingIndices(), want.(*Residual).InducingIndices()) {
				t.Fatalf("float32 %v: the set moved in place differs from Reorder's", f32)
			}
			if (g.V == nil) == (g.V32 == nil) || !slices.Equal(src.Data().X, xBefore) {
				t.Fatalf("float32 %v: V %v, V32 %v, source coordinates changed %v", f32, g.V != nil, g.V32 != nil, !slices.Equal(src.Data().X, xBefore))
			}
		}
	}
	src, _ := NewResidual(context.Background(), x, n, d, ResidualConfig{Lengthscale: []float64{0.2}, Inducing: 8, Seed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReorderInPlace(ctx, src, cycle, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
