package scope

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/pcct/pcct/internal/benchutil"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

var scopeBenchMetric *metric.Residual

// benchMetric builds (once) the residual metric of 32,768 uniform points in
// [0,1]^8 with m = 512.
func benchMetric(b *testing.B) *metric.Residual {
	if scopeBenchMetric == nil {
		const n, d = 32768, 8
		r := rand.New(rand.NewPCG(1, 1))
		x := make([]float64, n*d)
		for i := range x {
			x[i] = r.Float64()
		}
		m, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		scopeBenchMetric = m
	}
	return scopeBenchMetric
}

// benchQueries returns nq query ids spread evenly over n points, each with
// radius 0.7 (in the residual metric of benchMetric: about 35 points each).
func benchQueries(n, nq int) ([]int32, []float64) {
	qids := make([]int32, nq)
	radius := make([]float64, nq)
	for i := range qids {
		qids[i] = int32(i * (n / nq))
		radius[i] = 0.7
	}
	return qids, radius
}

// BenchmarkScope collects the scopes of 512 queries against 32,768 dense
// candidates (residual metric, m = 512, d = 8, float64) and reports the
// wall time against the bare kernel time of the same tiles run one after
// another on one goroutine (kernel/wall is the speed-up; busy/kernel the
// machinery's overhead), the pool's utilisation, and the time spent outside
// the pool's jobs (serial-ms).
func BenchmarkScope(b *testing.B) {
	const n, nq = 32768, 512
	m := benchMetric(b)
	qids, radius := benchQueries(n, nq)
	all := metric.Range(0, n)
	req := Request{Metric: m, Queries: m.Data(), QueryIDs: qids, Radius: radius, Candidates: m.Data(), Dense: &all,
		QueryBlock: benchutil.EnvInt("PCCT_BENCH_QB", 0), Chunk: benchutil.EnvInt("PCCT_BENCH_CHUNK", 512)}
	if v := os.Getenv("PCCT_BENCH_ORDER"); v != "" {
		denseOrder = v
	}
	for _, workers := range benchutil.Workers() {
		// The bare kernel time: the same tiles, one goroutine, no pool.
		qb := req.QueryBlock
		if qb == 0 {
			qb = defaultQueryBlock(workers)
		}
		kernel := bareTiles(m, req, qb, req.Chunk)
		b.Run(fmt.Sprintf("workers=%d/q=%d/c=%d/m=512", workers, nq, n), func(b *testing.B) {
			p := streamer.NewPool(workers)
			defer p.Close()
			sc := NewCollector(p)
			var util, busy, jobs float64
			for b.Loop() {
				s, err := sc.Collect(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				util += s.Stats.Utilisation()
				for _, j := range s.Stats.Jobs {
					jobs += float64(j.Wall)
					for _, x := range j.Busy {
						busy += float64(x)
					}
				}
			}
			wall := float64(b.Elapsed()) / float64(b.N)
			// Time outside the pool's jobs (checks, planning, merging
			// that runs on one goroutine): the serial part that bounds
			// the speed-up on many cores.
			b.ReportMetric((wall-jobs/float64(b.N))/1e6, "serial-ms")
			b.ReportMetric(util/float64(b.N), "util")
			b.ReportMetric(float64(kernel)/wall, "kernel/wall")
			b.ReportMetric(busy/float64(b.N)/float64(kernel), "busy/kernel")
			b.ReportMetric(float64(nq*n)/wall*1e9, "dist/s")
		})
	}
}

// bareTiles times the scope's tiles computed back to back on one goroutine
// (best of 3), each query block's rows packed beforehand (untimed), so that
// the baseline does only the tiles' arithmetic.
func bareTiles(m metric.Metric, req Request, qb, ch int) time.Duration {
	w := metric.NewWorkspace()
	tile := make([]float64, qb*ch)
	n := req.Dense.Len()
	var blocks []*metric.Set
	for q0 := 0; q0 < len(req.QueryIDs); q0 += qb {
		blocks = append(blocks, metric.Pack(req.Queries, metric.List(req.QueryIDs[q0:min(len(req.QueryIDs), q0+qb)])))
	}
	best := time.Duration(1 << 62)
	for range 3 {
		t0 := time.Now()
		for _, qs := range blocks {
			for c0 := 0; c0 < n; c0 += ch {
				c1 := min(n, c0+ch)
				m.Tile(w, tile, c1-c0, qs, metric.Range(0, qs.N), req.Candidates, metric.Range(c0, c1))
			}
		}
		best = min(best, time.Since(t0))
	}
	return best
}

// BenchmarkScopeDenseIDs: the dense scope of BenchmarkScope with the level
// given as a shuffled list of ids (as a tree level is), on the default pool.
func BenchmarkScopeDenseIDs(b *testing.B) {
	const n, nq = 32768, 512
	m := benchMetric(b)
	qids, radius := benchQueries(n, nq)
	ids := make([]int32, n)
	for i, p := range rand.New(rand.NewPCG(3, 3)).Perm(n) {
		ids[i] = int32(p)
	}
	level := metric.List(ids)
	req := Request{Metric: m, Queries: m.Data(), QueryIDs: qids, Radius: radius, Candidates: m.Data(), Dense: &level}
	collectLoop(b, req, nq*n)
}

// BenchmarkScopeSparse: 512 queries, each proposing the same 4096
// candidates in its own order (the tree's typical case of shared candidate
// sets), grouped into block tiles or scanned query by query.
func BenchmarkScopeSparse(b *testing.B) {
	const n, nq, nl = 32768, 512, 4096
	m := benchMetric(b)
	r := rand.New(rand.NewPCG(2, 2))
	qids := make([]int32, nq)
	radius := make([]float64, nq)
	offsets := []int{0}
	var ids []int32
	base := r.Perm(n)[:nl]
	for i := range qids {
		qids[i] = int32(i * (n / nq))
		radius[i] = 0.7
		r.Shuffle(nl, func(a, c int) { base[a], base[c] = base[c], base[a] })
		for _, id := range base {
			ids = append(ids, int32(id))
		}
		offsets = append(offsets, len(ids))
	}
	req := Request{Metric: m, Queries: m.Data(), QueryIDs: qids, Radius: radius, Candidates: m.Data(),
		SparseOffsets: offsets, SparseIDs: ids}
	for _, grouped := range []bool{true, false} {
		b.Run(fmt.Sprintf("grouped=%v/q=%d/list=%d", grouped, nq, nl), func(b *testing.B) {
			saved := sparseGroupSlack
			if !grouped {
				sparseGroupSlack = 0
			}
			defer func() { sparseGroupSlack = saved }()
			collectLoop(b, req, nq*nl)
		})
	}
}

// collectLoop times Collect(req) on a pool of GOMAXPROCS workers and reports
// dists distances per collection as dist/s.
func collectLoop(b *testing.B, req Request, dists int) {
	p := streamer.NewPool(0)
	defer p.Close()
	sc := NewCollector(p)
	for b.Loop() {
		if _, err := sc.Collect(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(dists)*float64(b.N)/b.Elapsed().Seconds(), "dist/s")
}

// BenchmarkScopeSparseOverlap: 512 queries, each proposing 4096 candidates
// drawn at random from a shared pool of 8192, 16384 or 32768, so a block of
// 64 queries meets about 2, 4 or 8 times the distances it needs if tiled
// against its union. Grouping pays while the union tile's extra work costs
// less than scanning query by query (single-row tiles); slack=N sets
// sparseGroupSlack.
func BenchmarkScopeSparseOverlap(b *testing.B) {
	const n, nq, nl = 32768, 512, 4096
	m := benchMetric(b)
	for _, pool := range []int{8192, 16384, 32768} {
		r := rand.New(rand.NewPCG(3, uint64(pool)))
		qids, radius := benchQueries(n, nq)
		base := r.Perm(n)[:pool]
		offsets := []int{0}
		var ids []int32
		for range qids {
			r.Shuffle(pool, func(a, c int) { base[a], base[c] = base[c], base[a] })
			for _, id := range base[:nl] {
				ids = append(ids, int32(id))
			}
			offsets = append(offsets, len(ids))
		}
		req := Request{Metric: m, Queries: m.Data(), QueryIDs: qids, Radius: radius, Candidates: m.Data(),
			SparseOffsets: offsets, SparseIDs: ids, QueryBlock: 64}
		for _, slack := range []int{2, 4, 8} {
			b.Run(fmt.Sprintf("pool=%d/slack=%d", pool, slack), func(b *testing.B) {
				saved := sparseGroupSlack
				sparseGroupSlack = slack
				defer func() { sparseGroupSlack = saved }()
				collectLoop(b, req, nq*nl)
			})
		}
	}
}

// BenchmarkClock runs an L1-resident dot tile (8 x 12, m = 128: 20 KiB of
// rows) on every worker at once and reports the rate per worker. On a
// many-core machine it separates the two reasons a scope tile slows down
// when all cores run: if this rate falls as workers are added, the cores
// clock down (AVX-512 all-core frequency); if it holds while the scope's
// busy/kernel grows, the tiles wait on memory.
func BenchmarkClock(b *testing.B) {
	const q, c, m, reps = 8, 12, 128, 2000
	for _, workers := range benchutil.Workers() {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			p := streamer.NewPool(workers)
			defer p.Close()
			type buf struct{ a, bb, g []float64 }
			bufs := make([]buf, workers)
			for w := range bufs {
				r := rand.New(rand.NewPCG(uint64(w), 7))
				bufs[w] = buf{make([]float64, q*m), make([]float64, c*m), make([]float64, q*c)}
				for i := range bufs[w].a {
					bufs[w].a[i] = r.Float64()
				}
				for i := range bufs[w].bb {
					bufs[w].bb[i] = r.Float64()
				}
			}
			tasks := 16 * workers
			var busy float64
			for b.Loop() {
				st, err := p.Run(tasks, func(w, _ int) {
					x := bufs[w]
					for range reps {
						kernels.DotTile(x.g, c, x.a, m, x.bb, m, q, c, m)
					}
				})
				if err != nil {
					b.Fatal(err)
				}
				for _, d := range st.Busy {
					busy += d.Seconds()
				}
			}
			flops := 2 * float64(q*c*m) * reps * float64(tasks) * float64(b.N)
			b.ReportMetric(flops/busy/1e9, "GFLOP/s/worker")
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
