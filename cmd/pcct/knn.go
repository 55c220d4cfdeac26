package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/pcct/pcct/bench"
	"github.com/pcct/pcct/internal/dataio"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

// syntheticPoints is the embedded example: n points uniform in the unit
// cube of dimension d, from the seed (the same points as pcct queries').
func syntheticPoints(n, d int, seed uint64) []float64 { return bench.Uniform(n, d, seed) }

// knnJob is one `pcct knn` run: its flags, then its inputs.
type knnJob struct {
	mf                                       metricFlags
	input, output, queries, impl, searchFlag string
	cpuprofile, memprofile, format, maxMem   string
	order, logFile, gateFlag, layout         string
	gate                                     tree.Gate
	screen                                   tree.ScreenStats
	flags                                    map[string]string
	rep                                      tree.Report
	orderRep                                 *tree.Report // the max-min ordering's (--order maxmin or maxmin-coords), or nil
	workersUsed                              int
	perm                                     []int32 // the ordering (--order), or nil
	stored                                   []int32 // the points' storage order (--layout), or nil
	built                                    []int32 // the order the metric is built in, if not stored's (see buildOrder)
	builtAt                                  []int32 // built's inverse: the row of each given point (see maxMin)
	k, workers, exN, exD, show               int
	pred, quiet, debug, audit                bool
	profileFile                              string
	profile                                  *metric.GateProfile
	quantile                                 float64
	falsePrunes                              int64
	search                                   tree.Search
	x, xq                                    []float64 // data and query coordinates
	n, d, nq                                 int
	source                                   string
	info                                     io.Writer // stderr, or io.Discard with --quiet
	stderr                                   io.Writer
}

func knnCmd(args []string, stdout, stderr io.Writer) error {
	var j knnJob
	if err := j.parse(args, stdout); err != nil {
		return err
	}
	j.info, j.stderr = stderr, stderr
	if j.quiet {
		j.info = io.Discard
	}
	if err := j.load(); err != nil {
		return err
	}
	j.describe()
	ctx, pool, end, err := session(j.cpuprofile, j.workers)
	if err != nil {
		return err
	}
	defer end()
	t0 := time.Now()
	j.stored = j.storageOrder(pool)
	j.built = j.buildOrder(pool)
	as := j.stored
	if j.built != nil {
		as = j.built
	}
	if j.orderFirst() {
		if as, err = j.firstOrder(ctx, pool); err != nil {
			return err
		}
		debug.FreeOSMemory() // the ordering's k-d tree, before V
	}
	m, err := j.mf.build(ctx, j.x, j.n, j.d, pool, as)
	if err != nil {
		return err
	}
	if w := fitWarning(m, j.mf.lengthscale); w != "" {
		fmt.Fprintf(j.info, "pcct knn: warning: %s\n", w)
	}
	if j.order != "given" && !j.orderFirst() {
		if m, err = j.reorder(ctx, m, pool); err != nil {
			return err
		}
		// The ordering's tree, tournament and hits are garbage now: hand
		// their pages back before the search allocates its own, or the
		// peak holds both (10^6 points, m = 256: 3.07 GB against 2.87).
		debug.FreeOSMemory()
	}
	tBuild := time.Since(t0)
	t1 := time.Now()
	nb, rep, err := j.run(ctx, m, pool)
	if err != nil {
		return err
	}
	tKNN := time.Since(t1)
	if j.memprofile != "" {
		if err := writeHeapProfile(j.memprofile); err != nil {
			return err
		}
	}
	fmt.Fprintf(j.info, "pcct knn: search: %s\n", describeSearch(rep))
	if st := j.screen; j.gate == tree.GateScreen || j.gate == tree.GateLookup || j.gate == tree.GateBound || (j.gate == tree.GateAuto && st.Screened > 0) {
		what := "screening"
		switch j.gate {
		case tree.GateLookup:
			what = "APPROXIMATE lookup gate"
		case tree.GateBound:
			what = "pivot bound"
		}
		fmt.Fprintf(j.info, "pcct knn: %s: %s\n", what, describeScreen(st, j.gate))
	}
	if j.audit {
		if err := j.runAudit(ctx, m, pool, nb); err != nil {
			return err
		}
	}
	if j.stored != nil {
		nb.Unorder(j.stored, j.queries == "")
	}
	j.rep, j.workersUsed = rep, pool.Workers()
	return j.report(stdout, m, nb, tBuild, tKNN)
}

