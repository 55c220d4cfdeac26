package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/pcct/pcct/bench"
	"github.com/pcct/pcct/internal/dataio"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/tree"
)

// queriesJob is one `pcct queries` run: the benchmark workload of
// covertreex's cli.queries on synthetic points.
type queriesJob struct {
	mf                                         metricFlags
	dim, points, batch, queries, k, workers    int
	baseline, searchFlag, build, impl, logFile string
	gateFlag                                   string
	cpuprofile                                 string
	quiet                                      bool
	flags                                      map[string]string
}

func queriesCmd(args []string, stdout, stderr io.Writer) error {
	var j queriesJob
	if err := j.parse(args, stdout); err != nil {
		return err
	}
	info := stderr
	if j.quiet {
		info = io.Discard
	}
	baselines, _ := bench.ParseBaselines(j.baseline) // checked
	search, _ := tree.ParseSearch(j.searchFlag)
	gate, _ := tree.ParseGate(j.gateFlag)
	if j.logFile != "" {
		if err := dataio.CheckOutput(j.logFile); err != nil {
			return err
		}
	}
	ctx, pool, end, err := session(j.cpuprofile, j.workers)
	if err != nil {
		return err
	}
	defer end()
	fmt.Fprintf(info, "pcct queries: %d tree points and %d queries uniform in [0,1]^%d (seed %d), k = %d, search %s, build %s, workers %d; %s; baselines %s\n",
		j.points, j.queries, j.dim, j.mf.seed, j.k, j.searchFlag, j.build, pool.Workers(), j.mf.summary(), j.baseline)
	var logBuf strings.Builder
	var log *bench.Log
	if j.logFile != "" {
		log = bench.NewLog(&logBuf)
	}
	opt := tree.Options{Batch: j.batch}
	if j.build == "insertion" {
		opt.Algorithm = tree.Insertion
	}
	res, err := bench.RunQueries(ctx, bench.QueriesConfig{
		Dimension: j.dim, TreePoints: j.points, Queries: j.queries, K: j.k, Seed: j.mf.seed,
		Metric: func(ctx context.Context, x []float64, n, d int) (metric.Metric, error) {
			return j.mf.build(ctx, x, n, d, pool, nil)
		},
		Search: search, Tree: opt, Baselines: baselines, Pool: pool, Log: log, Gate: gate,
	})
	if err != nil {
		return err
	}
	printQueries(stdout, res, gate, j.k)
	if log == nil {
		return nil
	}
	return j.writeLog(stdout, log, &logBuf, res, pool.Workers())
}

// printQueries prints a queries run's times, screening, baselines and
// recall.
func printQueries(stdout io.Writer, res *bench.QueriesResult, gate tree.Gate, k int) {
	fmt.Fprintln(stdout, cpuLine())
	fmt.Fprintf(stdout, "pcct: build %.3f s, queries %.3f s, %.0f queries/s (%s)\n", res.Build.Seconds(), res.Query.Seconds(), res.PerSecond, describeSearch(res.Report))
	if gate != tree.GateOff {
		fmt.Fprintf(stdout, "screening (%s): %s\n", gate, describeScreen(res.Screen, gate))
	}
	for _, b := range res.Baselines {
		fmt.Fprintf(stdout, "baseline %-12s %.3f s, %.2fx pcct's time, recall@%d %.4f (against %s)\n", b.Name+":", b.Seconds, b.Slowdown, k, b.Recall, res.RecallAgainst)
	}
	if res.RecallAgainst == "brute" {
		fmt.Fprintf(stdout, "pcct recall@%d against brute force: %.4f\n", k, res.Recall)
	}
}

// writeLog completes the run's telemetry (its batch records in logBuf)
// with the run record and writes it to the log file, whole or not at all.
func (j *queriesJob) writeLog(stdout io.Writer, log *bench.Log, logBuf *strings.Builder, res *bench.QueriesResult, workers int) error {
	recall := map[string]float64{}
	if res.RecallAgainst == "brute" {
		recall["brute"] = res.Recall
	}
	log.Run(bench.RunRecord{Command: "queries", Config: j.flags, Seed: j.mf.seed, Kernels: kernels.Impl(),
		CPUFeatures: kernels.CPUFeatures(), Workers: workers, Points: j.points, Queries: j.queries, K: j.k,
		Search: describeSearch(res.Report), BuildS: res.Build.Seconds(), QueryS: res.Query.Seconds(),
		QueriesPerS: res.PerSecond, Recall: recall, Baselines: res.Baselines})
	var files dataio.Files
	defer files.Abort()
	if err := files.Write(j.logFile, func(w io.Writer) error { _, err := io.WriteString(w, logBuf.String()); return err }); err != nil {
		return err
	}
	if err := files.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", j.logFile)
	return nil
}

