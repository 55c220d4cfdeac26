package tree

import (
	"cmp"
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pcct/pcct/internal/hugemem"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// QueryStats describes one batch of tree queries: distances computed
// (including the seeding tiles), query groups and the wall time.
type QueryStats struct {
	Distances int64
	// PivotSkipped counts the pairs of a query and a first-level node
	// (the root's children with descendants) whose distance the query's
	// pivot bound made unnecessary (see pivot.go): node and subtree ruled
	// out without a distance.
	PivotSkipped int64
	Groups       int
	Wall         time.Duration
	Utilisation  float64 // busy / (workers x wall) of the query job
	// Serial is the part of Wall spent outside the query job, on the
	// caller's goroutine (grouping the queries, their seeds' index):
	// what more workers cannot shorten.
	Serial time.Duration
	// Busy is each worker's busy time over the call's pool jobs (the
	// query job and the grouping's), Steals their successful steals.
	Busy    []time.Duration
	Steals  int
	jobWall time.Duration
}

// addBrute records a brute-force search's pool jobs u, in a search that
// took wall: the busy times and steals join any earlier ones (auto's
// sample on the tree); the utilisation and the time outside the jobs are
// brute force's.
func (st *QueryStats) addBrute(u *usage, wall time.Duration) {
	st.Busy = addBusy(st.Busy, u.perWorker)
	st.Steals += u.steals
	st.Utilisation, st.Serial = u.utilisation(), u.serial(wall)
}

// absorb adds the pool jobs in u (the grouping's, a KBest's emptying) to
// the statistics.
func (st *QueryStats) absorb(u *usage) {
	st.jobWall += u.jobs
	st.Busy = addBusy(st.Busy, u.perWorker)
	st.Steals += u.steals
}

// since completes the statistics of a query call begun at t0: its wall
// time and the part of it outside the pool's jobs.
func (st *QueryStats) since(t0 time.Time) {
	st.Wall = time.Since(t0)
	st.Serial = max(st.Wall-st.jobWall, 0)
}

// merge adds the counts and times of st, a later query job of the same
// search, to those in qs; the utilisation becomes st's.
func (qs *QueryStats) merge(st QueryStats) {
	qs.Distances += st.Distances
	qs.PivotSkipped += st.PivotSkipped
	qs.Groups += st.Groups
	qs.Wall += st.Wall
	qs.Busy = addBusy(qs.Busy, st.Busy)
	qs.Steals += st.Steals
	qs.Utilisation = st.Utilisation
}

// treeGroup is the default size of the tree's query groups: 128 measured
// 8 % faster than 64 and 13 % faster than 256 on the Vecchia benchmark
// (n = 32,768), since the group tiles the tree's first level together.
const treeGroup = 128

// queryChunk is the number of candidates per tile of a traversal step.
const queryChunk = 512

// group is one block of queries that walk the tree together: their ids in
// the query set, the KBest rows they fill, and whether the query set is
// the data itself (then each query skips its own point and, first, every
// query is offered the whole group: spatially close points, so that the
// k-th distances start tight).
type group struct {
	qids, rows []int32
	seed       []int32     // all-points groups: the candidates offered first
	near       *mortonSeed // predecessor and query-set groups: their seed is made by predSeed or querySeed
	self, pred bool
	seeded     bool    // a seed was offered first: later offers exclude it (qw.member)
	keys       []int32 // predecessor mode: the queries' keys (Tree.key; qids without a Rank)
	maxQ       int32   // predecessor mode: the largest key; no candidate at or above it helps
	heavy      bool    // queries the float32 screen cannot decide (see splitHeavy)
	pos        []int32 // a subgroup's positions in its group (subgroupInto)
}

type queryWorker struct {
	w                    *metric.Workspace
	tile                 []float64
	leaves, inner, front []int32
	hits                 metric.Hits // rangeStep's hits of a leaf tile
	split                [][]int32   // rangeSplit's fronts, one per query
	root                 []int32     // rangeSplit's first front
	level1               []int32     // maxMinSteps.firstBlock's nodes
	innerAt              []bool      // whether they have children
	cols                 []int32     // and their queries' places
	member               []uint32    // by point id: stamp of the group whose seed offered it
	seed                 []int32     // predSeed's or querySeed's seed
	below                []int32     // seedBelow's candidates for a block
	order                []int       // seedBelow's query order
	seedSub              group       // seedBelow's block, its storage reused
	posBuf               []int32     // predSeed's positions
	packed               metric.Set  // rangeScan's query rows
	first                []float64   // the group's distances to the first level
	off                  []int       // a block's rows in a distance buffer (see needs)
	kth                  []float64   // and their k-th distances
	byQ                  []int       // pushChildren: the block's queries by descending key,
	qDesc                []int32     // their indices,
	pm                   []float64   // and prefix minima of d - kth in that order
	walks                []blockWalk // the group's blocks walking in step (runWalks),
	nwalks               int         // how many of them
	stamp                uint32
	dists                int64
	skipped              int64      // first-level pairs ruled out by pivots
	sc                   *screening // the query's screening (nil: float64 tiles)
	scr                  screenBuf
	piv                  pivotBuf
}

// AllKNN finds every data point's K nearest other data points (with
// Predecessor, its K nearest predecessors) through the tree: the same
// answer, bit for bit, as BruteAllKNN. Queries walk the tree in groups of
// QueryBlock (default 128) points close in space (see coherentGroups), so
// that they share their candidates and run full tiles.
func (t *Tree) AllKNN(ctx context.Context, opt KNNOptions) (*Neighbours, QueryStats, error) {
	t0 := time.Now()
	if err := checkK(opt, t.N()); err != nil {
		return nil, QueryStats{}, err
	}
	opt = allOptions(opt)
	if err := t.checkRank(opt); err != nil {
		return nil, QueryStats{}, err
	}
	p, release := opt.pool()
	defer release()
	opt.Pool = p
	sc, err := t.treeScreening(ctx, t.m.Data(), opt)
	if err != nil {
		return nil, QueryStats{}, err
	}
	var use usage
	best := opt.ranked(kernels.NewKBestUnset(t.N(), opt.K)) // each group's walk empties its rows
	st, err := t.runGroups(ctx, t.m.Data(), best, t.allGroups(opt, &use), opt, sc)
	sc.report(opt)
	st.absorb(&use)
	st.since(t0)
	return wrapQuery(best, st, err)
}

// checkRank refuses a predecessor search whose order (opt.Rank, nil: the
// ids') is not the one the tree's lowest indices follow (Options.Rank).
func (t *Tree) checkRank(opt KNNOptions) error {
	if !opt.Predecessor {
		return nil
	}
	for i := range int32(t.N()) {
		want := i
		if opt.Rank != nil {
			want = opt.Rank[i]
		}
		if t.key(i) != want {
			return metric.BadInput("the predecessor search's order (KNNOptions.Rank) is not the one the tree was built for (Options.Rank)")
		}
	}
	return nil
}

// allOptions completes the options of an all-points job: groups of
// treeGroup points unless QueryBlock says otherwise, then the defaults.
func allOptions(opt KNNOptions) KNNOptions {
	if opt.QueryBlock <= 0 {
		opt.QueryBlock = treeGroup
	}
	opt.defaults()
	return opt
}

// wrapQuery turns a walk's KBest into its answer, or passes its error on.
func wrapQuery(best *kernels.KBest, st QueryStats, err error) (*Neighbours, QueryStats, error) {
	if err != nil {
		return nil, st, err
	}
	return newNeighbours(best), st, nil
}

// KNN finds the K nearest data points of each point of qs (from
// m.Embed) through the tree: the same answer, bit for bit, as BruteKNN.
func (t *Tree) KNN(ctx context.Context, qs *metric.Set, opt KNNOptions) (*Neighbours, QueryStats, error) {
	var rep Report
	nb, _, err := t.walkQueries(ctx, qs, opt, false, &rep)
	rep.Query.Wall = rep.QueryTime
	return nb, rep.Query, err
}

// walkQueries answers the k-NN job of the query set qs on the tree, its
// statistics in rep. With auto it first walks a sample of the groups
// (see walkAll) and returns brute true, with no answer, when brute force
// should answer instead.
func (t *Tree) walkQueries(ctx context.Context, qs *metric.Set, opt KNNOptions, auto bool, rep *Report) (nb *Neighbours, brute bool, err error) {
	t0 := time.Now()
	if err := checkQuerySet(t.m.Data(), qs, opt); err != nil {
		return nil, false, err
	}
	opt.defaults()
	p, release := opt.pool()
	defer release()
	opt.Pool = p
	// Each query first brings the 2K data points nearest it in the data's
	// Morton order to its group's seed (see querySeed).
	var use usage
	near := newMortonSeed(newMortonIndex(t.m.Data(), p, &use), 0)
	near.per = 2 * opt.K
	var groups []group
	for _, ids := range newMortonIndex(qs, p, &use).groups(opt.QueryBlock, nil, 0, p, &use) {
		groups = append(groups, group{qids: ids, rows: ids, seeded: true, near: near})
	}
	sc, err := t.treeScreening(ctx, qs, opt)
	if err != nil {
		return nil, false, err
	}
	best := opt.ranked(kernels.NewKBestUnset(qs.N, opt.K)) // each group's walk empties its rows
	return t.walkGroups(ctx, qs, best, groups, opt, sc, auto, &use, rep, t0)
}

// walkGroups walks the groups of queries of qs into best, with auto
// first a sample of them (autoSample), and completes rep: use holds the
// pool jobs spent grouping them, t0 the start of the call.
func (t *Tree) walkGroups(ctx context.Context, qs *metric.Set, best *kernels.KBest, groups []group, opt KNNOptions, sc *screening, auto bool, use *usage, rep *Report, t0 time.Time) (nb *Neighbours, brute bool, err error) {
	jobs := use.jobs // and the sample's job
	if auto {
		// The sampled groups' answers are kept: if the tree stays, only
		// the other groups are walked after them.
		brute, err := t.autoSample(ctx, qs, opt, best, &groups, sc, rep)
		jobs += rep.Query.jobWall
		if err != nil || brute {
			return nil, brute, err
		}
	}
	st, err := t.runGroups(ctx, qs, best, groups, opt, sc)
	sc.report(opt)
	rep.Query.merge(st)
	rep.Query.Busy = addBusy(rep.Query.Busy, use.perWorker) // the grouping's jobs
	rep.Query.Steals += use.steals
	rep.QueryTime = time.Since(t0)
	rep.Query.Serial = max(rep.QueryTime-jobs-st.jobWall, 0)
	nb, _, err = wrapQuery(best, st, err)
	return nb, false, err
}

// runGroups walks the groups of queries of qs through the tree, filling
// their rows of best (each walk first empties its group's rows). With screening (sc from treeScreening, not
// nil) the tiles go through the float32 screen (see screen_walk.go).
func (t *Tree) runGroups(ctx context.Context, qs *metric.Set, best *kernels.KBest, groups []group, opt KNNOptions, sc *screening) (QueryStats, error) {
	if sc != nil && !sc.off.Load() {
		groups = t.splitHeavy(groups, qs, sc.s.Heavy())
	}
	return t.onGroups(ctx, opt, len(groups), func(qw *queryWorker, g int) {
		qw.sc = sc
		if groups[g].heavy {
			qw.sc = nil
		}
		t.walk(qw, qs, &groups[g], best)
	})
}

// onGroups runs walk for groups 0..n-1 on the pool (see onPool).
func (t *Tree) onGroups(ctx context.Context, opt KNNOptions, n int, walk func(qw *queryWorker, g int)) (QueryStats, error) {
	return onPool(ctx, opt, n, func() *queryWorker { return &queryWorker{w: metric.NewWorkspace()} }, walk)
}

// counter is a query worker's scratch that counts the distances it
// computes and the first-level pairs its pivots skip; takeCounts returns
// the counts and resets them.
type counter interface{ takeCounts() (dists, skipped int64) }

func (qw *queryWorker) takeCounts() (int64, int64) {
	d, s := qw.dists, qw.skipped
	qw.dists, qw.skipped = 0, 0
	return d, s
}

// onPool runs do for tasks 0..n-1 on opt's pool (under the query phase's
// pprof label), each worker with its own scratch from newW, and returns
// the statistics: the distances the workers counted, the task count, wall
// time, utilisation.
func onPool[W counter](ctx context.Context, opt KNNOptions, n int, newW func() W, do func(w W, task int)) (QueryStats, error) {
	t0 := time.Now()
	p, release := opt.pool()
	defer release()
	ws := make([]W, p.Workers())
	made := make([]bool, p.Workers())
	var dists, skipped atomic.Int64
	job, err := p.RunContext(ctx, n, labelled(phaseQuery, opt.ticker(n, func(w, task int) {
		if !made[w] {
			ws[w], made[w] = newW(), true
		}
		do(ws[w], task)
		d, s := ws[w].takeCounts()
		dists.Add(d)
		skipped.Add(s)
	})))
	var use usage
	use.add(job)
	st := QueryStats{Distances: dists.Load(), PivotSkipped: skipped.Load(), Groups: n, Wall: time.Since(t0), Utilisation: use.utilisation()}
	st.absorb(&use)
	return st, err
}

// walkRows is the number of queries that walk the tree together after a
// group's seeding: a group's queries are sorted by their k-th distance
// after the seed and cut into blocks of walkRows, so that queries that can
// prune little (a large k-th distance) do not make the others scan what
// only they need. 8 or more rows keep the tiles at full speed; 24 rows are
// whole strips of the AVX2 blocks (3 rows) and one panel of the AVX-512
// ones, and each candidate row read from V serves more queries. On the
// avx2 VM, each pair of builds running at once on one worker (so that both
// see the VM's same speed), four pairs: goal 1 at 131,072 points 4.4 %
// faster than 16 rows (queries 10.0-11.3 s against 10.4-11.9 s), goal 2's
// job at 262,144 points 4.3 % (19.6-20.3 s against 19.5-22.8 s, 436 against
// 454 million distances), all points 1 % (the same files). 21 and 30 rows
// were no better.
const walkRows = 24

// screenWalkRows is walkRows for a screened walk (the float32 screen and
// exact recomputation of its undecided pairs). Screening has its own
// per-tile costs (packing the query rows, the float32 tile, sorting the
// hits) and prunes by its bounds, not by the pivots, so it gains from
// more rows per tile: on weakly structured data (d = 4, lengthscale 0.3,
// m = 256) 64 rows cut the forced tree's queries from 16.4 to 12.4 s at
// 65,536 points and from 117 to 90 s at 262,144, for 15-40 % more
// distances; 128 rows were no faster. See docs/BENCHMARKS.md.
const screenWalkRows = 64

// offer returns where the group's queries put what they find: their rows
// of best, skipping their own points (data queries) and, in predecessor
// mode, every candidate at or above their key.
func (g *group) offer(best *kernels.KBest) metric.Offer {
	o := metric.Offer{Best: best, Rows: g.rows}
	if g.self {
		o.Skip = g.qids
	}
	if g.pred {
		o.Below = g.keys
	}
	return o
}

// walk answers one group. Its queries first take a seed of data points
// close in space as candidates (for data queries their group and the
// groups beside it, for predecessor groups predSeed's, for query points
// querySeed's; predecessor groups take theirs in blocks of queries by
// index, see seedBelow), so that the k-th distances start near their final
// values.
// Every query meets the root's children (the tree's first level, which no
// query can skip in a saturated metric). The leaves among them are offered
// to the whole group; the inner nodes, when there are many, through the
// pivot walk (pivot.go), else the whole group tiles them together,
// reading each node's row once for all its queries. Then the queries, in
// blocks of walkRows by k-th distance, walk on from the children of the
// first-level nodes they cannot rule out.
func (t *Tree) walk(qw *queryWorker, qs *metric.Set, g *group, best *kernels.KBest) {
	if qw.member == nil {
		qw.member = hugemem.Make[uint32](t.N())
	}
	qw.stamp++
	for _, r := range g.rows {
		best.ResetRow(int(r))
	}
	// The group's query rows, packed once: the seed's blocks, the first
	// level and the walk's blocks read them from this copy, not from the
	// data's V.
	pq := qw.packRows(&qw.piv.packed, qs, metric.List(g.qids))
	if g.seeded {
		seed := g.seed
		switch {
		case g.near != nil && g.self:
			seed = t.predSeed(qw, g)
		case g.near != nil:
			seed = t.querySeed(qw, qs, g)
		default:
			for _, id := range seed {
				qw.member[id] = qw.stamp
			}
		}
		if g.pred {
			t.seedBelow(qw, pq, g, seed, best)
		} else {
			t.m.Nearest(qw.w, pq, metric.Range(0, len(g.qids)), t.m.Data(), metric.List(seed), g.offer(best))
			qw.dists += int64(len(g.qids) * len(seed))
		}
	}
	t.firstLeaves(qw, pq, g, best)
	if qw.usesPivots(len(g.qids), len(qw.inner)) {
		t.pivotWalk(qw, g, best)
		return
	}
	first, dist := t.firstLevel(qw, g, best)
	t.walkBlocks(qw, g, best, first, dist)
}

// walkBlocks walks the queries of g on, in blocks of walkRows by k-th
// distance, from the first-level nodes first, whose distances to them are
// in dist (query i, node j at i*len(first)+j).
func (t *Tree) walkBlocks(qw *queryWorker, g *group, best *kernels.KBest, first []int32, dist []float64) {
	order := byKth(g, best, make([]int, len(g.qids)))
	rows := walkRows
	if qw.screens() {
		rows = screenWalkRows
	}
	for s0 := 0; s0 < len(order); s0 += rows {
		block := order[s0:min(len(order), s0+rows)]
		sub := g.subgroup(block)
		t.walkFrom(qw, &qw.piv.packed, &sub, best, first, dist, block)
	}
	t.runWalks(qw, best)
}

// byKth fills order with the positions of g's queries by their current
// k-th distance (ties in group order) and returns it.
func byKth(g *group, best *kernels.KBest, order []int) []int {
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(best.Worst(int(g.rows[a])), best.Worst(int(g.rows[b])))
	})
	return order
}

