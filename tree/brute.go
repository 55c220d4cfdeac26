package tree

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// KNNOptions configures a k-nearest-neighbour search.
type KNNOptions struct {
	K int // neighbours per query, >= 1
	// Predecessor restricts point i to neighbours j < i (the Vecchia
	// ordering): point 0 gets none, point i < K gets i, the rest padded.
	// With a Rank, "<" compares Rank: j precedes i when Rank[j] < Rank[i].
	Predecessor bool
	// Workers is the number of goroutines; 0 means GOMAXPROCS. Results are
	// identical for every value.
	Workers int
	// Pool, if not nil, runs the search (its worker count wins over
	// Workers); otherwise a pool is started for the call.
	Pool *streamer.Pool
	// QueryBlock and CandidateBlock set the tile shape; 0 picks defaults
	// (64 x 512: the V rows of a query block stay in L2 while candidate rows
	// stream through).
	QueryBlock, CandidateBlock int
	// Gate selects float32 screening for brute force (GateScreen: predecessor
	// mode and query sets; the symmetric all-points search computes every
	// pair once and is not screened). ScreenStats, if not nil, receives
	// the screening counts.
	Gate        Gate
	ScreenStats *ScreenStats
	// NoCopy keeps the search from adding float32 copies (EnableScreening,
	// AddScreening) to the metric or to the query set, for a metric that
	// other goroutines search at the same time: GateAuto then screens only
	// sets that have their copies, and GateScreen refuses the others.
	NoCopy bool
	// Profile and LookupQuantile configure GateLookup (the quantile of the
	// profile's float32 error it trusts; 0 means 1, the largest seen).
	Profile        *metric.GateProfile
	LookupQuantile float64
	// Progress, if not nil, is called as each task of a search's pool jobs
	// finishes, with the tasks done and the job's total. It runs on the
	// pool's workers: it must be safe for concurrent use, and quick.
	Progress func(done, total int)
	// Rank, when not nil, breaks ties between candidates by Rank[id]
	// instead of id: the points are stored in another order (for example
	// metric.ResidualConfig.Order, for memory locality) and the answer
	// must be the one their original order gives. Rank[i] is point i's
	// index in that order, a permutation of 0..n-1 over the data points.
	// With Predecessor the predecessors follow it too; the cover tree must
	// then have been built with the same Rank (Options.Rank), and the k-d
	// tree does not take one.
	Rank []int32
	// use, when not nil, receives the brute-force searches' pool jobs
	// (bruteAll and KNNSearch report them).
	use *usage
	// structured is set where auto's probe has found structure, so that
	// the tree's auto gate need not probe again (treeScreening).
	structured bool
}

// ticker returns the task wrapper that reports progress for a job of
// total tasks (fn unchanged without Progress).
func (o *KNNOptions) ticker(total int, fn func(w, t int)) func(w, t int) {
	if o.Progress == nil {
		return fn
	}
	var done atomic.Int64
	report := o.Progress
	return func(w, t int) {
		fn(w, t)
		report(int(done.Add(1)), total)
	}
}

// pool returns the pool to run on: opt.Pool, or a new one that release
// closes.
func (o *KNNOptions) pool() (p *streamer.Pool, release func()) {
	if o.Pool != nil {
		return o.Pool, func() {}
	}
	p = streamer.NewPool(o.Workers)
	return p, p.Close
}

func (o *KNNOptions) defaults() {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.QueryBlock <= 0 {
		o.QueryBlock = 64
	}
	if o.CandidateBlock <= 0 {
		o.CandidateBlock = 512
	}
}

