package tree

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pcct/pcct/internal/hugemem"
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
	// Busy is each worker's busy time over the build's pool jobs, Steals
	// their successful steals.
	Busy   []time.Duration
	Steals int
	// Batches describes each batch of an insertion (Insert, or Build with
	// Algorithm Insertion); GatePruned counts the distances Gate-1 proved
	// unnecessary there.
	Batches    []BatchStats
	GatePruned int64
}

// item is a node still to be expanded: centre c and the other points of its
// subtree s (in the build's order, see NetOrder) at distances d from c.
// cont marks the continuation of a node that already has its level and
// radius (its points within the last net step's radius); cap is the level
// its children must stay below.
type item struct {
	c    int32
	s    []int32
	d    []float64
	cont bool
	cap  int32
}

// bigItem is the subtree size above which an item's net steps run their
// tiles on the whole pool; smaller items are expanded whole, one per task.
// (The steps of big items run one after another, their serial parts on the
// caller: at 10^6 points 8192 halves that serial time against 2048, 0.10
// against 0.19 s, and the build's projected speed-up on 16 workers goes
// from 10x to 11.3-12x; the tree is the same. A variable so that tests can
// lower it.)
var bigItem = 8192

// flatProbe, flatCover, flatCost and flatMin: when a net step's first
// flatProbe centres cover fewer other points each on average than
// flatCover, or than one flatCost-th of the points still uncovered, and
// more than flatMin points are still uncovered, the step hangs them as
// leaves instead (see cover). The net's tiles cost about the uncovered
// points' count per point placed, divided by a centre's cover: flatCost
// bounds that at 4096 distances. Uniform points in [0,1]^8 (lengthscale 1,
// m = 512), which no tree prunes, cover 6 points per centre at 65,536
// points and 8 at 131,072, where the old bound alone (flatCover) built a
// net computing 1.7e9 distances (19 % of the pairs; 12,700 a point, 14 s)
// and at 262,144 3.9e9 (40 s, a quarter of brute force's time); points in
// [0,1]^4 (lengthscale 0.3, Matern 5/2, m = 256), where the tree prunes
// from about 131,072 points, cover 38 and 65 (1,700-2,000 distances a
// point placed), so their nets stay (docs/BENCHMARKS.md, session 32).
const (
	flatProbe = 32
	flatCover = 8
	flatCost  = 4096
	flatMin   = 256
)

// flatCoverMin is the average cover below which a net step's first
// centres make it flat, with left points still uncovered.
func flatCoverMin(left int) int { return max(flatCover, left/flatCost) }

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
	// their distances, the radii of a batch, the claims of each chunk.
	u, u2  []int32 // u2, ud2: the spare buffers of a parallel compaction
	ud     []float64
	ud2    []float64
	rad    []float64
	claims []chunkClaim
	self   metric.Hits // a batch's tile against itself
	taken  []bool
	byID   [][2]int32 // accept: the batch's tentatives (id, place) by id
	acc    []int32
	accPos []int32 // accept: the accepted centres' places in the batch
	// accept's block: its open rows (ids, places, radii) and the open
	// tentatives from the block's first row on.
	rowIDs, rowPos, cols []int32
	rowRad               []float64
	blockHits            metric.Hits
	kids                 []child // gather's result
	at                   []int   // gather: the children's parts of its blocks
	items                []item  // cover's result
	accD                 []float64
}

// Build builds the cover tree of m's data points. Point 0 is the root; each
// node's children come from greedy nets in the build's order of the points
// (opt.NetOrder, seeded by opt.Seed): a lexicographically first maximal
// independent set, in that order, of the points farther than the next
// level's radius, so the tree is the same for every worker count.
// Independent subtrees are expanded in parallel; large ones run each net
// step's tiles on the pool. When ctx is done Build returns ctx.Err().
func Build(ctx context.Context, m metric.Metric, opt Options) (*Tree, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	byKey, err := rankInverse(opt.Rank, m.Data().N)
	if err != nil {
		return nil, err
	}
	pool := opt.Pool
	if pool == nil {
		pool = streamer.NewPool(opt.Workers)
		defer pool.Close()
	}
	if opt.Algorithm == Insertion {
		return buildByInsertion(ctx, m, opt, byKey, pool)
	}
	t0 := time.Now()
	b := newBuilder(m, opt, byKey, pool)
	rest := netOrder(m.Data().N, opt.Seed, opt.NetOrder, b.t.key, pool, &b.use)
	d, err := b.rootDistances(ctx, rest)
	if err != nil {
		return nil, err
	}
	if err := b.rounds(ctx, []item{{c: 0, s: rest, d: d, cap: math.MaxInt32}}); err != nil {
		return nil, err
	}
	t := b.t
	t.finish(b.children, pool, &b.use)
	t.Stats.Distances, t.Stats.NetSteps = b.dists.Load(), b.steps.Load()
	t.Stats.Tiles, t.Stats.Utilisation = time.Duration(b.tiles.Load()), b.use.utilisation()
	t.Stats.Depth = t.Depth()
	t.Stats.Wall = time.Since(t0)
	t.Stats.Serial = b.use.serial(t.Stats.Wall)
	t.Stats.Busy, t.Stats.Steals = b.use.perWorker, b.use.steals
	return t, nil
}

