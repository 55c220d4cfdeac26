package tree

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// cover covers the uncovered points u (in the build's order, at distances
// ud from the node c) greedily with centres at radius rr, in batches of
// NetBatch tentative centres (the first uncovered points): a tentative
// covered by an earlier accepted centre of its batch is dropped (decided on
// tiles of the batch against itself, see accept), and only the accepted ones
// are tiled against all uncovered points, each taking those within rr that
// no earlier centre took (see claimTiles; when the batch holds them all,
// its own tile serves: claimSelf). With parallel set, the tiles and the
// children's assembly run on the pool. The items it returns are worker w's
// scratch, valid until its next cover.
func (b *builder) cover(ctx context.Context, w int, c int32, u []int32, ud []float64, rr float64, l int32, parallel bool) ([]item, error) {
	sc := b.ws[w]
	var pool *streamer.Pool
	if parallel {
		pool = b.pool
	}
	rad := sc.prepare(b.t.N(), b.opt.NetBatch, u, ud, rr, pool, &b.use)
	out := sc.items[:0]
	defer func() { sc.items = out[:0] }()
	var probe flatProbeTally
	for len(u) > 0 {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		nt := min(len(u), b.opt.NetBatch)
		self := selfClaims && nt == len(u) && nt <= netChunk
		acc, accD := b.accept(w, u[:nt], ud[:nt], rad[:nt], self)
		for _, z := range acc {
			sc.owner[z] = z
		}
		claims, err := b.claim(ctx, w, acc, u, rad, self, parallel)
		if err != nil {
			return nil, err
		}
		children := b.gather(w, claims, acc, accD, l, parallel && len(claims) >= gatherChunks)
		stop := probe.flatAt(children, len(u))
		if stop >= 0 {
			// The first centres cover almost nothing. Points spread over
			// the rest of the order tell whether that is the data or only
			// those centres (a max-min ordering under the residual metric
			// puts first the points that the metric sets apart).
			dense, err := b.denseSample(ctx, w, u, rr, parallel)
			if err != nil {
				return nil, err
			}
			if dense {
				stop, probe.off = -1, true
			}
		}
		out = b.attachBatch(w, c, acc, accD, children, l, stop, out)
		if stop >= 0 {
			// The net covers almost nothing: the points here are farther
			// apart than the scale, and every further batch would cost a
			// tile against all of them for one centre each. Hang the rest
			// as leaves of c (covering holds: they are within c's radius),
			// so queries scan them in full tiles, as brute force would.
			// The decision depends only on the greedy order, not on the
			// batch size.
			b.hangFlat(w, c, u, ud)
			break
		}
		u, ud = b.compact(w, u, ud, claims, parallel && len(claims) >= gatherChunks)
	}
	// Clear the owners for the next step on this worker.
	for _, ch := range out {
		ch.release(sc.owner)
	}
	return out, nil
}

// release clears the owner of the item's centre and of its points.
func (it item) release(owner []int32) {
	owner[it.c] = -1
	for _, p := range it.s {
		owner[p] = -1
	}
}

// claim gives each point of u within reach of an accepted centre of acc
// to the first such centre: from accept's tiles when the batch holds all
// of u (self), else from tiles of their own.
func (b *builder) claim(ctx context.Context, w int, acc, u []int32, rad []float64, self, parallel bool) ([]chunkClaim, error) {
	if self {
		return b.claimSelf(w, acc, u), nil
	}
	return b.claimTiles(ctx, w, acc, u, rad[:len(acc)], parallel)
}

// attachBatch attaches a batch's accepted centres acc (at distances accD
// from the node c of level l) to c in order, appending their children's
// items to out: all of them, or with stop >= 0 (the step found flat at
// centre stop) those up to stop; the later ones, which took their points
// at once with the others, give them back.
func (b *builder) attachBatch(w int, c int32, acc []int32, accD []float64, children []child, l int32, stop int, out []item) []item {
	n := len(acc)
	if stop >= 0 {
		n = stop + 1
		for _, ch := range children[n:] {
			ch.release(b.ws[w].owner)
		}
	}
	for i, z := range acc[:n] {
		b.attach(c, z, accD[i], l-1)
		b.t.reach[z] = children[i].reach
		out = append(out, children[i].item)
	}
	return out
}

