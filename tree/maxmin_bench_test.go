package tree

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/pcct/pcct/internal/benchutil"
	"github.com/pcct/pcct/streamer"
)

// BenchmarkMaxMinOrder times the max-min ordering through the cover tree
// (the tree built once, outside the timing) on PCCT_BENCH_WORKERS_Q
// workers (default 1): residual, d = 2, lengthscale 0.1, n from
// PCCT_BENCH_N (default 32,768), m from PCCT_BENCH_M (256). With
// PCCT_BENCH_PROJECT (worker counts, e.g. 4,16) it reports the speed-up
// the schedule of the last run's pool jobs allows on each (see
// reportProjection), its batches split for the largest of them as that
// many workers would split them (run on one worker for clean task
// times).
func BenchmarkMaxMinOrder(b *testing.B) {
	n := benchutil.EnvInt("PCCT_BENCH_N", 32768)
	m := benchutil.EnvInt("PCCT_BENCH_M", 256)
	workers := benchutil.EnvInt("PCCT_BENCH_WORKERS_Q", 1)
	project := benchutil.EnvInts("PCCT_BENCH_PROJECT")
	x := uniformPoints(n, 2, 1)
	b.Run(fmt.Sprintf("n=%d/m=%d/workers=%d", n, m, workers), func(b *testing.B) {
		tr := walkBenchTree(b, x, n, m)
		tracedOrder(b, workers, project, func(pool *streamer.Pool, split int) error {
			_, err := newMaxMinSteps(tr, pool, split, true).order(context.Background(), 0, nil)
			return err
		})
	})
}

// tracedOrder runs order (an ordering on pool, its batches split for
// split workers) in b's loop on a pool of workers; with project (worker
// counts), split for the largest, each run traced and the last one's
// projection reported.
func tracedOrder(b *testing.B, workers int, project []int, order func(pool *streamer.Pool, split int) error) {
	pool := streamer.NewPool(workers)
	defer pool.Close()
	var trace *streamer.Trace
	for b.Loop() {
		if project != nil {
			trace = streamer.NewTrace()
			pool.SetTrace(trace)
		}
		if err := order(pool, max(workers, slices.Max(append(project, 1)))); err != nil {
			b.Fatal(err)
		}
		if trace != nil {
			trace.Stop()
			pool.SetTrace(nil)
		}
	}
	if trace != nil {
		reportProjection(b, []*streamer.Trace{trace}, []string{"order-"}, project)
	}
}

// BenchmarkMaxMinOrderKD times the Euclidean max-min ordering through the
// k-d tree (built once, outside the timing), d = 2, n from PCCT_BENCH_N
// (default 262,144): steps=caller one at a time on the calling goroutine
// (KDTree.MaxMinOrder), steps=pool in batches on PCCT_BENCH_WORKERS_Q
// workers (default 1; OrderMaxMin). PCCT_BENCH_PROJECT projects the pool
// runs as in BenchmarkMaxMinOrder.
func BenchmarkMaxMinOrderKD(b *testing.B) {
	n := benchutil.EnvInt("PCCT_BENCH_N", 262144)
	workers := benchutil.EnvInt("PCCT_BENCH_WORKERS_Q", 1)
	project := benchutil.EnvInts("PCCT_BENCH_PROJECT")
	x := uniformPoints(n, 2, 1)
	_, kd := kdOf(b, x, n, 2)
	b.Run(fmt.Sprintf("n=%d/steps=caller", n), func(b *testing.B) {
		for b.Loop() {
			if _, err := kd.MaxMinOrder(context.Background(), 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("n=%d/steps=pool/workers=%d", n, workers), func(b *testing.B) {
		tracedOrder(b, workers, project, func(pool *streamer.Pool, split int) error {
			_, _, err := kd.maxMinOrder(context.Background(), 0, nil, pool, split)
			return err
		})
	})
}