// firstLeaves offers the group (packed in pq, which firstLevel and
// pivotWalk read after it) the root and those of its children that are
// leaves, and lists the others (inner nodes) in qw.inner.
func (t *Tree) firstLeaves(qw *queryWorker, pq *metric.Set, g *group, best *kernels.KBest) {
	o := g.offer(best)
	o.Exclude = qw.seeded(g)
	qw.leaves, qw.inner = qw.leaves[:0], qw.inner[:0]
	if !qw.skip(g, t.root) && (!g.pred || t.key(t.root) < g.maxQ) {
		qw.leaves = append(qw.leaves, t.root) // its subtree is the children below
	}
	for _, z := range t.Children(int(t.root)) {
		switch {
		case t.spans[z+1].k0 > t.spans[z].k0 && (!g.pred || t.spans[z].lo < g.maxQ || t.key(z) < g.maxQ):
			qw.inner = append(qw.inner, z)
		case !qw.skip(g, z) && (!g.pred || t.key(z) < g.maxQ):
			qw.leaves = append(qw.leaves, z)
		}
	}
	t.nearest(qw, pq, metric.Range(0, len(g.qids)), qw.leaves, o)
}

// firstLevel tiles the whole group against the inner nodes among the
// root's children (qw.inner, after firstLeaves), offering each, and
// returns them with the group's distances to them (query i, node j at
// i*len(first)+j).
func (t *Tree) firstLevel(qw *queryWorker, g *group, best *kernels.KBest) ([]int32, []float64) {
	o := g.offer(best)
	o.Exclude = qw.seeded(g)
	pq := &qw.piv.packed // by walk
	qb := metric.Range(0, len(g.qids))
	nq, nf := len(g.qids), len(qw.inner)
	qw.first = grow(qw.first, nq*nf)
	for c0 := 0; c0 < nf; c0 += queryChunk {
		t.tileNearest(qw, qw.first[c0:], nf, pq, qb, qw.inner[c0:min(nf, c0+queryChunk)], o)
	}
	return slices.Clone(qw.inner), qw.first
}