// parse reads and checks the flags.
func (j *queriesJob) parse(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pcct queries", flag.ContinueOnError)
	j.mf.register(fs)
	fs.IntVar(&j.dim, "dimension", 8, "dimension of the synthetic points")
	fs.IntVar(&j.points, "tree-points", 32768, "points in the tree")
	fs.IntVar(&j.batch, "batch-size", tree.DefaultBatch, "insertion batch size (with --build insertion)")
	fs.IntVar(&j.queries, "queries", 1024, "query points")
	fs.IntVar(&j.k, "k", 8, "neighbours per query")
	fs.StringVar(&j.baseline, "baseline", "none", "comma list of baselines to compare with: none, brute, sequential, gpboost")
	fs.StringVar(&j.searchFlag, "search", "auto", "auto, tree, brute or kd (k-d tree: --metric euclidean only)")
	fs.StringVar(&j.gateFlag, "gate", "off", "off (float64 tiles), screen (exact float32 screening of the tree's or brute force's tiles: residual metric in float64; costs n m 4 bytes; the same answer) or bound (exact pivot bounds, both metrics; off where they do not pay)")
	fs.StringVar(&j.build, "build", "nets", "tree build: nets (top-down greedy nets) or insertion (batch insertion with prefix doubling)")
	fs.IntVar(&j.workers, "workers", 0, "worker goroutines (default: the CPU count)")
	fs.StringVar(&j.impl, "kernels", "", "force a kernel implementation: generic, avx2 or avx512")
	fs.StringVar(&j.logFile, "log-file", "", "write telemetry (JSON lines: pcct.batch.v1 records, then pcct.run.v1) to FILE")
	fs.StringVar(&j.cpuprofile, "cpuprofile", "", "write a CPU profile (pprof) to FILE")
	fs.BoolVar(&j.quiet, "quiet", false, "print nothing on stderr but errors")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	set, all := given(fs)
	j.flags = all
	if err := j.mf.check(set); err != nil {
		return err
	}
	if j.impl != "" {
		if err := kernels.Select(j.impl); err != nil {
			return usageErr("--kernels: %v", err)
		}
	}
	if _, err := bench.ParseBaselines(j.baseline); err != nil {
		return usageErr("--baseline: %v", err)
	}
	if s, err := tree.ParseSearch(j.searchFlag); err != nil {
		return usageErr("--search: %v", err)
	} else if s == tree.SearchKD && j.mf.metric != "euclidean" {
		return usageErr("--search kd applies to the Euclidean metric (--metric euclidean)")
	}
	if g, err := tree.ParseGate(j.gateFlag); err != nil || (g != tree.GateOff && g != tree.GateScreen && g != tree.GateBound) {
		return usageErr("--gate must be off, screen or bound, got %q", j.gateFlag)
	} else if g == tree.GateScreen && (j.mf.metric != "residual" || j.mf.float32) {
		return usageErr("--gate screen applies to the residual metric with V in float64 (not --metric euclidean or --float32)")
	}
	switch {
	case j.dim < 1:
		return usageErr("--dimension must be at least 1, got %d", j.dim)
	case j.points < 2:
		return usageErr("--tree-points must be at least 2, got %d", j.points)
	case j.queries < 1:
		return usageErr("--queries must be at least 1, got %d", j.queries)
	case j.k < 1:
		return usageErr("--k must be at least 1, got %d", j.k)
	case j.batch < 1:
		return usageErr("--batch-size must be at least 1, got %d", j.batch)
	case set["batch-size"] && j.build != "insertion":
		return usageErr("--batch-size applies to --build insertion")
	case j.build != "nets" && j.build != "insertion":
		return usageErr("unknown --build %q (want nets or insertion)", j.build)
	case set["workers"] && j.workers < 1:
		return usageErr("--workers must be at least 1, got %d", j.workers)
	case j.workers > runtime.NumCPU():
		fmt.Fprintf(os.Stderr, "pcct queries: warning: --workers %d is more than the %d CPUs\n", j.workers, runtime.NumCPU())
	}
	if err := j.mf.checkData(j.points, j.dim); err != nil {
		return err
	}
	return nil
}