// parse reads and checks the flags: every value given must be in range
// (defaults apply only to flags not given).
func (j *knnJob) parse(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pcct knn", flag.ContinueOnError)
	j.mf.register(fs)
	fs.StringVar(&j.input, "input", "", "points file (.npy or .csv), n x d; without it an embedded synthetic example is used")
	fs.StringVar(&j.output, "output", "", "write indices to FILE (.npy: int64 n x k, distances float64 in FILE_distances.npy; .csv: one line per point); all files or none are written")
	fs.StringVar(&j.format, "format", "pcct", "output layout: pcct (0-based indices, -1 / +Inf padding) or gpgp (the NNarray of GpGp, GPvecchia, VeccTMVN: n x (k+1), 1-based, row i = i then its neighbours, NA padding)")
	fs.IntVar(&j.k, "k", 8, "neighbours per point")
	fs.StringVar(&j.order, "order", "given", "order of the points for the job (predecessors follow it): given, coord (by the first coordinate), maxmin (exact max-min ordering under the metric) or maxmin-coords (exact max-min ordering of the coordinates divided by the lengthscales, Euclidean: as GpGp's order_maxmin, far faster than maxmin under the residual metric); with --output the ordering is written to FILE_order (original indices, in the output's base)")
	fs.StringVar(&j.layout, "layout", "auto", "how the residual metric stores the points: auto (space from 65,536 points), space (in Morton order, so that points near in space are near in memory, by index band first with --predecessor: faster searches, the same output) or given")
	fs.BoolVar(&j.pred, "predecessor", false, "Vecchia mode: point i may only take neighbours j < i")
	fs.IntVar(&j.workers, "workers", 0, "worker goroutines (default: the CPU count)")
	fs.StringVar(&j.impl, "kernels", "", "force a kernel implementation: generic, avx2 or avx512")
	fs.IntVar(&j.exN, "example-n", 8192, "points in the synthetic example")
	fs.IntVar(&j.exD, "example-d", 8, "dimensions of the synthetic example")
	fs.IntVar(&j.show, "show", 3, "rows of the answer to print")
	fs.StringVar(&j.queries, "queries", "", "query points file (.npy or .csv): find each query's k nearest data points instead of all-points k-NN")
	fs.StringVar(&j.searchFlag, "search", "auto", "how to search: auto (the k-d tree for the Euclidean metric in up to 16 dimensions; otherwise the cover tree where the metric has structure, else brute force), tree (cover tree), brute or kd (k-d tree, Euclidean metric only); the answer is the same")
	fs.StringVar(&j.cpuprofile, "cpuprofile", "", "write a CPU profile (pprof) to FILE")
	fs.StringVar(&j.memprofile, "memprofile", "", "write a heap profile (pprof) to FILE at the end")
	fs.StringVar(&j.gateFlag, "gate", "auto", "how the residual metric's tiles are computed: auto (screen where a probe finds it pays: residual metric in float64, SIMD kernels, brute force on the data, or the cover tree on data without structure), off (float64), screen (float32 first, with a proven bound, and only what the bound cannot decide in float64: the same answer, faster where the metric has no structure; brute force (predecessor mode, all points, --queries) and every cover tree query; costs n m 4 bytes) bound (drop the pairs the triangle inequality through 16 pivots proves too far, compute the rest in float64: exact, both metrics, no float32 copy; off by itself where a probe finds it decides under 95 % of the pairs, which is most data) or lookup (APPROXIMATE: screen with a gate profile's margins instead of the bound)")
	fs.StringVar(&j.profileFile, "gate-profile", "", "with --gate lookup: the gate profile (JSON, from pcct gate-profile)")
	fs.Float64Var(&j.quantile, "lookup-quantile", 1, "with --gate lookup: the quantile of the profile's float32 error to trust (1: the largest seen)")
	fs.BoolVar(&j.audit, "gate-audit", false, "with a gate (auto, screen, bound, lookup): run the search again in float64 and count the neighbours the gate lost (false prunes; 0 for an exact gate)")
	fs.BoolVar(&j.quiet, "quiet", false, "print nothing on stderr but errors")
	fs.StringVar(&j.maxMem, "max-memory", "", "memory the run may use (e.g. 8G); default: what is available (cgroup limit or MemAvailable). A run estimated above it stops before allocating")
	fs.BoolVar(&j.debug, "debug", false, "print the stack of an internal error")
	fs.StringVar(&j.logFile, "log-file", "", "write telemetry (JSON lines: pcct.batch.v1 records, then pcct.run.v1) to FILE, with the outputs")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	set, all := given(fs)
	j.flags = all
	if err := j.mf.check(set); err != nil {
		return err
	}
	return j.checkFlags(set)
}

