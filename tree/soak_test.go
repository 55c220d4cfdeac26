package tree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// TestSoak draws random jobs (data shape, metric and its parameters, n, k,
// build, base, batch, workers) and checks every answer against brute force
// until the time in PCCT_SOAK runs out ("20m"; unset: skipped). Each job's
// seed is logged, and PCCT_SOAK_SEED=s replays one job. The unit tests
// pin the cases that are known; this looks for the ones that are not,
// at sizes that take the large paths (pool-wide net steps, pivots, seeds,
// the scan-to-walk switch).
func TestSoak(t *testing.T) {
	budget, seed := os.Getenv("PCCT_SOAK"), os.Getenv("PCCT_SOAK_SEED")
	if budget == "" && seed == "" {
		t.Skip("PCCT_SOAK (a duration) or PCCT_SOAK_SEED unset")
	}
	pools := map[int]*streamer.Pool{}
	for _, w := range []int{1, 3} {
		pools[w] = streamer.NewPool(w)
		defer pools[w].Close()
	}
	if seed != "" {
		s, err := strconv.ParseUint(seed, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		soakJob(t, s, pools)
		return
	}
	d, err := time.ParseDuration(budget)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(d)
	jobs := 0
	for s := uint64(time.Now().UnixNano()); time.Now().Before(end) && !t.Failed(); s++ {
		soakJob(t, s, pools)
		jobs++
	}
	t.Logf("%d jobs", jobs)
}

// soakData returns n points in d dimensions of a random shape.
func soakData(r *rand.Rand, n, d int) ([]float64, string) {
	x := make([]float64, n*d)
	switch shape := r.IntN(7); shape {
	case 0:
		for i := range x {
			x[i] = r.Float64()
		}
		return x, "uniform"
	case 1:
		nc, spread := 1+r.IntN(12), math.Pow(10, -1-4*r.Float64())
		c := make([]float64, nc*d)
		for i := range c {
			c[i] = r.Float64()
		}
		for i := range n {
			k := r.IntN(nc)
			for j := range d {
				x[i*d+j] = c[k*d+j] + spread*r.NormFloat64()
			}
		}
		return x, fmt.Sprintf("clustered(%d, %.1g)", nc, spread)
	case 2:
		for i := range n {
			tt := r.Float64()
			for j := range d {
				x[i*d+j] = tt * float64(j+1)
			}
		}
		return x, "line"
	case 3:
		distinct := 1 + r.IntN(max(1, n/4))
		for i := range x[:distinct*d] {
			x[i] = r.Float64()
		}
		for i := distinct; i < n; i++ {
			k := r.IntN(distinct)
			copy(x[i*d:(i+1)*d], x[k*d:(k+1)*d])
		}
		r.Shuffle(n, func(a, b int) {
			for j := range d {
				x[a*d+j], x[b*d+j] = x[b*d+j], x[a*d+j]
			}
		})
		return x, fmt.Sprintf("duplicates(%d)", distinct)
	case 4:
		side := 2 + r.IntN(12)
		for i := range x {
			x[i] = float64(r.IntN(side)) / float64(side)
		}
		return x, fmt.Sprintf("lattice(%d)", side)
	case 5:
		for i := range x {
			x[i] = 1e3 + 1e-3*r.Float64()
		}
		return x, "offset"
	default:
		for i := range x {
			x[i] = 0.5
		}
		return x, "all-equal"
	}
}

// soakMetric builds a random metric over x: Euclidean, or residual with a
// random kernel, lengthscales, inducing count and method.
func soakMetric(r *rand.Rand, x []float64, n, d int) (metric.Metric, string, error) {
	if r.IntN(3) == 0 {
		m, err := metric.NewEuclidean(x, n, d)
		return m, "euclidean", err
	}
	cfg := metric.ResidualConfig{Seed: r.Uint64(), Inducing: 1 + r.IntN(min(n, 160))}
	if r.IntN(2) == 0 {
		cfg.Kernel = metric.Matern52
	}
	nl := 1
	if r.IntN(2) == 0 {
		nl = d
	}
	for range nl {
		cfg.Lengthscale = append(cfg.Lengthscale, math.Pow(10, -2.5+3.5*r.Float64()))
	}
	if r.IntN(3) == 0 {
		cfg.Method = metric.InducingKMeansPP
	}
	if r.IntN(4) == 0 {
		cfg.Variance = math.Pow(10, -3+6*r.Float64())
	}
	cfg.Float32 = r.IntN(6) == 0
	m, err := metric.NewResidual(context.Background(), x, n, d, cfg)
	return m, fmt.Sprintf("residual(kernel %d, l %.3g, m %d, method %d, s2 %.3g, f32 %v)",
		cfg.Kernel, cfg.Lengthscale, cfg.Inducing, cfg.Method, cfg.Variance, cfg.Float32), err
}

// soak is one random job: its data, metric, tree and options.
type soak struct {
	t     *testing.T
	r     *rand.Rand
	desc  string
	x     []float64
	n, d  int
	m     metric.Metric
	tr    *Tree
	opt   Options
	kopt  KNNOptions
	pools map[int]*streamer.Pool
}

func (s *soak) fail(format string, a ...any) {
	s.t.Fatalf("%s: %s", s.desc, fmt.Sprintf(format, a...))
}

func (s *soak) pool() *streamer.Pool { return s.pools[[]int{1, 3}[s.r.IntN(2)]] }

// soakJob runs one random job and fails t on any wrong answer.
func soakJob(t *testing.T, seed uint64, pools map[int]*streamer.Pool) {
	s := &soak{t: t, r: rand.New(rand.NewPCG(seed, 0x50a4)), pools: pools}
	r := s.r
	s.n = 1 + r.IntN(400)
	if r.IntN(3) == 0 {
		s.n = 1 + r.IntN(12000)
	}
	s.d = 1 + r.IntN(5)
	if r.IntN(4) == 0 {
		s.d = 1 + r.IntN(12) // the k-d tree's leaves of 128 and box kernel above 4
	}
	x, shape := soakData(r, s.n, s.d)
	m, mdesc, err := soakMetric(r, x, s.n, s.d)
	if err != nil {
		t.Logf("seed %d: %s %s n=%d d=%d: metric refused: %v", seed, shape, mdesc, s.n, s.d, err)
		return
	}
	s.x, s.m = x, m
	s.opt = Options{Seed: r.Uint64(), Pool: s.pool()}
	if r.IntN(4) == 0 {
		s.opt.Algorithm = Insertion
		s.opt.Batch = 1 + r.IntN(600)
	}
	if r.IntN(3) == 0 {
		s.opt.Base = 1.2 + r.Float64()
	}
	if r.IntN(4) == 0 {
		s.opt.NetOrder = NetRandom
	}
	s.opt.GridConflicts = s.opt.Algorithm == Insertion && r.IntN(2) == 0
	k := 1 + r.IntN(min(40, s.n+3))
	knobs := soakKnobs(r)
	defer knobs.restore()
	pred := r.IntN(2) == 0
	gate := []Gate{GateOff, GateScreen, GateAuto, GateBound}[r.IntN(4)]
	if res, ok := m.(*metric.Residual); (!ok || res.Float32()) && gate == GateScreen {
		gate = GateAuto // float32 screening is the float64 residual metric's
	}
	s.desc = fmt.Sprintf("seed %d: %s n=%d d=%d %s k=%d pred=%v build=%v base=%v batch=%d grid=%v gate=%d %s",
		seed, shape, s.n, s.d, mdesc, k, pred, s.opt.Algorithm, s.opt.Base, s.opt.Batch, s.opt.GridConflicts, gate, knobs.desc)
	t.Log(s.desc)

	if s.tr, err = Build(context.Background(), m, s.opt); err != nil {
		s.fail("build: %v", err)
	}
	if errs := s.tr.Check(); len(errs) > 0 {
		s.fail("Check: %d violations, first %v", len(errs), errs[0])
	}
	s.kopt = KNNOptions{K: k, Predecessor: pred, Pool: s.pool(), Gate: gate}
	s.allPoints()
	s.querySet()
	s.orderAndSave()
	s.insert()
}

// allPoints checks the tree's k-NN of the data and every search mode
// against brute force (and brute force against the definition on small
// sets).
func (s *soak) allPoints() {
	ctx, k, pred := context.Background(), s.kopt.K, s.kopt.Predecessor
	want, err := BruteAllKNN(ctx, s.m, KNNOptions{K: k, Predecessor: pred, Pool: s.kopt.Pool, Gate: GateOff})
	if err != nil {
		s.fail("brute: %v", err)
	}
	got, _, err := s.tr.AllKNN(ctx, s.kopt)
	if err != nil {
		s.fail("tree: %v", err)
	}
	if !got.Equal(want) {
		s.fail("tree AllKNN: %s", firstDiff(got, want))
	}
	if s.n <= 1500 {
		idx, dist := naiveKNN(s.m, k, pred)
		if naive := NewNeighbours(s.n, k, idx, dist); !want.Equal(naive) {
			s.fail("brute against naive: %s", firstDiff(want, naive))
		}
	}
	for _, mode := range []Search{SearchAuto, SearchBrute, SearchKD} {
		if mode == SearchKD && s.m.Name() != "euclidean" {
			continue
		}
		opt := s.kopt
		if mode == SearchKD {
			opt.Gate = GateOff // the k-d tree refuses a gate
		}
		nb, _, err := AllKNNSearch(ctx, s.m, opt, mode, s.opt)
		if err != nil {
			s.fail("search %v: %v", mode, err)
		}
		if !nb.Equal(want) {
			s.fail("search %v: %s", mode, firstDiff(nb, want))
		}
	}
	s.stored(want)
}

// stored checks the all-points job with the points stored in another
// order (the Morton curve's, BandOrder's for predecessors, or a random
// one), ties and predecessors by the given order (Rank) and the answer
// turned back (Unorder): the given order's answer.
// Its choices come from a generator of their own, so that the job's other
// draws stay those of its seed.
func (s *soak) stored(want *Neighbours) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(uint64(s.n), uint64(s.kopt.K)))
	order := MortonOrder(s.m.Data(), nil)
	if s.kopt.Predecessor {
		order = BandOrder(s.m.Data(), nil)
	}
	if r.IntN(2) == 0 {
		for i, p := range r.Perm(s.n) {
			order[i] = int32(p)
		}
	}
	ms, err := metric.Reorder(ctx, s.m, order, nil)
	if err != nil {
		s.fail("stored order: %v", err)
	}
	mode := []Search{SearchAuto, SearchTree, SearchBrute}[r.IntN(3)]
	opt := s.kopt
	opt.Rank = order
	nb, _, err := AllKNNSearch(ctx, ms, opt, mode, s.opt)
	if err != nil {
		s.fail("stored order, search %v: %v", mode, err)
	}
	nb.Unorder(order, true)
	if !nb.Equal(want) {
		s.fail("stored order, search %v: %s", mode, firstDiff(nb, want))
	}
}

