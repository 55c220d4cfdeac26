package scope

import (
	"context"
	"sync"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// Result is the answer: query i's in-radius candidates are
// Members[Offsets[i]:Offsets[i+1]], ascending by id, with their distances
// (duplicates removed). It is identical for every worker count, and between
// a dense and a sparse request whose lists hold the same in-radius points.
type Result struct {
	Offsets   []int
	Members   []int32
	Dist      []float64
	Saturated []bool // the query's list was longer than the scan cap
	Next      []int  // where a later pass resumes in the query's list
	Stats     Stats
}

// Stats is the telemetry of one collection (the telemetry log's names):
// distances evaluated (scope_chunk_scans), members found (points), repeated
// candidates skipped (dedupe), saturated queries, query blocks packed once
// for all the dense tiles that read them and the tiles that used a packed
// block, the scope cache's offers and hits (see Cache), and the pool jobs'
// accounting.
type Stats struct {
	Scans, Points, Dedupe, Saturated int64
	Packed, PackedHits               int64
	// With Request.Cache: cached candidates offered first (prefetch) and
	// those of them found within the radius again (hits).
	CachePrefetch, CacheHits int64
	// With Request.Screen: the pairs screened (Gate1Candidates) and those
	// the screen proved beyond their query's radius (Gate1Pruned); the
	// others were computed in float64.
	Gate1Candidates, Gate1Pruned int64
	Jobs                         []streamer.JobStats
}

// Utilisation returns busy / (workers x wall) over all the jobs.
func (s Stats) Utilisation() float64 {
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
func (s Stats) Steals() int {
	n := 0
	for _, j := range s.Jobs {
		n += j.TotalSteals()
	}
	return n
}

// Collector runs scope collections on a pool, keeping per-worker
// scratch space between them. Concurrent Collect calls take turns (a mutex
// taken once per call).
type Collector struct {
	mu   sync.Mutex
	pool *streamer.Pool
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
	kth2     []float64         // a screened tile's squared radii
	row      []float64         // a screened row's recomputed distances
	hits     metric.ScreenHits // a screened tile's undecided pairs
	marks    []mark            // by candidate id
	epoch    uint32
	keys     []uint64  // sortMembers' keys
	dists    []float64 // and its copy of the distances
	counters Stats
}

// NewCollector returns a collector on the pool.
func NewCollector(p *streamer.Pool) *Collector {
	c := &Collector{pool: p}
	for range p.Workers() {
		c.ws = append(c.ws, &scopeWorker{mw: metric.NewWorkspace()})
	}
	return c
}

// Collect runs one scope collection. When ctx is done it stops within one
// tile's time and returns ctx.Err().
func (c *Collector) Collect(ctx context.Context, req Request) (*Result, error) {
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
		w.counters = Stats{}
	}
	var s *Result
	var err error
	if req.Dense != nil {
		s, err = c.dense(ctx, &req)
	} else {
		s, err = c.sparse(ctx, &req)
	}
	if err != nil {
		return nil, err
	}
	for _, w := range c.ws {
		s.Stats.Scans += w.counters.Scans
		s.Stats.Dedupe += w.counters.Dedupe
		s.Stats.Packed += w.counters.Packed
		s.Stats.PackedHits += w.counters.PackedHits
		s.Stats.Gate1Candidates += w.counters.Gate1Candidates
		s.Stats.Gate1Pruned += w.counters.Gate1Pruned
	}
	s.Stats.Points = int64(len(s.Members))
	for _, sat := range s.Saturated {
		if sat {
			s.Stats.Saturated++
		}
	}
	return s, nil
}

// run runs n tasks of r's collection on the pool, wrapped by r.Wrap.
func (c *Collector) run(ctx context.Context, r *Request, n int, fn func(worker, task int)) (streamer.JobStats, error) {
	if r.Wrap != nil {
		fn = r.Wrap(fn)
	}
	return c.pool.RunContext(ctx, n, fn)
}

// defaultQueryBlock is the query block of dense tiles for a pool size (see
// Request.QueryBlock).
func defaultQueryBlock(workers int) int {
	if workers > 4 {
		return 64
	}
	return 128
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

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