// prepare readies a worker's scratch for covering u (at distances ud from
// the node) at radius rr: owners cleared, distances by id, the radii of a
// batch, which it returns. The work over the points runs on the pool when
// it is not nil (adding its jobs to use).
func (sc *buildScratch) prepare(n, batch int, u []int32, ud []float64, rr float64, pool *streamer.Pool, use *usage) []float64 {
	if len(sc.owner) < n {
		sc.owner = make([]int32, n)
		forChunks(pool, use, n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				sc.owner[i] = -1
			}
		})
	}
	if len(sc.dc) < n {
		sc.dc = make([]float64, n)
	}
	// The distances to the node by id, for the children's reach (serially
	// without a closure: most steps are small, and run on one worker).
	if pool == nil {
		scatter(sc.dc, u, ud)
	} else {
		forChunks(pool, use, len(u), func(lo, hi int) { scatter(sc.dc, u[lo:hi], ud[lo:hi]) })
	}
	sc.rad = grow(sc.rad, batch)
	for k := range sc.rad {
		sc.rad[k] = rr
	}
	return sc.rad
}

// scatter sets dst[ids[j]] = v[j].
func scatter(dst []float64, ids []int32, v []float64) {
	for j, p := range ids {
		dst[p] = v[j]
	}
}

// acceptRows is the number of a batch's tentative centres whose rows
// accept tiles together.
const acceptRows = 16

// accept returns the tentative centres (at distances td from the node) that
// no earlier accepted one of the batch covers, and their distances: the
// greedy choice, decided on tiles of the batch against itself. A
// tentative's row matters only while no earlier one covers it, and only
// for the tentatives after it that none covers yet: the batch is tiled in
// blocks of acceptRows rows, each block's open rows against the open
// tentatives from its first row on, so the rows and columns that earlier
// blocks closed are not computed (at 262,144 points, m = 256: 230
// distances per point in the build against 256 for the whole tile). The
// choice is the whole tile's. With self, the accepted centres' hits, by
// place in the batch, are left in the worker's self hits for claimSelf.
func (b *builder) accept(w int, tent []int32, td, rad []float64, self bool) ([]int32, []float64) {
	sc := b.ws[w]
	data := b.t.m.Data()
	h := &sc.self
	h.Reset()
	n := len(tent)
	sc.taken = grow(sc.taken, n)
	clear(sc.taken)
	sc.byID = sc.byID[:0]
	for i, z := range tent {
		sc.byID = append(sc.byID, [2]int32{z, int32(i)})
	}
	slices.SortFunc(sc.byID, func(a, b [2]int32) int { return cmp.Compare(a[0], b[0]) })
	acc, accD := sc.acc[:0], sc.accD[:0]
	sc.accPos = sc.accPos[:0]
	for r0 := 0; r0 < n; r0 += acceptRows {
		rows, pos, rr, cols := sc.openBlock(tent, rad, r0)
		if len(rows) == 0 {
			continue
		}
		bh := &sc.blockHits
		bh.Reset()
		b.t.m.Within(sc.w, data, metric.List(rows), data, metric.List(cols), rr, bh)
		b.dists.Add(int64(len(rows) * len(cols)))
		x := 0
		for qi, i := range pos {
			x0 := x
			for ; x < bh.Len() && int(bh.Query[x]) == qi; x++ {
			}
			if sc.taken[i] {
				continue // covered by a centre before it in the block
			}
			// The centre's hits join the batch's, by its place, for
			// claimSelf.
			for y := x0; self && y < x; y++ {
				h.Query, h.Cand, h.Dist = append(h.Query, i), append(h.Cand, bh.Cand[y]), append(h.Dist, bh.Dist[y])
			}
			acc, accD = append(acc, tent[i]), append(accD, td[i])
			sc.accPos = append(sc.accPos, i)
			// Hits give ids: their places in the batch from byID.
			for y := x0; y < x; y++ {
				if j := sc.place(bh.Cand[y]); j > int(i) {
					sc.taken[j] = true
				}
			}
		}
	}
	if last := n - 1; !sc.taken[last] { // no row of its own (see openBlock)
		acc, accD = append(acc, tent[last]), append(accD, td[last])
		sc.accPos = append(sc.accPos, int32(last))
	}
	sc.acc, sc.accD = acc, accD
	return acc, accD
}

