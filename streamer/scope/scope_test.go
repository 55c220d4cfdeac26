package scope

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcct/pcct/internal/kerneltest"
	"github.com/pcct/pcct/internal/kerneltest/every"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

func scopeMetrics(t testing.TB, n, d int) []metric.Metric {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = r.Float64()
	}
	for i := 0; i < n; i += 9 { // duplicates
		copy(x[(i+1)*d:(i+2)*d], x[i*d:(i+1)*d])
	}
	res, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Inducing: min(40, n), Lengthscale: []float64{0.2}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	euc, err := metric.NewEuclidean(x, n, d)
	if err != nil {
		t.Fatal(err)
	}
	return []metric.Metric{res, euc}
}

// naiveScope scans each query's window one distance at a time.
func naiveScope(m metric.Metric, req Request, lists func(i int) []int32) (members [][]int32, dist [][]float64) {
	nq := req.nq()
	w := metric.NewWorkspace()
	var one [1]float64
	for i := 0; i < nq; i++ {
		qid := i
		if req.QueryIDs != nil {
			qid = int(req.QueryIDs[i])
		}
		l := lists(i)
		lo, hi, _ := req.window(i, len(l))
		var ms []int32
		var ds []float64
		for _, id := range l[lo:hi] {
			m.Tile(w, one[:], 1, req.Queries, metric.Range(qid, qid+1), req.Candidates, metric.Range(int(id), int(id)+1))
			if one[0] <= req.Radius[i] && !slices.Contains(ms, id) {
				ms = append(ms, id)
				ds = append(ds, one[0])
			}
		}
		order := make([]int, len(ms))
		for k := range order {
			order[k] = k
		}
		slices.SortStableFunc(order, func(a, b int) int { return int(ms[a]) - int(ms[b]) })
		sm, sd := make([]int32, len(ms)), make([]float64, len(ms))
		for k, o := range order {
			sm[k], sd[k] = ms[o], ds[o]
		}
		members, dist = append(members, sm), append(dist, sd)
	}
	return
}

func checkScope(t *testing.T, what string, s *Result, members [][]int32, dist [][]float64) {
	t.Helper()
	for i := range members {
		gm, gd := s.Members[s.Offsets[i]:s.Offsets[i+1]], s.Dist[s.Offsets[i]:s.Offsets[i+1]]
		if !slices.Equal(gm, members[i]) || !slices.Equal(gd, dist[i]) {
			t.Fatalf("%s: query %d scope %v %v, want %v %v", what, i, gm, gd, members[i], dist[i])
		}
	}
}

func sameScope(a, b *Result) bool {
	return slices.Equal(a.Offsets, b.Offsets) && slices.Equal(a.Members, b.Members) &&
		slices.Equal(a.Dist, b.Dist) && slices.Equal(a.Saturated, b.Saturated) && slices.Equal(a.Next, b.Next)
}

func TestScopeDenseAgainstNaive(t *testing.T) {
	const n = 300
	pools := map[int]*Collector{}
	for _, w := range []int{1, 2, 4, 16} {
		p := streamer.NewPool(w)
		defer p.Close()
		pools[w] = NewCollector(p)
	}
	every.Impl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, m := range scopeMetrics(t, n, 2) {
			radius := make([]float64, 50)
			qids := make([]int32, 50)
			for i := range radius {
				qids[i] = int32(r.IntN(n))
				radius[i] = 0.05 + 0.3*r.Float64()
				if m.Name() == "residual" {
					radius[i] = 0.5 + 0.45*r.Float64()
				}
			}
			levelIDs := make([]int32, 0, n)
			for id := n - 1; id >= 0; id -= 2 { // a level, not sorted
				levelIDs = append(levelIDs, int32(id))
			}
			// A list that repeats ids: each query keeps one copy of each.
			repeated := append(slices.Clone(levelIDs), levelIDs[:40]...)
			for _, dense := range []metric.Block{metric.Range(20, 280), metric.List(levelIDs), metric.List(repeated)} {
				for _, capN := range []int{0, 37, 1000} {
					req := Request{Metric: m, Queries: m.Data(), QueryIDs: qids, Radius: radius, Candidates: m.Data(),
						Dense: &dense, ScanCap: capN, QueryBlock: 8, Chunk: 29}
					list := make([]int32, dense.Len())
					for k := range list {
						list[k] = int32(dense.At(k))
					}
					wantM, wantD := naiveScope(m, req, func(int) []int32 { return list })
					var first *Result
					for _, w := range []int{1, 2, 4, 16} {
						s, err := pools[w].Collect(context.Background(), req)
						if err != nil {
							t.Fatal(err)
						}
						checkScope(t, m.Name(), s, wantM, wantD)
						if first == nil {
							first = s
						} else if !sameScope(first, s) {
							t.Fatalf("%s: 1 and %d workers differ", m.Name(), w)
						}
						wantSat := capN > 0 && capN < dense.Len()
						if s.Saturated[0] != wantSat || (wantSat && int(s.Stats.Saturated) != len(qids)) {
							t.Fatalf("saturated = %v (%d), want %v", s.Saturated[0], s.Stats.Saturated, wantSat)
						}
						// Query ids meeting several chunks: each block packed once.
						if s.Stats.Packed != int64((len(qids)+7)/8) || s.Stats.PackedHits == 0 {
							t.Fatalf("query blocks were not packed once each: %+v", s.Stats)
						}
						if s.Stats.Points != int64(len(s.Members)) || s.Stats.Scans == 0 {
							t.Fatalf("stats %+v", s.Stats)
						}
						if len(dense.IDs) == len(repeated) && capN == 0 && s.Stats.Dedupe == 0 {
							t.Fatalf("repeated ids: no dedupe counted: %+v", s.Stats)
						}
					}
				}
			}
		}
	})
}

