package streamer

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"sync"

	"github.com/pcct/pcct/kernels/metric"
)

// ScopeRequest asks, for each query, which candidates lie within its radius.
// Candidates are either one list that every query scans (Dense: a whole
// level of the tree) or one list per query (Sparse: candidates the tree
// proposes), given as CSR.
type ScopeRequest struct {
	Metric metric.Metric
	// Queries holds the query points; QueryIDs picks them (nil: all of
	// Queries, in order).
	Queries  *metric.Set
	QueryIDs []int32
	Radius   []float64 // one per query
	// Candidates holds the candidate points.
	Candidates *metric.Set
	// Dense, when not nil, is the candidate list of every query.
	Dense *metric.Block
	// SparseOffsets and SparseIDs give query i the candidates
	// SparseIDs[SparseOffsets[i]:SparseOffsets[i+1]] (used when Dense is nil).
	// Repeated ids are scanned once (counted as dedupe hits).
	SparseOffsets []int
	SparseIDs     []int32
	// ScanCap (scope_chunk_target) is the most candidates one query scans in
	// this pass; a query with more is saturated. 0 means no cap.
	ScanCap int
	// Resume, if not nil, is where each query's scan starts in its
	// (de-duplicated) list: pass the previous pass's Scope.Next.
	Resume []int
	// QueryBlock and Chunk are the tile shape. Defaults: chunks of 512, and
	// query blocks of 128 on pools of up to 4 workers, 64 on larger ones.
	// Larger query blocks reuse each candidate row more (faster per core);
	// on 16 cores of a Xeon the 64 x 512 shape gave the highest throughput
	// (0.51 G distances/s, 15.5x its one-worker time) and 128 x 512 less
	// (0.42 to 0.51 G/s), with more tasks to balance (see BenchmarkScope).
	QueryBlock, Chunk int
}

// Scope is the answer: query i's in-radius candidates are
// Members[Offsets[i]:Offsets[i+1]], ascending by id, with their distances
// (duplicates removed). It is identical for every worker count, and between
// a dense and a sparse request whose lists hold the same in-radius points.
type Scope struct {
	Offsets   []int
	Members   []int32
	Dist      []float64
	Saturated []bool // the query's list was longer than the scan cap
	Next      []int  // where a later pass resumes in the query's list
	Stats     ScopeStats
}

// ScopeStats is the telemetry of one collection (SPEC.md section 6 names):
// distances evaluated (scope_chunk_scans), members found (points), repeated
// candidates skipped (dedupe), saturated queries, query blocks packed once
// for all the dense tiles that read them (cache prefetch) and the tiles
// that used a packed block (cache hits), and the pool jobs' accounting.
type ScopeStats struct {
	Scans, Points, Dedupe, Saturated int64
	CachePrefetch, CacheHits         int64
	Jobs                             []JobStats
}

// Utilisation returns busy / (workers x wall) over all the jobs.
func (s ScopeStats) Utilisation() float64 {
	var busy, cap float64
	for _, j := range s.Jobs {
		for _, b := range j.Busy {
			busy += float64(b)
		}
		cap += float64(j.Workers) * float64(j.Wall)
	}
	if cap == 0 {
		return 0
	}
	return busy / cap
}

// Steals returns the successful steals over all the jobs.
func (s ScopeStats) Steals() int {
	n := 0
	for _, j := range s.Jobs {
		n += j.TotalSteals()
	}
	return n
}

// ScopeCollector runs scope collections on a pool, keeping per-worker
// scratch space between them. Concurrent Collect calls take turns (a mutex
// taken once per call).
type ScopeCollector struct {
	mu   sync.Mutex
	pool *Pool
	ws   []*scopeWorker
}

// mark is a candidate's de-duplication stamp and, in a sparse block's plan,
// its position in the block's union (together: one cache line visit).
type mark struct {
	epoch uint32
	col   int32
}

type scopeWorker struct {
	mw       *metric.Workspace
	tile     []float64
	marks    []mark // by candidate id
	epoch    uint32
	counters ScopeStats
}

