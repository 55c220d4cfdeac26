package tree

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pcct/pcct/internal/benchutil"
	"github.com/pcct/pcct/kernels/metric"
)

// BenchmarkScreen is the screening issue's goal: the residual Vecchia job
// (predecessor k = 8, m = 512) by brute force with and without float32
// screening, in the same process, with a check that both answers are
// identical. PCCT_BENCH_N (default 32768), PCCT_BENCH_D (8),
// PCCT_BENCH_LS1000 (lengthscale x 1000, default 1000). It reports both
// times, the speed-up and the fraction of screened pairs decided in
// float32.
func BenchmarkScreen(b *testing.B) {
	n := benchutil.EnvInt("PCCT_BENCH_N", 32768)
	d := benchutil.EnvInt("PCCT_BENCH_D", 8)
	ls := float64(benchutil.EnvInt("PCCT_BENCH_LS1000", 1000)) / 1000
	x := uniformPoints(n, d, 1)
	b.Run(fmt.Sprintf("n=%d/d=%d/ls=%g", n, d, ls), func(b *testing.B) {
		m, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{ls}, Inducing: 512, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.EnableScreening(); err != nil {
			b.Fatal(err)
		}
		var off, on time.Duration
		var st ScreenStats
		for b.Loop() {
			t0 := time.Now()
			want, err := BruteAllKNN(context.Background(), m, KNNOptions{K: 8, Predecessor: true})
			if err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			got, err := BruteAllKNN(context.Background(), m, KNNOptions{K: 8, Predecessor: true, Gate: GateScreen, ScreenStats: &st,
				QueryBlock: benchutil.EnvInt("PCCT_BENCH_QB", 0), CandidateBlock: benchutil.EnvInt("PCCT_BENCH_CB", 0)})
			if err != nil {
				b.Fatal(err)
			}
			off, on = t1.Sub(t0), time.Since(t1)
			if !got.Equal(want) {
				b.Fatal("screened and float64 answers differ")
			}
		}
		b.ReportMetric(off.Seconds(), "off-s")
		b.ReportMetric(on.Seconds(), "screen-s")
		b.ReportMetric(off.Seconds()/on.Seconds(), "speedup")
		b.ReportMetric(st.Decided(), "decided")
		b.ReportMetric(float64(st.Full)/float64(st.Full+st.Screened), "full-frac")
	})
}
