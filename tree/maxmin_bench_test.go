package tree

import (
	"context"
	"fmt"
	"testing"

	"github.com/pcct/pcct/internal/benchutil"
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
		tr := walkBenchTree(b, x, n, m)
		for b.Loop() {
			if _, err := tr.MaxMinOrder(context.Background(), 0, KNNOptions{Workers: workers}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