// checkFlags validates the job's own flags.
func (j *knnJob) checkFlags(set map[string]bool) error {
	if j.impl != "" {
		if err := kernels.Select(j.impl); err != nil {
			return usageErr("--kernels: %v", err)
		}
	}
	var err error
	if j.search, err = tree.ParseSearch(j.searchFlag); err != nil {
		return usageErr("--search: %v", err)
	}
	if j.search == tree.SearchKD && j.mf.metric != "euclidean" {
		return usageErr("--search kd applies to the Euclidean metric (--metric euclidean)")
	}
	if j.gate, err = tree.ParseGate(j.gateFlag); err != nil {
		return usageErr("--gate: %v", err)
	}
	if j.search == tree.SearchKD && j.gate != tree.GateOff && j.gate != tree.GateAuto {
		return usageErr("--gate %s screens the tiles of brute force and the cover tree; --search kd computes distances directly", j.gate)
	}
	if j.audit && j.gate == tree.GateOff {
		return usageErr("--gate-audit checks a gate: give --gate auto, screen, bound or lookup")
	}
	if (j.gate == tree.GateScreen || j.gate == tree.GateLookup) && (j.mf.metric != "residual" || j.mf.float32) {
		return usageErr("--gate %s applies to the residual metric with V in float64 (not --metric euclidean or --float32)", j.gate)
	}
	if (j.gate == tree.GateLookup) != (j.profileFile != "") {
		return usageErr("--gate lookup and --gate-profile go together")
	}
	if set["lookup-quantile"] && (j.gate != tree.GateLookup || !(j.quantile > 0 && j.quantile <= 1)) {
		return usageErr("--lookup-quantile must be in (0, 1] with --gate lookup, got %v", j.quantile)
	}
	o := strings.ToLower(j.output)
	switch {
	case j.k < 1:
		return usageErr("--k must be at least 1, got %d", j.k)
	case set["workers"] && j.workers < 1:
		return usageErr("--workers must be at least 1, got %d", j.workers)
	case j.show < 0:
		return usageErr("--show must be at least 0, got %d", j.show)
	case o != "" && !strings.HasSuffix(o, ".npy") && !strings.HasSuffix(o, ".csv"):
		return usageErr("--output must end in .npy or .csv, got %q", j.output)
	case j.format != "pcct" && j.format != "gpgp":
		return usageErr("unknown --format %q (want pcct or gpgp)", j.format)
	case set["format"] && j.output == "":
		return usageErr("--format applies to --output, which is not given")
	case j.format == "gpgp" && j.queries != "":
		return usageErr("--format gpgp is the Vecchia NNarray of all points, not of --queries")
	case j.order != "given" && j.order != "coord" && j.order != "maxmin" && j.order != "maxmin-coords":
		return usageErr("unknown --order %q (want given, coord, maxmin or maxmin-coords)", j.order)
	case j.order != "given" && j.queries != "":
		return usageErr("--order applies to all-points k-NN, not to --queries")
	case j.queries != "" && j.pred:
		return usageErr("--predecessor applies to all-points k-NN, not to --queries")
	case j.input != "" && (set["example-n"] || set["example-d"]):
		return usageErr("--example-n and --example-d apply to the synthetic example, not to --input")
	case j.input == "" && (j.exN < 2 || j.exD < 1):
		return usageErr("--example-n must be >= 2 and --example-d >= 1")
	}
	return j.checkLayout()
}