// skip reports whether point z was offered to the group by its seed.
func (qw *queryWorker) skip(g *group, z int32) bool { return g.seeded && qw.member[z] == qw.stamp }

// seeded returns the Exclude rule of a group's offers after its seed: the
// points the seed offered (nil when there was no seed).
func (qw *queryWorker) seeded(g *group) func(int32) bool {
	if !g.seeded {
		return nil
	}
	member, stamp := qw.member, qw.stamp
	return func(z int32) bool { return member[z] == stamp }
}

// blockWalk is a block's walk between its steps: its queries (a subgroup),
// their rows packed, its frontier, and its queries by descending key for
// pushChildren (qw.byQ, qw.qDesc; see blockOrder).
type blockWalk struct {
	g      group
	packed metric.Set
	front  []int32
	byQ    []int
	qDesc  []int32
}

// runWalks walks the blocks walkFrom started (qw.walks[:qw.nwalks]) in
// step: the first step of every block, then the second, and so on. A
// block's walk depends only on its own queries, so the order changes no
// distance and no answer; but the blocks of a group walk the same part
// of the tree, and a step's nodes read by one block are still in the
// cache for the next, where a whole walk in between would have pushed
// them out.
func (t *Tree) runWalks(qw *queryWorker, best *kernels.KBest) {
	for live := true; live; {
		live = false
		for w := range qw.walks[:qw.nwalks] {
			bw := &qw.walks[w]
			if len(bw.front) > 0 {
				t.walkStep(qw, bw, best)
				live = live || len(bw.front) > 0
			}
		}
	}
	qw.nwalks = 0
}

