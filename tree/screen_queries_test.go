package tree

import (
	"context"
	"math"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest/every"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// TestScreenQueriesAuto: the auto gate screens query points embedded
// before the metric had its float32 copy. Its probe decides as for the
// data's own points: on structureless data (d = 8, lengthscale 1) brute
// force and the tree give the data and the query set their copies and
// screen, where the probe fails (d = 2, lengthscale 0.1) neither gets
// one; with NoCopy neither gets one. Every answer is the float64 one, and
// each search mode's. (The probe reads 16 query rows spread over the set:
// with 1,000 queries they pend 0.14 % under avx2, well inside the 1 %
// limit; the last 16 rows of 300 queries pended 1.2 %.)
func TestScreenQueriesAuto(t *testing.T) {
	if kernels.Impl() == kernels.ImplGeneric {
		t.Skip("auto leaves the generic kernels unscreened")
	}
	for _, c := range []struct {
		d      int
		ls     float64
		screen bool
	}{{8, 1, true}, {2, 0.1, false}} {
		for _, search := range []Search{SearchBrute, SearchTree, SearchAuto} {
			const n, nq = 6000, 1000
			m, err := metric.NewResidual(context.Background(), uniformPoints(n, c.d, 6), n, c.d, metric.ResidualConfig{Lengthscale: []float64{c.ls}, Inducing: 512, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			xq := uniformPoints(nq, c.d, 8)
			qs, err := m.Embed(context.Background(), xq, nq)
			if err != nil {
				t.Fatal(err)
			}
			want, err := BruteKNN(context.Background(), m, qs, KNNOptions{K: 8})
			if err != nil {
				t.Fatal(err)
			}
			var st ScreenStats
			// NoCopy: a metric shared with other searches keeps its sets as they are.
			got, _, err := KNNSearch(context.Background(), m, qs, KNNOptions{K: 8, Gate: GateAuto, ScreenStats: &st, NoCopy: true}, search, Options{})
			if err != nil || !got.Equal(want) || m.Data().S32 != nil || qs.S32 != nil || st.Screened != 0 {
				t.Fatalf("d=%d %s NoCopy: %v, %d pairs screened", c.d, search, err, st.Screened)
			}
			got, _, err = KNNSearch(context.Background(), m, qs, KNNOptions{K: 8, Gate: GateAuto, ScreenStats: &st}, search, Options{})
			if err != nil {
				t.Fatalf("d=%d %s: %v", c.d, search, err)
			}
			if !got.Equal(want) {
				t.Fatalf("d=%d %s: %s", c.d, search, firstDiff(got, want))
			}
			data, queries := m.Data().S32 != nil, qs.S32 != nil
			if data != queries || data != (st.Screened > 0) || data != c.screen {
				t.Fatalf("d=%d %s: data copy %v, query copy %v, %d pairs screened (probe %.4f)", c.d, search, data, queries, st.Screened, st.Probe)
			}
			// Query points embedded now come with their copy.
			if data {
				qs2, _ := m.Embed(context.Background(), xq, nq)
				if qs2.S32 == nil || !sameFloats(qs2.S32, qs.S32) || !sameFloats(qs2.SW, qs.SW) {
					t.Fatalf("d=%d %s: the copy added to the query set differs from Embed's", c.d, search)
				}
			}
		}
	}
}

// TestScreenTreeWalk: the cover tree's screened walk (forced on, under
// every implementation) answers as the unscreened brute force, in
// predecessor mode and over all points, with groups of 128 (walked in
// blocks of screenWalkRows) and of walkRows (one block each).
func TestScreenTreeWalk(t *testing.T) {
	screenAlways = true
	defer func() { screenAlways = false }()
	every.Impl(t, func(t *testing.T) {
		for _, c := range screenCases() {
			m := c.screened(t)
			tr, err := Build(context.Background(), m, Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, pred := range []bool{true, false} {
				want, err := BruteAllKNN(context.Background(), m, KNNOptions{K: 8, Predecessor: pred})
				if err != nil {
					t.Fatal(err)
				}
				for _, group := range []int{0, walkRows} {
					var st ScreenStats
					opt := KNNOptions{K: 8, Predecessor: pred, Workers: 2, QueryBlock: group, Gate: GateScreen, ScreenStats: &st}
					got, _, err := tr.AllKNN(context.Background(), opt)
					if err != nil {
						t.Fatal(err)
					}
					if !got.Equal(want) {
						t.Fatalf("%s predecessor %v, groups of %d: %s", c.name, pred, group, firstDiff(got, want))
					}
					// (A predecessor group of 128 is seeded with the 4 x 128
					// points nearest it: all-equal's 300 points leave the walk
					// nothing to screen.)
					if st.Screened == 0 && c.n > 4*treeGroup {
						t.Fatalf("%s predecessor %v, groups of %d: nothing screened", c.name, pred, group)
					}
				}
			}
		}
	})
}

// sameFloats reports whether a and b hold the same values bit for bit (no NaN among them).
func sameFloats[T float32 | float64](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if float64(a[i]) != float64(b[i]) || math.Signbit(float64(a[i])) != math.Signbit(float64(b[i])) {
			return false
		}
	}
	return true
}