// openBlock returns accept's block of rows from r0: the tentatives of
// tent[r0:r0+acceptRows] that no accepted centre covers yet (ids, places
// and radii), and those of tent[r0:] (the block's columns). The batch's
// last tentative has no row: no tentative after it could use one (and
// claimSelf skips a centre's own hit), so a batch of one, over half of a
// build's batches (89,154 of 157,622 at 262,144 points: a node with one
// point left to place), takes no tile, and a batch of two a one-row one.
func (sc *buildScratch) openBlock(tent []int32, rad []float64, r0 int) (rows, pos []int32, rr []float64, cols []int32) {
	rows, pos, rr, cols = sc.rowIDs[:0], sc.rowPos[:0], sc.rowRad[:0], sc.cols[:0]
	for i := r0; i < min(len(tent)-1, r0+acceptRows); i++ {
		if !sc.taken[i] {
			rows, pos, rr = append(rows, tent[i]), append(pos, int32(i)), append(rr, rad[i])
		}
	}
	for j := r0; j < len(tent); j++ {
		if !sc.taken[j] {
			cols = append(cols, tent[j])
		}
	}
	sc.rowIDs, sc.rowPos, sc.rowRad, sc.cols = rows, pos, rr, cols
	return rows, pos, rr, cols
}

// place returns the place in the current batch of tentative centres of
// point z, one of them (see accept).
func (sc *buildScratch) place(z int32) int {
	k, _ := slices.BinarySearchFunc(sc.byID, z, func(e [2]int32, z int32) int { return cmp.Compare(e[0], z) })
	return int(sc.byID[k][1])
}

// chunkClaim is what one chunk of the uncovered points gave a batch's
// accepted centres: the points each took, as runs by centre (centre i's
// from start[i] to start[i+1], in u's order) with their distances to it,
// and, per centre, the farthest of them from the node.
type chunkClaim struct {
	hits  metric.Hits
	ids   []int32
	d     []float64
	start []int32
	reach []float64
	left  int // the chunk's points that no centre has taken
}

// fill records in cl what the hits h give the accepted centres acc: centre
// i's hits are h's row rows[i] (rows ascending; nil: row i), and each
// point among them that no earlier centre took (owner < 0) becomes its,
// with the farthest of its points from the node (dc) as its reach. Then
// cl.left counts the points of pts (the chunk's) that no centre took.
func (cl *chunkClaim) fill(h *metric.Hits, acc, rows []int32, owner []int32, dc []float64, pts []int32) {
	cl.ids, cl.d = cl.ids[:0], cl.d[:0]
	cl.start, cl.reach = grow(cl.start, len(acc)+1), grow(cl.reach, len(acc))
	x := 0
	for i, z := range acc {
		cl.start[i] = int32(len(cl.ids))
		row := int32(i)
		if rows != nil {
			row = rows[i]
		}
		for ; x < h.Len() && h.Query[x] < row; x++ {
		}
		reach := 0.0
		for ; x < h.Len() && h.Query[x] == row; x++ {
			if p := h.Cand[x]; owner[p] < 0 {
				owner[p] = z
				cl.ids, cl.d = append(cl.ids, p), append(cl.d, h.Dist[x])
				reach = max(reach, dc[p])
			}
		}
		cl.reach[i] = reach
	}
	cl.start[len(acc)] = int32(len(cl.ids))
	cl.left = 0
	for _, p := range pts {
		if owner[p] < 0 {
			cl.left++
		}
	}
}

// claimTiles tiles the accepted centres acc (each already its own owner)
// against the uncovered points u through the metric's fused Within, in
// chunks of netChunk candidates (on the pool when parallel), and in each
// chunk gives every point within a centre's radius to the first centre,
// in acc's order, that has it: the greedy rule, decided chunk by chunk,
// since a point lies in one chunk (so the chunks' tasks write the owners
// of their own points only).
func (b *builder) claimTiles(ctx context.Context, w int, acc, u []int32, rad []float64, parallel bool) ([]chunkClaim, error) {
	data := b.t.m.Data()
	chunks := (len(u) + netChunk - 1) / netChunk
	sc := b.ws[w]
	if len(sc.claims) < chunks {
		sc.claims = append(sc.claims, make([]chunkClaim, chunks-len(sc.claims))...)
	}
	claims := sc.claims[:chunks]
	owner, dc := sc.owner, sc.dc
	tile := func(tw, k int) {
		t0 := time.Now()
		lo, hi := k*netChunk, min(len(u), (k+1)*netChunk)
		cl := &claims[k]
		h := &cl.hits
		h.Reset()
		b.t.m.Within(b.ws[tw].w, data, metric.List(acc), data, metric.List(u[lo:hi]), rad, h)
		b.tiles.Add(int64(time.Since(t0)))
		cl.fill(h, acc, nil, owner, dc, u[lo:hi])
	}
	if err := b.runChunks(ctx, w, chunks, parallel, tile); err != nil {
		return nil, err
	}
	b.dists.Add(int64(len(acc) * len(u)))
	return claims, nil
}