// NewScopeCollector returns a collector on the pool.
func NewScopeCollector(p *Pool) *ScopeCollector {
	c := &ScopeCollector{pool: p}
	for range p.Workers() {
		c.ws = append(c.ws, &scopeWorker{mw: metric.NewWorkspace()})
	}
	return c
}

// denseOrder is the order of dense tasks, "chunk" or "query" (benchmarks
// compare them).
var denseOrder = "query"

type hit struct {
	q  int32 // query index within the request
	id int32
	d  float64
}

func (r *ScopeRequest) nq() int {
	if r.QueryIDs != nil {
		return len(r.QueryIDs)
	}
	return r.Queries.N
}

func (r *ScopeRequest) check() error {
	nq := r.nq()
	switch {
	case r.Metric == nil || r.Queries == nil || r.Candidates == nil:
		return fmt.Errorf("scope: metric, queries and candidates are required")
	case len(r.Radius) != nq:
		return fmt.Errorf("scope: %d radii for %d queries", len(r.Radius), nq)
	case r.ScanCap < 0:
		return fmt.Errorf("scope: negative scan cap %d", r.ScanCap)
	case r.Resume != nil && len(r.Resume) != nq:
		return fmt.Errorf("scope: %d resume offsets for %d queries", len(r.Resume), nq)
	case r.Dense == nil && len(r.SparseOffsets) != nq+1:
		return fmt.Errorf("scope: sparse offsets have length %d, want %d", len(r.SparseOffsets), nq+1)
	}
	if err := metric.Compatible(r.Queries, r.Candidates); err != nil {
		return fmt.Errorf("scope: %w", err)
	}
	for _, id := range r.QueryIDs {
		if id < 0 || int(id) >= r.Queries.N {
			return fmt.Errorf("scope: query id %d outside [0, %d)", id, r.Queries.N)
		}
	}
	for i, rad := range r.Radius {
		if math.IsNaN(rad) {
			return fmt.Errorf("scope: radius of query %d is NaN", i)
		}
	}
	ids := r.SparseIDs
	if r.Dense != nil {
		ids = r.Dense.IDs
		if ids == nil && (r.Dense.Lo < 0 || r.Dense.Hi > r.Candidates.N || r.Dense.Lo > r.Dense.Hi) {
			return fmt.Errorf("scope: dense range [%d, %d) outside [0, %d)", r.Dense.Lo, r.Dense.Hi, r.Candidates.N)
		}
	} else {
		for i := 0; i < nq; i++ {
			if r.SparseOffsets[i] > r.SparseOffsets[i+1] || r.SparseOffsets[i+1] > len(ids) || r.SparseOffsets[0] < 0 {
				return fmt.Errorf("scope: sparse offsets are not a CSR index into %d ids", len(ids))
			}
		}
	}
	for _, id := range ids {
		if id < 0 || int(id) >= r.Candidates.N {
			return fmt.Errorf("scope: candidate id %d outside [0, %d)", id, r.Candidates.N)
		}
	}
	return nil
}

// Collect runs one scope collection.
func (c *ScopeCollector) Collect(req ScopeRequest) (*Scope, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.QueryBlock <= 0 {
		req.QueryBlock = defaultQueryBlock(c.pool.Workers())
	}
	if req.Chunk <= 0 {
		req.Chunk = 512
	}
	for _, w := range c.ws {
		w.counters = ScopeStats{}
	}
	var s *Scope
	var err error
	if req.Dense != nil {
		s, err = c.dense(&req)
	} else {
		s, err = c.sparse(&req)
	}
	if err != nil {
		return nil, err
	}
	for _, w := range c.ws {
		s.Stats.Scans += w.counters.Scans
		s.Stats.Dedupe += w.counters.Dedupe
		s.Stats.CachePrefetch += w.counters.CachePrefetch
		s.Stats.CacheHits += w.counters.CacheHits
	}
	s.Stats.Points = int64(len(s.Members))
	for _, sat := range s.Saturated {
		if sat {
			s.Stats.Saturated++
		}
	}
	return s, nil
}

