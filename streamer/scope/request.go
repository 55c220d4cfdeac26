package scope

import (
	"fmt"
	"math"

	"github.com/pcct/pcct/kernels/metric"
)

// Request asks, for each query, which candidates lie within its radius.
// Candidates are either one list that every query scans (Dense: a whole
// level of the tree) or one list per query (Sparse: candidates the tree
// proposes), given as CSR.
type Request struct {
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
	// Lists and ListOf, when ListOf is not nil, give query i the candidates
	// Lists[ListOf[i]] instead (used when Dense is nil): queries that share
	// a list (the points at one tree node, against its children) name it
	// once.
	Lists  [][]int32
	ListOf []int32
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
	// Cache, if not nil, is the scope cache of a sparse request, and
	// CacheKeys (one per query; < 0: none) the key each query's scope is
	// cached under: see Cache.
	Cache     *Cache
	CacheKeys []int64
	// Screen, if not nil, screens each tile before its float64 distances
	// (see metric.Screener: the float32 screen of a residual metric with
	// its copy, or a metric.PivotBound): pairs it proves beyond their
	// query's radius are never computed, the others are, in float64, so
	// the answer is the unscreened one. It must be able to pair Queries
	// with Candidates (CanScreen).
	Screen metric.Screener
	// Wrap, if not nil, wraps each of the collection's pool tasks (for
	// example to run them under a pprof label).
	Wrap func(task func(worker, task int)) func(worker, task int)
}

type hit struct {
	q  int32 // query index within the request
	id int32
	d  float64
}

func (r *Request) nq() int {
	if r.QueryIDs != nil {
		return len(r.QueryIDs)
	}
	return r.Queries.N
}

func (r *Request) check() error {
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
	case r.Cache != nil && r.Dense != nil:
		return fmt.Errorf("scope: the scope cache serves sparse requests (every dense query scans the whole list)")
	case r.Cache != nil && len(r.CacheKeys) != nq:
		return fmt.Errorf("scope: %d cache keys for %d queries", len(r.CacheKeys), nq)
	case r.Dense == nil && r.ListOf != nil && len(r.ListOf) != nq:
		return fmt.Errorf("scope: %d list choices for %d queries", len(r.ListOf), nq)
	case r.Dense == nil && r.ListOf == nil && len(r.SparseOffsets) != nq+1:
		return fmt.Errorf("scope: sparse offsets have length %d, want %d", len(r.SparseOffsets), nq+1)
	}
	if err := metric.Compatible(r.Queries, r.Candidates); err != nil {
		return fmt.Errorf("scope: %w", err)
	}
	if r.Screen != nil && !r.Screen.CanScreen(r.Queries, r.Candidates) {
		return fmt.Errorf("scope: the screen cannot pair these queries and candidates (a residual metric screens after EnableScreening, with query sets embedded after it)")
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
	var lists [][]int32
	switch {
	case r.Dense != nil:
		if r.Dense.IDs == nil && (r.Dense.Lo < 0 || r.Dense.Hi > r.Candidates.N || r.Dense.Lo > r.Dense.Hi) {
			return fmt.Errorf("scope: dense range [%d, %d) outside [0, %d)", r.Dense.Lo, r.Dense.Hi, r.Candidates.N)
		}
		lists = [][]int32{r.Dense.IDs}
	case r.ListOf != nil:
		for i, l := range r.ListOf {
			if l < 0 || int(l) >= len(r.Lists) {
				return fmt.Errorf("scope: query %d takes list %d of %d", i, l, len(r.Lists))
			}
		}
		lists = r.Lists
	default:
		for i := 0; i < nq; i++ {
			if r.SparseOffsets[i] > r.SparseOffsets[i+1] || r.SparseOffsets[i+1] > len(r.SparseIDs) || r.SparseOffsets[0] < 0 {
				return fmt.Errorf("scope: sparse offsets are not a CSR index into %d ids", len(r.SparseIDs))
			}
		}
		lists = [][]int32{r.SparseIDs}
	}
	for _, ids := range lists {
		for _, id := range ids {
			if id < 0 || int(id) >= r.Candidates.N {
				return fmt.Errorf("scope: candidate id %d outside [0, %d)", id, r.Candidates.N)
			}
		}
	}
	return nil
}

// list returns query i's sparse candidates, as given (repeats included).
func (r *Request) list(i int) []int32 {
	if r.ListOf != nil {
		return r.Lists[r.ListOf[i]]
	}
	return r.SparseIDs[r.SparseOffsets[i]:r.SparseOffsets[i+1]]
}

// window returns the part [lo, hi) of a list of length n that query i scans,
// and whether the query is saturated.
func (r *Request) window(i, n int) (lo, hi int, saturated bool) {
	if r.Resume != nil {
		lo = min(max(r.Resume[i], 0), n)
	}
	hi = n
	if r.ScanCap > 0 && hi-lo > r.ScanCap {
		hi, saturated = lo+r.ScanCap, true
	}
	return lo, hi, saturated
}

func (r *Request) queryBlock(lo, hi int) metric.Block {
	if r.QueryIDs != nil {
		return metric.List(r.QueryIDs[lo:hi])
	}
	return metric.Range(lo, hi)
}