// runChunks runs tile(worker, k) for the chunks k < chunks: as a job on
// the pool when parallel, else one after another on worker w.
func (b *builder) runChunks(ctx context.Context, w, chunks int, parallel bool, tile func(tw, k int)) error {
	if !parallel {
		for k := range chunks {
			tile(w, k)
		}
		return nil
	}
	st, err := b.pool.RunContext(ctx, chunks, labelled(phaseBuild, tile))
	b.use.add(st)
	return err
}

// selfClaims lets a batch that holds every uncovered point take its claims
// from its own tile (claimSelf); a variable only so that a test can compare
// the trees with and without.
var selfClaims = true

// claimSelf is claimTiles for a batch that holds every uncovered point u
// (at most netChunk): accept's tiles of the batch against itself already
// have each accepted centre's row, at the same radius and with the same
// distance bits, against every point of u that it can claim (those before
// it, and those its block did not see, are centres or were covered by an
// earlier centre, which claims them first), so the claims come from their
// hits (one chunk), with no tile of their own. At the finer levels most
// net steps are such batches.
func (b *builder) claimSelf(w int, acc, u []int32) []chunkClaim {
	sc := b.ws[w]
	if len(sc.claims) == 0 {
		sc.claims = append(sc.claims, chunkClaim{})
	}
	sc.claims[0].fill(&sc.self, acc, sc.accPos, sc.owner, sc.dc, u)
	return sc.claims[:1]
}

// gatherChunks is the number of chunks from which a parallel net step
// also assembles its children on the pool (fewer are copied faster than a
// job starts).
var gatherChunks = 64

// child is an accepted centre's item and its reach: the farthest of its
// points (itself included) from the node.
type child struct {
	item
	reach float64
}

// gather assembles each accepted centre's item from the chunks' claims
// (accD: the centres' distances to the node; l: the node's level), on the
// pool when parallel. The result is worker w's scratch, valid until its
// next gather.
func (b *builder) gather(w int, claims []chunkClaim, acc []int32, accD []float64, l int32, parallel bool) []child {
	sc := b.ws[w]
	out := grow(sc.kids, len(acc))
	sc.kids = out
	// One block of ids and one of distances for all the children, each
	// child's a full slice of its own part (cap = len).
	at := grow(sc.at, len(acc)+1)
	sc.at = at
	at[0] = 0
	for i := range acc {
		n := 0
		for k := range claims {
			n += int(claims[k].start[i+1] - claims[k].start[i])
		}
		at[i+1] = at[i] + n
	}
	p := childParts{out: out, ids: make([]int32, at[len(acc)]), ds: make([]float64, at[len(acc)]), at: at,
		claims: claims, acc: acc, accD: accD, l: l}
	if parallel {
		forTasks(b.pool, &b.use, len(acc), p.fill)
	} else {
		for i := range acc {
			p.fill(i)
		}
	}
	return out
}

// childParts is what gather assembles the children from and into (a value
// whose method serves as the pool's task, so that the serial path makes no
// closure).
type childParts struct {
	out    []child
	ids    []int32
	ds     []float64
	at     []int // child i's part of ids and ds: at[i] to at[i+1]
	claims []chunkClaim
	acc    []int32
	accD   []float64
	l      int32
}

// fill assembles child i from the claims' runs into its part.
func (p childParts) fill(i int) {
	a, e := p.at[i], p.at[i+1]
	ch := child{item: item{c: p.acc[i], cap: p.l, s: p.ids[a:a:e], d: p.ds[a:a:e]}, reach: p.accD[i]}
	for k := range p.claims {
		cl := &p.claims[k]
		lo, hi := cl.start[i], cl.start[i+1]
		ch.s, ch.d = append(ch.s, cl.ids[lo:hi]...), append(ch.d, cl.d[lo:hi]...)
		ch.reach = max(ch.reach, cl.reach[i])
	}
	p.out[i] = ch
}

// bigSplit is the item size from which a parallel net step also finds its
// points' spread, splits them and compacts the uncovered ones on the pool.
// (A variable, as gatherChunks, partSize, kdTask and kdPoolCut
// are, only so that TestParallelPaths can run the pool paths on small sets.)
var bigSplit = 1 << 16

