package scope

import (
	"context"
	"math/bits"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// sparseGroupSlack bounds the extra distances a grouped sparse block may
// compute: a block of queries is tiled against the union of its lists when
// |block| x |union| <= sparseGroupSlack x (sum of the lists' lengths).
// Single-row tiles are slow (about 6 M distances/s against 90 M/s for block
// tiles on 2 workers), so grouping pays well past 2x the work:
// BenchmarkScopeSparseOverlap, blocks of 64 whose union is 4x their lists,
// 325-340 ms scanned query by query against 74-77 ms grouped; at 8x, 330-348
// ms against 140-144 ms.
var sparseGroupSlack = 8 // a variable so that benchmarks can turn grouping off

// sparseRun is the plan of a run [q0, q1) of sparse queries tiled
// together: the union of their windows (first occurrences in order) and,
// per query, a bitmap of its candidates' positions in the union. A block
// of queries is one run, or one run per list it shares (Lists), or, when
// its lists overlap too little, none (each query is tiled alone).
type sparseRun struct {
	q0, q1 int
	union  []int32
	bits   [][]uint64
}

// sparsePlan is what the planning pass of a sparse request finds: the
// de-duplicated lists of queries scanned one by one, every query's
// de-duplicated list length, and each block's plan.
type sparsePlan struct {
	lists [][]int32
	lens  []int
	plans [][]sparseRun // by block
}

// sparseTask is a tile of a sparse request: a chunk [lo, hi) of the union
// of run of block (q < 0) or of one query's window.
type sparseTask struct {
	block, run, q, lo, hi int
	cached                bool // query q's cached candidates outside its window
}

// sparse: each query scans its own de-duplicated list. Queries are taken in
// blocks; a block whose lists overlap enough is tiled against the union of
// its lists (block x chunk tiles, each candidate row read once for the
// block), the others query by query.
func (c *Collector) sparse(ctx context.Context, r *Request) (*Result, error) {
	var stats Stats
	sp, st, err := c.planSparse(ctx, r)
	stats.Jobs = append(stats.Jobs, st)
	if err != nil {
		return nil, err
	}
	tasks := sp.tasks(r)
	var offered, extra [][]int32
	if r.Cache != nil {
		offered, extra, st, err = c.cacheOffers(ctx, r, r.Cache.snapshot(r.CacheKeys), func(i int) ([]int32, int, int) {
			if sp.lists[i] == nil { // a grouped raw list: scanned whole
				return nil, 0, len(r.list(i))
			}
			lo, hi, _ := r.window(i, len(sp.lists[i]))
			return sp.lists[i], lo, hi
		})
		stats.Jobs = appendJob(stats.Jobs, st)
		if err != nil {
			return nil, err
		}
		for i, x := range extra {
			if len(x) > 0 {
				tasks = append(tasks, sparseTask{block: i / r.QueryBlock, q: i, hi: len(x), cached: true})
			}
		}
	}
	results := make([][]hit, len(tasks))
	st, err = c.run(ctx, r, len(tasks), func(w, t int) {
		tk := tasks[t]
		if tk.cached {
			results[t] = c.scanQuery(r, c.ws[w], tk.q, extra[tk.q])
		} else if tk.q >= 0 {
			results[t] = c.scanQuery(r, c.ws[w], tk.q, sp.lists[tk.q][tk.lo:tk.hi])
		} else {
			results[t] = c.scanBlock(r, c.ws[w], &sp.plans[tk.block][tk.run], tk)
		}
	})
	stats.Jobs = append(stats.Jobs, st)
	if err != nil {
		return nil, err
	}
	s, jobs, err := c.merge(ctx, r, r.nq(), func(i int) int { return sp.lens[i] }, results, func(t int) int { return tasks[t].block })
	if err != nil {
		return nil, err
	}
	s.Stats.Jobs = append(stats.Jobs, jobs...)
	if r.Cache != nil {
		for _, o := range offered {
			s.Stats.CachePrefetch += int64(len(o))
		}
		hits, st, err := c.cacheHits(ctx, r, s, offered)
		s.Stats.Jobs = appendJob(s.Stats.Jobs, st)
		if err != nil {
			return nil, err
		}
		s.Stats.CacheHits = hits
		r.Cache.store(r.CacheKeys, s)
	}
	return s, nil
}

// planSparse de-duplicates the lists and plans each block on the pool.
func (c *Collector) planSparse(ctx context.Context, r *Request) (*sparsePlan, streamer.JobStats, error) {
	nq := r.nq()
	nblocks := (nq + r.QueryBlock - 1) / r.QueryBlock
	sp := &sparsePlan{lists: make([][]int32, nq), lens: make([]int, nq), plans: make([][]sparseRun, nblocks)}
	st, err := c.run(ctx, r, nblocks, func(w, b int) {
		sw := c.ws[w]
		q0, q1 := b*r.QueryBlock, min(nq, (b+1)*r.QueryBlock)
		if q1-q0 < 2 {
			c.dedupe(r, sw, q0, q1, sp.lists, sp.lens)
			return
		}
		// Without a cap or resume point a query scans its whole raw list,
		// and the plan's bitmaps drop repeats by themselves: plan straight
		// from the raw lists, de-duplicating only if the block is not
		// grouped. Otherwise the windows are positions in the de-duplicated
		// lists, which must exist first.
		if r.ScanCap == 0 && r.Resume == nil && r.ListOf != nil {
			runs, repeats := planShared(r, sw, q0, q1, sp.lens)
			sp.plans[b] = runs
			sw.counters.Dedupe += repeats
			return
		}
		if r.ScanCap == 0 && r.Resume == nil {
			if pl, counts, repeats, ok := planBlock(r, sw, q0, q1, r.list); ok {
				sp.plans[b] = []sparseRun{pl}
				copy(sp.lens[q0:q1], counts)
				sw.counters.Dedupe += repeats
				return
			}
			c.dedupe(r, sw, q0, q1, sp.lists, sp.lens)
			return
		}
		c.dedupe(r, sw, q0, q1, sp.lists, sp.lens)
		windows := func(i int) []int32 {
			lo, hi, _ := r.window(i, len(sp.lists[i]))
			return sp.lists[i][lo:hi]
		}
		if pl, _, _, ok := planBlock(r, sw, q0, q1, windows); ok {
			sp.plans[b] = []sparseRun{pl}
		}
	})
	return sp, st, err
}

// tasks cuts the planned request into tiles: (block, chunk of its union)
// for grouped blocks, (query, chunk of its window) for the others.
func (sp *sparsePlan) tasks(r *Request) []sparseTask {
	nq := r.nq()
	var tasks []sparseTask
	for b := range sp.plans {
		q0, q1 := b*r.QueryBlock, min(nq, (b+1)*r.QueryBlock)
		if runs := sp.plans[b]; runs != nil {
			for k, run := range runs {
				for a := 0; a < len(run.union); a += r.Chunk {
					tasks = append(tasks, sparseTask{block: b, run: k, q: -1, lo: a, hi: min(len(run.union), a+r.Chunk)})
				}
			}
			continue
		}
		for i := q0; i < q1; i++ {
			lo, hi, _ := r.window(i, len(sp.lists[i]))
			for a := lo; a < hi; a += r.Chunk {
				tasks = append(tasks, sparseTask{block: b, q: i, lo: a, hi: min(hi, a+r.Chunk)})
			}
		}
	}
	return tasks
}

// scanQuery tiles query q alone against the candidates ids.
func (c *Collector) scanQuery(r *Request, sw *scopeWorker, q int, ids []int32) []hit {
	nc := len(ids)
	c.tile(r, sw, r.Queries, r.queryBlock(q, q+1), q, metric.List(ids))
	sw.counters.Scans += int64(nc)
	var out []hit
	rad := r.Radius[q]
	for j, d := range sw.tile[:nc] {
		if d <= rad {
			out = append(out, hit{int32(q), ids[j], d})
		}
	}
	return out
}

// scanBlock tiles a run of queries against the chunk [tk.lo, tk.hi) of
// its union and keeps, for each query, its own candidates within its
// radius.
func (c *Collector) scanBlock(r *Request, sw *scopeWorker, pl *sparseRun, tk sparseTask) []hit {
	q0, q1 := pl.q0, pl.q1
	ids := pl.union[tk.lo:tk.hi]
	nc := len(ids)
	c.tile(r, sw, r.Queries, r.queryBlock(q0, q1), q0, metric.List(ids))
	sw.counters.Scans += int64((q1 - q0) * nc)
	var out []hit
	for i := q0; i < q1; i++ {
		bm := pl.bits[i-q0]
		row := sw.tile[(i-q0)*nc : (i-q0+1)*nc]
		rad := r.Radius[i]
		// The query's candidates among union positions [lo, hi).
		for wi := tk.lo / 64; wi*64 < tk.hi; wi++ {
			word := bm[wi]
			if wi*64 < tk.lo {
				word &^= 1<<(tk.lo-wi*64) - 1
			}
			if end := tk.hi - wi*64; end < 64 {
				word &= 1<<end - 1
			}
			for word != 0 {
				p := wi*64 + bits.TrailingZeros64(word)
				word &= word - 1
				if d := row[p-tk.lo]; d <= rad {
					out = append(out, hit{int32(i), ids[p-tk.lo], d})
				}
			}
		}
	}
	return out
}

// planBlock plans the queries [q0, q1) from the ids each scans: the union
// of those ids (first occurrences in order) and a bitmap per query of its
// ids' positions in the union, which drops repeats by itself. It returns the
// plan, each query's count of distinct ids and the repeats dropped, and ok =
// false (the block is scanned query by query) when tiling against the
// union would cost more than sparseGroupSlack times the distinct ids.
func planBlock(r *Request, sw *scopeWorker, q0, q1 int, ids func(i int) []int32) (pl sparseRun, counts []int, repeats int64, ok bool) {
	sw.newEpoch(r.Candidates.N)
	var union []int32
	bits := make([][]uint64, q1-q0)
	counts = make([]int, q1-q0)
	total := 0
	for i := q0; i < q1; i++ {
		list := ids(i)
		// The union can only grow to len(union)+len(list) over this list.
		bm := make([]uint64, (len(union)+len(list)+63)/64)
		n := 0
		for _, id := range list {
			mk := &sw.marks[id]
			if mk.epoch != sw.epoch {
				mk.epoch, mk.col = sw.epoch, int32(len(union))
				union = append(union, id)
			}
			p := uint(mk.col)
			if bm[p/64]&(1<<(p%64)) != 0 {
				repeats++
				continue
			}
			bm[p/64] |= 1 << (p % 64)
			n++
		}
		bits[i-q0], counts[i-q0] = bm, n
		total += n
	}
	if len(union) == 0 || len(union)*(q1-q0) > sparseGroupSlack*total {
		return sparseRun{}, nil, 0, false
	}
	words := (len(union) + 63) / 64
	for k, bm := range bits {
		if len(bm) >= words {
			bits[k] = bm[:words]
		} else {
			bits[k] = append(bm, make([]uint64, words-len(bm))...)
		}
	}
	return sparseRun{q0: q0, q1: q1, union: union, bits: bits}, counts, repeats, true
}

// planShared plans the block [q0, q1) of a request with shared lists (no
// cap, no resume): one run per stretch of queries that take the same list,
// its union the list without repeats, one bitmap with every bit set
// serving all its queries. It writes the queries' list lengths to lens and
// returns the runs and the repeats dropped.
func planShared(r *Request, sw *scopeWorker, q0, q1 int, lens []int) (runs []sparseRun, repeats int64) {
	for a := q0; a < q1; {
		b := a + 1
		for b < q1 && r.ListOf[b] == r.ListOf[a] {
			b++
		}
		sw.newEpoch(r.Candidates.N)
		list := r.list(a)
		union := make([]int32, 0, len(list))
		for _, id := range list {
			if mk := &sw.marks[id]; mk.epoch != sw.epoch {
				mk.epoch = sw.epoch
				union = append(union, id)
			}
		}
		for i := a; i < b; i++ {
			lens[i] = len(union)
		}
		repeats += int64(b-a) * int64(len(list)-len(union))
		if len(union) > 0 {
			bm := make([]uint64, (len(union)+63)/64)
			for p := range union {
				bm[p/64] |= 1 << (p % 64)
			}
			bits := make([][]uint64, b-a)
			for k := range bits {
				bits[k] = bm
			}
			runs = append(runs, sparseRun{q0: a, q1: b, union: union, bits: bits})
		}
		a = b
	}
	return runs, repeats
}

// dedupe de-duplicates the lists of queries [q0, q1), keeping first
// occurrences in order.
func (c *Collector) dedupe(r *Request, sw *scopeWorker, q0, q1 int, lists [][]int32, lens []int) {
	for i := q0; i < q1; i++ {
		sw.newEpoch(r.Candidates.N)
		in := r.list(i)
		out := make([]int32, 0, len(in))
		for _, id := range in {
			if sw.marks[id].epoch == sw.epoch {
				sw.counters.Dedupe++
				continue
			}
			sw.marks[id].epoch = sw.epoch
			out = append(out, id)
		}
		lists[i] = out
		lens[i] = len(out)
	}
}