// BruteAllKNN finds for every data point its K nearest other data points
// (or, with Predecessor, its K nearest predecessors) by exact blocked brute
// force. A point is never its own neighbour; duplicates of it are. Rows
// with fewer than K candidates (K >= n, or the first points in predecessor
// mode) are padded with -1 and +Inf. When ctx is done the search stops
// within one tile's time and returns ctx.Err().
func BruteAllKNN(ctx context.Context, m metric.Metric, opt KNNOptions) (*Neighbours, error) {
	n := m.Data().N
	if err := checkK(opt, n); err != nil {
		return nil, err
	}
	raw := opt
	opt.defaults()
	data := m.Data()
	sc, err := newScreening(ctx, m, data, opt)
	if err != nil {
		return nil, err
	}
	ord, err := sc.rankOrder(opt, n)
	if err != nil {
		return nil, err
	}
	if !opt.Predecessor && (sc == nil || sc.off.Load()) {
		// Unscreened, every pair once, offered to both of its points.
		best, err := bruteAllSymmetric(ctx, m, opt)
		if opt.ScreenStats != nil {
			*opt.ScreenStats = sc.stats()
		}
		return wrap(best, err)
	}
	if !opt.Predecessor && sc.margin == nil {
		best, err := bruteAllScreened(ctx, m, sc, opt)
		if opt.ScreenStats != nil {
			*opt.ScreenStats = sc.stats()
		}
		return wrap(best, err)
	}
	// Predecessors; or all points with the lookup gate's margins, each row
	// scanning every other point.
	rule := predecessors
	if !opt.Predecessor {
		rule = notSelf
	}
	sc.tileShape(raw, &opt)
	best := opt.ranked(kernels.NewKBest(n, opt.K))
	err = run(ctx, opt, queryBlocks(sc, data, opt.QueryBlock, ord), func(w *metric.Workspace, buf *scanBuf, qb queryBlock) {
		scanQueries(m, qb.sc, w, buf, best, data, qb.rows, opt.CandidateBlock, rule, ord)
	})
	if opt.ScreenStats != nil {
		*opt.ScreenStats = sc.stats()
	}
	return wrap(best, err)
}

// symBlock is the side of the square tiles of the symmetric all-points
// search (256 measured 3 % faster than 128 at n = 8192; tests shrink it).
var symBlock = 256

// symTile computes the float64 tile of blocks bi (points i0..i1) and bj
// (j0..j1) into tile and offers it to both: rows to bi's points (not to
// themselves), under bi's lock, and, when the blocks differ, columns
// (transposed into tr) to bj's, under bj's. Pairs with a point marked in
// skip (nil: none) are not offered (NaN never enters a row).
func symTile(m metric.Metric, w *metric.Workspace, tile, tr []float64, best *kernels.KBest, locks []sync.Mutex, skip []bool, bi, bj, i0, i1, j0, j1 int) {
	data := m.Data()
	ni, nj := i1-i0, j1-j0
	m.Tile(w, tile, nj, data, metric.Range(i0, i1), data, metric.Range(j0, j1))
	if skip != nil {
		for i := i0; i < i1; i++ {
			for j := j0; j < j1; j++ {
				if skip[i] || skip[j] {
					tile[(i-i0)*nj+j-j0] = math.NaN()
				}
			}
		}
	}
	locks[bi].Lock()
	for i := i0; i < i1; i++ {
		scanRow(best, i, tile[(i-i0)*nj:(i-i0+1)*nj], int32(j0), int32(i))
	}
	locks[bi].Unlock()
	if bi == bj {
		return
	}
	for a := 0; a < ni; a++ {
		for b := 0; b < nj; b++ {
			tr[b*ni+a] = tile[a*nj+b]
		}
	}
	locks[bj].Lock()
	for j := j0; j < j1; j++ {
		scanRow(best, j, tr[(j-j0)*ni:(j-j0+1)*ni], int32(i0), -1)
	}
	locks[bj].Unlock()
}

