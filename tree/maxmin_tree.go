package tree

import (
	"context"
	"slices"
	"time"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// MaxMinOrder returns the exact max-min ordering of the tree's points
// under its metric: first the point first, then repeatedly the point
// whose distance to the nearest point already chosen is largest (ties to
// the lower index), as the Vecchia literature orders points (Guinness
// 2018). order[i] is the i-th point's index. The steps are decided in
// batches (see maxMinOrder); their range queries run on opt's pool
// (Workers, Pool; the other fields are not used), through the tree or,
// while their radii are large, as scans of every point (see
// maxMinSteps), and the order is the same for every worker count. With
// opt.Rank, the points are stored in another order than the caller's:
// ties go to the lower Rank, as they would to the lower index in the
// caller's order, and first and the answer stay indices of the stored
// order.
func (t *Tree) MaxMinOrder(ctx context.Context, first int, opt KNNOptions) ([]int32, error) {
	order, _, err := t.maxMinOrder(ctx, first, opt, true)
	return order, err
}

// OrderMaxMin returns the exact max-min ordering of m's points from first
// (see Tree.MaxMinOrder) through the tree that serves it best: a k-d tree
// for the Euclidean metric, whose range queries are far cheaper, else a
// cover tree; both are built for the call on opt's pool. The order is the
// same either way. opt.Rank breaks ties as in Tree.MaxMinOrder.
func OrderMaxMin(ctx context.Context, m metric.Metric, first int, opt KNNOptions) ([]int32, error) {
	order, _, err := OrderMaxMinReport(ctx, m, first, opt)
	return order, err
}

// OrderMaxMinReport is OrderMaxMin with a report of what it cost: the
// tree it used (Method SearchKD or SearchTree), its build (Build), and
// the ordering's steps (Query: distances, including the first point's
// row and the batches' choices, wall time, utilisation of the pool's jobs
// and the serial time between them; QueryTime their wall time).
func OrderMaxMinReport(ctx context.Context, m metric.Metric, first int, opt KNNOptions) ([]int32, Report, error) {
	opt.defaults()
	p, release := opt.pool()
	defer release()
	var rep Report
	if _, euclid := m.(*metric.Euclidean); euclid {
		kd, err := BuildKD(ctx, m, p)
		if err != nil {
			return nil, rep, err
		}
		rep.Method, rep.Build = SearchKD, kd.Stats
		// One worker takes the steps one at a time (no slower at 10^6
		// points than batches on the pool, and no choice to serialise);
		// more share batches (see KDTree.maxMinOrder).
		sp := p
		if p.Workers() == 1 {
			sp = nil
		}
		order, st, err := kd.maxMinOrder(ctx, first, opt.Rank, sp, p.Workers())
		rep.Query, rep.QueryTime = st, st.Wall
		return order, rep, err
	}
	t, err := Build(ctx, m, Options{Pool: p, NetOrder: NetRandom})
	if err != nil {
		return nil, rep, err
	}
	rep.Method, rep.Build = SearchTree, t.Stats
	order, st, err := t.maxMinOrder(ctx, first, KNNOptions{Pool: p, Rank: opt.Rank}, true)
	rep.Query, rep.QueryTime = st, st.Wall
	return order, rep, err
}

// OrderMaxMinStored is OrderMaxMinReport over a metric whose points are
// stored in another order than the caller's (point i of m is the caller's
// point stored[i]; nil: the same order): first and the answer are the
// caller's indices, and ties go by the caller's order (opt.Rank is set to
// stored).
func OrderMaxMinStored(ctx context.Context, m metric.Metric, first int, stored []int32, opt KNNOptions) ([]int32, Report, error) {
	opt.Rank = stored
	if stored != nil {
		at, err := metric.InversePerm(stored, m.Data().N)
		if err != nil {
			return nil, Report{}, err
		}
		if first >= 0 && first < len(at) {
			first = int(at[first])
		}
	}
	order, rep, err := OrderMaxMinReport(ctx, m, first, opt)
	if err != nil || stored == nil {
		return order, rep, err
	}
	for i, p := range order {
		order[i] = stored[p]
	}
	return order, rep, nil
}

// CoordScale returns the scale OrderMaxMinCoords takes for a kernel with
// these lengthscales (one, or one per dimension): each over the smallest,
// so that the ordering follows the kernel's own distance (a uniform
// factor changes no max-min order), or nil (the coordinates as given)
// when they are all equal.
func CoordScale(lengthscales []float64) []float64 {
	if len(lengthscales) == 0 {
		return nil
	}
	lo := slices.Min(lengthscales)
	if slices.Max(lengthscales) == lo {
		return nil
	}
	s := make([]float64, len(lengthscales))
	for k, v := range lengthscales {
		s[k] = v / lo
	}
	return s
}

// OrderMaxMinCoords returns the exact max-min ordering of the points x
// (n x d, row-major) under the Euclidean distance of their coordinates
// divided by scale, dimension by dimension (nil: as given), from the point
// nearest the scaled coordinates' mean: GPvecchia's order_maxmin_exact,
// ties aside, which GpGp's order_maxmin approximates, and with a kernel's
// lengthscales as the scale the ordering of scaled Vecchia. It runs on a
// k-d tree (OrderMaxMinReport) and costs far less than the max-min
// ordering under the residual metric, whose every distance is a dot
// product of the factor's rows. A scale of all ones gives the order of
// the unscaled points, bit for bit; a uniform scale orders as none would,
// up to ties that rounding makes or breaks.
func OrderMaxMinCoords(ctx context.Context, x []float64, n, d int, scale []float64, opt KNNOptions) ([]int32, Report, error) {
	e, err := metric.NewEuclideanScaled(x, n, d, scale)
	if err != nil {
		return nil, Report{}, err
	}
	return OrderMaxMinReport(ctx, e, CentralPoint(e.Data().X, n, d), opt)
}

// maxMinOrder is MaxMinOrder, starting with scans when scan is set (else
// every step walks the tree), with the steps' statistics.
func (t *Tree) maxMinOrder(ctx context.Context, first int, opt KNNOptions, scan bool) ([]int32, QueryStats, error) {
	t0 := time.Now()
	opt.defaults()
	p, release := opt.pool()
	defer release()
	s := newMaxMinSteps(t, p, p.Workers(), scan)
	order, err := s.order(ctx, first, opt.Rank)
	return order, s.report(t0), err
}

// order runs the max-min ordering from first (ties by rank, nil: index)
// with these steps.
func (s *maxMinSteps) order(ctx context.Context, first int, rank []int32) ([]int32, error) {
	return maxMinOrder(ctx, s.t.m, first, rank, treeMaxMinBatch, s.run, s.pool, s.split, &s.stats)
}

// report returns the statistics of an ordering begun at t0.
func (s *maxMinSteps) report(t0 time.Time) QueryStats {
	st := QueryStats{Distances: s.stats.dists, Wall: time.Since(t0)}
	for _, qw := range s.qws {
		if qw != nil {
			st.Distances += qw.dists
		}
	}
	u := &s.stats.use
	st.Utilisation, st.Serial = u.utilisation(), u.serial(st.Wall)
	st.Busy, st.Steals = u.perWorker, u.steals
	return st
}

// maxMinSteps runs the range queries of the tree's max-min steps. The
// first steps have radii near the metric's largest distance, and their
// range queries reach most points: there every point is scanned, in dense
// tiles of up to 16 queries against contiguous rows. Once a step's walk
// through the tree is cheaper (the radii only shrink), the steps walk the
// tree (walk). While scanning, the last query of every probeEvery-th batch
// walks the tree instead (the probe, rangeSplit), and its distance counts,
// weighed by what a distance costs where it was computed, decide. The
// choice changes how fast the order is found, never the order.
type maxMinSteps struct {
	t    *Tree
	pool *streamer.Pool
	qws  []*queryWorker
	// split is the number of workers a batch's queries are split for:
	// the pool's (a benchmark sets another to project the schedule onto
	// more workers than the machine has).
	split     int
	scan      bool
	batches   int            // the batches scanned, for probeEvery
	part      [][][]rangeHit // a scan task's hits, by query of its rows
	probeHits [][]rangeHit   // the probe's (its own are the scan's)
	// bound is, by node, the largest max-min distance (mind) over the
	// node and its descendants as of its last refresh: the distances only
	// fall, so it stays an upper bound, and a walk skips a subtree whose
	// points are all at least its bound from the query (none of them can
	// come closer to the chosen set). At 131,072 points (residual, m =
	// 256) it cut the walks' distances from 219 to 132 million.
	bound []float64
	// subtrees holds the preorder ranges of the subtrees of the root's
	// children (t.order[subtrees[i]:subtrees[i+1]]), the refresh's tasks.
	subtrees []int
	done     int64      // the workers' distances at the last refresh
	stats    orderStats // the pool's jobs, the distances outside the steps
	// walk's hits and next fronts, by block of the root's children and by
	// query.
	blockHits  [][][]rangeHit
	blockFront [][][]int32
	byLen      []uint64     // the queries by descending front (see walk)
	chunkHits  [][]rangeHit // a short batch's walks' hits but chunk 0's (see walk)
	// first is the first level's table (nil until the first walk, or
	// where noTable says it does not pay).
	first   *firstTable
	noTable bool
	// prepare's: a workspace for the caller's goroutine, the root (a
	// one-row block), and by query its distance to the root and the
	// first level's test (ancestor, threshold).
	lead    *metric.Workspace
	rootRow [1]int32
	dRoot   []float64
	anc     []int32
	thr     []float64
}

// newMaxMinSteps returns the steps of t's max-min ordering on p, split for
// split workers, scanning first when scan is set.
func newMaxMinSteps(t *Tree, p *streamer.Pool, split int, scan bool) *maxMinSteps {
	return &maxMinSteps{t: t, pool: p, qws: make([]*queryWorker, p.Workers()), split: max(split, 1), scan: scan}
}

// refreshAfter is the number of distances, in multiples of n, the steps
// compute between two refreshes of their bound (a refresh reads every
// node once; at 131,072 points one after each batch cost more time than
// its tighter bound saved, one after every 16 batches about 4 % of it).
const refreshAfter = 8

// refresh recomputes bound from mind when the steps have computed
// refreshAfter n distances since the last time, or there is none: each
// subtree of a child of the root as a task, children before their parents
// (the preorder backwards), then the root.
func (s *maxMinSteps) refresh(ctx context.Context, mind []float64) error {
	t := s.t
	var done int64
	for _, qw := range s.qws {
		if qw != nil {
			done += qw.dists
		}
	}
	if s.bound != nil && done-s.done < refreshAfter*int64(t.N()) {
		return nil
	}
	if s.bound == nil {
		s.bound = make([]float64, t.N())
		s.subtrees = t.rootSubtrees()
	}
	s.done = done
	b := s.bound
	js, err := s.pool.RunContext(ctx, len(s.subtrees)-1, func(_, i int) {
		sub := t.order[s.subtrees[i]:s.subtrees[i+1]]
		for _, z := range sub {
			b[z] = mind[z]
		}
		for _, z := range slices.Backward(sub[1:]) { // sub[0]'s parent is the root
			if par := t.parent[z]; b[z] > b[par] {
				b[par] = b[z]
			}
		}
	})
	s.stats.use.add(js)
	r := mind[t.root]
	for _, z := range t.Children(int(t.root)) {
		r = max(r, b[z])
	}
	b[t.root] = r
	return err
}

// rootSubtrees returns the preorder positions where the subtrees of the
// root's children start, and the end of the last: the root is the first
// node of the preorder, each child's subtree a run after it.
func (t *Tree) rootSubtrees() []int {
	var r []int
	for p, z := range t.order {
		if z != t.root && t.parent[z] == t.root {
			r = append(r, p)
		}
	}
	return append(r, len(t.order))
}

// probeEvery is how often, in batches, a scan tries a walk (the probe):
// the probe walks alone, one task as long as many scan tasks, so that on
// many workers a batch with a probe waits for it.
const probeEvery = 4

// scanRows is the number of queries a scan task tiles together.
const scanRows = 16

// The cost of a distance, relative to one of a scan's tiles (16 queries
// against contiguous rows), in the first level's tiles (up to 16 queries
// against gathered rows) and below it (one query walking alone, a V row
// read from memory per distance). Measured at 50,000 points, d = 2: a
// scan's distance took 29 ns (Matern, m = 512) or about 10 ns (RBF, m =
// 256), one walked alone 150 to 250 ns; the walk's own bookkeeping comes
// on top.
const (
	firstLevelCost = 1
	walkAloneCost  = 16
)

func (s *maxMinSteps) worker(w int) *queryWorker {
	if s.qws[w] == nil {
		s.qws[w] = &queryWorker{w: metric.NewWorkspace()}
	}
	return s.qws[w]
}

func (s *maxMinSteps) run(ctx context.Context, qids []int32, radii, mind []float64, hits [][]rangeHit) error {
	if err := s.refresh(ctx, mind); err != nil {
		return err
	}
	if !s.scan {
		return s.walk(ctx, qids, radii, mind, hits)
	}
	// Scan tasks: row blocks of the queries, each over column parts of
	// the data. In a batch of two or more that probes, the last query also
	// walks the tree (the probe), for its cost only: the walk stops once it
	// has cost as much as scanning n points, when it could not win anyway,
	// so that it is no longer than a scan task; its step's hits are the
	// scan's. (Walked to the end with the first steps' radii, near the
	// largest distance, it was one task as long as the rest of the job: at
	// 10^6 points the probes were 0.16 s of the 3.1 s projected onto 16
	// workers.)
	n, nq := s.t.N(), len(qids)
	probe := -1
	if s.batches++; nq > 1 && s.batches%probeEvery == 1 {
		probe = nq - 1
	}
	blocks := (nq + scanRows - 1) / scanRows
	parts := max(1, min((2*s.split+blocks-1)/blocks, n/queryChunk))
	tasks := blocks * parts
	for len(s.part) < tasks {
		s.part = append(s.part, make([][]rangeHit, scanRows))
	}
	// The probe, when there is one, is the first task: the longest, it
	// starts at once while the scan tasks share the other workers (last,
	// when it walked to the end, it started after them: the projection on
	// 16 workers 8.13-8.18x against 8.31-8.37x first).
	first := min(probe+1, 1)
	var shared, own int64
	walked := false
	js, err := s.pool.RunContext(ctx, first+tasks, labelled(phaseQuery, func(w, task int) {
		qw := s.worker(w)
		if task < first { // the probe
			d0 := qw.dists
			s.probeHits = grow(s.probeHits, 1)
			own, walked = s.t.rangeSplit(qw, s.t.m.Data(), qids[probe:], radii[probe:], mind, s.bound, s.probeHits, int64(n))
			shared = qw.dists - d0 - own
			return
		}
		task -= first
		b, c := task/parts, task%parts
		lo, hi := b*scanRows, min(nq, (b+1)*scanRows)
		s.t.rangeScan(qw, qids[lo:hi], radii[lo:hi], mind, c*n/parts, (c+1)*n/parts, s.part[task])
	}))
	s.stats.use.add(js)
	if err != nil {
		return err
	}
	for i := range nq {
		b := i / scanRows
		hits[i] = hits[i][:0]
		for c := range parts {
			hits[i] = append(hits[i], s.part[b*parts+c][i-b*scanRows]...)
		}
	}
	if probe >= 0 && walked && firstLevelCost*shared+walkAloneCost*own < int64(n) {
		s.scan = false
	}
	return nil
}

// rangeScan finds, for each query qids[i] (a data point), the points of
// lo..hi within radii[i] of it that it brings closer to the chosen set
// (computed distance below mind), into hits[i] (emptied first): dense
// tiles of the packed queries against the contiguous rows.
func (t *Tree) rangeScan(qw *queryWorker, qids []int32, radii, mind []float64, lo, hi int, hits [][]rangeHit) {
	data := t.m.Data()
	nq := len(qids)
	for i := range nq {
		hits[i] = hits[i][:0]
	}
	metric.PackPlainInto(&qw.packed, data, metric.List(qids))
	for c0 := lo; c0 < hi; c0 += queryChunk {
		c1 := min(hi, c0+queryChunk)
		qw.hits.Reset()
		t.m.Within(qw.w, &qw.packed, metric.Range(0, nq), data, metric.Range(c0, c1), radii, &qw.hits)
		for h, id := range qw.hits.Cand {
			if d := qw.hits.Dist[h]; d < mind[id] {
				i := qw.hits.Query[h]
				hits[i] = append(hits[i], rangeHit{id, d})
			}
		}
		qw.dists += int64(nq * (c1 - c0))
	}
}

// rangeSplit finds, for each query qids[i] (a data point), the points
// within radii[i] of it that it brings closer to the chosen set (computed
// distance below mind), into hits[i], and returns the number of distances
// it computed below the first level, and whether it finished: with budget
// > 0 it stops, its hits incomplete, once firstLevelCost times its
// distances down to the first level plus walkAloneCost times those below
// reach budget. The block tiles the root and the first level together (no
// query can skip a saturated metric's first level, and a tile of many
// rows reads each node's row once); below it each query walks alone from
// the nodes it cannot rule out, since a batch's queries lie far apart.
// bound (nil: none) skips subtrees as rangeStep says.
func (t *Tree) rangeSplit(qw *queryWorker, qs *metric.Set, qids []int32, radii, mind, bound []float64, hits [][]rangeHit, budget int64) (int64, bool) {
	start := qw.dists
	for i := range hits {
		hits[i] = hits[i][:0]
	}
	hit := func(i int, h rangeHit) {
		if h.d < mind[h.id] {
			hits[i] = append(hits[i], h)
		}
	}
	// rangeStep returns its next front in qw.front's storage, which it may
	// grow: kept in qw.front, the storage is reused.
	qw.root = append(qw.root[:0], t.root)
	qw.front = t.rangeStep(qw, qs, qids, radii, bound, qw.root, hit, nil)
	split := grow(qw.split, len(qids))
	for i := range split {
		split[i] = split[i][:0]
	}
	qw.split = split
	t.rangeStep(qw, qs, qids, radii, bound, qw.front, hit, split)
	d0 := qw.dists
	cur := 0
	one := func(_ int, h rangeHit) { hit(cur, h) }
	for cur = range qids {
		for f := split[cur]; len(f) > 0; f = qw.front {
			qw.front = t.rangeStep(qw, qs, qids[cur:cur+1], radii[cur:cur+1], bound, f, one, nil)
			if budget > 0 && firstLevelCost*(d0-start)+walkAloneCost*(qw.dists-d0) >= budget {
				return qw.dists - d0, false
			}
		}
	}
	return qw.dists - d0, true
}
