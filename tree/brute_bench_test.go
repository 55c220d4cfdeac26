package tree

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pcct/pcct/internal/benchutil"
	"github.com/pcct/pcct/kernels/metric"
)

func uniformPoints(n, d int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = r.Float64()
	}
	return x
}

// BenchmarkBrutePredecessor is the Vecchia job of issue 3: all-points
// predecessor k-NN, k = 8, m = 512, d = 8, uniform points in the unit cube,
// lengthscale 1. The metric (V, p) is built outside the timed loop; see
// BenchmarkResidualBuild for that part.
func BenchmarkBrutePredecessor(b *testing.B) {
	for _, n := range []int{8192} {
		const d, k = 8, 8
		m, err := metric.NewResidual(context.Background(), uniformPoints(n, d, 1), n, d, metric.ResidualConfig{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("n=%d/d=%d/m=512/k=%d", n, d, k), func(b *testing.B) {
			for b.Loop() {
				if _, err := BruteAllKNN(context.Background(), m, KNNOptions{K: k, Predecessor: true}); err != nil {
					b.Fatal(err)
				}
			}
			pairs := float64(n) * float64(n-1) / 2
			b.ReportMetric(pairs*float64(b.N)/b.Elapsed().Seconds(), "dist/s")
		})
	}
}

func BenchmarkResidualBuild(b *testing.B) {
	for _, n := range []int{8192, 100000} {
		const d = 8
		x := uniformPoints(n, d, 1)
		b.Run(fmt.Sprintf("n=%d/d=%d/m=512", n, d), func(b *testing.B) {
			for b.Loop() {
				if _, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBruteWorkers is the scaling run: all-points predecessor 8-NN of
// 16,384 points (d = 8, m = 512) with each worker count of
// PCCT_BENCH_WORKERS (default 1, 2, 4, ... up to the CPUs).
func BenchmarkBruteWorkers(b *testing.B) {
	const n, d, k = 16384, 8, 8
	m, err := metric.NewResidual(context.Background(), uniformPoints(n, d, 1), n, d, metric.ResidualConfig{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range benchutil.Workers() {
		b.Run(fmt.Sprintf("workers=%d/n=%d/m=512/k=%d", w, n, k), func(b *testing.B) {
			for b.Loop() {
				if _, err := BruteAllKNN(context.Background(), m, KNNOptions{K: k, Predecessor: true, Workers: w}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(n-1)/2*float64(b.N)/b.Elapsed().Seconds(), "dist/s")
		})
	}
}

// BenchmarkBruteAll is all-points 8-NN (every other point a candidate),
// n = 8192, d = 8, m = 512.
func BenchmarkBruteAll(b *testing.B) {
	const n, d, k = 8192, 8, 8
	m, err := metric.NewResidual(context.Background(), uniformPoints(n, d, 1), n, d, metric.ResidualConfig{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Run(fmt.Sprintf("n=%d/d=%d/m=512/k=%d", n, d, k), func(b *testing.B) {
		for b.Loop() {
			if _, err := BruteAllKNN(context.Background(), m, KNNOptions{K: k}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(n-1)*float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
	})
}
