package tree

import (
	"context"
	"fmt"
	"testing"

	"github.com/pcct/pcct/internal/benchutil"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// BenchmarkKD is the k-d tree's Euclidean predecessor job: uniform points
// in [0,1]^d (PCCT_BENCH_N, default 262,144; PCCT_BENCH_D, default 2), k =
// PCCT_BENCH_K (default 30); it reports the build and query times.
// PCCT_BENCH_PROJECT=4,16 traces the pool as BenchmarkVecchia does.
func BenchmarkKD(b *testing.B) {
	n := benchutil.EnvInt("PCCT_BENCH_N", 262144)
	d := benchutil.EnvInt("PCCT_BENCH_D", 2)
	k := benchutil.EnvInt("PCCT_BENCH_K", 30)
	project := benchutil.EnvInts("PCCT_BENCH_PROJECT")
	x := uniformPoints(n, d, 1)
	b.Run(fmt.Sprintf("n=%d/d=%d/k=%d", n, d, k), func(b *testing.B) {
		m, err := metric.NewEuclidean(x, n, d)
		if err != nil {
			b.Fatal(err)
		}
		pool := streamer.NewPool(0)
		defer pool.Close()
		var traces [2]*streamer.Trace
		var build, query float64
		for b.Loop() {
			traces[0] = streamer.NewTrace()
			if project != nil {
				pool.SetTrace(traces[0])
			}
			t, err := BuildKD(context.Background(), m, pool)
			if err != nil {
				b.Fatal(err)
			}
			traces[0].Stop()
			traces[1] = streamer.NewTrace()
			if project != nil {
				pool.SetTrace(traces[1])
			}
			_, st, err := t.AllKNN(context.Background(), KNNOptions{K: k, Predecessor: true, Pool: pool})
			if err != nil {
				b.Fatal(err)
			}
			traces[1].Stop()
			pool.SetTrace(nil)
			build, query = t.Stats.Wall.Seconds(), st.Wall.Seconds()
		}
		b.ReportMetric(build, "build-s")
		b.ReportMetric(query, "query-s")
		if project != nil {
			reportProjection(b, traces[:], []string{"build-", "query-"}, project)
		}
	})
}
