package scope

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest/every"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// TestScopeScreen: a screened collection (the residual metric's float32
// screen, pivot bounds on both metrics) finds exactly the unscreened
// members and distances, dense, sparse and with shared lists, with and
// without a scan cap, for every worker count and implementation, and
// prunes pairs; a screen that cannot pair the sets is an error.
func TestScopeScreen(t *testing.T) {
	const n = 400
	ctx := context.Background()
	every.Impl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		ms := scopeMetrics(t, n, 2)
		res := ms[0].(*metric.Residual)
		p := streamer.NewPool(3)
		defer p.Close()
		sc := NewCollector(p)
		if _, err := sc.Collect(ctx, Request{Metric: res, Queries: res.Data(), Radius: make([]float64, n), Candidates: res.Data(),
			Dense: &metric.Block{Lo: 0, Hi: n}, Screen: res}); err == nil || !strings.Contains(err.Error(), "cannot pair") {
			t.Fatalf("screen without the float32 copy: %v", err)
		}
		if err := res.EnableScreening(); err != nil {
			t.Fatal(err)
		}
		type screened struct {
			m metric.Metric
			s metric.Screener
		}
		var cases []screened
		cases = append(cases, screened{res, res})
		for _, m := range ms {
			pb, err := metric.NewPivotBound(ctx, m, 8, 1, p)
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, screened{m, pb})
		}
		for ci, c := range cases {
			nq := 150
			qids, radius := make([]int32, nq), make([]float64, nq)
			for i := range nq {
				qids[i] = int32(r.IntN(n))
				radius[i] = 0.05 + 0.1*float64(i%4)
				if c.m.Name() == "residual" {
					radius[i] = 0.3 + 0.2*float64(i%4)
				}
			}
			radius[7] = -1
			lists := randomLists(r, n, 5, 200)
			listOf := make([]int32, nq)
			for i := range listOf {
				listOf[i] = int32(i / 31)
			}
			all := metric.Range(0, n)
			for _, capN := range []int{0, 70} {
				for _, shape := range []string{"dense", "shared", "single"} {
					req := Request{Metric: c.m, Queries: c.m.Data(), QueryIDs: qids, Radius: radius, Candidates: c.m.Data(), ScanCap: capN, QueryBlock: 16, Chunk: 50}
					switch shape {
					case "dense":
						req.Dense = &all
					case "shared":
						req.Lists, req.ListOf = lists, listOf
					case "single": // each query its own list: tiled row by row
						req.Lists, req.ListOf = lists, make([]int32, nq)
						for i := range req.ListOf {
							req.ListOf[i] = int32(i % 5)
						}
					}
					want, err := sc.Collect(ctx, req)
					if err != nil {
						t.Fatal(err)
					}
					req.Screen = c.s
					got, err := sc.Collect(ctx, req)
					if err != nil {
						t.Fatal(err)
					}
					what := fmt.Sprintf("case %d (%s) cap %d %s", ci, c.m.Name(), capN, shape)
					if !sameScope(got, want) || !slices.Equal(got.Next, want.Next) || got.Stats.Saturated != want.Stats.Saturated {
						t.Fatalf("%s: screened scopes differ", what)
					}
					if got.Stats.Gate1Candidates != got.Stats.Scans || got.Stats.Gate1Pruned <= 0 || got.Stats.Gate1Pruned >= got.Stats.Gate1Candidates {
						t.Fatalf("%s: screened %d of %d scans, pruned %d", what, got.Stats.Gate1Candidates, got.Stats.Scans, got.Stats.Gate1Pruned)
					}
				}
			}
		}
	})
}

