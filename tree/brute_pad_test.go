package tree

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/pcct/pcct/internal/kerneltest"
	"github.com/pcct/pcct/streamer"
)

// TestPadKAtLeastN: k >= n is not an error; every row holds all the
// candidates there are (the naive answer) and is padded with -1 / +Inf, in
// all-points, predecessor and query-set modes.
func TestPadKAtLeastN(t *testing.T) {
	const n = 9
	for _, m := range testMetrics(t, n, 2) {
		for _, k := range []int{n - 1, n, n + 5} {
			for _, pred := range []bool{false, true} {
				got, err := BruteAllKNN(context.Background(), m, KNNOptions{K: k, Predecessor: pred})
				if err != nil {
					t.Fatalf("%s k=%d pred=%v: %v", m.Name(), k, pred, err)
				}
				wantIdx, wantDist := naiveKNN(m, k, pred)
				for p, j := range got.Indices() {
					if j != wantIdx[p] || math.Float64bits(got.Distances()[p]) != math.Float64bits(wantDist[p]) {
						t.Fatalf("%s k=%d pred=%v: entry %d = (%d, %v), want (%d, %v)", m.Name(), k, pred, p, j, got.Distances()[p], wantIdx[p], wantDist[p])
					}
				}
				for i := range n {
					idx, dist := got.Row(i)
					have := n - 1
					if pred {
						have = i
					}
					for p := range idx {
						if pad := p >= have; pad != (idx[p] == -1) || pad != math.IsInf(dist[p], 1) {
							t.Fatalf("%s k=%d pred=%v row %d = %v %v: want %d neighbours, then padding", m.Name(), k, pred, i, idx, dist, have)
						}
					}
				}
			}
		}
		qs, _ := m.Embed(context.Background(), uniformPoints(3, 2, 9), 3)
		got, err := BruteKNN(context.Background(), m, qs, KNNOptions{K: n + 2})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			idx, _ := got.Row(i)
			if idx[n-1] < 0 || idx[n] != -1 || idx[n+1] != -1 {
				t.Fatalf("%s query %d: %v, want %d neighbours then two -1", m.Name(), i, idx, n)
			}
		}
	}
}

// TestBruteCancel: a cancelled search returns ctx.Err() promptly, leaves no
// goroutine behind, and its pool stays usable.
func TestBruteCancel(t *testing.T) {
	m := testMetrics(t, 3000, 3)[0]
	pool := streamer.NewPool(2)
	defer pool.Close()
	before := kerneltest.Goroutines()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, pred := range []bool{false, true} {
		if _, err := BruteAllKNN(ctx, m, KNNOptions{K: 4, Predecessor: pred, Pool: pool}); !errors.Is(err, context.Canceled) {
			t.Fatalf("pred=%v: err = %v, want context.Canceled", pred, err)
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := BruteAllKNN(ctx, m, KNNOptions{K: 4, Pool: pool, QueryBlock: 8, CandidateBlock: 64})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: err = %v", err)
	}
	if err != nil && time.Since(t0) > 2*time.Second {
		t.Fatalf("cancelled search took %v", time.Since(t0))
	}
	qs, _ := m.Embed(context.Background(), uniformPoints(50, 3, 1), 50)
	if _, err := BruteKNN(ctx, m, qs, KNNOptions{K: 4, Pool: pool}); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queries: err = %v", err)
	}
	// The pool still works, and gives the usual answer.
	a, err := BruteAllKNN(context.Background(), m, KNNOptions{K: 4, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BruteAllKNN(context.Background(), m, KNNOptions{K: 4, Workers: 1})
	if !a.Equal(b) {
		t.Fatal("pool gave another answer after a cancelled job")
	}
	kerneltest.NoGoroutinesLeft(t, before)
}