// rankInverse checks a build's Rank (nil: none) and returns its inverse.
func rankInverse(rank []int32, n int) ([]int32, error) {
	if rank == nil {
		return nil, nil
	}
	inv, err := metric.InversePerm(rank, n)
	if err != nil {
		return nil, fmt.Errorf("rank (Options.Rank): %w", err)
	}
	return inv, nil
}

// newBuilder returns the builder of a tree over m's points, every point
// still a parentless leaf.
func newBuilder(m metric.Metric, opt Options, byKey []int32, pool *streamer.Pool) *builder {
	n := m.Data().N
	t := &Tree{m: m, base: opt.Base, slack: m.TriangleSlack(), rank: opt.Rank, byKey: byKey,
		level: make([]int32, n), scale: make([]int32, n), parent: make([]int32, n), dparent: make([]float64, n),
		radius: make([]float64, n), reach: make([]float64, n), minDesc: make([]int32, n)}
	b := &builder{t: t, opt: opt, pool: pool, children: make([][]int32, n), ws: make([]*buildScratch, pool.Workers())}
	for w := range b.ws {
		b.ws[w] = &buildScratch{w: metric.NewWorkspace()}
	}
	forChunks(pool, &b.use, n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t.parent[i], t.level[i], t.scale[i], t.minDesc[i] = -1, leafLevel, leafLevel, noDesc
		}
	})
	return b
}

// rounds expands the items and the items their net steps make, round by
// round: an item larger than bigItem takes its net step on the caller's
// goroutine with its tiles on the whole pool, the smaller ones are
// expanded whole, one pool task each.
func (b *builder) rounds(ctx context.Context, items []item) error {
	for len(items) > 0 {
		var small, next []item
		for _, it := range items {
			if len(it.s) <= bigItem {
				small = append(small, it)
				continue
			}
			out, err := b.netStep(ctx, 0, it, true)
			if err != nil {
				return err
			}
			next = append(next, out...)
		}
		if len(small) > 0 {
			st, err := b.pool.RunContext(ctx, len(small), labelled(phaseBuild, func(w, k int) { b.expand(ctx, w, small[k]) }))
			b.use.add(st)
			if err != nil {
				return err
			}
		}
		b.t.Stats.Rounds++
		items = next
	}
	return ctx.Err() // expand stops early when ctx is done
}

// NetOrder is the order in which Build's nets consider the points: a
// greedy net's next centre is the first point in it not yet covered. The
// order changes the tree and the work, never an answer.
type NetOrder int

const (
	// NetAuto is NetBands for Build and for the predecessor job of
	// AllKNNSearch, NetRandom for AllKNNSearch's other jobs and KNNSearch.
	NetAuto NetOrder = iota
	// NetBands takes the points by index band (the bit length of the
	// index, or of its Options.Rank: 1, 2-3, 4-7, ...), in a seeded random
	// order within each band.
	// A node's descendants then lie in its band or later ones, so a
	// predecessor query below a node's band skips its subtree whole (the
	// tree is nearly a heap on the index, as with index order, and
	// predecessor queries compute as few distances), while the random
	// order within the bands keeps the centres spread out when the index
	// follows space.
	NetBands
	// NetRandom takes the points in a seeded random order: the fewest
	// distances for the build whatever the input's order, and the best
	// tree for jobs without predecessors.
	NetRandom
)

