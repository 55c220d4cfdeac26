package tree

import (
	"context"
	"fmt"
	"testing"

	"github.com/pcct/pcct/internal/benchutil"
	"github.com/pcct/pcct/kernels/metric"
)

// BenchmarkMaxMinOrder times the max-min ordering through the cover tree
// (the tree built once, outside the timing) on PCCT_BENCH_WORKERS_Q
// workers (default 1): residual, d = 2, lengthscale 0.1, n from
// PCCT_BENCH_N (default 32,768), m from PCCT_BENCH_M (256).
func BenchmarkMaxMinOrder(b *testing.B) {
	n := benchutil.EnvInt("PCCT_BENCH_N", 32768)
	m := benchutil.EnvInt("PCCT_BENCH_M", 256)
	workers := benchutil.EnvInt("PCCT_BENCH_WORKERS_Q", 1)
	x := uniformPoints(n, 2, 1)
	b.Run(fmt.Sprintf("n=%d/m=%d/workers=%d", n, m, workers), func(b *testing.B) {
		met, err := metric.NewResidual(context.Background(), x, n, 2, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: m, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		tr, err := Build(context.Background(), met, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := tr.MaxMinOrder(context.Background(), 0, KNNOptions{Workers: workers}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