// querySet checks the k-NN (tree and every search mode) and range answers
// of query points near the data against brute force.
func (s *soak) querySet() {
	ctx, r, d := context.Background(), s.r, s.d
	nq := 1 + r.IntN(200)
	xq := make([]float64, nq*d)
	for i := range nq {
		j := r.IntN(s.n)
		for c := range d {
			xq[i*d+c] = s.x[j*d+c] + 0.01*r.NormFloat64()*float64(r.IntN(2))
		}
	}
	gate := s.kopt.Gate
	if res, ok := s.m.(*metric.Residual); ok && gate == GateScreen {
		if err := res.EnableScreening(); err != nil { // a query set screens only with the copy
			gate = GateOff
		}
	}
	qs, err := s.m.Embed(ctx, xq, nq)
	if errors.Is(err, metric.ErrFloat32Refused) {
		// A float32 V's error bound is checked for the query points too,
		// and may refuse them (their p can be smaller than the data's).
		s.t.Logf("%s: query set refused: %v", s.desc, err)
		return
	}
	if err != nil {
		s.fail("embed: %v", err)
	}
	opt := KNNOptions{K: s.kopt.K, Pool: s.kopt.Pool}
	want, err := BruteKNN(ctx, s.m, qs, opt)
	if err != nil {
		s.fail("brute query set: %v", err)
	}
	for _, mode := range []Search{SearchAuto, SearchTree, SearchBrute} {
		nb, _, err := KNNSearch(ctx, s.m, qs, KNNOptions{K: opt.K, Pool: opt.Pool, Gate: gate}, mode, s.opt)
		if err != nil {
			s.fail("query set, search %v: %v", mode, err)
		}
		if !nb.Equal(want) {
			s.fail("query set, search %v: %s", mode, firstDiff(nb, want))
		}
	}
	got, _, err := s.tr.KNN(ctx, qs, opt)
	if err != nil {
		s.fail("tree query set: %v", err)
	}
	if !got.Equal(want) {
		s.fail("tree KNN: %s", firstDiff(got, want))
	}
	s.rangeQuery(qs)
}