// TestScopeCache: a scope cache offers each keyed query the members found
// earlier under its key. Without a scan cap the members are the uncached
// ones and a repeated collection hits every offer; with a cap the cached
// members are found in the first pass beyond the window. The cache's
// entries and the answers do not depend on the worker count; entries
// keep at most their size; dense requests and key counts are checked. The
// offers and hits are worked out on the pool in small chunks.
func TestScopeCache(t *testing.T) {
	const n = 300
	defer func(c int) { cacheChunk = c }(cacheChunk)
	cacheChunk = 7 // the offers and hits on the pool, in chunks
	ctx := context.Background()
	m := scopeMetrics(t, n, 2)[1]
	r := rand.New(rand.NewPCG(9, 10))
	nq := 60
	qids, radius, keys := make([]int32, nq), make([]float64, nq), make([]int64, nq)
	lists := randomLists(r, n, 3, 150)
	listOf := make([]int32, nq)
	for i := range nq {
		qids[i], radius[i] = int32(r.IntN(n)), 0.3
		listOf[i], keys[i] = int32(i%3), int64(i%3)
	}
	keys[5] = -1
	var entries [2][][]int32
	var answers [2][]*Result
	for wi, w := range []int{1, 3} {
		p := streamer.NewPool(w)
		sc := NewCollector(p)
		cache := NewCache(40)
		req := Request{Metric: m, Queries: m.Data(), QueryIDs: qids, Radius: radius, Candidates: m.Data(),
			Lists: lists, ListOf: listOf, QueryBlock: 8, Chunk: 32}
		plain, err := sc.Collect(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		req.Cache, req.CacheKeys = cache, keys
		first, err := sc.Collect(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !sameScope(first, plain) || first.Stats.CachePrefetch != 0 || cache.Keys() != 3 {
			t.Fatalf("first cached collection: prefetch %d, %d keys", first.Stats.CachePrefetch, cache.Keys())
		}
		for k := range int64(3) {
			e := cache.Entry(k)
			if len(e) == 0 || len(e) > 40 {
				t.Fatalf("key %d: %d cached members", k, len(e))
			}
		}
		second, err := sc.Collect(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !sameScope(second, plain) || second.Stats.CachePrefetch == 0 || second.Stats.CacheHits == 0 || second.Stats.Scans != plain.Stats.Scans {
			t.Fatalf("second cached collection: %+v", second.Stats)
		}
		// Offers are the cached members in each keyed query's list; hits
		// those that are members now.
		var offers, hits int64
		for i := range nq {
			if keys[i] < 0 {
				continue
			}
			mem := second.Members[second.Offsets[i]:second.Offsets[i+1]]
			for _, id := range cache.Entry(keys[i]) {
				if slices.Contains(lists[listOf[i]], id) {
					offers++
					if slices.Contains(mem, id) {
						hits++
					}
				}
			}
		}
		if offers != second.Stats.CachePrefetch || hits != second.Stats.CacheHits {
			t.Fatalf("prefetch %d hits %d, want %d and %d", second.Stats.CachePrefetch, second.Stats.CacheHits, offers, hits)
		}
		// Under a scan cap the cached candidates beyond the window are
		// scanned too: the members are the capped ones plus the cached
		// members in reach.
		req.ScanCap = 20
		capped, err := sc.Collect(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		plainReq := req
		plainReq.Cache, plainReq.CacheKeys = nil, nil
		plainCapped, err := sc.Collect(ctx, plainReq)
		if err != nil {
			t.Fatal(err)
		}
		extra := 0
		for i := range nq {
			got := capped.Members[capped.Offsets[i]:capped.Offsets[i+1]]
			want := slices.Clone(plainCapped.Members[plainCapped.Offsets[i]:plainCapped.Offsets[i+1]])
			full := plain.Members[plain.Offsets[i]:plain.Offsets[i+1]]
			for _, id := range got {
				if !slices.Contains(full, id) {
					t.Fatalf("query %d: member %d beyond the radius", i, id)
				}
				if !slices.Contains(want, id) {
					extra++
				}
			}
			for _, id := range want {
				if !slices.Contains(got, id) {
					t.Fatalf("query %d: capped member %d lost", i, id)
				}
			}
		}
		if extra == 0 || capped.Stats.Scans <= plainCapped.Stats.Scans || !slices.Equal(capped.Next, plainCapped.Next) {
			t.Fatalf("capped: %d extra members, scans %d against %d", extra, capped.Stats.Scans, plainCapped.Stats.Scans)
		}
		// A later pass scans its window only: the first one took the
		// cached candidates.
		req.Resume, plainReq.Resume = capped.Next, plainCapped.Next
		next, err := sc.Collect(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		plainNext, err := sc.Collect(ctx, plainReq)
		if err != nil {
			t.Fatal(err)
		}
		if next.Stats.Scans != plainNext.Stats.Scans || !sameScope(next, plainNext) {
			t.Fatalf("second pass: scans %d against %d", next.Stats.Scans, plainNext.Stats.Scans)
		}
		req.Resume = nil
		for k := range int64(3) {
			entries[wi] = append(entries[wi], cache.Entry(k))
		}
		answers[wi] = []*Result{first, second, capped}
		dense := metric.Range(0, n)
		bad := req
		bad.Dense = &dense
		if _, err := sc.Collect(ctx, bad); err == nil || !strings.Contains(err.Error(), "sparse requests") {
			t.Fatalf("cache with a dense request: %v", err)
		}
		bad = req
		bad.CacheKeys = keys[:3]
		if _, err := sc.Collect(ctx, bad); err == nil || !strings.Contains(err.Error(), "3 cache keys for 60 queries") {
			t.Fatalf("short cache keys: %v", err)
		}
		p.Close()
	}
	for k := range entries[0] {
		if !slices.Equal(entries[0][k], entries[1][k]) {
			t.Fatalf("key %d: entries differ between worker counts", k)
		}
	}
	for x := range answers[0] {
		a, b := answers[0][x], answers[1][x]
		if !sameScope(a, b) || a.Stats.CachePrefetch != b.Stats.CachePrefetch || a.Stats.CacheHits != b.Stats.CacheHits {
			t.Fatalf("collection %d differs between worker counts", x)
		}
	}
}
