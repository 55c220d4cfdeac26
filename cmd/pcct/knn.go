package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/pcct/pcct/internal/dataio"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

// metricFlags are the metric options shared by the subcommands.
type metricFlags struct {
	metric, kernel, lengthscale, inducingMethod, inducingPoints string
	variance, jitter                                            float64
	inducing                                                    int
	seed                                                        uint64
	float32                                                     bool
}

func (m *metricFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.metric, "metric", "residual", "distance: residual or euclidean")
	fs.StringVar(&m.kernel, "kernel", "rbf", "covariance kernel: rbf or matern52")
	fs.StringVar(&m.lengthscale, "lengthscale", "1", "lengthscale: one value, or a comma list with one per dimension")
	fs.Float64Var(&m.variance, "variance", 1, "kernel variance s2 (> 0)")
	fs.IntVar(&m.inducing, "inducing", 0, "inducing-point count m (default 512, capped at n)")
	fs.StringVar(&m.inducingMethod, "inducing-method", "random", "how to choose inducing points: random or kmeans++")
	fs.StringVar(&m.inducingPoints, "inducing-points", "", "file (.npy or .csv) of explicit inducing coordinates, as in your own GP model")
	fs.Float64Var(&m.jitter, "jitter", 0, "diagonal jitter of K_UU (default 1e-6 x variance)")
	fs.Uint64Var(&m.seed, "seed", 42, "random seed (inducing points, synthetic data)")
	fs.BoolVar(&m.float32, "float32", false, "store V in float32 (refused when its error bound on rho exceeds 1e-3)")
}

func (m *metricFlags) build(ctx context.Context, x []float64, n, d int, pool *streamer.Pool) (metric.Metric, error) {
	switch m.metric {
	case "euclidean":
		return metric.NewEuclidean(x, n, d)
	case "residual":
	default:
		return nil, usageErr("unknown --metric %q (want residual or euclidean)", m.metric)
	}
	kind, err := metric.ParseKernel(m.kernel)
	if err != nil {
		return nil, usageErr("--kernel: %v", err)
	}
	var ls []float64
	for _, s := range strings.Split(m.lengthscale, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, usageErr("--lengthscale: %q is not a number", s)
		}
		ls = append(ls, v)
	}
	cfg := metric.ResidualConfig{
		Kernel: kind, Variance: m.variance, Lengthscale: ls, Inducing: m.inducing,
		Jitter: m.jitter, Seed: m.seed, Float32: m.float32, Pool: pool,
	}
	if m.variance <= 0 {
		return nil, usageErr("--variance must be positive, got %v", m.variance)
	}
	switch m.inducingMethod {
	case "random":
		cfg.Method = metric.InducingRandom
	case "kmeans++", "kmeans":
		cfg.Method = metric.InducingKMeansPP
	default:
		return nil, usageErr("unknown --inducing-method %q (want random or kmeans++)", m.inducingMethod)
	}
	if m.inducingPoints != "" {
		u, _, ud, err := dataio.ReadPoints(m.inducingPoints)
		if err != nil {
			return nil, fmt.Errorf("--inducing-points: %w", err)
		}
		if ud != d {
			return nil, fmt.Errorf("--inducing-points: points have %d dimensions, the data has %d", ud, d)
		}
		cfg.Method, cfg.InducingPoints = metric.InducingExplicit, u
	}
	return metric.NewResidual(ctx, x, n, d, cfg)
}

// syntheticPoints is the embedded example: n points uniform in the unit
// cube of dimension d, from the seed.
func syntheticPoints(n, d int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = r.Float64()
	}
	return x
}

// knnJob is one `pcct knn` run: its flags, then its inputs.
type knnJob struct {
	mf                                       metricFlags
	input, output, queries, impl, searchFlag string
	cpuprofile, memprofile                   string
	k, workers, exN, exD, show               int
	pred                                     bool
	search                                   tree.Search
	x, xq                                    []float64 // data and query coordinates
	n, d, nq                                 int
	source                                   string
}

