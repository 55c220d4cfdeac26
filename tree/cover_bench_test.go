package tree

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/pcct/pcct/internal/benchutil"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// BenchmarkVecchia is the tree issue's first goal: residual metric, d = 2,
// lengthscale 0.1, m = 512, predecessor k = 8 (n from PCCT_BENCH_N, default
// 32768; PCCT_BENCH_D, PCCT_BENCH_LS1000 = lengthscale x 1000). Each
// iteration builds the tree and answers the Vecchia job; brute force runs
// once in the same process and the ratio is reported, with a check that
// both answers are identical. Above PCCT_BENCH_FULL_BRUTE points (default
// 200,000) brute force is too slow to run whole: 2000 rows spread over the
// points are checked against it instead, and only the tree's time is
// reported (tree-s). PCCT_BENCH_INSERT=1 builds by batch insertion;
// PCCT_BENCH_BASE1000 sets the tree's base x 1000 (default 2000).
// PCCT_BENCH_PROJECT=4,16 traces the pool's jobs (build and queries) and
// reports the projected speed-up on that many workers (proj4-x, ...; see
// streamer.Trace: the serial parts and the jobs' task granularity, not
// memory bandwidth) and the time outside the jobs (serial-s).
// PCCT_BENCH_LAYOUT=1 stores the points by index band, along the Morton
// curve within each (BandOrder, what pcct knn does from 65,536 points),
// the given order as the Rank of the build, the queries and brute force.
func BenchmarkVecchia(b *testing.B) {
	n := benchutil.EnvInt("PCCT_BENCH_N", 32768)
	d := benchutil.EnvInt("PCCT_BENCH_D", 2)
	ls := float64(benchutil.EnvInt("PCCT_BENCH_LS1000", 100)) / 1000
	m := benchutil.EnvInt("PCCT_BENCH_M", 512)
	k := benchutil.EnvInt("PCCT_BENCH_K", 8)
	x := uniformPoints(n, d, 1)
	project := benchutil.EnvInts("PCCT_BENCH_PROJECT")
	var rank []int32 // the points' storage order (nil: as given)
	name := fmt.Sprintf("n=%d/d=%d/ls=%g/m=%d/k=%d", n, d, ls, m, k)
	if benchutil.EnvInt("PCCT_BENCH_LAYOUT", 0) == 1 {
		rank, name = BandOrder(&metric.Set{N: n, D: d, X: x}, nil), name+"/layout=bands"
	}
	b.Run(name, func(b *testing.B) {
		met, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{ls}, Inducing: m, Seed: 1, Order: rank})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		var want *Neighbours
		sample := n > benchutil.EnvInt("PCCT_BENCH_FULL_BRUTE", 200000)
		if !sample {
			want, err = BruteAllKNN(context.Background(), met, KNNOptions{K: k, Predecessor: true, Rank: rank})
			if err != nil {
				b.Fatal(err)
			}
		}
		brute := time.Since(t0)
		var build, query time.Duration
		var bs BuildStats
		var qs QueryStats
		pool := streamer.NewPool(0)
		defer pool.Close()
		var traces [2]*streamer.Trace // build, queries
		traced := func(k int) {
			if project != nil {
				if k > 0 {
					traces[k-1].Stop()
				}
				if k < len(traces) {
					traces[k] = streamer.NewTrace()
				}
				pool.SetTrace(traces[min(k, len(traces)-1)])
			}
		}
		for b.Loop() {
			traced(0)
			t1 := time.Now()
			tr, err := Build(context.Background(), met, Options{Algorithm: Algorithm(benchutil.EnvInt("PCCT_BENCH_INSERT", 0)),
				Base: float64(benchutil.EnvInt("PCCT_BENCH_BASE1000", 2000)) / 1000, Pool: pool, Rank: rank})
			if err != nil {
				b.Fatal(err)
			}
			traced(1)
			t2 := time.Now()
			got, st, err := tr.AllKNN(context.Background(), KNNOptions{K: k, Predecessor: true, QueryBlock: benchutil.EnvInt("PCCT_BENCH_QB", 0), Pool: pool, Rank: rank})
			if err != nil {
				b.Fatal(err)
			}
			build, query, bs, qs = t2.Sub(t1), time.Since(t2), tr.Stats, st
			traced(2)
			if sample {
				checkSample(b, met, got, k, 2000, rank)
			} else if !got.Equal(want) {
				b.Fatal("tree and brute force answers differ")
			}
		}
		if project != nil {
			reportProjection(b, traces[:], []string{"build-", "query-"}, project)
		}
		if sample {
			b.ReportMetric(build.Seconds()+query.Seconds(), "tree-s")
			b.ReportMetric(build.Seconds(), "build-s")
			b.ReportMetric(query.Seconds(), "query-s")
			b.ReportMetric(float64(bs.Distances)/(float64(n)*float64(n-1)/2), "build-dist-frac")
			b.ReportMetric(float64(qs.Distances)/(float64(n)*float64(n-1)/2), "query-dist-frac")
			return
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

// checkSample compares rows of a predecessor answer with brute force for
// rows sampled evenly over the points: each sampled point against all its
// predecessors, through the metric's Nearest (the same distance bits).
// With a rank (the points stored in another order, see KNNOptions.Rank)
// the rows are sampled evenly over the ranks, and the predecessors and
// ties follow them.
func checkSample(b *testing.B, m metric.Metric, got *Neighbours, k, rows int, rank []int32) {
	n := m.Data().N
	byRank := make([]int32, n)
	for i := range byRank {
		byRank[i] = int32(i)
	}
	if rank != nil {
		byRank, _ = metric.InversePerm(rank, n)
	}
	keys, ids := make([]int32, 0, rows), make([]int32, 0, rows)
	for r := range rows {
		key := int32((2*r + 1) * n / (2 * rows))
		keys, ids = append(keys, key), append(ids, byRank[key])
	}
	best := kernels.NewKBest(len(ids), k)
	best.Rank = rank
	pos := make([]int32, len(ids))
	for i := range pos {
		pos[i] = int32(i)
	}
	w := metric.NewWorkspace()
	for q0 := 0; q0 < len(ids); q0 += 64 {
		q1 := min(len(ids), q0+64)
		o := metric.Offer{Best: best, Rows: pos[q0:q1], Below: keys[q0:q1], Skip: ids[q0:q1]}
		for c0 := 0; c0 < int(keys[q1-1]); c0 += 4096 {
			m.Nearest(w, m.Data(), metric.List(ids[q0:q1]), m.Data(), metric.List(byRank[c0:min(int(keys[q1-1]), c0+4096)]), o)
		}
	}
	for i, id := range ids {
		gi, gd := got.Row(int(id))
		wi, wd := best.Row(i)
		for p := range gi {
			if gi[p] != wi[p] || math.Float64bits(gd[p]) != math.Float64bits(wd[p]) {
				b.Fatalf("row %d: tree %v %v, brute force %v %v", id, gi, gd, wi, wd)
			}
		}
	}
}

// BenchmarkVecchiaQueries times the tree's predecessor queries alone (the
// tree is built once, outside the loop) on PCCT_BENCH_WORKERS_Q workers
// (default 1: one worker's time is steadier on a shared machine than
// two), for before/after comparisons of the query walk with benchstat:
// residual, d = 2, lengthscale 0.1, n from PCCT_BENCH_N (default 65,536),
// m from PCCT_BENCH_M (256), k from PCCT_BENCH_K (30).
func BenchmarkVecchiaQueries(b *testing.B) {
	n := benchutil.EnvInt("PCCT_BENCH_N", 65536)
	m := benchutil.EnvInt("PCCT_BENCH_M", 256)
	k := benchutil.EnvInt("PCCT_BENCH_K", 30)
	x := uniformPoints(n, 2, 1)
	b.Run(fmt.Sprintf("n=%d/m=%d/k=%d", n, m, k), func(b *testing.B) {
		tr := walkBenchTree(b, x, n, m)
		opt := KNNOptions{K: k, Predecessor: true, Workers: benchutil.EnvInt("PCCT_BENCH_WORKERS_Q", 1)}
		var st QueryStats
		var err error
		for b.Loop() {
			if _, st, err = tr.AllKNN(context.Background(), opt); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(st.Distances)/float64(n), "dist/query")
	})
}

// walkBenchTree builds the tree of the walk benchmarks (BenchmarkVecchiaQueries,
// BenchmarkMaxMinOrder): the residual metric over the n points x (d = 2,
// lengthscale 0.1, m inducing points, seed 1).
func walkBenchTree(b testing.TB, x []float64, n, m int) *Tree {
	b.Helper()
	met, err := metric.NewResidual(context.Background(), x, n, 2, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: m, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	tr, err := Build(context.Background(), met, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return tr
}

// BenchmarkTreeBuild times the tree's build alone on PCCT_BENCH_WORKERS_Q
// workers (default 1), for before/after comparisons with benchstat:
// residual, d = 2, lengthscale 0.1, n from PCCT_BENCH_N (default 65,536),
// m from PCCT_BENCH_M (256); PCCT_BENCH_INSERT=1 builds by batch
// insertion, PCCT_BENCH_D sets the dimension (2; lengthscale 0.1 at d = 2,
// else 1), PCCT_BENCH_SCREEN=1 gives the metric its float32 screening copy
// and makes the insertion traversal screen its tiles (traverseScreens).
func BenchmarkTreeBuild(b *testing.B) {
	n := benchutil.EnvInt("PCCT_BENCH_N", 65536)
	m := benchutil.EnvInt("PCCT_BENCH_M", 256)
	d := benchutil.EnvInt("PCCT_BENCH_D", 2)
	ls := 0.1
	if d != 2 {
		ls = 1
	}
	x := uniformPoints(n, d, 1)
	b.Run(fmt.Sprintf("n=%d/m=%d/d=%d", n, m, d), func(b *testing.B) {
		met, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{ls}, Inducing: m, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		if benchutil.EnvInt("PCCT_BENCH_SCREEN", 0) == 1 {
			if err := met.EnableScreening(); err != nil {
				b.Fatal(err)
			}
			traverseScreens = true
			defer func() { traverseScreens = false }()
		}
		var st BuildStats
		for b.Loop() {
			tr, err := Build(context.Background(), met, Options{Workers: benchutil.EnvInt("PCCT_BENCH_WORKERS_Q", 1),
				Algorithm: Algorithm(benchutil.EnvInt("PCCT_BENCH_INSERT", 0))})
			if err != nil {
				b.Fatal(err)
			}
			st = tr.Stats
		}
		b.ReportMetric(float64(st.Distances)/float64(n), "dist/point")
	})
}

// BenchmarkInsert times Insert alone: n points (PCCT_BENCH_N, default
// 65,536) into a tree of the n before them, on PCCT_BENCH_WORKERS_Q workers
// (default 1): residual, d = 2, lengthscale 0.1, the first m points
// (PCCT_BENCH_M, 256) as inducing points for both metrics, so that the
// second extends the first. The build of the first tree is not timed.
func BenchmarkInsert(b *testing.B) {
	n := benchutil.EnvInt("PCCT_BENCH_N", 65536)
	m := benchutil.EnvInt("PCCT_BENCH_M", 256)
	workers := benchutil.EnvInt("PCCT_BENCH_WORKERS_Q", 1)
	x := uniformPoints(2*n, 2, 1)
	over := func(k int) metric.Metric {
		met, err := metric.NewResidual(context.Background(), x[:2*k], k, 2, metric.ResidualConfig{
			Method: metric.InducingExplicit, InducingPoints: x[:2*m], Lengthscale: []float64{0.1}})
		if err != nil {
			b.Fatal(err)
		}
		return met
	}
	b.Run(fmt.Sprintf("n=%d+%d/m=%d", n, n, m), func(b *testing.B) {
		first, all := over(n), over(2*n)
		var st BuildStats
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			tr, err := Build(context.Background(), first, Options{Workers: workers})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := tr.Insert(context.Background(), all, Options{Workers: workers}); err != nil {
				b.Fatal(err)
			}
			st = tr.Stats
		}
		b.ReportMetric(float64(st.Distances)/float64(n), "dist/point")
		b.ReportMetric(st.Utilisation, "util")
		b.ReportMetric(st.Serial.Seconds(), "serial-s")
	})
}

// reportProjection reports the time outside the pool's jobs (serial-s)
// of traced phases (named by prefix) and, for each worker count, the
// speed-up the schedule allows over one worker, per phase and for all
// (projN-x; see streamer.Trace).
func reportProjection(b *testing.B, traces []*streamer.Trace, names []string, workers []int) {
	var serial float64
	one := make([]float64, len(traces))
	for k, t := range traces {
		p := t.Project(1)
		one[k], serial = p.Wall.Seconds(), serial+p.Serial.Seconds()
		b.ReportMetric(p.Serial.Seconds(), names[k]+"serial-s")
		b.ReportMetric(float64(p.Jobs), names[k]+"jobs")
	}
	for _, w := range workers {
		var all, allW float64
		for k, t := range traces {
			pw := t.Project(w).Wall.Seconds()
			all, allW = all+one[k], allW+pw
			b.ReportMetric(one[k]/pw, fmt.Sprintf("%sproj%d-x", names[k], w))
		}
		b.ReportMetric(all/allW, fmt.Sprintf("proj%d-x", w))
	}
}