// bruteAllSymmetric computes each pair of point blocks once and offers the
// tile to both sides: rows to the first block's points, columns to the
// second's. The distances are exactly symmetric (see kernels.ResidualRow),
// and KBest keeps the k smallest (distance, index) pairs whatever order
// they arrive in, so the answer equals the one-sided search bit for bit.
// Each block's rows are updated under its own mutex, taken once per tile.
func bruteAllSymmetric(ctx context.Context, m metric.Metric, opt KNNOptions) (*kernels.KBest, error) {
	data := m.Data()
	n := data.N
	best := opt.ranked(kernels.NewKBest(n, opt.K))
	nb := (n + symBlock - 1) / symBlock
	locks := make([]sync.Mutex, nb)
	type pair struct{ bi, bj int }
	pairs := make([]pair, 0, nb*(nb+1)/2)
	for bi := 0; bi < nb; bi++ {
		for bj := 0; bj <= bi; bj++ {
			pairs = append(pairs, pair{bi, bj})
		}
	}
	p, release := opt.pool()
	defer release()
	type scratch struct {
		w        *metric.Workspace
		tile, tr []float64
	}
	ws := make([]*scratch, p.Workers())
	js, err := p.RunContext(ctx, len(pairs), labelled(phaseBrute, opt.ticker(len(pairs), func(w, t int) {
		sc := ws[w]
		if sc == nil {
			sc = &scratch{w: metric.NewWorkspace(), tile: make([]float64, symBlock*symBlock), tr: make([]float64, symBlock*symBlock)}
			ws[w] = sc
		}
		pr := pairs[t]
		i0, i1 := pr.bi*symBlock, min(n, (pr.bi+1)*symBlock)
		j0, j1 := pr.bj*symBlock, min(n, (pr.bj+1)*symBlock)
		symTile(m, sc.w, sc.tile, sc.tr, best, locks, nil, pr.bi, pr.bj, i0, i1, j0, j1)
	})))
	opt.use.add(js)
	return best, err
}

// checkK refuses k < 1 and a Rank that is not a permutation of the n
// data points.
func checkK(opt KNNOptions, n int) error {
	if opt.K < 1 {
		return metric.BadInput("k must be at least 1, got %d", opt.K)
	}
	if opt.Rank == nil {
		return nil
	}
	if _, err := metric.InversePerm(opt.Rank, n); err != nil {
		return fmt.Errorf("rank (KNNOptions.Rank): %w", err)
	}
	return nil
}

// ranked gives b the options' Rank for its ties and returns it.
func (o *KNNOptions) ranked(b *kernels.KBest) *kernels.KBest {
	b.Rank = o.Rank
	return b
}

// checkQuerySet refuses what a k-NN search of a query set qs against the
// points of data cannot answer: k < 1, predecessor mode (which needs the
// data points as queries: the AllKNN calls), sets of another metric.
func checkQuerySet(data, qs *metric.Set, opt KNNOptions) error {
	if err := checkK(opt, data.N); err != nil {
		return err
	}
	if opt.Predecessor {
		return metric.BadInput("predecessor mode needs the data points as queries: use the all-points search (AllKNN, BruteAllKNN)")
	}
	return metric.Compatible(data, qs)
}

// BruteKNN finds the K nearest data points of every point of the query set
// qs (from m.Embed) by exact blocked brute force; rows are padded with -1
// and +Inf when K > n. Cancellation as for BruteAllKNN.
func BruteKNN(ctx context.Context, m metric.Metric, qs *metric.Set, opt KNNOptions) (*Neighbours, error) {
	if err := checkQuerySet(m.Data(), qs, opt); err != nil {
		return nil, err
	}
	raw := opt
	opt.defaults()
	sc, err := newScreening(ctx, m, qs, opt)
	if err != nil {
		return nil, err
	}
	sc.tileShape(raw, &opt)
	best := opt.ranked(kernels.NewKBest(qs.N, opt.K))
	err = run(ctx, opt, queryBlocks(sc, qs, opt.QueryBlock, nil), func(w *metric.Workspace, buf *scanBuf, qb queryBlock) {
		scanQueries(m, qb.sc, w, buf, best, qs, qb.rows, opt.CandidateBlock, allCands, nil)
	})
	if opt.ScreenStats != nil {
		*opt.ScreenStats = sc.stats()
	}
	return wrap(best, err)
}

