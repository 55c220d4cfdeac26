package tree

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// Search picks how a k-NN job is answered. Every choice gives the same
// answer, bit for bit; they differ only in time.
type Search int

const (
	// SearchAuto builds the tree, walks a sample of query groups through
	// it and keeps the tree when the sample's distance count, weighed by
	// the tree's lower rate per distance, beats brute force; otherwise it
	// answers by brute force. A probe that finds too little structure
	// (unstructured) sends it to brute force without building unless the
	// job is large enough for the trial (trialPays). For the Euclidean metric in up to kdAutoMaxDim dimensions
	// it takes the k-d tree.
	SearchAuto Search = iota
	SearchTree
	SearchBrute
	// SearchKD answers through a k-d tree (KDTree): Euclidean metric only.
	SearchKD
)

func (s Search) String() string {
	switch s {
	case SearchAuto:
		return "auto"
	case SearchTree:
		return "tree"
	case SearchBrute:
		return "brute"
	case SearchKD:
		return "kd"
	}
	return fmt.Sprintf("Search(%d)", int(s))
}

// ParseSearch accepts "auto", "tree", "brute" and "kd".
func ParseSearch(s string) (Search, error) {
	switch s {
	case "auto", "":
		return SearchAuto, nil
	case "tree":
		return SearchTree, nil
	case "brute":
		return SearchBrute, nil
	case "kd":
		return SearchKD, nil
	}
	return 0, metric.BadInput("unknown search %q (want auto, tree, brute or kd)", s)
}

// Report says how a k-NN job was answered and what it cost.
type Report struct {
	Method    Search // SearchTree, SearchBrute or SearchKD
	Reason    string
	Build     BuildStats
	Query     QueryStats
	QueryTime time.Duration
	// ProbeNear is the auto choice's first estimate: the share of sampled
	// pairs within the sampled k-th distance plus 0.5 (see probe).
	ProbeNear float64
	// SampleFraction is its second: the sampled query groups' tree
	// distances over brute force's for the same queries (0 if not run).
	SampleFraction float64
}

// treeCostFactor is how much more a distance costs on the tree's walk than
// in brute force's large tiles (measured on the Vecchia benchmark: about
// 70 M against 130 M distances/s on 2 vCPUs): auto keeps the tree when the
// sample's distance fraction times this factor is below autoKeep.
const (
	treeCostFactor = 1.9
	autoKeep       = 0.8
	autoSample     = 16 // query groups walked for the estimate
)

// autoTrialN is the number of points from which auto builds the tree and
// walks its sample (screened) even where the probe finds too little
// structure (unstructured): the share of brute force's distances a tree
// computes on weakly structured data halves with every doubling of n,
// which the probe cannot see. At d = 4, lengthscale 0.3, Matern 5/2,
// m = 256, k = 30 (predecessors, max-min order) the forced tree computed
// 93 % of brute force's distances at 65,536 points, 69 % at 131,072, 44 %
// at 262,144 (search 74 s against 89 s, though the sample, 43 % x 1.9,
// still takes brute force) and 25 % at 524,288 (185 s against 420 s; the
// sample takes the tree). Below this size the build and the sample would
// cost more than the tree could save; above it they cost a few per cent
// of brute force where it wins after all (at 262,144 points: d = 8,
// lengthscale 1, a flat build of 0.6 s; d = 5, lengthscale 0.5, Matern,
// a build of 6 s, about 7 %; docs/BENCHMARKS.md, session 32).
var autoTrialN = 1 << 18 // a variable for the tests

// AllKNNSearch answers the all-points (or predecessor) k-NN job on m with
// the given search: brute force, the tree, or auto's choice between them.
func AllKNNSearch(ctx context.Context, m metric.Metric, opt KNNOptions, search Search, topt Options) (*Neighbours, Report, error) {
	var rep Report
	if search == SearchBrute {
		return bruteAll(ctx, m, opt, rep, "asked for")
	}
	if err := checkK(opt, m.Data().N); err != nil {
		return nil, rep, err
	}
	if kd, reason := useKD(m, search, opt); kd {
		return kdSearch(ctx, m, nil, opt, reason)
	}
	p, release := opt.pool()
	defer release()
	opt.Pool = p
	if topt.Pool == nil {
		topt.Pool = p
	}
	trial := false // auto's probe found no structure, and n is large enough to sample the tree
	if search == SearchAuto {
		near, kth, saturated := probe(m, opt)
		rep.ProbeNear = near
		trial = unstructured(near, saturated)
		if trial && !trialPays(m.Data().N, m.Data().N) {
			return bruteAll(ctx, m, opt, rep, fmt.Sprintf("%.0f%% of sampled pairs lie within %.2f of each other (the sampled k-th distance %.2f plus a node radius of 0.5): the metric has too little structure to prune", 100*near, kth+0.5, kth))
		}
	}
	if topt.NetOrder == NetAuto && !opt.Predecessor {
		topt.NetOrder = NetRandom
	}
	if opt.Predecessor && topt.Rank == nil {
		topt.Rank = opt.Rank // the tree's lowest indices follow the predecessors' order
	}
	opt.structured = search == SearchAuto && !trial // auto's probe found structure: no screening in the walk
	t, err := Build(ctx, m, topt)
	if err != nil {
		return nil, rep, err
	}
	rep.Build = t.Stats
	rep.Method, rep.Reason = SearchTree, "asked for"
	nb, brute, err := t.walkAll(ctx, opt, search == SearchAuto, &rep)
	if brute {
		return bruteAll(ctx, m, opt, rep, rep.Reason)
	}
	return nb, rep, err
}

