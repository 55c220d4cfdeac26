package tree

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pcct/pcct/internal/benchutil"
	"github.com/pcct/pcct/kernels/metric"
)

// BenchmarkVecchia is the tree issue's first goal: residual metric, d = 2,
// lengthscale 0.1, m = 512, predecessor k = 8 (n from PCCT_BENCH_N, default
// 32768; PCCT_BENCH_D, PCCT_BENCH_LS1000 = lengthscale x 1000). Each
// iteration builds the tree and answers the Vecchia job; brute force runs
// once in the same process and the ratio is reported, with a check that
// both answers are identical.
func BenchmarkVecchia(b *testing.B) {
	n := benchutil.EnvInt("PCCT_BENCH_N", 32768)
	d := benchutil.EnvInt("PCCT_BENCH_D", 2)
	ls := float64(benchutil.EnvInt("PCCT_BENCH_LS1000", 100)) / 1000
	m := benchutil.EnvInt("PCCT_BENCH_M", 512)
	k := benchutil.EnvInt("PCCT_BENCH_K", 8)
	x := uniformPoints(n, d, 1)
	b.Run(fmt.Sprintf("n=%d/d=%d/ls=%g/m=%d/k=%d", n, d, ls, m, k), func(b *testing.B) {
		met, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{ls}, Inducing: m, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		want, err := BruteAllKNN(context.Background(), met, KNNOptions{K: k, Predecessor: true})
		if err != nil {
			b.Fatal(err)
		}
		brute := time.Since(t0)
		var build, query time.Duration
		var bs BuildStats
		var qs QueryStats
		for b.Loop() {
			t1 := time.Now()
			tr, err := Build(context.Background(), met, Options{})
			if err != nil {
				b.Fatal(err)
			}
			t2 := time.Now()
			got, st, err := tr.AllKNN(context.Background(), KNNOptions{K: k, Predecessor: true, QueryBlock: benchutil.EnvInt("PCCT_BENCH_QB", 0)})
			if err != nil {
				b.Fatal(err)
			}
			build, query, bs, qs = t2.Sub(t1), time.Since(t2), tr.Stats, st
			if !got.Equal(want) {
				b.Fatal("tree and brute force answers differ")
			}
		}
		bruteDists := float64(n) * float64(n-1) / 2
		b.ReportMetric(brute.Seconds(), "brute-s")
		b.ReportMetric(build.Seconds(), "build-s")
		b.ReportMetric(query.Seconds(), "query-s")
		b.ReportMetric(brute.Seconds()/(build+query).Seconds(), "speedup")
		b.ReportMetric(float64(bs.Distances)/bruteDists, "build-dist-frac")
		b.ReportMetric(float64(qs.Distances)/bruteDists, "query-dist-frac")
		b.ReportMetric(float64(bs.Depth), "depth")
	})
}
