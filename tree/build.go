package tree

import (
	"context"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// BuildStats describes a build: distances computed, net steps (one per
// node and level at which it gained children), rounds (pool jobs over
// independent subtrees), the tree's depth and the wall time.
type BuildStats struct {
	Distances int64
	NetSteps  int64
	Rounds    int
	Depth     int
	Wall      time.Duration
	// Tiles is the worker time spent in the nets' distance tiles (summed
	// over workers); Utilisation is busy / (workers x wall) over the
	// build's pool jobs; Serial is the part of Wall spent outside them, on
	// the caller's goroutine (what more workers cannot shorten).
	Tiles       time.Duration
	Utilisation float64
	Serial      time.Duration
	// Batches describes each batch of an insertion (Insert, or Build with
	// Algorithm Insertion); GatePruned counts the distances Gate-1 proved
	// unnecessary there.
	Batches    []BatchStats
	GatePruned int64
}

// item is a node still to be expanded: centre c and the other points of its
// subtree s (ascending ids) at distances d from c. cont marks the
// continuation of a node that already has its level and radius (its points
// within the last net step's radius); cap is the level its children must
// stay below.
type item struct {
	c    int32
	s    []int32
	d    []float64
	cont bool
	cap  int32
}

// bigItem is the subtree size above which an item's net steps run their
// tiles on the whole pool; smaller items are expanded whole, one per task.
const bigItem = 2048

// flatProbe, flatCover and flatMin: when a net step's first flatProbe
// centres cover fewer than flatCover other points each on average and more
// than flatMin points are still uncovered, the step hangs them as leaves
// instead (see cover).
const (
	flatProbe = 32
	flatCover = 8
	flatMin   = 256
)

// netChunk is the number of candidates per tile of a net step.
const netChunk = 512

// builder holds the state of one Build.
type builder struct {
	t        *Tree
	opt      Options
	pool     *streamer.Pool
	children [][]int32
	ws       []*buildScratch // per worker
	dists    atomic.Int64
	steps    atomic.Int64
	tiles    atomic.Int64 // nanoseconds in net tiles
	use      usage
}

type buildScratch struct {
	w     *metric.Workspace
	owner []int32   // by point id: the accepted centre covering it, or -1
	dc    []float64 // by point id: distance to the node being covered
	// Reused by every net step on this worker: the uncovered points and
	// their distances, the radii of a batch, the hits of each chunk and of
	// each tentative centre.
	u     []int32
	ud    []float64
	rad   []float64
	parts []metric.Hits
	rows  [][]netHit
	self  metric.Hits // a batch's tile against itself
	taken []bool
	acc   []int32
	accD  []float64
}

// Build builds the cover tree of m's data points. Point 0 is the root; each
// node's children come from greedy nets in increasing index order (a
// lexicographically first maximal independent set of the points farther
// than the next level's radius), so the tree is the same for every worker
// count. Independent subtrees are expanded in parallel; large ones run each
// net step's tiles on the pool. When ctx is done Build returns ctx.Err().
func Build(ctx context.Context, m metric.Metric, opt Options) (*Tree, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	pool := opt.Pool
	if pool == nil {
		pool = streamer.NewPool(opt.Workers)
		defer pool.Close()
	}
	if opt.Algorithm == Insertion {
		return buildByInsertion(ctx, m, opt, pool)
	}
	t0 := time.Now()
	n := m.Data().N
	t := &Tree{m: m, base: opt.Base, slack: m.TriangleSlack(),
		level: make([]int32, n), scale: make([]int32, n), parent: make([]int32, n), dparent: make([]float64, n),
		radius: make([]float64, n), reach: make([]float64, n), minDesc: make([]int32, n)}
	for i := range t.parent {
		t.parent[i], t.level[i], t.scale[i], t.minDesc[i] = -1, leafLevel, leafLevel, noDesc
	}
	b := &builder{t: t, opt: opt, pool: pool, children: make([][]int32, n), ws: make([]*buildScratch, pool.Workers())}
	for w := range b.ws {
		b.ws[w] = &buildScratch{w: metric.NewWorkspace()}
	}
	rest := make([]int32, n-1)
	for i := range rest {
		rest[i] = int32(i + 1)
	}
	d, err := b.rootDistances(ctx, rest)
	if err != nil {
		return nil, err
	}
	items := []item{{c: 0, s: rest, d: d, cap: math.MaxInt32}}
	for len(items) > 0 {
		var small, next []item
		for _, it := range items {
			if len(it.s) <= bigItem {
				small = append(small, it)
				continue
			}
			out, err := b.netStep(ctx, 0, it, true)
			if err != nil {
				return nil, err
			}
			next = append(next, out...)
		}
		if len(small) > 0 {
			st, err := pool.RunContext(ctx, len(small), labelled(phaseBuild, func(w, k int) { b.expand(ctx, w, small[k]) }))
			b.use.add(st)
			if err != nil {
				return nil, err
			}
		}
		t.Stats.Rounds++
		items = next
	}
	if err := ctx.Err(); err != nil { // expand stops early when ctx is done
		return nil, err
	}
	t.finish(b.children)
	t.Stats.Distances, t.Stats.NetSteps = b.dists.Load(), b.steps.Load()
	t.Stats.Tiles, t.Stats.Utilisation = time.Duration(b.tiles.Load()), b.use.utilisation()
	t.Stats.Depth = t.Depth()
	t.Stats.Wall = time.Since(t0)
	t.Stats.Serial = b.use.serial(t.Stats.Wall)
	return t, nil
}

// rootDistances computes d(0, j) for the listed points on the pool.
func (b *builder) rootDistances(ctx context.Context, ids []int32) ([]float64, error) {
	data := b.t.m.Data()
	d := make([]float64, len(ids))
	chunks := (len(ids) + 4095) / 4096
	st, err := b.pool.RunContext(ctx, chunks, labelled(phaseBuild, func(w, k int) {
		lo, hi := k*4096, min(len(ids), (k+1)*4096)
		b.t.m.Tile(b.ws[w].w, d[lo:hi], hi-lo, data, metric.Range(0, 1), data, metric.List(ids[lo:hi]))
	}))
	b.use.add(st)
	b.dists.Add(int64(len(ids)))
	return d, err
}

// expand expands a small item and everything below it on one worker.
func (b *builder) expand(ctx context.Context, w int, it item) {
	stack := []item{it}
	for len(stack) > 0 && ctx.Err() == nil {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		out, _ := b.netStep(ctx, w, it, false)
		stack = append(stack, out...)
	}
}

// netStep sets up node it.c for its item and makes one net: the points
// within base^(l-1) of c stay with c (a continuation), the others are
// covered greedily, in increasing index order, by new children of c at
// that scale, each taking the uncovered points within the radius that no
// earlier child took. It returns the items to expand next. With parallel
// set, the tiles run on the pool (the caller is not a pool task).
func (b *builder) netStep(ctx context.Context, w int, it item, parallel bool) ([]item, error) {
	t := b.t
	if len(it.s) == 0 {
		return nil, nil
	}
	r := slices.Max(it.d)
	if !it.cont {
		t.radius[it.c], t.minDesc[it.c] = r, slices.Min(it.s)
	}
	if r == 0 { // exact duplicates of c: leaves, unseparable
		if !it.cont {
			t.level[it.c] = min(it.cap-1, 0)
		}
		for k, p := range it.s {
			b.attach(it.c, p, it.d[k], leafLevel)
		}
		return nil, nil
	}
	l := levelFor(t.base, r)
	if !it.cont {
		t.level[it.c] = l
	}
	b.steps.Add(1)
	rr := t.cover(l - 1)
	// Split the points, in order, into those within rr of c (kept in place:
	// the item's slices are c's continuation) and the rest (scratch).
	sc := b.ws[w]
	u, ud := sc.u[:0], sc.ud[:0]
	nk := 0
	for k, p := range it.s {
		if it.d[k] <= rr {
			it.s[nk], it.d[nk] = p, it.d[k]
			nk++
		} else {
			u, ud = append(u, p), append(ud, it.d[k])
		}
	}
	sc.u, sc.ud = u, ud
	keep, keepD := it.s[:nk], it.d[:nk]
	out, err := b.cover(ctx, w, it.c, u, ud, rr, l, parallel)
	if err != nil {
		return nil, err
	}
	if len(keep) > 0 {
		out = append(out, item{c: it.c, s: keep, d: keepD, cont: true, cap: l})
	}
	return out, nil
}

// attach makes p a child of c at distance d, made by the net of the given
// scale; its reach is d until its subtree is known.
func (b *builder) attach(c, p int32, d float64, scale int32) {
	b.t.parent[p], b.t.dparent[p], b.t.scale[p], b.t.reach[p] = c, d, scale, d
	b.children[c] = append(b.children[c], p)
}

// cover covers the uncovered points u (ascending, at distances ud from the
// node c) greedily with centres at radius rr, in batches of NetBatch
// tentative centres (the first uncovered points): a tentative covered by an
// earlier accepted centre of its batch is dropped (decided on the small
// tile of the batch against itself), and only the accepted ones are tiled
// against all uncovered points, each taking those within rr that no
// earlier centre took.
func (b *builder) cover(ctx context.Context, w int, c int32, u []int32, ud []float64, rr float64, l int32, parallel bool) ([]item, error) {
	sc := b.ws[w]
	rad := sc.prepare(b.t.N(), b.opt.NetBatch, u, ud, rr)
	var out []item
	accepted, covered := 0, 0 // by the first centres, for the flat test
	for len(u) > 0 {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		nt := min(len(u), b.opt.NetBatch)
		acc, accD := b.accept(w, u[:nt], ud[:nt], rad[:nt])
		rows, err := b.netTiles(ctx, w, acc, u, rad[:len(acc)], parallel)
		if err != nil {
			return nil, err
		}
		flat := false
		for i, z := range acc {
			if sc.owner[z] >= 0 {
				continue // cannot happen: accept dropped every covered tentative
			}
			b.attach(c, z, accD[i], l-1)
			child := b.claim(sc, z, l, accD[i], rows[i])
			out = append(out, child)
			accepted, covered = accepted+1, covered+len(child.s)
			if accepted == flatProbe && covered < flatCover*accepted && uncovered(sc.owner, u) > flatMin {
				flat = true
				break
			}
		}
		if flat {
			// The net covers almost nothing: the points here are farther
			// apart than the scale, and every further batch would cost a
			// tile against all of them for one centre each. Hang the rest
			// as leaves of c (covering holds: they are within c's radius),
			// so queries scan them in full tiles, as brute force would.
			// The decision depends only on the greedy order, not on the
			// batch size.
			for j, p := range u {
				if sc.owner[p] < 0 {
					b.attach(c, p, ud[j], flatScale)
				}
			}
			break
		}
		k := 0
		for j, p := range u {
			if sc.owner[p] < 0 {
				u[k], ud[k] = p, ud[j]
				k++
			}
		}
		u, ud = u[:k], ud[:k]
	}
	// Clear the owners for the next step on this worker.
	for _, ch := range out {
		sc.owner[ch.c] = -1
		for _, p := range ch.s {
			sc.owner[p] = -1
		}
	}
	return out, nil
}

// prepare readies a worker's scratch for covering u (at distances ud from
// the node) at radius rr: owners cleared, distances by id, the radii of a
// batch, which it returns.
func (sc *buildScratch) prepare(n, batch int, u []int32, ud []float64, rr float64) []float64 {
	if len(sc.owner) < n {
		sc.owner = make([]int32, n)
		for i := range sc.owner {
			sc.owner[i] = -1
		}
	}
	if len(sc.dc) < n {
		sc.dc = make([]float64, n)
	}
	for j, p := range u {
		sc.dc[p] = ud[j] // distances to the node by id, for the children's reach
	}
	sc.rad = grow(sc.rad, batch)
	for k := range sc.rad {
		sc.rad[k] = rr
	}
	return sc.rad
}

// claim makes accepted centre z (at distance dz from the node) take the
// points of its row of hits that no earlier centre took; they become its
// item (its subtree), and its reach the farthest of them from the node.
func (b *builder) claim(sc *buildScratch, z, l int32, dz float64, hits []netHit) item {
	sc.owner[z] = z
	child := item{c: z, cap: l, s: make([]int32, 0, len(hits)), d: make([]float64, 0, len(hits))}
	reach := dz
	for _, h := range hits {
		if h.id != z && sc.owner[h.id] < 0 {
			sc.owner[h.id] = z
			child.s, child.d = append(child.s, h.id), append(child.d, h.d)
			reach = max(reach, sc.dc[h.id])
		}
	}
	b.t.reach[z] = reach
	return child
}

// accept returns the tentative centres (at distances td from the node) that
// no earlier accepted one of the batch covers, and their distances: the
// greedy choice, decided on the batch's tile against itself.
func (b *builder) accept(w int, tent []int32, td, rad []float64) ([]int32, []float64) {
	sc := b.ws[w]
	data := b.t.m.Data()
	h := &sc.self
	h.Reset()
	b.t.m.Within(sc.w, data, metric.List(tent), data, metric.List(tent), rad, h)
	b.dists.Add(int64(len(tent) * len(tent)))
	sc.taken = grow(sc.taken, len(tent))
	clear(sc.taken)
	acc, accD := sc.acc[:0], sc.accD[:0]
	x := 0
	for i := range tent {
		for ; x < h.Len() && int(h.Query[x]) < i; x++ {
		}
		if sc.taken[i] {
			continue
		}
		acc, accD = append(acc, tent[i]), append(accD, td[i])
		// Hits give ids; the tentatives are ascending ids (u is).
		for ; x < h.Len() && int(h.Query[x]) == i; x++ {
			if j, ok := slices.BinarySearch(tent, h.Cand[x]); ok && j > i {
				sc.taken[j] = true
			}
		}
	}
	sc.acc, sc.accD = acc, accD
	return acc, accD
}

// uncovered counts the points of u that no centre has taken.
func uncovered(owner []int32, u []int32) int {
	n := 0
	for _, p := range u {
		if owner[p] < 0 {
			n++
		}
	}
	return n
}

type netHit struct {
	id int32
	d  float64
}

// netTiles returns, for each tentative centre, the points of u within its
// radius, ascending, through the metric's fused Within, in chunks of
// netChunk candidates (on the pool when parallel).
func (b *builder) netTiles(ctx context.Context, w int, tent, u []int32, rad []float64, parallel bool) ([][]netHit, error) {
	data := b.t.m.Data()
	chunks := (len(u) + netChunk - 1) / netChunk
	sc := b.ws[w]
	if len(sc.parts) < chunks {
		sc.parts = append(sc.parts, make([]metric.Hits, chunks-len(sc.parts))...)
	}
	parts := sc.parts[:chunks]
	for k := range parts {
		parts[k].Reset()
	}
	tile := func(w, k int) {
		t0 := time.Now()
		lo, hi := k*netChunk, min(len(u), (k+1)*netChunk)
		h := &parts[k]
		b.t.m.Within(b.ws[w].w, data, metric.List(tent), data, metric.List(u[lo:hi]), rad, h)
		b.tiles.Add(int64(time.Since(t0)))
	}
	if parallel {
		st, err := b.pool.RunContext(ctx, chunks, labelled(phaseBuild, tile))
		b.use.add(st)
		if err != nil {
			return nil, err
		}
	} else {
		for k := range chunks {
			tile(w, k)
		}
	}
	b.dists.Add(int64(len(tent) * len(u)))
	if len(sc.rows) < len(tent) {
		sc.rows = append(sc.rows, make([][]netHit, len(tent)-len(sc.rows))...)
	}
	rows := sc.rows[:len(tent)]
	for i := range rows {
		rows[i] = rows[i][:0]
	}
	for k := range parts {
		h := &parts[k]
		for x := range h.Cand {
			q := h.Query[x]
			rows[q] = append(rows[q], netHit{h.Cand[x], h.Dist[x]})
		}
	}
	return rows, nil
}

// finish lays the children out in CSR form and indexes the tree.
func (t *Tree) finish(children [][]int32) {
	n := t.N()
	t.childOff = make([]int32, n+1)
	for z := range n {
		t.childOff[z+1] = t.childOff[z] + int32(len(children[z]))
	}
	t.child = make([]int32, 0, n)
	for z := range n {
		t.child = append(t.child, children[z]...)
	}
	t.index()
}

// index computes the depth-first order, the subtree sizes and the
// children's reaches and lowest indices by position from the children.
func (t *Tree) index() {
	n := t.N()
	t.childReach, t.childLo = make([]float64, len(t.child)), make([]int32, len(t.child))
	for k, x := range t.child {
		t.childReach[k], t.childLo[k] = t.reach[x], min(x, t.minDesc[x])
	}
	t.order = make([]int32, 0, n)
	stack := []int32{t.root}
	for len(stack) > 0 {
		z := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		t.order = append(t.order, z)
		ch := t.Children(int(z))
		for k := len(ch) - 1; k >= 0; k-- {
			stack = append(stack, ch[k])
		}
	}
	t.size = make([]int32, n)
	for k := n - 1; k >= 0; k-- {
		z := t.order[k]
		t.size[z]++
		if p := t.parent[z]; p >= 0 {
			t.size[p] += t.size[z]
		}
	}
}