// walkAll answers the all-points job on the tree, its statistics in rep.
// With auto it first walks a sample of the groups (autoSample) and
// returns brute true, with no answer, when brute force should answer
// instead.
func (t *Tree) walkAll(ctx context.Context, opt KNNOptions, auto bool, rep *Report) (nb *Neighbours, brute bool, err error) {
	t0 := time.Now()
	opt = allOptions(opt)
	if err := t.checkRank(opt); err != nil {
		return nil, false, err
	}
	sc, err := t.treeScreening(ctx, t.m.Data(), opt)
	if err != nil {
		return nil, false, err
	}
	var use usage
	best := opt.ranked(kernels.NewKBestUnset(t.N(), opt.K)) // each group's walk empties its rows
	groups := t.allGroups(opt, &use)
	return t.walkGroups(ctx, t.m.Data(), best, groups, opt, sc, auto, &use, rep, t0)
}

// bruteAll answers the all-points job by brute force, reporting it with
// its reason and time.
func bruteAll(ctx context.Context, m metric.Metric, opt KNNOptions, rep Report, reason string) (*Neighbours, Report, error) {
	rep.Method, rep.Reason = SearchBrute, reason
	t0 := time.Now()
	var use usage
	opt.use = &use
	nb, err := BruteAllKNN(ctx, m, opt)
	rep.QueryTime = time.Since(t0)
	rep.Query.addBrute(&use, rep.QueryTime)
	return nb, rep, err
}

// autoSample walks auto's sample of the groups (see sampleFraction) and
// reports in rep its statistics, the fraction and the reason for the
// choice; it returns true where brute force should answer instead.
func (t *Tree) autoSample(ctx context.Context, qs *metric.Set, opt KNNOptions, best *kernels.KBest, groups *[]group, sc *screening, rep *Report) (bool, error) {
	frac, st, err := t.sampleFraction(ctx, qs, opt, best, groups, sc)
	rep.Query = st
	if err != nil {
		return false, err
	}
	rep.SampleFraction = frac
	what := fmt.Sprintf("a sample of queries computed %s of brute force's distances on the tree (x%.1f for its lower rate", percent(frac), treeCostFactor)
	if frac*treeCostFactor >= autoKeep {
		rep.Reason = fmt.Sprintf("%s >= %.1f): the metric has too little structure to prune", what, autoKeep)
		return true, nil
	}
	rep.Reason = fmt.Sprintf("%s < %.1f)", what, autoKeep)
	return false, nil
}

// percent writes a fraction as a percentage with two significant digits
// below 10 % (a tree that prunes well computes a fraction of a percent,
// which "0%" would hide).
func percent(f float64) string {
	p := 100 * f
	switch {
	case p >= 10 || p == 0:
		return fmt.Sprintf("%.0f%%", p)
	case p >= 1:
		return fmt.Sprintf("%.1f%%", p)
	case p >= 0.01:
		return fmt.Sprintf("%.2g%%", p)
	}
	return "under 0.01%"
}

// sampleFraction walks autoSample of the groups, spread over the data,
// into best, removes them from *groups, and returns their distances over
// what brute force computes for the same queries (i per point i in
// predecessor mode, (n-1)/2 per point in the all-points job, as its brute
// force computes each pair once, and n per point of a query set).
func (t *Tree) sampleFraction(ctx context.Context, qs *metric.Set, opt KNNOptions, best *kernels.KBest, groups *[]group, sc *screening) (float64, QueryStats, error) {
	all := *groups
	step := max(1, len(all)/autoSample)
	var sample, rest []group
	brute := 0.0
	for g := range all {
		if g%step != 0 {
			rest = append(rest, all[g])
			continue
		}
		sample = append(sample, all[g])
		for _, q := range all[g].qids {
			switch {
			case all[g].pred:
				brute += float64(t.key(q))
			case all[g].self:
				brute += float64(t.N()-1) / 2
			default:
				brute += float64(t.N())
			}
		}
	}
	*groups = rest
	st, err := t.runGroups(ctx, qs, best, sample, opt, sc)
	if err != nil || brute == 0 {
		return 0, st, err
	}
	return float64(st.Distances) / brute, st, nil
}

