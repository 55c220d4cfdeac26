package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/pcct/pcct/internal/dataio"
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

	ls  []float64       // the parsed lengthscales
	u   []float64       // the explicit inducing points (--inducing-points)
	set map[string]bool // the flags given on the command line
}

// residualOnly are the flags that only the residual metric reads.
var residualOnly = []string{"kernel", "lengthscale", "variance", "inducing", "inducing-method", "inducing-points", "jitter", "float32"}

func (m *metricFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.metric, "metric", "residual", "distance: residual or euclidean")
	fs.StringVar(&m.kernel, "kernel", "rbf", "covariance kernel: rbf or matern52")
	fs.StringVar(&m.lengthscale, "lengthscale", "1", "lengthscale: one value, or a comma list with one per dimension")
	fs.Float64Var(&m.variance, "variance", 1, "kernel variance s2 (> 0; the distances do not depend on it)")
	fs.IntVar(&m.inducing, "inducing", 0, "inducing-point count m (default 512, capped at n)")
	fs.StringVar(&m.inducingMethod, "inducing-method", "random", "how to choose inducing points: random or kmeans++")
	fs.StringVar(&m.inducingPoints, "inducing-points", "", "file (.npy or .csv) of explicit inducing coordinates, as in your own GP model")
	fs.Float64Var(&m.jitter, "jitter", 0, "diagonal jitter of K_UU (default 1e-6 x variance)")
	fs.Uint64Var(&m.seed, "seed", 42, "random seed (inducing points, synthetic data)")
	fs.BoolVar(&m.float32, "float32", false, "store V in float32 (refused when its error bound on rho exceeds 1e-3)")
}

// check validates the metric flags once parsed: every value given is in
// range, and no residual-only flag goes with the Euclidean metric.
func (m *metricFlags) check(set map[string]bool) error {
	m.set = set
	switch m.metric {
	case "euclidean":
		for _, name := range residualOnly {
			if set[name] {
				return usageErr("--%s applies to the residual metric, not to --metric euclidean", name)
			}
		}
		return nil
	case "residual":
	default:
		return usageErr("unknown --metric %q (want residual or euclidean)", m.metric)
	}
	if _, err := metric.ParseKernel(m.kernel); err != nil {
		return usageErr("--kernel: %v", err)
	}
	m.ls = m.ls[:0]
	for k, s := range strings.Split(m.lengthscale, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return usageErr("--lengthscale: %q is not a number", s)
		}
		if !(v > 0) || math.IsInf(v, 0) {
			if strings.Contains(m.lengthscale, ",") {
				return usageErr("--lengthscale: value %d (%v) must be positive and finite", k+1, v)
			}
			return usageErr("--lengthscale must be positive and finite, got %v", v)
		}
		m.ls = append(m.ls, v)
	}
	switch {
	case !(m.variance > 0) || math.IsInf(m.variance, 0):
		return usageErr("--variance must be positive and finite, got %v", m.variance)
	case set["jitter"] && (!(m.jitter > 0) || math.IsInf(m.jitter, 0)):
		return usageErr("--jitter must be positive and finite, got %v", m.jitter)
	case set["inducing"] && m.inducing < 1:
		return usageErr("--inducing must be at least 1, got %d", m.inducing)
	case set["inducing"] && set["inducing-points"]:
		return usageErr("--inducing and --inducing-points: give one (the file sets the count)")
	case set["inducing-method"] && set["inducing-points"]:
		return usageErr("--inducing-method and --inducing-points: give one (the file gives the points)")
	}
	switch m.inducingMethod {
	case "random", "kmeans++", "kmeans":
	default:
		return usageErr("unknown --inducing-method %q (want random or kmeans++)", m.inducingMethod)
	}
	return nil
}

// checkData validates the flags that depend on the data's shape.
func (m *metricFlags) checkData(n, d int) error {
	if m.metric != "residual" {
		return nil
	}
	if len(m.ls) != 1 && len(m.ls) != d {
		return usageErr("--lengthscale: %d values for %d dimensions: give one, or one per dimension", len(m.ls), d)
	}
	if m.set["inducing"] && m.inducing > n {
		return usageErr("--inducing %d is larger than the number of points %d", m.inducing, n)
	}
	if m.inducingPoints != "" {
		u, _, ud, err := dataio.ReadPoints(m.inducingPoints)
		if err != nil {
			return fmt.Errorf("--inducing-points: %w", err)
		}
		if ud != d {
			return fmt.Errorf("--inducing-points: points have %d dimensions, the data has %d", ud, d)
		}
		m.u = u
	}
	return nil
}

// summary describes the metric's parameters in effect, for people.
func (m *metricFlags) summary() string {
	if m.metric == "euclidean" {
		return "metric euclidean"
	}
	ls := m.lengthscale
	jit := "1e-6 x variance"
	if m.set["jitter"] {
		jit = fmt.Sprint(m.jitter)
	}
	ind := fmt.Sprintf("inducing %s (%s, seed %d)", "min(512, n)", m.inducingMethod, m.seed)
	switch {
	case m.inducingPoints != "":
		ind = "inducing points from " + m.inducingPoints
	case m.set["inducing"]:
		ind = fmt.Sprintf("inducing %d (%s, seed %d)", m.inducing, m.inducingMethod, m.seed)
	}
	s := fmt.Sprintf("metric residual, kernel %s, variance %v, lengthscale %s, %s, jitter %s", m.kernel, m.variance, ls, ind, jit)
	if m.float32 {
		s += ", float32 V"
	}
	return s
}

// build makes the metric on the n x d points x; with order (not nil, the
// residual metric only) its point i is x's point order[i].
func (m *metricFlags) build(ctx context.Context, x []float64, n, d int, pool *streamer.Pool, order []int32) (metric.Metric, error) {
	if m.metric == "euclidean" {
		return metric.NewEuclidean(x, n, d)
	}
	kind, _ := metric.ParseKernel(m.kernel) // checked
	cfg := metric.ResidualConfig{
		Kernel: kind, Variance: m.variance, Lengthscale: m.ls, Inducing: m.inducing,
		Jitter: m.jitter, Seed: m.seed, Float32: m.float32, Pool: pool, Order: order,
	}
	if m.inducingMethod != "random" {
		cfg.Method = metric.InducingKMeansPP
	}
	if m.u != nil {
		cfg.Method, cfg.InducingPoints = metric.InducingExplicit, m.u
	}
	return metric.NewResidual(ctx, x, n, d, cfg)
}

// orderScale is the scale of --order maxmin-coords: each dimension's
// lengthscale over the smallest, so that the ordering follows the
// kernel's own distance (a uniform factor changes no max-min order); nil
// (the coordinates as given) when every dimension has the same.
func (m *metricFlags) orderScale() []float64 { return tree.CoordScale(m.ls) }