// TestScopeSparseMatchesDense: sparse lists holding the same in-radius
// points as the dense list (plus repeats and far points, shuffled) give the
// identical scope.
func TestScopeSparseMatchesDense(t *testing.T) {
	const n = 250
	p := streamer.NewPool(3)
	defer p.Close()
	sc := NewCollector(p)
	r := rand.New(rand.NewPCG(7, 8))
	for _, m := range scopeMetrics(t, n, 3) {
		nq := 40
		radius := make([]float64, nq)
		for i := range radius {
			radius[i] = 0.15
			if m.Name() == "residual" {
				radius[i] = 0.8
			}
		}
		all := metric.Range(0, n)
		dreq := Request{Metric: m, Queries: m.Data(), QueryIDs: nil, Radius: radius, Candidates: m.Data(), Dense: &all}
		dreq.QueryIDs = make([]int32, nq)
		for i := range dreq.QueryIDs {
			dreq.QueryIDs[i] = int32(i * 5)
		}
		ds, err := sc.Collect(context.Background(), dreq)
		if err != nil {
			t.Fatal(err)
		}
		// Each sparse list: the query's dense members, some other points,
		// repeats, shuffled.
		offsets := []int{0}
		var ids []int32
		repeats := 0
		for i := 0; i < nq; i++ {
			l := slices.Clone(ds.Members[ds.Offsets[i]:ds.Offsets[i+1]])
			for k := 0; k < 20; k++ {
				l = append(l, int32(r.IntN(n)))
			}
			if len(l) > 0 {
				l = append(l, l[0], l[len(l)/2])
				repeats += 2
			}
			r.Shuffle(len(l), func(a, b int) { l[a], l[b] = l[b], l[a] })
			ids = append(ids, l...)
			offsets = append(offsets, len(ids))
		}
		sreq := dreq
		sreq.Dense, sreq.SparseOffsets, sreq.SparseIDs, sreq.Chunk = nil, offsets, ids, 7
		ss, err := sc.Collect(context.Background(), sreq)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ss.Offsets, ds.Offsets) || !slices.Equal(ss.Members, ds.Members) || !slices.Equal(ss.Dist, ds.Dist) {
			t.Fatalf("%s: sparse scope differs from dense", m.Name())
		}
		if ss.Stats.Dedupe < int64(repeats) {
			t.Fatalf("%s: dedupe %d < %d repeats", m.Name(), ss.Stats.Dedupe, repeats)
		}
		wantM, wantD := naiveScope(m, sreq, func(i int) []int32 { return ids[offsets[i]:offsets[i+1]] })
		checkScope(t, m.Name()+"/sparse", ss, wantM, wantD)
	}
}

// TestScopeResume: passes under a scan cap, each resuming where the last
// stopped, together find what one uncapped pass finds.
func TestScopeResume(t *testing.T) {
	const n = 200
	p := streamer.NewPool(2)
	defer p.Close()
	sc := NewCollector(p)
	m := scopeMetrics(t, n, 2)[1]
	all := metric.Range(0, n)
	radius := []float64{0.2, 0.3, 0.25}
	req := Request{Metric: m, Queries: m.Data(), QueryIDs: []int32{3, 100, 199}, Radius: radius, Candidates: m.Data(), Dense: &all}
	full, err := sc.Collect(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	req.ScanCap = 45
	got := make([][]int32, 3)
	for pass := 0; ; pass++ {
		s, err := sc.Collect(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i] = append(got[i], s.Members[s.Offsets[i]:s.Offsets[i+1]]...)
		}
		if s.Stats.Saturated == 0 {
			break
		}
		if pass > 10 {
			t.Fatal("resume never finished")
		}
		req.Resume = s.Next
	}
	for i := range got {
		if !slices.Equal(got[i], full.Members[full.Offsets[i]:full.Offsets[i+1]]) {
			t.Fatalf("query %d: passes found %v, one pass %v", i, got[i], full.Members[full.Offsets[i]:full.Offsets[i+1]])
		}
	}
}