// probeNear is the share of sampled pairs within the sampled k-th distance
// plus 0.5 above which auto takes brute force without building the tree
// (below autoTrialN points): a node of radius 0.5 (the first level below
// a saturated root) can only be skipped by queries farther than that from
// it, so with more such pairs than this the tree would scan most points
// anyway. Below it the sampled
// walk decides. Shares from 0.3 to 0.5 go either way: predecessor jobs at
// n = 32,768, k = 8, d = 3, lengthscale 0.2 (0.32) and 0.3 (0.33) ran the
// tree in 1.8 and 1.4 s against brute force's 6.2 and 3.0 s; at n = 8,192,
// d = 2, lengthscale 0.1, m = 512 (0.44) brute force won, 0.18 against
// 0.20 s, and the sample that finds it costs 0.08 s; from d = 4 (0.55-0.81)
// brute force won or tied (docs/BENCHMARKS.md, session 30). Forced trees
// screen in float32 by the same test (treeScreening), which in a tree
// that prunes costs more than it saves.
const probeNear = 0.5

// unstructured reports whether a probe's figures say the metric has too
// little structure for a tree to prune: saturated distances, and more
// than probeNear of the sampled pairs within the k-th distance plus 0.5.
func unstructured(near float64, saturated bool) bool { return saturated && near > probeNear }

// probe estimates the metric's structure from 64 sampled queries against
// 2048 sampled candidates: each query's k-th distance (scaled to the full
// data: the ceil(k s/n)-th of the s sampled candidates, an over-estimate
// when that is 1), the share of pairs within it plus 0.5, and whether the
// distances saturate (the median pair at 0.9 of the largest or more, as
// residual distances crowd below 1). Only for a saturated metric does the
// share predict the tree: there the first net (radius 0.5) is the finest
// level no query can skip. Elsewhere (the Euclidean metric) finer levels
// prune and the sampled walk decides.
func probe(m metric.Metric, opt KNNOptions) (near, kth float64, saturated bool) {
	data := m.Data()
	n := data.N
	const nq, nc = 64, 2048
	if n < 2*nq {
		return 1, 1, true
	}
	r := rand.New(rand.NewPCG(uint64(n), 0x9b0be))
	qids, cids := make([]int32, nq), make([]int32, min(nc, n))
	for i := range qids {
		qids[i] = int32(r.IntN(n))
	}
	for i := range cids {
		cids[i] = int32(r.IntN(n))
	}
	tile := make([]float64, nq*len(cids))
	m.Tile(metric.NewWorkspace(), tile, len(cids), data, metric.List(qids), data, metric.List(cids))
	kk := max(1, (opt.K*len(cids)+n-1)/n)
	var kths []float64
	within := 0
	for i := range nq {
		row := slices.Clone(tile[i*len(cids) : (i+1)*len(cids)])
		slices.Sort(row)
		k := row[min(len(row)-1, kk)] // row[0] is likely the query itself or a duplicate
		kths = append(kths, k)
		for _, d := range row {
			if d <= k+0.5 {
				within++
			}
		}
	}
	slices.Sort(kths)
	slices.Sort(tile)
	saturated = tile[len(tile)/2] >= 0.9*tile[len(tile)-1]
	return float64(within) / float64(nq*len(cids)), kths[nq/2], saturated
}