// orderCoords checks the max-min order of the coordinates under a random
// scale against the definition's on the coordinates divided beforehand.
func (s *soak) orderCoords() {
	scale := make([]float64, s.d)
	div := slices.Clone(s.x)
	for k := range scale {
		scale[k] = 0.25 + 4*s.r.Float64()
	}
	for i := range div {
		div[i] /= scale[i%s.d]
	}
	got, _, err := OrderMaxMinCoords(context.Background(), s.x, s.n, s.d, scale, s.kopt)
	if err != nil {
		s.fail("max-min of the coordinates: %v", err)
	}
	e, err := metric.NewEuclidean(div, s.n, s.d)
	if err != nil {
		s.fail("max-min of the coordinates, reference: %v", err)
	}
	if !slices.Equal(got, naiveMaxMin(e, CentralPoint(div, s.n, s.d))) {
		s.fail("max-min order of the scaled coordinates differs from the definition's")
	}
}

// orderAndSave checks the max-min order against the definition on small
// sets, also with the points stored in a random order (ties by Rank, the
// answer mapped back; its permutation from a generator of its own), and
// a save and load round trip.
func (s *soak) orderAndSave() {
	if s.n <= 3000 {
		first := s.r.IntN(s.n)
		order, err := OrderMaxMin(context.Background(), s.m, first, s.kopt)
		if err != nil {
			s.fail("max-min: %v", err)
		}
		w := naiveMaxMin(s.m, first)
		if !slices.Equal(order, w) {
			s.fail("max-min order differs from the definition's")
		}
		perm := make([]int32, s.n)
		for i, p := range rand.New(rand.NewPCG(uint64(s.n), uint64(first))).Perm(s.n) {
			perm[i] = int32(p)
		}
		ms, err := metric.Reorder(context.Background(), s.m, perm, nil)
		if err != nil {
			s.fail("stored order: %v", err)
		}
		pos, _ := metric.InversePerm(perm, s.n)
		opt := s.kopt
		opt.Rank = perm
		if order, err = OrderMaxMin(context.Background(), ms, int(pos[first]), opt); err != nil {
			s.fail("max-min, stored order: %v", err)
		}
		for i, p := range order {
			order[i] = perm[p]
		}
		if !slices.Equal(order, w) {
			s.fail("max-min order of the points stored in another order differs from the definition's")
		}
		s.orderCoords()
	}
	var buf bytes.Buffer
	if err := s.tr.Save(&buf); err != nil {
		s.fail("save: %v", err)
	}
	back, err := Load(&buf, s.m)
	if err != nil {
		s.fail("load: %v", err)
	}
	if err := sameTree(s.tr, back); err != nil {
		s.fail("load: %v", err)
	}
}