func knnCmd(args []string, stdout, stderr io.Writer) error {
	var j knnJob
	if err := j.parse(args, stdout); err != nil {
		return err
	}
	if err := j.load(stderr); err != nil {
		return err
	}
	if j.cpuprofile != "" {
		stop, err := startCPUProfile(j.cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stopSignals()
	pool := streamer.NewPool(j.workers)
	defer pool.Close()
	t0 := time.Now()
	m, err := j.mf.build(ctx, j.x, j.n, j.d, pool)
	if err != nil {
		return err
	}
	tBuild := time.Since(t0)
	t1 := time.Now()
	nb, how, err := j.run(ctx, m, pool)
	if err != nil {
		return err
	}
	tKNN := time.Since(t1)
	if j.memprofile != "" {
		if err := writeHeapProfile(j.memprofile); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "pcct knn: search: %s\n", how)
	return j.report(stdout, m, nb, tBuild, tKNN)
}

// parse reads and checks the flags.
func (j *knnJob) parse(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pcct knn", flag.ContinueOnError)
	j.mf.register(fs)
	fs.StringVar(&j.input, "input", "", "points file (.npy or .csv), n x d; without it an embedded synthetic example is used")
	fs.StringVar(&j.output, "output", "", "write indices to FILE (.npy: int64 n x k, distances float64 in FILE_distances.npy; .csv: one line per point)")
	fs.IntVar(&j.k, "k", 8, "neighbours per point")
	fs.BoolVar(&j.pred, "predecessor", false, "Vecchia mode: point i may only take neighbours j < i")
	fs.IntVar(&j.workers, "workers", 0, "worker goroutines (default GOMAXPROCS)")
	fs.StringVar(&j.impl, "kernels", "", "force a kernel implementation: generic, avx2 or avx512")
	fs.IntVar(&j.exN, "example-n", 8192, "points in the synthetic example")
	fs.IntVar(&j.exD, "example-d", 8, "dimensions of the synthetic example")
	fs.IntVar(&j.show, "show", 3, "rows of the answer to print")
	fs.StringVar(&j.queries, "queries", "", "query points file (.npy or .csv): find each query's k nearest data points instead of all-points k-NN")
	fs.StringVar(&j.searchFlag, "search", "auto", "how to search: auto (the tree where the metric has structure, else brute force), tree or brute; the answer is the same")
	fs.StringVar(&j.cpuprofile, "cpuprofile", "", "write a CPU profile (pprof) to FILE")
	fs.StringVar(&j.memprofile, "memprofile", "", "write a heap profile (pprof) to FILE at the end")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if j.impl != "" {
		if err := kernels.Select(j.impl); err != nil {
			return usageErr("--kernels: %v", err)
		}
	}
	if j.k < 1 {
		return usageErr("--k must be at least 1, got %d", j.k)
	}
	if j.workers < 0 {
		return usageErr("--workers must be positive, got %d", j.workers)
	}
	var err error
	if j.search, err = tree.ParseSearch(j.searchFlag); err != nil {
		return usageErr("--search: %v", err)
	}
	if o := strings.ToLower(j.output); o != "" && !strings.HasSuffix(o, ".npy") && !strings.HasSuffix(o, ".csv") {
		return usageErr("--output must end in .npy or .csv, got %q", j.output)
	}
	if j.queries != "" && j.pred {
		return usageErr("--predecessor applies to all-points k-NN, not to --queries")
	}
	if j.input == "" && (j.exN < 2 || j.exD < 1) {
		return usageErr("--example-n must be >= 2 and --example-d >= 1")
	}
	return nil
}

// load reads the data (or makes the synthetic example) and the queries.
func (j *knnJob) load(stderr io.Writer) error {
	var err error
	if j.input != "" {
		if j.x, j.n, j.d, err = dataio.ReadPoints(j.input); err != nil {
			return err
		}
		j.source = j.input
	} else {
		j.n, j.d = j.exN, j.exD
		j.x = syntheticPoints(j.n, j.d, j.mf.seed)
		j.source = fmt.Sprintf("synthetic example (n=%d uniform points in [0,1]^%d, seed %d)", j.n, j.d, j.mf.seed)
	}
	if j.queries == "" {
		if j.k > j.n-1 {
			fmt.Fprintf(stderr, "pcct knn: note: --k = %d is larger than the %d other points (n = %d); rows are padded with -1 / +Inf\n", j.k, j.n-1, j.n)
		}
		return nil
	}
	var dq int
	if j.xq, j.nq, dq, err = dataio.ReadPoints(j.queries); err != nil {
		return fmt.Errorf("--queries: %w", err)
	}
	if dq != j.d {
		return fmt.Errorf("--queries: points have %d dimensions, the data has %d", dq, j.d)
	}
	if j.k > j.n {
		fmt.Fprintf(stderr, "pcct knn: note: --k = %d is larger than the %d data points; rows are padded with -1 / +Inf\n", j.k, j.n)
	}
	j.source += fmt.Sprintf("; queries: %s (%d points)", j.queries, j.nq)
	return nil
}

// run answers the job and says how.
func (j *knnJob) run(ctx context.Context, m metric.Metric, pool *streamer.Pool) (*tree.Neighbours, string, error) {
	opt := tree.KNNOptions{K: j.k, Predecessor: j.pred, Pool: pool}
	if j.queries == "" {
		nb, rep, err := tree.AllKNNSearch(ctx, m, opt, j.search, tree.Options{Pool: pool})
		return nb, describeSearch(rep), err
	}
	qs, err := m.Embed(ctx, j.xq, j.nq)
	if err != nil {
		return nil, "", fmt.Errorf("--queries: %w", err)
	}
	nb, rep, err := tree.KNNSearch(ctx, m, qs, opt, j.search, tree.Options{Pool: pool})
	return nb, describeSearch(rep), err
}

// report prints the summary and a few answers, and writes the output.
func (j *knnJob) report(stdout io.Writer, m metric.Metric, nb *tree.Neighbours, tBuild, tKNN time.Duration) error {
	fmt.Fprintln(stdout, cpuLine())
	fmt.Fprintf(stdout, "input: %s\n", j.source)
	desc := m.Name()
	if r, ok := m.(*metric.Residual); ok {
		desc += fmt.Sprintf(" (%s kernel, m=%d inducing points, jitter %g)", j.mf.kernel, r.Inducing(), r.Jitter())
		if j.mf.float32 {
			desc += fmt.Sprintf("; float32 V, error bound on rho %.3g", r.Float32Bound())
		}
	}
	mode, what := "all points", "point"
	if j.pred {
		mode = "predecessors (Vecchia)"
	} else if j.queries != "" {
		mode, what = "query points", "query"
	}
	fmt.Fprintf(stdout, "metric: %s\nexact %d-NN over %s: metric built in %.3f s, search %.3f s\n",
		desc, j.k, mode, tBuild.Seconds(), tKNN.Seconds())
	rows := nb.N()
	for i := 0; i < min(j.show, rows); i++ {
		r := rows - 1 - i // the last points have the most predecessors
		ids, ds := nb.Row(r)
		fmt.Fprintf(stdout, "%s %d: neighbours %v distances %.4f\n", what, r, ids, ds)
	}
	if j.output == "" {
		return nil
	}
	idx64 := make([]int64, len(nb.Indices()))
	for i, v := range nb.Indices() {
		idx64[i] = int64(v)
	}
	if err := writeNeighbours(j.output, idx64, nb.Distances(), rows, j.k); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", j.output)
	return nil
}

func writeNeighbours(path string, idx []int64, dist []float64, n, k int) error {
	switch {
	case strings.HasSuffix(strings.ToLower(path), ".npy"):
		if err := dataio.WriteNpy(path, idx, n, k); err != nil {
			return err
		}
		return dataio.WriteNpy(dataio.DistancesPath(path), dist, n, k)
	case strings.HasSuffix(strings.ToLower(path), ".csv"):
		return dataio.WriteNeighboursCSV(path, idx, dist, n, k)
	}
	return usageErr("--output must end in .npy or .csv, got %q", path)
}

// parseFlags parses args; a bad flag is a one-line usage error, -h prints
// the flags to stdout.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if err == flag.ErrHelp {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage of %s:\n", fs.Name())
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return usageErr("%v (run '%s -h' for the flags)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// describeSearch is the one-line summary of how an all-points job ran.
func describeSearch(r tree.Report) string {
	if r.Method == tree.SearchBrute && r.Build.Wall == 0 {
		return "brute force (" + r.Reason + ")"
	}
	s := fmt.Sprintf("build %.3f s (%d distances, %d net steps, depth %d, utilisation %.0f%%)", r.Build.Wall.Seconds(), r.Build.Distances, r.Build.NetSteps, r.Build.Depth, 100*r.Build.Utilisation)
	if r.Method == tree.SearchBrute {
		return fmt.Sprintf("brute force: %s; tree %s", r.Reason, s)
	}
	return fmt.Sprintf("cover tree, %s: %s; queries %.3f s (%d distances, %d groups, utilisation %.0f%%)", r.Reason, s, r.QueryTime.Seconds(), r.Query.Distances, r.Query.Groups, 100*r.Query.Utilisation)
}