// KNNSearch answers the k-NN job of a query set qs (from m.Embed) with the
// given search. Auto probes m's data (queries like the data prune like
// the data) and, as AllKNNSearch does, decides on a sample of the tree's
// walk; without structure it builds the tree for that sample only where
// brute force would cost as much as the all-points job at autoTrialN
// points or more (trialPays).
func KNNSearch(ctx context.Context, m metric.Metric, qs *metric.Set, opt KNNOptions, search Search, topt Options) (*Neighbours, Report, error) {
	var rep Report
	if kd, reason := useKD(m, search, opt); kd {
		return kdSearch(ctx, m, qs, opt, reason)
	}
	if search == SearchBrute {
		return bruteQueries(ctx, m, qs, opt, rep, "asked for")
	}
	if err := checkQuerySet(m.Data(), qs, opt); err != nil {
		return nil, rep, err
	}
	reason := "asked for"
	trial := false // auto's probe found no structure, and brute force costs enough to sample the tree
	if search == SearchAuto {
		near, kth, saturated := probe(m, opt)
		rep.ProbeNear = near
		trial = unstructured(near, saturated)
		within := fmt.Sprintf("%.0f%% of sampled pairs lie within %.2f of each other", 100*near, kth+0.5)
		switch {
		case trial && !trialPays(m.Data().N, qs.N):
			return bruteQueries(ctx, m, qs, opt, rep, within+": the metric has too little structure to prune")
		case !saturated:
			reason = "the sampled distances do not saturate, so the tree's levels prune"
		case !trial:
			reason = within
		}
	}
	p, release := opt.pool()
	defer release()
	opt.Pool = p
	if topt.Pool == nil {
		topt.Pool = p
	}
	if topt.NetOrder == NetAuto {
		topt.NetOrder = NetRandom
	}
	opt.structured = search == SearchAuto && !trial
	t, err := Build(ctx, m, topt)
	if err != nil {
		return nil, rep, err
	}
	rep.Build = t.Stats
	rep.Method, rep.Reason = SearchTree, reason
	nb, brute, err := t.walkQueries(ctx, qs, opt, search == SearchAuto, &rep)
	if brute {
		return bruteQueries(ctx, m, qs, opt, rep, rep.Reason)
	}
	return nb, rep, err
}

// trialPays reports whether auto, its probe finding no structure, builds
// the tree to sample its walk for nq queries against n points: from
// autoTrialN points, and where brute force's nq n distances are at least
// the all-points job's n^2 / 2, for which the trial's cost was measured
// (a few per cent where brute force wins after all, see autoTrialN).
// Fewer queries would pay the same build for less.
func trialPays(n, nq int) bool { return n >= autoTrialN && 2*nq >= n }

// bruteQueries answers the query set's job by brute force, reporting it
// with its reason and time.
func bruteQueries(ctx context.Context, m metric.Metric, qs *metric.Set, opt KNNOptions, rep Report, reason string) (*Neighbours, Report, error) {
	rep.Method, rep.Reason = SearchBrute, reason
	t0 := time.Now()
	var use usage
	opt.use = &use
	nb, err := BruteKNN(ctx, m, qs, opt)
	rep.QueryTime = time.Since(t0)
	rep.Query.addBrute(&use, rep.QueryTime)
	return nb, rep, err
}

// kdAutoMaxDim is the largest dimension in which auto answers a Euclidean
// job with the k-d tree: measured on uniform points (n = 32,768, 8-NN,
// one worker) it beats the cover tree 4x at d = 8, 1.5x at d = 12 and
// 16 (and brute force up to 16), where both approach brute force.
const kdAutoMaxDim = 16

// useKD reports whether search answers m's job with the k-d tree, and why.
// Auto leaves the k-d tree to a job that asks for no gate (a gate screens
// brute force's and the cover tree's tiles) and whose predecessors follow
// the stored order (no Rank).
func useKD(m metric.Metric, search Search, opt KNNOptions) (bool, string) {
	switch {
	case search == SearchKD:
		return true, "asked for"
	case search != SearchAuto || (opt.Gate != GateOff && opt.Gate != GateAuto) || (opt.Predecessor && opt.Rank != nil):
		return false, ""
	}
	if _, ok := m.(*metric.Euclidean); ok && m.Data().D <= kdAutoMaxDim {
		return true, fmt.Sprintf("Euclidean metric in %d <= %d dimensions", m.Data().D, kdAutoMaxDim)
	}
	return false, ""
}

// kdSearch answers the job through a k-d tree: the all-points job when qs
// is nil, else the query set's.
func kdSearch(ctx context.Context, m metric.Metric, qs *metric.Set, opt KNNOptions, reason string) (*Neighbours, Report, error) {
	rep := Report{Method: SearchKD, Reason: reason}
	if opt.Gate != GateOff && opt.Gate != GateAuto {
		return nil, rep, metric.BadInput("gate %s screens the tiles of brute force and the cover tree; the k-d tree computes Euclidean distances directly", opt.Gate)
	}
	p, release := opt.pool()
	defer release()
	opt.Pool = p
	kd, err := BuildKD(ctx, m, p)
	if err != nil {
		return nil, rep, err
	}
	rep.Build = kd.Stats
	t0 := time.Now()
	var nb *Neighbours
	if qs == nil {
		nb, rep.Query, err = kd.AllKNN(ctx, opt)
	} else {
		nb, rep.Query, err = kd.KNN(ctx, qs, opt)
	}
	rep.QueryTime = time.Since(t0)
	return nb, rep, err
}