func TestScopeBadRequests(t *testing.T) {
	p := streamer.NewPool(1)
	defer p.Close()
	sc := NewCollector(p)
	m := scopeMetrics(t, 20, 2)[1]
	all := metric.Range(0, 20)
	bad := metric.Range(0, 21)
	cases := []struct {
		req  Request
		want string
	}{
		{Request{Metric: m, Queries: m.Data(), Radius: make([]float64, 3), Candidates: m.Data(), Dense: &all}, "3 radii for 20 queries"},
		{Request{Metric: m, Queries: m.Data(), Radius: make([]float64, 20), Candidates: m.Data(), Dense: &bad}, "dense range [0, 21) outside [0, 20)"},
		{Request{Metric: m, Queries: m.Data(), Radius: make([]float64, 20), Candidates: m.Data()}, "sparse offsets have length 0"},
		{Request{Metric: m, Queries: m.Data(), Radius: make([]float64, 1), QueryIDs: []int32{25}, Candidates: m.Data(), Dense: &all}, "query id 25 outside"},
		{Request{Metric: m, Queries: m.Data(), Radius: make([]float64, 20), Candidates: m.Data(), Dense: &all, ScanCap: -1}, "negative scan cap"},
		{Request{Metric: m, Queries: m.Data(), Radius: slices.Repeat([]float64{math.NaN()}, 20), Candidates: m.Data(), Dense: &all}, "radius of query 0 is NaN"},
		{Request{Metric: m, Queries: m.Data(), Radius: make([]float64, 20), Candidates: m.Data(), Lists: [][]int32{{1}}, ListOf: make([]int32, 19)}, "19 list choices for 20 queries"},
		{Request{Metric: m, Queries: m.Data(), Radius: make([]float64, 20), Candidates: m.Data(), Lists: [][]int32{{1}}, ListOf: slices.Repeat([]int32{1}, 20)}, "query 0 takes list 1 of 1"},
		{Request{Metric: m, Queries: m.Data(), Radius: make([]float64, 20), Candidates: m.Data(), Lists: [][]int32{{1, 20}}, ListOf: make([]int32, 20)}, "candidate id 20 outside"},
	}
	for i, c := range cases {
		if _, err := sc.Collect(context.Background(), c.req); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: err = %v, want %q", i, err, c.want)
		}
	}
}