// rangeQuery checks a range query at a random radius against a scan.
func (s *soak) rangeQuery(qs *metric.Set) {
	m, n := s.m, s.n
	rad := []float64{0, 1e-9, 0.05, 0.2, 0.5, 0.9, 1, 3}[s.r.IntN(8)]
	got, _, err := s.tr.Range(context.Background(), qs, rad, KNNOptions{Workers: 3})
	if err != nil {
		s.fail("range: %v", err)
	}
	tile := make([]float64, n)
	for i := range qs.N {
		m.Tile(metric.NewWorkspace(), tile, n, qs, metric.Range(i, i+1), m.Data(), metric.Range(0, n))
		k := got.Offsets[i]
		for j := range n {
			if !(tile[j] <= rad) {
				continue
			}
			if k >= got.Offsets[i+1] || got.IDs[k] != int32(j) || math.Float64bits(got.Dist[k]) != math.Float64bits(tile[j]) {
				s.fail("range %v query %d: member %d wrong or missing (want %d at %v)", rad, i, k, j, tile[j])
			}
			k++
		}
		if k != got.Offsets[i+1] {
			s.fail("range %v query %d: %d members, want %d", rad, i, got.Offsets[i+1]-got.Offsets[i], k-got.Offsets[i])
		}
	}
}