// spread returns the largest of the item's distances (NaN if any is NaN)
// and its points' lowest key (Tree.key), in ranges on the pool when par.
func (b *builder) spread(it item, par bool) (float64, int32) {
	if !par {
		return slices.Max(it.d), b.t.minKey(it.s)
	}
	parts := partCount(b.pool, len(it.s))
	rs, ls := make([]float64, parts), make([]int32, parts)
	forParts(b.pool, &b.use, len(it.s), func(k, lo, hi int) {
		rs[k], ls[k] = slices.Max(it.d[lo:hi]), b.t.minKey(it.s[lo:hi])
	})
	r, l := rs[0], ls[0]
	for k := range parts {
		r, l = max(r, rs[k]), min(l, ls[k])
	}
	return r, l
}

// split divides the item's points, in order, into those within rr of its
// centre (keep, keepD: the continuation's) and the others (u, ud, in the
// worker's scratch). Serially the continuation stays in the item's slices;
// with par the ranges of the pool count, then copy their points, and the
// continuation gets slices of its own.
func (b *builder) split(w int, it item, rr float64, par bool) (keep []int32, keepD []float64, u []int32, ud []float64) {
	sc := b.ws[w]
	if cap(sc.u) < len(it.s) || cap(sc.ud) < len(it.s) {
		sc.u, sc.ud = make([]int32, 0, len(it.s)), make([]float64, 0, len(it.s))
	}
	if !par {
		u, ud = sc.u[:0], sc.ud[:0]
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
		return it.s[:nk], it.d[:nk], u, ud
	}
	return b.splitPar(sc, it.s, it.d, rr)
}

// splitPar is split's parallel path, for the item's points is at distances
// id (its own function, so that the closures' captures leave the serial
// path free of allocations).
func (b *builder) splitPar(sc *buildScratch, is []int32, id []float64, rr float64) (keep []int32, keepD []float64, u []int32, ud []float64) {
	n, parts := len(is), partCount(b.pool, len(is))
	kept := make([]int, parts+1) // kept[k+1]: range k's points within rr
	forParts(b.pool, &b.use, n, func(k, lo, hi int) {
		c := 0
		for _, d := range id[lo:hi] {
			if d <= rr {
				c++
			}
		}
		kept[k+1] = c
	})
	for k := range parts {
		kept[k+1] += kept[k]
	}
	nk := kept[parts]
	keep, keepD = make([]int32, nk), make([]float64, nk)
	u, ud = sc.u[:n-nk], sc.ud[:n-nk]
	forParts(b.pool, &b.use, n, func(k, lo, hi int) {
		a, o := kept[k], lo-kept[k] // next slots in keep and in u
		for j := lo; j < hi; j++ {
			if id[j] <= rr {
				keep[a], keepD[a] = is[j], id[j]
				a++
			} else {
				u[o], ud[o] = is[j], id[j]
				o++
			}
		}
	})
	sc.u, sc.ud = u, ud
	return keep, keepD, u, ud
}

// compact keeps the points of u (and their distances ud) that no centre
// has taken, in order. With par it copies each chunk's (counted by its
// tile task: claims[k].left) into the worker's spare buffers on the pool
// and swaps them with u's; otherwise it compacts u in place.
func (b *builder) compact(w int, u []int32, ud []float64, claims []chunkClaim, par bool) ([]int32, []float64) {
	sc := b.ws[w]
	owner := sc.owner
	if !par {
		k := 0
		for j, p := range u {
			if owner[p] < 0 {
				u[k], ud[k] = p, ud[j]
				k++
			}
		}
		return u[:k], ud[:k]
	}
	off := make([]int, len(claims)+1)
	for k := range claims {
		off[k+1] = off[k] + claims[k].left
	}
	u2, ud2 := grow(sc.u2, off[len(claims)]), grow(sc.ud2, off[len(claims)])
	forTasks(b.pool, &b.use, len(claims), func(k int) {
		at := off[k]
		for j := k * netChunk; j < min(len(u), (k+1)*netChunk); j++ {
			if owner[u[j]] < 0 {
				u2[at], ud2[at] = u[j], ud[j]
				at++
			}
		}
	})
	// The spare and the current buffers change places, never sharing one.
	sc.u, sc.ud, sc.u2, sc.ud2 = u2, ud2, u[:0], ud[:0]
	return u2, ud2
}