func TestScopeConcurrentCollect(t *testing.T) {
	p := streamer.NewPool(2)
	defer p.Close()
	sc := NewCollector(p)
	m := scopeMetrics(t, 150, 2)[1]
	all := metric.Range(0, 150)
	req := Request{Metric: m, Queries: m.Data(), Radius: slices.Repeat([]float64{0.2}, 150), Candidates: m.Data(), Dense: &all}
	want, err := sc.Collect(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := sc.Collect(context.Background(), req)
			if err == nil && (!sameScope(s, want) || s.Stats.Scans != want.Stats.Scans) {
				err = fmt.Errorf("concurrent Collect gave a different scope or stats")
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestScopeSparseGrouped: queries whose lists overlap are tiled against the
// union of their lists; the answer must equal the naive scan, with and
// without a scan cap, and the dense scan of the shared list.
func TestScopeSparseGrouped(t *testing.T) {
	const n = 260
	r := rand.New(rand.NewPCG(41, 42))
	for _, w := range []int{1, 4} {
		p := streamer.NewPool(w)
		sc := NewCollector(p)
		for _, m := range scopeMetrics(t, n, 2) {
			nq := 70
			radius := make([]float64, nq)
			qids := make([]int32, nq)
			for i := range radius {
				qids[i] = int32(r.IntN(n))
				radius[i] = 0.3
				if m.Name() == "residual" {
					radius[i] = 0.85
				}
			}
			base := make([]int32, 0, 120)
			for _, id := range r.Perm(n)[:120] {
				base = append(base, int32(id))
			}
			offsets := []int{0}
			var ids []int32
			for i := 0; i < nq; i++ {
				l := slices.Clone(base)
				r.Shuffle(len(l), func(a, b int) { l[a], l[b] = l[b], l[a] })
				if i%5 == 0 { // a few extra candidates and repeats
					l = append(l, int32(r.IntN(n)), l[0])
				}
				ids = append(ids, l...)
				offsets = append(offsets, len(ids))
			}
			for _, capN := range []int{0, 50} {
				req := Request{Metric: m, Queries: m.Data(), QueryIDs: qids, Radius: radius, Candidates: m.Data(),
					SparseOffsets: offsets, SparseIDs: ids, ScanCap: capN, QueryBlock: 16, Chunk: 33}
				s, err := sc.Collect(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				// The lists, de-duplicated as Collect does.
				dedup := func(i int) []int32 {
					var out []int32
					for _, id := range ids[offsets[i]:offsets[i+1]] {
						if !slices.Contains(out, id) {
							out = append(out, id)
						}
					}
					return out
				}
				wantM, wantD := naiveScope(m, req, dedup)
				checkScope(t, m.Name()+"/grouped", s, wantM, wantD)
				// Grouping computed more distances than the lists hold, but
				// not many more.
				var need int64
				for i := 0; i < nq; i++ {
					lo, hi, _ := req.window(i, len(dedup(i)))
					need += int64(hi - lo)
				}
				if s.Stats.Scans < need || s.Stats.Scans > int64(sparseGroupSlack)*need || (capN == 0 && s.Stats.Scans == need) {
					t.Fatalf("scans %d for %d listed candidates: grouping not used or too costly", s.Stats.Scans, need)
				}
				if capN > 0 {
					// Lists in one shared order: the capped windows coincide,
					// so the block is grouped on its windows.
					same := make([]int32, 0, nq*len(base))
					offs := []int{0}
					for range nq {
						same = append(same, base...)
						offs = append(offs, len(same))
					}
					sreq := req
					sreq.SparseOffsets, sreq.SparseIDs = offs, same
					ss, err := sc.Collect(context.Background(), sreq)
					if err != nil {
						t.Fatal(err)
					}
					wm, wd := naiveScope(m, sreq, func(int) []int32 { return base })
					checkScope(t, m.Name()+"/grouped-windows", ss, wm, wd)
					if ss.Stats.Scans != int64(nq*capN) || ss.Stats.Saturated != int64(nq) {
						t.Fatalf("grouped windows: scans %d saturated %d", ss.Stats.Scans, ss.Stats.Saturated)
					}
				}
				if capN == 0 {
					dense := metric.List(base)
					dreq := req
					dreq.Dense, dreq.SparseOffsets, dreq.SparseIDs = &dense, nil, nil
					ds, err := sc.Collect(context.Background(), dreq)
					if err != nil {
						t.Fatal(err)
					}
					for i := 0; i < nq; i++ {
						extra := s.Members[s.Offsets[i]:s.Offsets[i+1]]
						want := ds.Members[ds.Offsets[i]:ds.Offsets[i+1]]
						if i%5 != 0 && !slices.Equal(extra, want) {
							t.Fatalf("query %d: sparse %v, dense %v", i, extra, want)
						}
					}
				}
			}
		}
		p.Close()
	}
}

// TestScopeSharedLists: queries that name shared lists (Lists, ListOf)
// get what the same lists written out per query (CSR) give, with and
// without a scan cap, with repeats in a list, blocks that straddle two
// lists, and for every worker count.
func TestScopeSharedLists(t *testing.T) {
	const n = 300
	r := rand.New(rand.NewPCG(7, 8))
	for _, w := range []int{1, 3} {
		p := streamer.NewPool(w)
		sc := NewCollector(p)
		for _, m := range scopeMetrics(t, n, 2) {
			var lists [][]int32
			for l := range 4 {
				ids := randomLists(r, n, 1, 20+40*l)[0]
				if l == 1 { // repeats, in a list that block [32, 48) takes alone
					ids = append(ids, ids[0], ids[3])
				}
				lists = append(lists, ids)
			}
			nq := 90
			qids, listOf := make([]int32, nq), make([]int32, nq)
			radius := make([]float64, nq)
			offsets := []int{0}
			var flat []int32
			for i := range nq {
				qids[i], listOf[i] = int32(r.IntN(n)), int32(min(3, i/25)) // runs of 25: blocks of 16 straddle
				radius[i] = 0.3
				if m.Name() == "residual" {
					radius[i] = 0.85
				}
				flat = append(flat, lists[listOf[i]]...)
				offsets = append(offsets, len(flat))
			}
			for _, capN := range []int{0, 30} {
				base := Request{Metric: m, Queries: m.Data(), QueryIDs: qids, Radius: radius, Candidates: m.Data(), ScanCap: capN, QueryBlock: 16, Chunk: 37}
				csr, shared := base, base
				csr.SparseOffsets, csr.SparseIDs = offsets, flat
				shared.Lists, shared.ListOf = lists, listOf
				var wrapped atomic.Int64
				shared.Wrap = func(fn func(w, t int)) func(w, t int) {
					return func(w, t int) { wrapped.Add(1); fn(w, t) }
				}
				want, err := sc.Collect(context.Background(), csr)
				if err != nil {
					t.Fatal(err)
				}
				got, err := sc.Collect(context.Background(), shared)
				if err != nil {
					t.Fatal(err)
				}
				var tasks int64
				for _, j := range got.Stats.Jobs {
					tasks += int64(j.Tasks)
				}
				if wrapped.Load() != tasks || tasks == 0 {
					t.Fatalf("Wrap ran %d of %d tasks", wrapped.Load(), tasks)
				}
				if !sameScope(got, want) || !slices.Equal(got.Next, want.Next) || got.Stats.Dedupe != want.Stats.Dedupe || got.Stats.Saturated != want.Stats.Saturated {
					t.Fatalf("%s cap %d workers %d: shared lists differ from CSR (dedupe %d/%d)", m.Name(), capN, w, got.Stats.Dedupe, want.Stats.Dedupe)
				}
				wm, wd := naiveScope(m, csr, func(i int) []int32 {
					var out []int32
					for _, id := range lists[listOf[i]] {
						if !slices.Contains(out, id) {
							out = append(out, id)
						}
					}
					return out
				})
				checkScope(t, m.Name()+"/shared", got, wm, wd)
			}
		}
		p.Close()
	}
}

// TestScopeCancel: a cancelled collection returns ctx.Err(), leaves no
// goroutine behind, and the collector stays usable.
func TestScopeCancel(t *testing.T) {
	m := scopeMetrics(t, 2000, 3)[0]
	pool := streamer.NewPool(2)
	defer pool.Close()
	sc := NewCollector(pool)
	nq := 300
	radius := make([]float64, nq)
	for i := range radius {
		radius[i] = 0.9
	}
	all := metric.Range(0, 2000)
	req := Request{Metric: m, Queries: m.Data(), QueryIDs: nil, Radius: radius[:nq], Candidates: m.Data(), Dense: &all, QueryBlock: 8, Chunk: 64}
	req.Queries = m.Data()
	req.QueryIDs = make([]int32, nq)
	for i := range req.QueryIDs {
		req.QueryIDs[i] = int32(i * 5)
	}
	before := kerneltest.Goroutines()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sc.Collect(ctx, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := sc.Collect(ctx, req); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: err = %v", err)
	}
	if _, err := sc.Collect(context.Background(), req); err != nil {
		t.Fatalf("after cancel: %v", err)
	}
	kerneltest.NoGoroutinesLeft(t, before)
}

// randomLists returns count lists of size distinct ids of 0..n-1.
func randomLists(r *rand.Rand, n, count, size int) [][]int32 {
	lists := make([][]int32, count)
	for l := range lists {
		for _, id := range r.Perm(n)[:size] {
			lists[l] = append(lists[l], int32(id))
		}
	}
	return lists
}

// TestSortMembers: sortMembers orders ids ascending, carrying their
// distances, and keeps repeated ids in their scan order (a stable sort),
// on short and long lists, sorted or not.
func TestSortMembers(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	sw := &scopeWorker{}
	for _, n := range []int{0, 1, 2, 17, 300, 5000} {
		for _, span := range []int{1, 3, n + 1, 1 << 30} {
			ids, d := make([]int32, n), make([]float64, n)
			for j := range ids {
				ids[j], d[j] = int32(r.IntN(span)), float64(j) // d records the scan position
			}
			type pair struct {
				id int32
				d  float64
			}
			want := make([]pair, n)
			for j := range ids {
				want[j] = pair{ids[j], d[j]}
			}
			slices.SortStableFunc(want, func(a, b pair) int { return cmp.Compare(a.id, b.id) })
			sw.sortMembers(ids, d)
			for j := range want {
				if ids[j] != want[j].id || d[j] != want[j].d {
					t.Fatalf("n = %d, ids below %d: place %d holds (%d, %v), want (%d, %v)", n, span, j, ids[j], d[j], want[j].id, want[j].d)
				}
			}
		}
	}
}