// rankOrder is the order of a predecessor search whose predecessors
// follow a Rank (the points stored in another order): point i stands at
// position rank[i], position p holds point byRank[p]. A nil *rankOrder is
// the points' own order. The scans take their query blocks and candidate
// blocks by position, so that a row's candidates are a prefix of them,
// and read the candidates' rows by id.
type rankOrder struct{ rank, byRank []int32 }

// predOrder returns the rankOrder of opt's predecessor search, or nil
// when it has no Rank or no predecessors.
func predOrder(opt KNNOptions, n int) (*rankOrder, error) {
	if !opt.Predecessor || opt.Rank == nil {
		return nil, nil
	}
	byRank, err := metric.InversePerm(opt.Rank, n)
	if err != nil {
		return nil, err
	}
	return &rankOrder{rank: opt.Rank, byRank: byRank}, nil
}

// rankOrder returns the rankOrder of opt's search of the data (n
// points): the one the probe used, or predOrder's where none probed.
func (sc *screening) rankOrder(opt KNNOptions, n int) (*rankOrder, error) {
	if sc != nil && sc.ord != nil {
		return sc.ord, nil
	}
	return predOrder(opt, n)
}

// pos returns point i's position.
func (o *rankOrder) pos(i int) int {
	if o == nil {
		return i
	}
	return int(o.rank[i])
}

// at returns the point at position p.
func (o *rankOrder) at(p int) int32 {
	if o == nil {
		return int32(p)
	}
	return o.byRank[p]
}

// points returns the points at the positions pos.
func (o *rankOrder) points(pos []int) []int32 {
	ids := make([]int32, len(pos))
	for x, p := range pos {
		ids[x] = o.at(p)
	}
	return ids
}

// cands returns the points at positions [j0, j1).
func (o *rankOrder) cands(j0, j1 int) metric.Block {
	if o == nil {
		return metric.Range(j0, j1)
	}
	return metric.List(o.byRank[j0:j1])
}

// scanIDs is scanRow for the candidates ids of one tile row.
func scanIDs(best *kernels.KBest, i int, row []float64, ids []int32) {
	idx, dist := best.Row(i)
	for j, d := range row {
		if c := ids[j]; admits(best, idx, dist, c, d) {
			best.Push(i, c, d)
		}
	}
}

// admits reports whether candidate c at distance d enters the row idx,
// dist of best: Push's own test, made before the call.
func admits(best *kernels.KBest, idx []int32, dist []float64, c int32, d float64) bool {
	last := len(idx) - 1
	return d < dist[last] || d == dist[last] && best.Before(c, idx[last])
}

// scanRow offers the candidates base+j of one tile row to best, skipping
// the column of skip. A candidate at the row's worst distance goes in only
// when it goes before the worst (Push's own rule, tested before the
// call: where all points are equal every candidate ties, and calling Push
// for each made brute force five times slower).
func scanRow(best *kernels.KBest, i int, row []float64, base, skip int32) {
	idx, dist := best.Row(i)
	for j, d := range row {
		if c := base + int32(j); admits(best, idx, dist, c, d) && c != skip {
			best.Push(i, c, d)
		}
	}
}

// run hands the query blocks to the pool's workers in order (queryBlocks
// puts the largest indices first: in predecessor mode they have the most
// work).
func run(ctx context.Context, opt KNNOptions, blocks []queryBlock, block func(w *metric.Workspace, buf *scanBuf, qb queryBlock)) error {
	p, release := opt.pool()
	defer release()
	ws := make([]*metric.Workspace, p.Workers())
	bufs := make([]*scanBuf, p.Workers())
	js, err := p.RunContext(ctx, len(blocks), labelled(phaseBrute, opt.ticker(len(blocks), func(w, t int) {
		if ws[w] == nil {
			ws[w], bufs[w] = metric.NewWorkspace(), &scanBuf{}
		}
		block(ws[w], bufs[w], blocks[t])
	})))
	opt.use.add(js)
	return err
}