// defaultQueryBlock is the query block of dense tiles for a pool size (see
// ScopeRequest.QueryBlock).
func defaultQueryBlock(workers int) int {
	if workers > 4 {
		return 64
	}
	return 128
}

// window returns the part [lo, hi) of a list of length n that query i scans,
// and whether the query is saturated.
func (r *ScopeRequest) window(i, n int) (lo, hi int, saturated bool) {
	if r.Resume != nil {
		lo = min(max(r.Resume[i], 0), n)
	}
	hi = n
	if r.ScanCap > 0 && hi-lo > r.ScanCap {
		hi, saturated = lo+r.ScanCap, true
	}
	return lo, hi, saturated
}

func (r *ScopeRequest) queryBlock(lo, hi int) metric.Block {
	if r.QueryIDs != nil {
		return metric.List(r.QueryIDs[lo:hi])
	}
	return metric.Range(lo, hi)
}

// dense: every query scans the same list, in (query block x chunk) tiles.
// Candidates picked by id are read in place by the tiles (packing chunks
// of them once per collection measured 2.2x slower: 128 MiB of copies).
func (c *ScopeCollector) dense(r *ScopeRequest) (*Scope, error) {
	nq, list := r.nq(), *r.Dense
	n := list.Len()
	nchunks := (n + r.Chunk - 1) / r.Chunk
	var stats ScopeStats
	nblocks := (nq + r.QueryBlock - 1) / r.QueryBlock
	// Query blocks picked by QueryIDs that meet more than one chunk are
	// packed once (cache prefetch) instead of gathered by every tile; the
	// tiles then read contiguous query rows (cache hits).
	var packedQ []*metric.Set
	if r.QueryIDs != nil && nchunks > 1 {
		packedQ = make([]*metric.Set, nblocks)
		st, err := c.pool.Run(nblocks, func(w, b int) {
			packedQ[b] = metric.Pack(r.Queries, r.queryBlock(b*r.QueryBlock, min(nq, (b+1)*r.QueryBlock)))
			c.ws[w].counters.CachePrefetch++
		})
		stats.Jobs = append(stats.Jobs, st)
		if err != nil {
			return nil, err
		}
	}
	results := make([][]hit, nblocks*nchunks)
	st, err := c.pool.Run(nblocks*nchunks, func(w, t int) {
		// Query-major order (default): one query block, kept in cache, meets
		// the chunks in turn. Chunk-major: the query blocks that read one
		// candidate chunk run back to back. On a 16-core Xeon the two were
		// within noise of each other (see BenchmarkScope).
		b, k := t/nchunks, t%nchunks
		if denseOrder == "chunk" {
			k, b = t/nblocks, t%nblocks
		}
		q0, q1 := b*r.QueryBlock, min(nq, (b+1)*r.QueryBlock)
		c0, c1 := k*r.Chunk, min(n, (k+1)*r.Chunk)
		// Columns any query of the block scans.
		need0, need1 := c1, c0
		for i := q0; i < q1; i++ {
			lo, hi, _ := r.window(i, n)
			need0, need1 = min(need0, max(lo, c0)), max(need1, min(hi, c1))
		}
		if need0 >= need1 {
			return
		}
		sw := c.ws[w]
		nc := need1 - need0
		sw.tile = grow(sw.tile, (q1-q0)*nc)
		cb := metric.Range(list.Lo+need0, list.Lo+need1)
		if list.IDs != nil {
			cb = metric.List(list.IDs[need0:need1])
		}
		qs, qb := r.Queries, r.queryBlock(q0, q1)
		if packedQ != nil {
			qs, qb = packedQ[b], metric.Range(0, q1-q0)
			sw.counters.CacheHits++
		}
		r.Metric.Tile(sw.mw, sw.tile, nc, qs, qb, r.Candidates, cb)
		var out []hit
		for i := q0; i < q1; i++ {
			lo, hi, _ := r.window(i, n)
			lo, hi = max(lo, need0), min(hi, need1)
			row := sw.tile[(i-q0)*nc : (i-q0+1)*nc]
			rad := r.Radius[i]
			for j := lo; j < hi; j++ {
				if d := row[j-need0]; d <= rad {
					out = append(out, hit{int32(i), int32(list.At(j)), d})
				}
			}
			if hi > lo {
				sw.counters.Scans += int64(hi - lo)
			}
		}
		results[t] = out
	})
	stats.Jobs = append(stats.Jobs, st)
	if err != nil {
		return nil, err
	}
	blockOf := func(t int) int { return t / nchunks }
	if denseOrder == "chunk" {
		blockOf = func(t int) int { return t % nblocks }
	}
	s, jobs, err := c.merge(r, nq, func(int) int { return n }, results, blockOf)
	if err != nil {
		return nil, err
	}
	s.Stats.Jobs = append(stats.Jobs, jobs...)
	return s, nil
}

