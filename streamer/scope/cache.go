package scope

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pcct/pcct/streamer"
)

// Cache is a scope cache: for each key (a tree node whose children the
// queries scan, at one level), the members that earlier collections found
// for queries with that key. A sparse request with a Cache offers each
// keyed query the cached candidates of its key first: those in its list
// are scanned before its window even where the scan cap would cut them
// off (counted as prefetches; those found within the radius again, as
// hits). Without a cap every listed candidate is scanned anyway, so the
// answer is the uncached one and the counts say how well the cache
// predicts the scopes; with a cap the cached candidates are found in the
// first pass (a query's first window), and a later pass that reaches one
// of them in its window lists it again. After a collection every keyed query's members join its
// key's entry (up to the cache's size per key), in query order, so the
// cache's state does not depend on the worker count. A Cache is safe for
// use by one collection at a time.
type Cache struct {
	mu     sync.Mutex
	perKey int
	m      map[int64][]int32
}

// DefaultCachePerKey is the number of members NewCache(0) keeps per key.
const DefaultCachePerKey = 64

// NewCache returns an empty cache keeping up to perKey members per key
// (DefaultCachePerKey when perKey <= 0).
func NewCache(perKey int) *Cache {
	if perKey <= 0 {
		perKey = DefaultCachePerKey
	}
	return &Cache{perKey: perKey, m: map[int64][]int32{}}
}

// Keys returns the number of keys with an entry.
func (c *Cache) Keys() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Entry returns a copy of key's cached members, in the order they joined.
func (c *Cache) Entry(key int64) []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int32(nil), c.m[key]...)
}

// snapshot returns the entries of the keys (nil for a key < 0 or
// without one), read once for a whole collection.
func (c *Cache) snapshot(keys []int64) [][]int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]int32, len(keys))
	for i, k := range keys {
		if k >= 0 {
			out[i] = c.m[k]
		}
	}
	return out
}

// store adds each keyed query's members to its key's entry: ids not there
// yet, in order, while the entry has room.
func (c *Cache) store(keys []int64, s *Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		if k < 0 {
			continue
		}
		e := c.m[k]
		for _, id := range s.Members[s.Offsets[i]:s.Offsets[i+1]] {
			if len(e) >= c.perKey {
				break
			}
			if !slices.Contains(e, id) {
				e = append(e, id)
			}
		}
		c.m[k] = e
	}
}

// cacheOffers works out, for each keyed query, the cached candidates of
// its key that its list holds (offered: they are counted as prefetches)
// and, in a first pass, those beyond its window (extra: scanned in
// addition).
// window(i) returns the query's de-duplicated list (nil when it is its raw
// list) and its window in it. It runs on the pool in chunks of
// cacheChunk queries (each query's answer is its own, so the chunks can
// run in any order); queries of one chunk that share a list (ListOf) and
// a key share the work.
func (c *Collector) cacheOffers(ctx context.Context, r *Request, entries [][]int32, window func(i int) (list []int32, lo, hi int)) (offered, extra [][]int32, st streamer.JobStats, err error) {
	nq := r.nq()
	offered, extra = make([][]int32, nq), make([][]int32, nq)
	st, err = c.chunks(ctx, r, nq, func(w, lo, hi int) {
		c.cacheOffersChunk(r, c.ws[w], entries, window, offered, extra, lo, hi)
	})
	return offered, extra, st, err
}

// cacheChunk is the number of queries per task of cacheOffers and
// cacheHits (a variable so that tests can reach the pool with few
// queries).
var cacheChunk = 256

// appendJob appends the statistics of a job that ran on the pool (not
// those of work chunks did on the caller's goroutine).
func appendJob(jobs []streamer.JobStats, st streamer.JobStats) []streamer.JobStats {
	if st.Workers == 0 {
		return jobs
	}
	return append(jobs, st)
}

// chunks runs fn over the queries [0, n) in chunks of cacheChunk on the
// pool, or at once on the caller's goroutine (as worker 0) when they fit
// one chunk.
func (c *Collector) chunks(ctx context.Context, r *Request, n int, fn func(worker, lo, hi int)) (streamer.JobStats, error) {
	if n <= cacheChunk {
		fn(0, 0, n)
		return streamer.JobStats{}, ctx.Err()
	}
	return c.run(ctx, r, (n+cacheChunk-1)/cacheChunk, func(w, t int) {
		fn(w, t*cacheChunk, min(n, (t+1)*cacheChunk))
	})
}

// cacheOffersChunk is cacheOffers for queries lo..hi-1, with sw's marks.
func (c *Collector) cacheOffersChunk(r *Request, sw *scopeWorker, entries [][]int32, window func(i int) (list []int32, lo, hi int), offered, extra [][]int32, q0, q1 int) {
	type found struct{ ids, pos []int32 }
	type memoKey struct {
		list, key int64
		raw       bool
	}
	memo := map[memoKey]found{}
	for i := q0; i < q1; i++ {
		e := entries[i]
		if len(e) == 0 {
			continue
		}
		list, lo, hi := window(i)
		mk := memoKey{-1, r.CacheKeys[i], list == nil}
		if r.ListOf != nil {
			mk.list = int64(r.ListOf[i])
		}
		f, ok := memo[mk]
		if !ok || mk.list < 0 {
			if list == nil {
				list = r.list(i)
			}
			// Marks: the position in the list of each listed id (its
			// first occurrence).
			sw.newEpoch(r.Candidates.N)
			for p, id := range list {
				if m := &sw.marks[id]; m.epoch != sw.epoch {
					m.epoch, m.col = sw.epoch, int32(p)
				}
			}
			f = found{}
			for _, id := range e {
				if m := sw.marks[id]; m.epoch == sw.epoch {
					f.ids, f.pos = append(f.ids, id), append(f.pos, m.col)
				}
			}
			memo[mk] = f
		}
		offered[i] = f.ids
		if lo > 0 {
			continue // a later pass: the first one scanned them
		}
		for k, p := range f.pos {
			if int(p) >= hi {
				extra[i] = append(extra[i], f.ids[k])
			}
		}
	}
}

// cacheHits counts the offered candidates that are members, on the pool
// in chunks of cacheChunk queries.
func (c *Collector) cacheHits(ctx context.Context, r *Request, s *Result, offered [][]int32) (int64, streamer.JobStats, error) {
	var hits atomic.Int64
	nq := len(offered)
	st, err := c.chunks(ctx, r, nq, func(_, lo, hi int) {
		var n int64
		for i := lo; i < hi; i++ {
			m := s.Members[s.Offsets[i]:s.Offsets[i+1]]
			for _, id := range offered[i] {
				if _, found := slices.BinarySearch(m, id); found {
					n++
				}
			}
		}
		hits.Add(n)
	})
	return hits.Load(), st, err
}
