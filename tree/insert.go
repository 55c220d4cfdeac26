package tree

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/streamer/scope"
)

// Batch insertion, after Gu, Napier, Sun and Wang ("Parallel Cover Trees
// and their Applications", SPAA 2022). A batch of new points goes through
// rounds; in each round
//
//  1. traversal: every point of the batch walks down from the root on its
//     own (in parallel, the tree read-only), at each node moving to the
//     nearest child that can host it, until none can: that node is its
//     target;
//  2. conflict graph: points with the same target are tiled against each
//     other, and two of them are joined when they lie within the scale
//     they would be hung at (base^(level(target)-1)) of each other;
//  3. MIS: in each target's group, the points taken in order of seeded
//     hash priorities form the maximal independent set that Luby's rounds
//     with those priorities would give; each joins the tree as a leaf of
//     its target;
//  4. the others go down again in the next round, where they meet the
//     winners that dominated them as children of their target.
//
// A child c of z can host p when d(p, c) <= base^level(c) (c with
// children), or d(p, c) <= base^(level(z)-1) (a leaf, which then gets the
// level that covers p). Gate-1 skips a child's distance when the triangle
// inequality over the distances the tree holds, |d(p, z) - d(z, c)| -
// slack > base^(level(z)-1), proves that it can neither host p nor break
// p's separation. Every round places at least one point of each group (its
// first in priority order), so a batch ends.

// Algorithm selects how Build makes the tree.
type Algorithm int

const (
	// Nets builds top-down: each node's points are covered by greedy nets
	// (the default: fewer distances, and the tree queries run fastest on).
	Nets Algorithm = iota
	// Insertion builds by batch insertion with prefix doubling (batches
	// of 1, 2, 4, ... points up to Options.Batch), as Insert grows a tree.
	Insertion
)