// sparseGroupSlack bounds the extra distances a grouped sparse block may
// compute: a block of queries is tiled against the union of its lists when
// |block| x |union| <= sparseGroupSlack x (sum of the lists' lengths).
// Single-row tiles are slow (about 6 M distances/s against 90 M/s for block
// tiles on 2 workers), so grouping pays well past 2x the work:
// BenchmarkScopeSparseOverlap, blocks of 64 whose union is 4x their lists,
// 325-340 ms scanned query by query against 74-77 ms grouped; at 8x, 330-348
// ms against 140-144 ms.
var sparseGroupSlack = 8 // a variable so that benchmarks can turn grouping off

// sparseBlock is the plan of one block of sparse queries: the union of
// their windows (first occurrences in order) and, per query, a bitmap of
// its candidates' positions in the union; or, when the lists overlap too
// little, nothing (each query is tiled alone).
type sparseBlock struct {
	union []int32
	bits  [][]uint64
}

// sparse: each query scans its own de-duplicated list. Queries are taken in
// blocks; a block whose lists overlap enough is tiled against the union of
// its lists (block x chunk tiles, each candidate row read once for the
// block), the others query by query.
func (c *ScopeCollector) sparse(r *ScopeRequest) (*Scope, error) {
	nq := r.nq()
	nblocks := (nq + r.QueryBlock - 1) / r.QueryBlock
	var stats ScopeStats
	lists := make([][]int32, nq) // de-duplicated lists (blocks scanned query by query)
	lens := make([]int, nq)      // de-duplicated list lengths (all queries)
	plans := make([]sparseBlock, nblocks)
	st, err := c.pool.Run(nblocks, func(w, b int) {
		sw := c.ws[w]
		q0, q1 := b*r.QueryBlock, min(nq, (b+1)*r.QueryBlock)
		if q1-q0 < 2 {
			c.dedupe(r, sw, q0, q1, lists, lens)
			return
		}
		// Without a cap or resume point a query scans its whole raw list,
		// and the plan's bitmaps drop repeats by themselves: plan straight
		// from the raw lists, de-duplicating only if the block is not
		// grouped. Otherwise the windows are positions in the de-duplicated
		// lists, which must exist first.
		if r.ScanCap == 0 && r.Resume == nil {
			raw := func(i int) []int32 { return r.SparseIDs[r.SparseOffsets[i]:r.SparseOffsets[i+1]] }
			if pl, counts, repeats, ok := planBlock(r, sw, q0, q1, raw); ok {
				plans[b] = pl
				copy(lens[q0:q1], counts)
				sw.counters.Dedupe += repeats
				return
			}
			c.dedupe(r, sw, q0, q1, lists, lens)
			return
		}
		c.dedupe(r, sw, q0, q1, lists, lens)
		windows := func(i int) []int32 {
			lo, hi, _ := r.window(i, len(lists[i]))
			return lists[i][lo:hi]
		}
		if pl, _, _, ok := planBlock(r, sw, q0, q1, windows); ok {
			plans[b] = pl
		}
	})
	stats.Jobs = append(stats.Jobs, st)
	if err != nil {
		return nil, err
	}
	// Tasks: (block, chunk of its union) for grouped blocks, (query, chunk
	// of its window) for the others.
	type task struct {
		block, q, lo, hi int // q < 0: a grouped block's chunk
	}
	var tasks []task
	for b := 0; b < nblocks; b++ {
		q0, q1 := b*r.QueryBlock, min(nq, (b+1)*r.QueryBlock)
		if u := plans[b].union; u != nil {
			for a := 0; a < len(u); a += r.Chunk {
				tasks = append(tasks, task{b, -1, a, min(len(u), a+r.Chunk)})
			}
			continue
		}
		for i := q0; i < q1; i++ {
			lo, hi, _ := r.window(i, len(lists[i]))
			for a := lo; a < hi; a += r.Chunk {
				tasks = append(tasks, task{b, i, a, min(hi, a+r.Chunk)})
			}
		}
	}
	results := make([][]hit, len(tasks))
	st, err = c.pool.Run(len(tasks), func(w, t int) {
		tk := tasks[t]
		sw := c.ws[w]
		var out []hit
		if tk.q >= 0 {
			ids := lists[tk.q][tk.lo:tk.hi]
			nc := len(ids)
			sw.tile = grow(sw.tile, nc)
			r.Metric.Tile(sw.mw, sw.tile, nc, r.Queries, r.queryBlock(tk.q, tk.q+1), r.Candidates, metric.List(ids))
			rad := r.Radius[tk.q]
			for j, d := range sw.tile[:nc] {
				if d <= rad {
					out = append(out, hit{int32(tk.q), ids[j], d})
				}
			}
			sw.counters.Scans += int64(nc)
			results[t] = out
			return
		}
		pl := &plans[tk.block]
		q0, q1 := tk.block*r.QueryBlock, min(nq, (tk.block+1)*r.QueryBlock)
		ids := pl.union[tk.lo:tk.hi]
		nc := len(ids)
		sw.tile = grow(sw.tile, (q1-q0)*nc)
		r.Metric.Tile(sw.mw, sw.tile, nc, r.Queries, r.queryBlock(q0, q1), r.Candidates, metric.List(ids))
		sw.counters.Scans += int64((q1 - q0) * nc)
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
		results[t] = out
	})
	stats.Jobs = append(stats.Jobs, st)
	if err != nil {
		return nil, err
	}
	s, jobs, err := c.merge(r, nq, func(i int) int { return lens[i] }, results, func(t int) int { return tasks[t].block })
	if err != nil {
		return nil, err
	}
	s.Stats.Jobs = append(stats.Jobs, jobs...)
	return s, nil
}