// insert builds a tree on a prefix and inserts the rest in random
// steps, then compares with brute force. The residual metric is rebuilt
// over explicit inducing points so that the prefix's rows agree.
func (s *soak) insert() {
	r, x, n, d, m := s.r, s.x, s.n, s.d, s.m
	if n < 4 || r.IntN(2) == 0 {
		return
	}
	over := func(c int) (metric.Metric, error) {
		if m.Name() == "euclidean" {
			return metric.NewEuclidean(x[:c*d], c, d)
		}
		u := x[:min(n, 16)*d]
		return metric.NewResidual(context.Background(), x[:c*d], c, d, metric.ResidualConfig{
			Method: metric.InducingExplicit, InducingPoints: u, Lengthscale: []float64{0.2}})
	}
	c := 1 + r.IntN(n-1)
	mc, err := over(c)
	if err != nil {
		s.t.Logf("%s: insert: metric refused: %v", s.desc, err)
		return
	}
	tr, err := Build(context.Background(), mc, s.opt)
	if err != nil {
		s.fail("insert: first build: %v", err)
	}
	for c < n {
		c = min(n, c+1+r.IntN(n))
		mc, err = over(c)
		if err != nil {
			s.fail("insert: metric over %d: %v", c, err)
		}
		iopt := s.opt
		iopt.Batch = 1 + r.IntN(700)
		iopt.Pool = s.pool()
		if err := tr.Insert(context.Background(), mc, iopt); err != nil {
			s.fail("insert up to %d: %v", c, err)
		}
		if errs := tr.Check(); len(errs) > 0 {
			s.fail("insert up to %d: %d violations, first %v", c, len(errs), errs[0])
		}
	}
	for _, pred := range []bool{false, true} {
		kopt := KNNOptions{K: s.kopt.K, Predecessor: pred, Pool: s.pools[3]}
		want, err := BruteAllKNN(context.Background(), mc, kopt)
		if err != nil {
			s.fail("insert: brute: %v", err)
		}
		got, _, err := tr.AllKNN(context.Background(), kopt)
		if err != nil {
			s.fail("insert: tree: %v", err)
		}
		if !got.Equal(want) {
			s.fail("after insert, pred=%v: %s", pred, firstDiff(got, want))
		}
	}
}

// knobs holds what a job changed, to restore it.
type knobs struct {
	undo []func()
	desc string
}

// soakKnobs lowers, at random, the sizes that choose the pool paths, the
// pivot walk and Insert's root pass (so that small sets take them) and
// forces screening on.
func soakKnobs(r *rand.Rand) *knobs {
	kn := &knobs{}
	if r.IntN(3) == 0 {
		kn.undo = append(kn.undo, setPoolSizes(64+r.IntN(1000), 32+r.IntN(500), 2, 16+r.IntN(100), 32+r.IntN(200), 100+r.IntN(2000)))
		kn.desc += fmt.Sprintf("pool paths (bigItem %d) ", bigItem)
	}
	if r.IntN(3) == 0 {
		kn.undo = append(kn.undo, forcePivots(2+r.IntN(8), 1+r.IntN(64)))
		kn.desc += fmt.Sprintf("pivots (%d, %d) ", pivotQueries, pivotNodes)
	}
	if r.IntN(3) == 0 {
		c, g, p, b, s := rootChildren, rootGroup, rootPivots, rootBlock, rootDensity
		rootChildren, rootGroup, rootPivots, rootBlock, rootDensity = 2+r.IntN(30), 8+r.IntN(120), 2+r.IntN(15), 4+r.IntN(13), r.IntN(3)
		kn.undo = append(kn.undo, func() { rootChildren, rootGroup, rootPivots, rootBlock, rootDensity = c, g, p, b, s })
		kn.desc += fmt.Sprintf("root pass (%d, %d, %d, %d, %d) ", rootChildren, rootGroup, rootPivots, rootBlock, rootDensity)
	}
	if r.IntN(5) == 0 {
		was := screenAlways
		screenAlways = true
		kn.undo = append(kn.undo, func() { screenAlways = was })
		kn.desc += "screen always"
	}
	return kn
}

func (kn *knobs) restore() {
	for _, f := range kn.undo {
		f()
	}
}
