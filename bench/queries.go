package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

// QueriesConfig is the `pcct queries` workload: TreePoints points and
// Queries query points, uniform in [0,1]^Dimension from Seed (the queries
// from Seed+1), and the K nearest tree points of every query.
type QueriesConfig struct {
	Dimension, TreePoints, Queries, K int
	Seed                              uint64
	// Metric builds the metric over the tree points (the caller's flags).
	Metric func(ctx context.Context, x []float64, n, d int) (metric.Metric, error)
	Search tree.Search
	Tree   tree.Options // build options: algorithm, batch size, pool
	// Baselines to run after pcct (brute, sequential, gpboost).
	Baselines []string
	Pool      *streamer.Pool
	Log       *Log // nil: no telemetry
	// Gate screens the search's tiles: in float32 (tree.GateScreen: the
	// residual metric with V in float64; its float32 copy is made before
	// the queries are embedded) or by pivot bounds (tree.GateBound). The
	// answer is the same.
	Gate tree.Gate
}

// QueriesResult is what a queries run measured.
type QueriesResult struct {
	Report    tree.Report
	Build     time.Duration // tree build (0 when brute force answered)
	Query     time.Duration
	PerSecond float64 // queries per second of the query phase
	Answer    *tree.Neighbours
	Baselines []BaselineResult
	// RecallAgainst names the reference of the recalls: "brute" when the
	// brute baseline ran, else "pcct" (pcct's own answer). Recall is
	// pcct's own recall@k against brute force (1 when brute did not run).
	RecallAgainst string
	Recall        float64
	Screen        tree.ScreenStats // with Gate
}

// Uniform returns n points uniform in [0,1]^d from the seed.
func Uniform(n, d int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = r.Float64()
	}
	return x
}

// RunQueries runs the workload: the metric, pcct's search (tree build and
// queries, or brute force where auto finds no structure), then each
// baseline, with recall@k against brute force. With a log it writes one
// batch record per build batch, one for the queries, and the run record.
func RunQueries(ctx context.Context, cfg QueriesConfig) (*QueriesResult, error) {
	d, n, nq := cfg.Dimension, cfg.TreePoints, cfg.Queries
	m, err := cfg.Metric(ctx, Uniform(n, d, cfg.Seed), n, d)
	if err != nil {
		return nil, err
	}
	if cfg.Gate == tree.GateScreen {
		r, ok := m.(*metric.Residual)
		if !ok {
			return nil, metric.BadInput("gate screen applies to the residual metric, not %s", m.Name())
		}
		if err := r.EnableScreening(); err != nil {
			return nil, err
		}
	}
	qs, err := m.Embed(ctx, Uniform(nq, d, cfg.Seed+1), nq)
	if err != nil {
		return nil, err
	}
	var screen tree.ScreenStats
	opt := tree.KNNOptions{K: cfg.K, Pool: cfg.Pool, Gate: cfg.Gate, ScreenStats: &screen}
	cfg.Tree.Pool = cfg.Pool
	nb, rep, err := tree.KNNSearch(ctx, m, qs, opt, cfg.Search, cfg.Tree)
	if err != nil {
		return nil, err
	}
	res := &QueriesResult{Report: rep, Build: rep.Build.Wall, Query: rep.QueryTime, Answer: nb, RecallAgainst: "pcct", Screen: screen}
	if res.Query > 0 {
		res.PerSecond = float64(nq) / res.Query.Seconds()
	}
	workers := cfg.Pool.Workers()
	if rep.Build.Wall > 0 {
		for _, r := range BuildRecords(rep.Build, n, workers) {
			cfg.Log.Batch(r)
		}
	}
	cfg.Log.Batch(BatchRecord{Phase: "query", BatchSize: nq, QueryMS: ms(rep.QueryTime), Distances: rep.Query.Distances,
		Workers: workers, WorkerBusyMS: BusyMS(rep.Query.Busy), Utilisation: rep.Query.Utilisation, SerialMS: ms(rep.Query.Serial),
		PivotSkipped: rep.Query.PivotSkipped, Steals: rep.Query.Steals})
	pcctTime := (res.Build + res.Query).Seconds()
	answers := map[string]*tree.Neighbours{}
	for _, b := range cfg.Baselines {
		got, took, err := RunBaseline(ctx, b, m, qs, cfg.K, cfg.Pool)
		if err != nil {
			return nil, fmt.Errorf("baseline %s: %w", b, err)
		}
		answers[b] = got
		res.Baselines = append(res.Baselines, BaselineResult{Name: b, Seconds: took.Seconds(), Slowdown: took.Seconds() / pcctTime})
	}
	truth := nb
	res.Recall = 1
	if b, ok := answers["brute"]; ok {
		truth, res.RecallAgainst = b, "brute"
		res.Recall = Recall(nb, b)
	}
	for i := range res.Baselines {
		res.Baselines[i].Recall = Recall(answers[res.Baselines[i].Name], truth)
	}
	return res, nil
}
