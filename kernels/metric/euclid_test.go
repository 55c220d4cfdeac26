package metric

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
)

// TestEuclideanScaled: the scaled metric's tiles, between its own points
// and against embedded query points, have the bits of the unscaled
// metric on coordinates divided beforehand; bad scales are ErrBadInput.
func TestEuclideanScaled(t *testing.T) {
	const n, d, nq = 37, 3, 5
	x, q := randPoints(n, d, 3, 1), randPoints(nq, d, 4, 1)
	scale := []float64{0.3, 2, 1}
	div := func(v []float64) []float64 {
		v = slices.Clone(v)
		for i := range v {
			v[i] /= scale[i%d]
		}
		return v
	}
	sc, err := NewEuclideanScaled(x, n, d, scale)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := NewEuclidean(div(x), n, d)
	ctx := context.Background()
	qs, _ := sc.Embed(ctx, q, nq)
	rqs, _ := ref.Embed(ctx, div(q), nq)
	for _, c := range []struct {
		what       string
		a, b       *Set
		rows       int
		refA, refB *Set
	}{{"points", sc.Data(), sc.Data(), n, ref.Data(), ref.Data()}, {"queries", qs, sc.Data(), nq, rqs, ref.Data()}} {
		got, want := make([]float64, c.rows*n), make([]float64, c.rows*n)
		sc.Tile(NewWorkspace(), got, n, c.a, Range(0, c.rows), c.b, Range(0, n))
		ref.Tile(NewWorkspace(), want, n, c.refA, Range(0, c.rows), c.refB, Range(0, n))
		for i := range got {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("%s: pair %d: %v, want %v", c.what, i, got[i], want[i])
			}
		}
	}
	if e, err := NewEuclideanScaled(x, n, d, nil); err != nil || !slices.Equal(e.Data().X, x) {
		t.Fatalf("nil scale: %v, coordinates changed", err)
	}
	for _, s := range [][]float64{{1, 1}, {1, 0, 1}, {1, math.Inf(1), 1}, {math.NaN(), 1, 1}} {
		if _, err := NewEuclideanScaled(x, n, d, s); !errors.Is(err, ErrBadInput) {
			t.Fatalf("scale %v: error %v, want ErrBadInput", s, err)
		}
	}
}
