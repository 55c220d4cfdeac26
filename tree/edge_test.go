package tree

import (
	"context"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// TestEdgeCases: inserting nothing, max-min order of one point, and
// screening with k above the number of points.
func TestEdgeCases(t *testing.T) {
	x := uniformPoints(40, 3, 2)
	m, err := metric.NewResidual(context.Background(), x, 40, 3, metric.ResidualConfig{Lengthscale: []float64{0.5}, Inducing: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr := buildOrFail(t, m, Options{})
	if err := tr.Insert(context.Background(), m, Options{}); err != nil || tr.N() != 40 || len(tr.Check()) != 0 {
		t.Fatalf("inserting nothing: %v", err)
	}
	one, _ := metric.NewEuclidean(x[:3], 1, 3)
	if o, err := buildOrFail(t, one, Options{}).MaxMinOrder(context.Background(), 0, KNNOptions{}); err != nil || len(o) != 1 {
		t.Fatalf("max-min of one point: %v %v", o, err)
	}
	m.EnableScreening()
	screenAlways = true
	defer func() { screenAlways = false }()
	for _, pred := range []bool{true, false} {
		opt := KNNOptions{K: 50, Predecessor: pred, QueryBlock: 8, CandidateBlock: 16}
		want, _ := BruteAllKNN(context.Background(), m, opt)
		opt.Gate = GateScreen
		got, err := BruteAllKNN(context.Background(), m, opt)
		if err != nil || !got.Equal(want) {
			t.Fatalf("pred=%v k > n: %v", pred, err)
		}
		qs, _ := m.Embed(context.Background(), x[:9], 3)
		qw, _ := BruteKNN(context.Background(), m, qs, KNNOptions{K: 50})
		qg, err := BruteKNN(context.Background(), m, qs, KNNOptions{K: 50, Gate: GateScreen})
		if err != nil || !qg.Equal(qw) {
			t.Fatalf("query set, k > n: %v", err)
		}
	}
}