// load reads the data (or makes the synthetic example) and the queries,
// and checks the outputs can be written, before any work.
func (j *knnJob) load() error {
	var err error
	if j.input != "" {
		if j.x, j.n, j.d, err = dataio.ReadPoints(j.input); err != nil {
			return err
		}
		j.source = j.input
	} else {
		j.n, j.d = j.exN, j.exD
		j.source = fmt.Sprintf("synthetic example (n=%d uniform points in [0,1]^%d, seed %d)", j.n, j.d, j.mf.seed)
	}
	if j.queries != "" {
		var dq int
		if j.xq, j.nq, dq, err = dataio.ReadPoints(j.queries); err != nil {
			return fmt.Errorf("--queries: %w", err)
		}
		if dq != j.d {
			return fmt.Errorf("--queries: points have %d dimensions, the data has %d", dq, j.d)
		}
		j.source += fmt.Sprintf("; queries: %s (%d points)", j.queries, j.nq)
	}
	if err := j.mf.checkData(j.n, j.d); err != nil {
		return err
	}
	if j.profileFile != "" {
		f, err := os.Open(j.profileFile)
		if err != nil {
			return fmt.Errorf("--gate-profile: %w", err)
		}
		j.profile, err = metric.ReadProfile(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--gate-profile %s: %w", j.profileFile, err)
		}
	}
	if err := j.checkMemory(); err != nil { // before the example is made
		return err
	}
	if j.input == "" {
		j.x = syntheticPoints(j.n, j.d, j.mf.seed)
	}
	for _, out := range j.outputs() {
		if err := dataio.CheckOutput(out, j.input, j.queries, j.mf.inducingPoints); err != nil {
			if errors.Is(err, dataio.ErrOverwriteInput) {
				return usageErr("%v: pcct never writes over its inputs", err)
			}
			return err
		}
	}
	switch {
	case j.queries == "" && j.k > j.n-1:
		fmt.Fprintf(j.info, "pcct knn: note: --k = %d is larger than the %d other points (n = %d); rows are padded with -1 / +Inf\n", j.k, j.n-1, j.n)
	case j.queries != "" && j.k > j.n:
		fmt.Fprintf(j.info, "pcct knn: note: --k = %d is larger than the %d data points; rows are padded with -1 / +Inf\n", j.k, j.n)
	}
	return nil
}

// checkMemory stops a run whose estimated peak memory exceeds what it may
// use (--max-memory, else what the machine or cgroup has available).
func (j *knnJob) checkMemory() error {
	m := 0
	if j.mf.metric == "residual" {
		m = min(512, j.n)
		switch {
		case j.mf.u != nil:
			m = len(j.mf.u) / j.d
		case j.mf.set["inducing"]:
			m = j.mf.inducing
		}
	}
	rows := j.n
	if j.queries != "" {
		rows = j.nq
	}
	pivots := 0
	if j.gate == tree.GateBound {
		pivots = metric.DefaultPivots
	}
	est := estimateMemory(j.n+j.nq, j.d, m, rows, j.k, pivots, j.mf.float32, j.gate != tree.GateOff && j.gate != tree.GateBound && !j.mf.float32)
	limit, source, ok := availableMemory()
	if j.maxMem != "" {
		v, err := parseSize(j.maxMem)
		if err != nil {
			return usageErr("--max-memory: %v", err)
		}
		limit, source, ok = v, "--max-memory", true
	}
	if ok && est.total > limit {
		return fmt.Errorf("this run needs about %s (%s), more than the %s it may use (%s); "+
			"reduce n, k or --inducing, or raise --max-memory if the estimate is too high", human(est.total), strings.Join(est.parts, ", "), human(limit), source)
	}
	return nil
}

// describe prints the input and every parameter in effect (stderr).
func (j *knnJob) describe() {
	fmt.Fprintf(j.info, "pcct knn: input: %s: n = %d points, d = %d\n", j.source, j.n, j.d)
	mode := "all points"
	if j.pred {
		mode = "predecessors (Vecchia)"
	} else if j.queries != "" {
		mode = "query points"
	}
	workers := j.workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := "none"
	if j.output != "" {
		out = strings.Join(j.outputs(), ", ") + " (format " + j.format + ")"
	}
	fmt.Fprintf(j.info, "pcct knn: parameters: k = %d over %s, search %s, workers %d, kernels %s; %s; output %s\n",
		j.k, mode, j.searchFlag, workers, kernels.Impl(), j.mf.summary(), out)
	if cpus := runtime.NumCPU(); workers > cpus {
		fmt.Fprintf(j.info, "pcct knn: warning: --workers %d is more than the %d CPUs: the extra workers only add switching\n", workers, cpus)
	}
}

