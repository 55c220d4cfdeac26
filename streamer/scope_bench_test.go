package streamer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/pcct/pcct/internal/benchutil"
	"github.com/pcct/pcct/kernels/metric"
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
		m, err := metric.NewResidual(x, n, d, metric.ResidualConfig{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		scopeBenchMetric = m
	}
	return scopeBenchMetric
}

// BenchmarkScope collects the scopes of 512 queries against 32,768 dense
// candidates (residual metric, m = 512, d = 8, float64) and reports the
// wall time against the bare kernel time of the same tiles run one after
// another on one goroutine (kernel/wall is the speed-up; busy/kernel the
// machinery's overhead), and the pool's utilisation.
func BenchmarkScope(b *testing.B) {
	const n, nq = 32768, 512
	m := benchMetric(b)
	qids := make([]int32, nq)
	radius := make([]float64, nq)
	for i := range qids {
		qids[i] = int32(i * (n / nq))
		radius[i] = 0.7
	}
	all := metric.Range(0, n)
	req := ScopeRequest{Metric: m, Queries: m.Data(), QueryIDs: qids, Radius: radius, Candidates: m.Data(), Dense: &all,
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
			p := NewPool(workers)
			defer p.Close()
			sc := NewScopeCollector(p)
			var util, busy float64
			for b.Loop() {
				s, err := sc.Collect(req)
				if err != nil {
					b.Fatal(err)
				}
				util += s.Stats.Utilisation()
				for _, j := range s.Stats.Jobs {
					for _, x := range j.Busy {
						busy += float64(x)
					}
				}
			}
			wall := float64(b.Elapsed()) / float64(b.N)
			b.ReportMetric(util/float64(b.N), "util")
			b.ReportMetric(float64(kernel)/wall, "kernel/wall")
			b.ReportMetric(busy/float64(b.N)/float64(kernel), "busy/kernel")
			b.ReportMetric(float64(nq*n)/wall*1e9, "dist/s")
		})
	}
}

// bareTiles times the scope's tiles computed back to back on one goroutine
// (best of 3).
func bareTiles(m metric.Metric, req ScopeRequest, qb, ch int) time.Duration {
	w := metric.NewWorkspace()
	tile := make([]float64, qb*ch)
	n := req.Dense.Len()
	best := time.Duration(1 << 62)
	for range 3 {
		t0 := time.Now()
		for q0 := 0; q0 < len(req.QueryIDs); q0 += qb {
			for c0 := 0; c0 < n; c0 += ch {
				c1 := min(n, c0+ch)
				m.Tile(w, tile, c1-c0, req.Queries, metric.List(req.QueryIDs[q0:q0+qb]), req.Candidates, metric.Range(c0, c1))
			}
		}
		best = min(best, time.Since(t0))
	}
	return best
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
	req := ScopeRequest{Metric: m, Queries: m.Data(), QueryIDs: qids, Radius: radius, Candidates: m.Data(),
		SparseOffsets: offsets, SparseIDs: ids}
	for _, grouped := range []bool{true, false} {
		b.Run(fmt.Sprintf("grouped=%v/q=%d/list=%d", grouped, nq, nl), func(b *testing.B) {
			saved := sparseGroupSlack
			if !grouped {
				sparseGroupSlack = 0
			}
			defer func() { sparseGroupSlack = saved }()
			p := NewPool(0)
			defer p.Close()
			sc := NewScopeCollector(p)
			for b.Loop() {
				if _, err := sc.Collect(req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(nq*nl)*float64(b.N)/b.Elapsed().Seconds(), "dist/s")
		})
	}
}