// String returns the algorithm's name.
func (a Algorithm) String() string {
	switch a {
	case Nets:
		return "nets"
	case Insertion:
		return "insertion"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// DefaultBatch is the insertion batch size when Options.Batch is 0.
const DefaultBatch = 512

// BatchStats describes one insertion batch.
type BatchStats struct {
	Size     int   // points inserted
	Rounds   int   // traversal + conflict + MIS rounds
	Deferred int   // points an MIS sent down again (summed over rounds)
	Edges    int64 // conflict-graph edges
	// Distances computed in traversal and in the conflict graph; distances
	// Gate-1 proved unnecessary.
	Distances, GatePruned int64
	GridCells             int // occupied cells of the grid conflict graph
	// The traversal's scope collections (streamer/scope): distances
	// scanned, in-scope members found, repeated candidates skipped,
	// queries that hit the scan cap, and the scope cache's offers (members
	// found under the same node in earlier batches) and hits (offers that
	// were members again).
	ScopeScans, ScopePoints, ScopeDedupe, ScopeSaturated int64
	ScopeCachePrefetch, ScopeCacheHits                   int64
	Traversal, Conflict                                  time.Duration // wall time of the phases
	Scope                                                time.Duration // the traversal's scope collections
	// MIS is the time choosing each group's winners, Link the time
	// hanging them under their targets and raising their paths' radii,
	// reaches and lowest indices (both sequential).
	MIS, Link time.Duration
	// The batch's pool jobs: time each worker was busy, steals, and
	// busy / (workers x wall); Serial is the batch's time outside them.
	Busy        []time.Duration
	Steals      int
	Utilisation float64
	Serial      time.Duration
}

// inserter grows a tree (whose arrays already have room for every point)
// by batches.
type inserter struct {
	t     *Tree
	pool  *streamer.Pool
	scope *scope.Collector // the traversal's scope collections
	cache *scope.Cache     // and their scopes, by node
	seed  uint64
	grid  bool      // Options.GridConflicts
	extra [][]int32 // children added beyond the tree's CSR lists
	ws    []*insertScratch
	plans []insertPlan
	use   usage
	cur   *BatchStats // the batch in progress
	curU  usage
	dists atomic.Int64
	gated atomic.Int64
	roots *rootScopes // the points' scopes among the root's children (insert_root.go)
	wins  []win       // a round's winners, linked after every group has chosen
	// The root passes' distances and ruled-out pairs, outside the
	// batches' counts.
	rootDists, rootGated int64
}

type insertScratch struct {
	w   *metric.Workspace
	ids []int32
	d   []float64
}

// insertPlan is one point's traversal: the path from the root to its
// target and the distances to each node on it; sep says p was farther
// than base^(lvl-1) from the target and from its children of that scale
// when traversed (lvl: the target's level then).
type insertPlan struct {
	p    int32
	prio uint64
	path []int32
	pd   []float64
	sep  bool
	lvl  int32
}

func (pl *insertPlan) target() int32 { return pl.path[len(pl.path)-1] }
func (pl *insertPlan) dist() float64 { return pl.pd[len(pl.pd)-1] }

// Insert adds to the tree the points of m beyond its own: m must be the
// tree's metric over the same first N points followed by the new ones
// (same kind and parameters; their coordinates, residual variances and
// V rows must be bitwise the tree's: for the residual metric, build m with
// the same explicit inducing points). Points are inserted in batches of
// opt.Batch (default 512), after one pass that finds their scopes among
// the root's children (insert_root.go; the tree is the one the batches
// alone would make); opt.Base must be 0 or the tree's base. The
// tree afterwards answers every query exactly over all of m's points and
// its Stats describe the insertion. On error (ctx done, bad input) the
// tree is left as it was.
func (t *Tree) Insert(ctx context.Context, m metric.Metric, opt Options) error {
	if opt.Base != 0 && opt.Base != t.base {
		return metric.BadInput("insert: base %v differs from the tree's %v", opt.Base, t.base)
	}
	opt.Base = t.base
	if err := opt.defaults(); err != nil {
		return err
	}
	if opt.Rank != nil {
		return metric.BadInput("insert: Options.Rank applies to Build (the new points follow the tree's)")
	}
	if err := extends(t.m, m); err != nil {
		return err
	}
	t0 := time.Now()
	n0, n := t.N(), m.Data().N
	nt := t.grown(m, n)
	pool := opt.Pool
	if pool == nil {
		pool = streamer.NewPool(opt.Workers)
		defer pool.Close()
	}
	in := newInserter(nt, pool, opt.Seed, n)
	in.grid = opt.GridConflicts
	roots, err := in.findRootScopes(ctx, n0, n)
	if err != nil {
		return err
	}
	in.roots = roots
	if err := in.run(ctx, n0, n, opt.Batch, false); err != nil {
		return err
	}
	in.finish(t0)
	*t = *nt
	return nil
}

// buildByInsertion is Build with Algorithm Insertion: point 0 is the root,
// the others are inserted with prefix doubling.
func buildByInsertion(ctx context.Context, m metric.Metric, opt Options, byKey []int32, pool *streamer.Pool) (*Tree, error) {
	t0 := time.Now()
	n := m.Data().N
	nt := (&Tree{m: m, base: opt.Base, root: 0, childOff: make([]int32, 2), rank: opt.Rank, byKey: byKey}).grownFrom(1, m, n)
	in := newInserter(nt, pool, opt.Seed, n)
	in.grid = opt.GridConflicts
	if err := in.run(ctx, 1, n, opt.Batch, true); err != nil {
		return nil, err
	}
	in.finish(t0)
	return nt, nil
}

// extends reports an error unless m's first points are old's.
func extends(old, m metric.Metric) error {
	a, b := old.Data(), m.Data()
	bad := func(what string) error {
		return metric.BadInput("insert: the metric's first %d points are not the tree's (%s differ)", a.N, what)
	}
	switch {
	case old.Name() != m.Name():
		return metric.BadInput("insert: the tree is over the %s metric, the points over the %s metric", old.Name(), m.Name())
	case b.N < a.N:
		return metric.BadInput("insert: the metric has %d points, fewer than the tree's %d", b.N, a.N)
	case a.D != b.D || a.M != b.M || (a.V32 == nil) != (b.V32 == nil):
		return bad("dimensions")
	case !sameBits(a.X, b.X[:len(a.X)]):
		return bad("coordinates")
	case a.P != nil && !sameBits(a.P, b.P[:len(a.P)]):
		return bad("residual variances")
	case a.V != nil && !sameBits(a.V, b.V[:len(a.V)]):
		return bad("low-rank factor rows")
	case a.V32 != nil && !slices.Equal(a.V32, b.V32[:len(a.V32)]):
		return bad("low-rank factor rows")
	}
	return nil
}

func sameBits(a, b []float64) bool {
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// grown returns a copy of the tree over m with room for n nodes; the CSR
// children are shared (read only), the new nodes have none.
func (t *Tree) grown(m metric.Metric, n int) *Tree { return t.grownFrom(t.N(), m, n) }

func (t *Tree) grownFrom(n0 int, m metric.Metric, n int) *Tree {
	ext32 := func(s []int32, fill int32) []int32 {
		out := make([]int32, n)
		copy(out, s)
		for i := len(s); i < n; i++ {
			out[i] = fill
		}
		return out
	}
	ext64 := func(s []float64) []float64 {
		out := make([]float64, n)
		copy(out, s)
		return out
	}
	nt := &Tree{m: m, base: t.base, root: t.root, slack: m.TriangleSlack(), rank: t.rank, byKey: t.byKey,
		level: ext32(t.level, leafLevel), scale: ext32(t.scale, leafLevel), parent: ext32(t.parent, -1),
		minDesc: ext32(t.minDesc, noDesc), dparent: ext64(t.dparent), radius: ext64(t.radius), reach: ext64(t.reach),
		child: t.child}
	if len(t.level) < n0 { // a fresh tree: node 0 alone
		nt.level[0], nt.scale[0], nt.parent[0], nt.minDesc[0] = leafLevel, leafLevel, -1, noDesc
	}
	nt.childOff = make([]int32, n+1)
	copy(nt.childOff, t.childOff[:n0+1])
	for i := n0 + 1; i <= n; i++ {
		nt.childOff[i] = nt.childOff[n0]
	}
	return nt
}

func newInserter(t *Tree, pool *streamer.Pool, seed uint64, n int) *inserter {
	in := &inserter{t: t, pool: pool, scope: scope.NewCollector(pool), cache: scope.NewCache(0), seed: seed, extra: make([][]int32, n), ws: make([]*insertScratch, pool.Workers())}
	for w := range in.ws {
		in.ws[w] = &insertScratch{w: metric.NewWorkspace()}
	}
	return in
}

// run inserts points lo..hi-1 in batches of batch points (growing 1, 2,
// 4, ... up to batch with doubling, which also runs the root pass, see
// insert_root.go, each time the tree has doubled).
func (in *inserter) run(ctx context.Context, lo, hi, batch int, doubling bool) error {
	size := batch
	if doubling {
		size = 1
	}
	next := lo // doubling: where the next root pass starts
	for lo < hi {
		if doubling && lo >= next {
			// The root pass for as many points as the tree holds (see
			// insert_root.go): dense enough for its pivots once the root
			// has its children.
			next = min(hi, 2*lo)
			roots, err := in.findRootScopes(ctx, lo, next)
			if err != nil {
				return err
			}
			in.roots = roots
		}
		end := min(hi, lo+size)
		st, err := in.batch(ctx, int32(lo), int32(end))
		if err != nil {
			return err
		}
		in.t.Stats.Batches = append(in.t.Stats.Batches, st)
		lo, size = end, min(batch, 2*size)
	}
	return ctx.Err()
}

// finish lays the children out, indexes the tree and completes its stats.
func (in *inserter) finish(t0 time.Time) {
	t := in.t
	children := make([][]int32, t.N())
	for z := range children {
		old := t.child[t.childOff[z]:t.childOff[z+1]]
		if len(in.extra[z]) > 0 {
			children[z] = append(slices.Clone(old), in.extra[z]...)
		} else {
			children[z] = old
		}
	}
	t.finish(children, in.pool, &in.use)
	st := &t.Stats
	for _, b := range st.Batches {
		st.Distances += b.Distances
		st.GatePruned += b.GatePruned
	}
	st.Distances += in.rootDists // the root passes, between the batches
	st.GatePruned += in.rootGated
	st.Utilisation, st.Depth, st.Wall = in.use.utilisation(), t.Depth(), time.Since(t0)
	st.Serial = in.use.serial(st.Wall)
	st.Busy, st.Steals = in.use.perWorker, in.use.steals
}

// batch inserts points lo..hi-1.
func (in *inserter) batch(ctx context.Context, lo, hi int32) (BatchStats, error) {
	st := BatchStats{Size: int(hi - lo)}
	in.cur, in.curU = &st, usage{}
	d0, g0 := in.dists.Load(), in.gated.Load()
	in.plans = grow(in.plans, int(hi-lo))
	active := in.plans[:0]
	for p := lo; p < hi; p++ {
		active = append(active, insertPlan{p: p, prio: priority(in.seed, p), path: in.plans[p-lo].path, pd: in.plans[p-lo].pd})
	}
	for len(active) > 0 {
		st.Rounds++
		t0 := time.Now()
		if err := in.traverse(ctx, active); err != nil {
			return st, err
		}
		t1 := time.Now()
		groups := in.group(active)
		pairs, err := in.conflicts(ctx, active, groups)
		if err != nil {
			return st, err
		}
		t2 := time.Now()
		var rest []int
		in.wins = in.wins[:0]
		for g, grp := range groups {
			var edges int64
			rest, edges = in.resolve(active, grp, pairs[g], rest)
			st.Edges += edges
		}
		t3 := time.Now()
		for _, w := range in.wins {
			in.link(&active[w.a], w.scale)
		}
		st.Deferred += len(rest)
		slices.Sort(rest)
		for k, a := range rest { // k <= a; swapping keeps each plan's buffers its own
			active[k], active[a] = active[a], active[k]
		}
		active = active[:len(rest)]
		st.Traversal, st.Conflict = st.Traversal+t1.Sub(t0), st.Conflict+t2.Sub(t1)
		st.MIS, st.Link = st.MIS+t3.Sub(t2), st.Link+time.Since(t3)
	}
	st.Distances, st.GatePruned = in.dists.Load()-d0, in.gated.Load()-g0
	st.Utilisation = in.curU.utilisation()
	st.Serial = in.curU.serial(st.Traversal + st.Conflict + st.MIS + st.Link)
	return st, nil
}

// account adds a pool job's statistics to the insertion's and the
// current batch's.
func (in *inserter) account(js streamer.JobStats) {
	in.use.add(js)
	in.curU.add(js)
	b := in.cur
	if len(b.Busy) < len(js.Busy) {
		b.Busy = append(b.Busy, make([]time.Duration, len(js.Busy)-len(b.Busy))...)
	}
	for w, d := range js.Busy {
		b.Busy[w] += d
	}
	b.Steals += js.TotalSteals()
}

// priority is point p's seeded hash priority (splitmix64).
func priority(seed uint64, p int32) uint64 {
	z := seed + uint64(p)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// group returns the active plans' indices grouped by target, each group
// in priority order; groups in order of their targets.
func (in *inserter) group(active []insertPlan) [][]int {
	idx := make([]int, len(active))
	for k := range idx {
		idx[k] = k
	}
	slices.SortFunc(idx, func(a, b int) int {
		pa, pb := &active[a], &active[b]
		return cmp.Or(cmp.Compare(pa.target(), pb.target()), cmp.Compare(pa.prio, pb.prio), cmp.Compare(pa.p, pb.p))
	})
	var groups [][]int
	for k := 0; k < len(idx); {
		e := k + 1
		for e < len(idx) && active[idx[e]].target() == active[idx[k]].target() {
			e++
		}
		groups = append(groups, idx[k:e])
		k = e
	}
	return groups
}

// conflicts tiles each group of more than one point against itself: the
// conflict graph's distances (row-major, group order).
func (in *inserter) conflicts(ctx context.Context, active []insertPlan, groups [][]int) ([][]float64, error) {
	pairs := make([][]float64, len(groups))
	var big []int
	for g, grp := range groups {
		if len(grp) > 1 {
			big = append(big, g)
		}
	}
	if len(big) == 0 {
		return pairs, nil
	}
	data := in.t.m.Data()
	cells := make([]int, len(big))
	js, err := in.pool.RunContext(ctx, len(big), labelled(phaseConflict, func(w, k int) {
		grp := groups[big[k]]
		ids := make([]int32, len(grp))
		for i, a := range grp {
			ids[i] = active[a].p
		}
		if in.grid && len(grp) >= gridMin {
			if d, c, ok := in.gridPairs(w, ids, in.conflictRadius(active, grp)); ok {
				pairs[big[k]], cells[k] = d, c
				return
			}
		}
		d := make([]float64, len(ids)*len(ids))
		in.t.m.Tile(in.ws[w].w, d, len(ids), data, metric.List(ids), data, metric.List(ids))
		in.dists.Add(int64(len(ids) * len(ids)))
		pairs[big[k]] = d
	}))
	in.account(js)
	for _, c := range cells {
		in.cur.GridCells += c
	}
	return pairs, err
}

// resolve chooses the points of one target's group that the MIS selects,
// in priority order, giving each its scale (in.wins, linked after the
// round's groups), and appends the others' indices in active to rest.
// It returns rest and the conflict edges it saw.
func (in *inserter) resolve(active []insertPlan, grp []int, pair []float64, rest []int) ([]int, int64) {
	t := in.t
	var edges int64
	var won []int // positions in grp
	for i, a := range grp {
		pl := &active[a]
		z, dz := pl.target(), pl.dist()
		lz := t.level[z]
		scale := int32(flatScale)
		switch {
		case dz == 0:
			if lz == leafLevel {
				t.level[z] = dupLevel(t, z)
			}
			scale = leafLevel // an exact duplicate: never separated
		case lz == leafLevel: // the first point under a leaf gives it a level
			lz = levelFor(t.base, dz)
			t.level[z] = lz
			scale = lz - 1
		default:
			if dz > t.cover(lz) {
				if z != t.root { // a leaf made a node this round, too small for p
					rest = append(rest, a)
					continue
				}
				lz = levelFor(t.base, dz) // raise the root
				t.level[z] = lz
			}
			conflict := false
			for _, j := range won {
				if pair[i*len(grp)+j] <= t.cover(lz-1) {
					conflict = true
					edges++
				}
			}
			if conflict {
				rest = append(rest, a)
				continue
			}
			// What traversal learnt about the separation holds while the
			// target's level is the one it saw.
			if dz > t.cover(lz-1) && (pl.sep || pl.lvl != lz) {
				scale = lz - 1
			}
		}
		won = append(won, i)
		in.wins = append(in.wins, win{a, scale})
	}
	return rest, edges
}

// win is a point an MIS chose: its plan's place among the active ones
// and the scale it hangs at. A round's winners are linked after all its
// groups have chosen: the choices read the targets' levels, which linking
// does not change.
type win struct {
	a     int
	scale int32
}

// dupLevel is the level a leaf takes when a duplicate is hung under it:
// below its parent's, and at most 0.
func dupLevel(t *Tree, z int32) int32 {
	if p := t.parent[z]; p >= 0 {
		return min(t.level[p]-1, 0)
	}
	return 0
}

// link hangs pl.p under its target as a leaf of the given scale and
// updates the radii, reaches and lowest indices along its path.
func (in *inserter) link(pl *insertPlan, scale int32) {
	t := in.t
	p, z, dz := pl.p, pl.target(), pl.dist()
	t.parent[p], t.dparent[p], t.scale[p], t.reach[p] = z, dz, scale, dz
	in.extra[z] = append(in.extra[z], p)
	for i, a := range pl.path {
		t.radius[a] = max(t.radius[a], pl.pd[i])
		t.minDesc[a] = min(t.minDesc[a], t.key(p))
		if i > 0 {
			t.reach[a] = max(t.reach[a], pl.pd[i-1])
		}
	}
}