// runAudit answers the job again with every distance in float64 and
// counts the neighbours the gate lost.
func (j *knnJob) runAudit(ctx context.Context, m metric.Metric, pool *streamer.Pool, got *tree.Neighbours) error {
	opt := tree.KNNOptions{K: j.k, Predecessor: j.pred, Pool: pool, Rank: j.stored}
	var want *tree.Neighbours
	var err error
	if j.queries == "" {
		want, err = tree.BruteAllKNN(ctx, m, opt)
	} else {
		var qs *metric.Set
		if qs, err = m.Embed(ctx, j.xq, j.nq); err == nil {
			want, err = tree.BruteKNN(ctx, m, qs, opt)
		}
	}
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	j.falsePrunes = tree.Audit(got, want)
	fmt.Fprintf(j.info, "pcct knn: audit: %d false prunes (neighbours of the float64 answer the gate lost) in %d rows\n", j.falsePrunes, want.N())
	return nil
}

// run answers the job and says how.
func (j *knnJob) run(ctx context.Context, m metric.Metric, pool *streamer.Pool) (*tree.Neighbours, tree.Report, error) {
	tick, done := newProgress(j.stderr, j.quiet, "pcct knn: search")
	defer done()
	opt := tree.KNNOptions{K: j.k, Predecessor: j.pred, Pool: pool, Progress: tick, Gate: j.gate, ScreenStats: &j.screen,
		Profile: j.profile, LookupQuantile: j.quantile, Rank: j.stored}
	// The search makes the float32 copy of the data itself, after its
	// probe, only where screening pays; query points are embedded with
	// theirs when the metric has one, so it is made before them.
	if (j.gate == tree.GateScreen || j.gate == tree.GateLookup) && j.queries != "" {
		if err := m.(*metric.Residual).EnableScreening(); err != nil {
			return nil, tree.Report{}, err
		}
	}
	if j.queries == "" {
		nb, rep, err := tree.AllKNNSearch(ctx, m, opt, j.search, tree.Options{Pool: pool})
		return nb, rep, err
	}
	qs, err := m.Embed(ctx, j.xq, j.nq)
	if err != nil {
		return nil, tree.Report{}, fmt.Errorf("--queries: %w", err)
	}
	nb, rep, err := tree.KNNSearch(ctx, m, qs, opt, j.search, tree.Options{Pool: pool})
	return nb, rep, err
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
	exact := "exact"
	if j.gate == tree.GateLookup {
		exact = "APPROXIMATE (lookup gate)"
	}
	fmt.Fprintf(stdout, "metric: %s\n%s %d-NN over %s: metric built in %.3f s, search %.3f s\n",
		desc, exact, j.k, mode, tBuild.Seconds(), tKNN.Seconds())
	rows := nb.N()
	for i := 0; i < min(j.show, rows); i++ {
		r := rows - 1 - i // the last points have the most predecessors
		ids, ds := nb.Row(r)
		fmt.Fprintf(stdout, "%s %d: neighbours %v distances %.4f\n", what, r, ids, ds)
	}
	if len(j.outputs()) == 0 {
		return nil
	}
	if err := j.write(nb); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", strings.Join(j.outputs(), ", "))
	return nil
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
	brute := fmt.Sprintf("utilisation %.0f%%, serial %.3f s", 100*r.Query.Utilisation, r.Query.Serial.Seconds())
	if r.Method == tree.SearchBrute && r.Build.Wall == 0 {
		return "brute force (" + r.Reason + "): " + brute
	}
	s := fmt.Sprintf("build %.3f s (%d distances, %d net steps, depth %d, utilisation %.0f%%, serial %.3f s)", r.Build.Wall.Seconds(), r.Build.Distances, r.Build.NetSteps, r.Build.Depth, 100*r.Build.Utilisation, r.Build.Serial.Seconds())
	if r.Method == tree.SearchBrute {
		return fmt.Sprintf("brute force (%s): %s; tree %s", brute, r.Reason, s)
	}
	if r.Method == tree.SearchKD {
		return fmt.Sprintf("k-d tree, %s: build %.3f s (serial %.3f s); queries %.3f s (%d distances, utilisation %.0f%%, serial %.3f s)", r.Reason, r.Build.Wall.Seconds(), r.Build.Serial.Seconds(), r.QueryTime.Seconds(), r.Query.Distances, 100*r.Query.Utilisation, r.Query.Serial.Seconds())
	}
	return fmt.Sprintf("cover tree, %s: %s; queries %.3f s (%d distances, %d first-level pairs skipped by pivots, %d groups, utilisation %.0f%%, serial %.3f s)", r.Reason, s, r.QueryTime.Seconds(), r.Query.Distances, r.Query.PivotSkipped, r.Query.Groups, 100*r.Query.Utilisation, r.Query.Serial.Seconds())
}