// netOrder returns the points 1..n-1 in the order the nets consider them
// (see NetOrder; Build resolves NetAuto), sorted by their keys on the pool:
// 32 bits (the band of key(p) in the top 5 for NetBands) of the seeded hash, which
// sort in 3 radix passes instead of 6; the rare equal keys keep index
// order (the sort is stable), so the order is still fixed by the seed. In
// index order, points sorted along a coordinate or a space-filling curve
// (data files often are; Vecchia orderings by coordinate are) make each
// centre start at the edge of the region already covered, and the nets
// compute 3.4 times the distances of a random order (see
// docs/BENCHMARKS.md).
func netOrder(n int, seed uint64, order NetOrder, key func(int32) int32, pool *streamer.Pool, use *usage) []int32 {
	if n <= 1 {
		return nil
	}
	// Point 0, the root, has the key 0: first, being the lowest index.
	codes := make([]uint64, n)
	forChunks(pool, use, n, func(lo, hi int) {
		for p := max(lo, 1); p < hi; p++ {
			h := priority(seed, int32(p))
			if order == NetBands {
				codes[p] = uint64(bits.Len32(uint32(key(int32(p)))))<<27 | h>>37
			} else {
				codes[p] = h >> 32
			}
		}
	})
	ids, _ := radixOrder(codes, pool, use)
	return ids[1:]
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
// covered greedily, in the build's order, by new children of c at
// that scale, each taking the uncovered points within the radius that no
// earlier child took. It returns the items to expand next (worker w's
// scratch: the caller copies them before w's next step). With parallel
// set, the tiles run on the pool (the caller is not a pool task).
func (b *builder) netStep(ctx context.Context, w int, it item, parallel bool) ([]item, error) {
	t := b.t
	if len(it.s) == 0 {
		return nil, nil
	}
	par := parallel && len(it.s) >= bigSplit
	r, lo := b.spread(it, par)
	if !it.cont {
		t.radius[it.c], t.minDesc[it.c] = r, lo
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
	keep, keepD, u, ud := b.split(w, it, rr, par)
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

// finish lays the children out in CSR form and indexes the tree, on the
// pool (nil: on the caller's goroutine), adding its jobs to use.
func (t *Tree) finish(children [][]int32, pool *streamer.Pool, use *usage) {
	n := t.N()
	t.childOff = make([]int32, n+1)
	for z := range n {
		t.childOff[z+1] = t.childOff[z] + int32(len(children[z]))
	}
	t.child = make([]int32, t.childOff[n])
	forChunks(pool, use, n, func(lo, hi int) {
		for z := lo; z < hi; z++ {
			copy(t.child[t.childOff[z]:], children[z])
		}
	})
	t.index(pool, use)
}

// index computes, from the children, the queries' records (spans by node;
// kids, each node's children by descending reach, so that a scan of them
// stops at the first one out of reach), the depth-first preorder and the
// depth. Each child of the root has its subtree ordered by one task.
func (t *Tree) index(pool *streamer.Pool, use *usage) {
	n := t.N()
	// The walks read these by node id all over: on huge pages their reads
	// skip most TLB misses (with the metric's X and scales, -5.5 % of the
	// 10^6 queries' time, docs/BENCHMARKS.md).
	t.spans, t.kids = hugemem.Make[span](n+1), hugemem.Make[kid](len(t.child))
	forChunks(pool, use, n, func(lo, hi int) {
		for z := lo; z < hi; z++ {
			t.spans[z] = span{radius: t.radius[z], lo: t.minDesc[z], k0: t.childOff[z]}
		}
	})
	t.spans[n] = span{k0: t.childOff[n]}
	forChunks(pool, use, n, func(lo, hi int) {
		for z := lo; z < hi; z++ {
			ks := t.kids[t.childOff[z]:t.childOff[z+1]]
			for k, x := range t.child[t.childOff[z]:t.childOff[z+1]] {
				ks[k] = kid{reach: t.reach[x], id: x, lo: min(t.key(x), t.minDesc[x])}
			}
			slices.SortFunc(ks, byReach)
		}
	})
	top := t.Children(int(t.root))
	parts := make([][]int32, len(top))
	depths := make([]int, len(top))
	forTasks(pool, use, len(top), func(k int) { parts[k], depths[k] = t.preorder(top[k]) })
	t.order = append(make([]int32, 0, t.N()), t.root)
	t.depth = 1
	for k, p := range parts {
		t.order = append(t.order, p...)
		t.depth = max(t.depth, 1+depths[k])
	}
}

// byReach orders kids by descending reach, ties by ascending id.
func byReach(a, b kid) int {
	if c := cmp.Compare(b.reach, a.reach); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// preorder returns the depth-first preorder of z's subtree (children in
// their order) and the number of nodes on its longest path down from z.
func (t *Tree) preorder(z int32) ([]int32, int) {
	type visit struct {
		z     int32
		depth int
	}
	var order []int32
	stack := []visit{{z, 1}}
	depth := 0
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		order = append(order, v.z)
		depth = max(depth, v.depth)
		ch := t.Children(int(v.z))
		for k := len(ch) - 1; k >= 0; k-- {
			stack = append(stack, visit{ch[k], v.depth + 1})
		}
	}
	return order, depth
}