// walkStep runs one step of a block's walk from its frontier: it offers
// the frontier's leaves through the fused Nearest, tiles the block
// against its inner nodes, offers them, and makes the next frontier of
// the children of those whose subtree some query of the block cannot rule
// out: d(q, z) - radius(z) - slack <= the query's current k-th distance
// (strictly greater means every descendant is strictly farther than the
// k-th, so no tie is lost), and in predecessor mode a descendant below
// the query's key. Points of the query's group (qw.member) were offered
// by the seed and are not offered again.
func (t *Tree) walkStep(qw *queryWorker, bw *blockWalk, best *kernels.KBest) {
	g, qs := &bw.g, &bw.packed
	o := g.offer(best)
	o.Exclude = qw.seeded(g)
	qb := metric.Range(0, len(g.qids))
	qw.byQ, qw.qDesc = append(qw.byQ[:0], bw.byQ...), append(qw.qDesc[:0], bw.qDesc...)
	qw.leaves, qw.inner = qw.leaves[:0], qw.inner[:0]
	for _, z := range bw.front {
		sp := t.spans[z : z+2]
		hasDesc := sp[1].k0 > sp[0].k0 && (!g.pred || sp[0].lo < g.maxQ)
		switch {
		case hasDesc:
			qw.inner = append(qw.inner, z)
		case !qw.skip(g, z) && (!g.pred || t.key(z) < g.maxQ):
			qw.leaves = append(qw.leaves, z)
		}
	}
	t.nearest(qw, qs, qb, qw.leaves, o)
	qw.front = qw.front[:0]
	for c0 := 0; c0 < len(qw.inner); c0 += queryChunk {
		t.innerStep(qw, qs, g, o, qw.inner[c0:min(len(qw.inner), c0+queryChunk)])
	}
	bw.front = append(bw.front[:0], qw.front...)
}

// innerStep tiles the group against inner nodes c, offers each node's own
// point, then adds to the frontier the children of the nodes that some
// query cannot prune.
func (t *Tree) innerStep(qw *queryWorker, qs *metric.Set, g *group, o metric.Offer, c []int32) {
	nq, nc := len(g.qids), len(c)
	qw.tile = grow(qw.tile, nq*nc)
	t.tileNearest(qw, qw.tile, nc, qs, metric.Range(0, nq), c, o)
	qw.needs(g, o.Best, nil, nc)
	t.pushChildren(qw, g, c, qw.tile)
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