// planBlock plans the queries [q0, q1) from the ids each scans: the union
// of those ids (first occurrences in order) and a bitmap per query of its
// ids' positions in the union, which drops repeats by itself. It returns the
// plan, each query's count of distinct ids and the repeats dropped, and ok =
// false (the block is scanned query by query) when tiling against the
// union would cost more than sparseGroupSlack times the distinct ids.
func planBlock(r *ScopeRequest, sw *scopeWorker, q0, q1 int, ids func(i int) []int32) (pl sparseBlock, counts []int, repeats int64, ok bool) {
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
		return sparseBlock{}, nil, 0, false
	}
	words := (len(union) + 63) / 64
	for k, bm := range bits {
		if len(bm) >= words {
			bits[k] = bm[:words]
		} else {
			bits[k] = append(bm, make([]uint64, words-len(bm))...)
		}
	}
	return sparseBlock{union: union, bits: bits}, counts, repeats, true
}

// dedupe de-duplicates the lists of queries [q0, q1), keeping first
// occurrences in order.
func (c *ScopeCollector) dedupe(r *ScopeRequest, sw *scopeWorker, q0, q1 int, lists [][]int32, lens []int) {
	for i := q0; i < q1; i++ {
		sw.newEpoch(r.Candidates.N)
		in := r.SparseIDs[r.SparseOffsets[i]:r.SparseOffsets[i+1]]
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

// newEpoch starts a new set of de-duplication marks over n ids.
func (sw *scopeWorker) newEpoch(n int) {
	if len(sw.marks) < n {
		sw.marks = make([]mark, n)
		sw.epoch = 0
	}
	sw.epoch++
	if sw.epoch == 0 { // wrapped: clear the marks
		clear(sw.marks)
		sw.epoch = 1
	}
}

// merge gathers the tiles' hits query by query, sorts each query's members
// by id and drops repeated ids. Every task belongs to one query block
// (blockOf), so the work runs on the pool block by block: one pass counts
// each query's hits, a prefix sum places the queries, and a second pass
// copies a block's hits (its tasks in task order, which is chunk order),
// sorts and de-duplicates them. Only when some id was repeated does a
// serial pass close the gaps. The output does not depend on the worker
// count.
func (c *ScopeCollector) merge(r *ScopeRequest, nq int, listLen func(i int) int, results [][]hit, blockOf func(t int) int) (*Scope, []JobStats, error) {
	nblocks := (nq + r.QueryBlock - 1) / r.QueryBlock
	tasks := make([][]int32, nblocks)
	for t, hs := range results {
		if len(hs) > 0 {
			b := blockOf(t)
			tasks[b] = append(tasks[b], int32(t))
		}
	}
	s := &Scope{Offsets: make([]int, nq+1), Saturated: make([]bool, nq), Next: make([]int, nq)}
	var jobs []JobStats
	st, err := c.pool.Run(nblocks, func(_, b int) {
		for _, t := range tasks[b] {
			for _, h := range results[t] {
				s.Offsets[h.q+1]++
			}
		}
	})
	jobs = append(jobs, st)
	if err != nil {
		return nil, jobs, err
	}
	for i := 0; i < nq; i++ {
		s.Offsets[i+1] += s.Offsets[i]
	}
	total := s.Offsets[nq]
	s.Members, s.Dist = make([]int32, total), make([]float64, total)
	kept := make([]int, nq) // a cursor while copying, then the distinct count
	st, err = c.pool.Run(nblocks, func(w, b int) {
		for _, t := range tasks[b] {
			for _, h := range results[t] {
				p := s.Offsets[h.q] + kept[h.q]
				s.Members[p], s.Dist[p] = h.id, h.d
				kept[h.q]++
			}
		}
		for i := b * r.QueryBlock; i < min(nq, (b+1)*r.QueryBlock); i++ {
			_, hi, sat := r.window(i, listLen(i))
			s.Saturated[i], s.Next[i] = sat, hi
			m, d := s.Members[s.Offsets[i]:s.Offsets[i+1]], s.Dist[s.Offsets[i]:s.Offsets[i+1]]
			sortMembers(m, d)
			k := 0
			for j := range m {
				if k > 0 && m[j] == m[k-1] {
					continue
				}
				m[k], d[k] = m[j], d[j]
				k++
			}
			c.ws[w].counters.Dedupe += int64(len(m) - k)
			kept[i] = k
		}
	})
	jobs = append(jobs, st)
	if err != nil {
		return nil, jobs, err
	}
	out := 0
	for i := 0; i < nq; i++ {
		lo := s.Offsets[i]
		if out != lo {
			copy(s.Members[out:], s.Members[lo:lo+kept[i]])
			copy(s.Dist[out:], s.Dist[lo:lo+kept[i]])
		}
		s.Offsets[i] = out
		out += kept[i]
	}
	s.Offsets[nq] = out
	s.Members, s.Dist = s.Members[:out], s.Dist[:out]
	return s, jobs, nil
}

// sortMembers sorts ids ascending, carrying their distances; stable, so
// equal ids keep their scan order.
func sortMembers(ids []int32, d []float64) {
	if slices.IsSorted(ids) {
		return
	}
	sort.Stable(byID{ids, d})
}

type byID struct {
	ids []int32
	d   []float64
}

func (b byID) Len() int           { return len(b.ids) }
func (b byID) Less(i, j int) bool { return b.ids[i] < b.ids[j] }
func (b byID) Swap(i, j int) {
	b.ids[i], b.ids[j] = b.ids[j], b.ids[i]
	b.d[i], b.d[j] = b.d[j], b.d[i]
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
