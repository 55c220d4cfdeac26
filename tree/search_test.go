package tree

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// TestSearchModes: auto, tree and brute give the same answer; auto takes
// brute force where the metric has no structure (d = 8, lengthscale 1) and
// says why.
func TestSearchModes(t *testing.T) {
	const n, d = 2000, 8
	x := uniformPoints(n, d, 4)
	m, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Inducing: 512, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	opt := KNNOptions{K: 8, Predecessor: true}
	want, _ := BruteAllKNN(context.Background(), m, opt)
	for _, s := range []Search{SearchAuto, SearchTree, SearchBrute} {
		got, rep, err := AllKNNSearch(context.Background(), m, opt, s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("%v: %s", s, firstDiff(got, want))
		}
		if s == SearchAuto && (rep.Method != SearchBrute || !strings.Contains(rep.Reason, "too little structure") || rep.ProbeNear <= probeNear) {
			t.Fatalf("auto on d = 8, lengthscale 1 chose %v: %+v", rep.Method, rep)
		}
		if s != SearchAuto && rep.Method != s {
			t.Fatalf("%v ran %v", s, rep.Method)
		}
	}
	// Where no net covers anything, the build hangs the points flat (and
	// the tree stays sound and exact, checked above through SearchTree).
	tr := buildOrFail(t, m, Options{})
	flat := 0
	for z := range tr.N() {
		if tr.scale[z] == flatScale {
			flat++
		}
	}
	if flat < n/2 {
		t.Fatalf("d = 8, lengthscale 1: %d of %d points hung flat, want most", flat, n)
	}
	for _, bad := range []string{"fast", "Tree"} {
		if _, err := ParseSearch(bad); !errors.Is(err, metric.ErrBadInput) {
			t.Errorf("ParseSearch(%q) = %v", bad, err)
		}
	}
	if _, _, err := AllKNNSearch(context.Background(), m, KNNOptions{K: 0}, SearchTree, Options{}); !errors.Is(err, metric.ErrBadInput) {
		t.Errorf("k = 0: %v", err)
	}
	if _, err := Build(context.Background(), m, Options{Base: 1}); !errors.Is(err, metric.ErrBadInput) {
		t.Errorf("base 1: %v", err)
	}
}

// TestTreeCancel: a cancelled build or query returns ctx.Err().
func TestTreeCancel(t *testing.T) {
	m := testMetrics(t, 3000, 2)[0]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, m, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("build: %v", err)
	}
	tr, err := Build(context.Background(), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tr.AllKNN(ctx, KNNOptions{K: 4}); !errors.Is(err, context.Canceled) {
		t.Fatalf("query: %v", err)
	}
}

// TestKNNSearchModes: every search answers a query set like brute force.
func TestKNNSearchModes(t *testing.T) {
	for _, m := range testMetrics(t, 600, 2) {
		qs, _ := m.Embed(context.Background(), uniformPoints(50, 2, 31), 50)
		want, _ := BruteKNN(context.Background(), m, qs, KNNOptions{K: 6})
		for _, s := range []Search{SearchAuto, SearchTree, SearchBrute} {
			got, rep, err := KNNSearch(context.Background(), m, qs, KNNOptions{K: 6}, s, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) {
				t.Fatalf("%s %v: %s", m.Name(), s, firstDiff(got, want))
			}
			if s != SearchAuto && rep.Method != s || rep.Reason == "" {
				t.Fatalf("%s %v: report %+v", m.Name(), s, rep)
			}
		}
	}
}
