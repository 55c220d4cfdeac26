package tree

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// CentralPoint is where pcct starts a max-min ordering, as GpGp does: the
// point of x (n x d, row-major, unscaled coordinates) nearest the
// coordinates' mean (Euclidean, ties to the lower index).
func CentralPoint(x []float64, n, d int) int {
	mean := make([]float64, d)
	for i := range n {
		for k := range d {
			mean[k] += x[i*d+k] / float64(n)
		}
	}
	best, bestD := 0, math.Inf(1)
	for i := range n {
		s := 0.0
		for k := range d {
			s += (x[i*d+k] - mean[k]) * (x[i*d+k] - mean[k])
		}
		if s < bestD {
			best, bestD = i, s
		}
	}
	return best
}

// stepsFunc runs the range queries of a batch of max-min steps: hits[i]
// gets (at least) every point whose computed distance to point qids[i] is
// at most radii[i] and below its mind, with that distance.
type stepsFunc func(ctx context.Context, qids []int32, radii, mind []float64, hits [][]rangeHit) error

// maxMinBatch is the most steps the k-d tree's max-min ordering decides
// at once, and treeMaxMinBatch the cover tree's. A batch is also at most
// as large as the chosen set: a step lowers about the points nearer to it
// than to the chosen set, about n / chosen, and the batch's hits are held
// together. The cover tree's batches are larger because its steps' range
// queries are long and uneven: 128 steps rather than 64 give its jobs
// twice the tasks to share out, and half as many jobs (10^6 points, m =
// 256: one worker's trace projected onto 16 workers 7.9 -> 8.6x, one
// worker 31.0 -> 30.3 s; 262,144 points on 2 workers the same within the
// noise). The k-d tree's steps are short, and its choice, serial, grows
// with the batch faster than they do: at 10^6 points 128 made its serial
// time 0.32 -> 0.36 s and its projection onto 16 workers 5.4 -> 5.2x.
const (
	maxMinBatch     = 64
	treeMaxMinBatch = 128
)

// maxMinOrder computes the max-min ordering of m's points from first.
//
// After the first point's distances to all points, each step takes the
// point farthest from the chosen set and runs a range query around it
// with radius its own max-min distance: no point farther than that can
// have its distance to the chosen set lowered, since every unchosen
// point's is at most the maximum. Points at max-min distance 0
// (duplicates of chosen points) follow in index order. With rank (not
// nil), ties go to the lower rank[i] instead, and the duplicates follow
// in rank order: the order of points stored in another order than the
// caller's (rank[i] is point i's index in the caller's order).
//
// The steps are decided in batches of up to batchSize, exactly as one at
// a time (see batch.choose); then the batch's range queries run together
// (steps) and lower everything else. With a pool p (nil: none), the
// batch's hits lower the tournament, and the next batch's candidates are
// taken out, in parallel parts for split workers (tournament.advance):
// the order is the same for any. ctx is checked every batch.
//
// st gathers the pool jobs it runs and the distances it computes itself
// (the first point's row, the choices' tiles).
func maxMinOrder(ctx context.Context, m metric.Metric, first int, rank []int32, batchSize int, steps stepsFunc, p *streamer.Pool, split int, st *orderStats) ([]int32, error) {
	data := m.Data()
	n := data.N
	if first < 0 || first >= n {
		return nil, metric.BadInput("max-min order: first point %d is not one of the %d points", first, n)
	}
	var byRank []int32 // rank's inverse (nil: the identity)
	if rank != nil {
		var err error
		if byRank, err = metric.InversePerm(rank, n); err != nil {
			return nil, fmt.Errorf("max-min order: rank (KNNOptions.Rank): %w", err)
		}
	}
	mind := make([]float64, n)
	w := metric.NewWorkspace()
	if err := firstRow(ctx, m, first, mind, w, p, &st.use); err != nil {
		return nil, err
	}
	st.dists += int64(n)
	mind[first] = math.Inf(-1) // chosen: never the maximum again
	tt := newTournament(mind, rank)
	order := make([]int32, 1, n)
	order[0] = int32(first)
	b := batch{m: m, w: w, tt: tt, pool: p, use: &st.use}
	parts := 1
	if p != nil {
		parts = tt.applyParts(split)
	}
	// The first batch's candidates (see tournament.advance).
	if err := tt.advance(ctx, p, parts, nil, takePerPart(1, parts), &st.use); err != nil {
		return nil, err
	}
	hits := make([][]rangeHit, batchSize)
	for len(order) < n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ps, radii, err := b.choose(ctx, min(batchSize, len(order)))
		if err != nil {
			return nil, err
		}
		st.dists += int64(len(b.cand) * (len(b.cand) - 1) / 2)
		if len(ps) == 0 { // the best is at 0: the rest are duplicates of chosen points
			for i := range int32(n) {
				if byRank != nil {
					i = byRank[i]
				}
				if mind[i] == 0 {
					order = append(order, i)
				}
			}
			break
		}
		order = append(order, ps...)
		if err := steps(ctx, ps, radii, mind, hits[:len(ps)]); err != nil {
			return nil, err
		}
		next := takePerPart(min(batchSize, len(order)), parts)
		if err := tt.advance(ctx, p, parts, hits[:len(ps)], next, &st.use); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// firstRowCols is the number of columns a task of firstRow tiles.
const firstRowCols = 4096

// firstRow fills mind with point first's distances to every point, in
// tiles of firstRowCols columns: on the pool p, or on the calling
// goroutine (workspace w) without one or where the pairs are cheap. (At
// 10^6 points the residual metric's row took 0.09 s on the calling
// goroutine, a tenth of the ordering's serial time.) The error is the
// context's.
func firstRow(ctx context.Context, m metric.Metric, first int, mind []float64, w *metric.Workspace, p *streamer.Pool, use *usage) error {
	data := m.Data()
	n := data.N
	row := func(w *metric.Workspace, k int) {
		lo, hi := k*firstRowCols, min(n, (k+1)*firstRowCols)
		m.Tile(w, mind[lo:hi], hi-lo, data, metric.Range(first, first+1), data, metric.Range(lo, hi))
	}
	tasks := (n + firstRowCols - 1) / firstRowCols
	if p == nil || tasks == 1 || cheapPairs(m) {
		for k := range tasks {
			row(w, k)
		}
		return ctx.Err()
	}
	ws := make([]*metric.Workspace, p.Workers())
	js, err := p.RunContext(ctx, tasks, func(wk, k int) {
		if ws[wk] == nil {
			ws[wk] = metric.NewWorkspace()
		}
		row(ws[wk], k)
	})
	use.add(js)
	return err
}

// orderStats is what a max-min ordering cost: the pool's jobs and the
// distances computed outside its steps' range queries.
type orderStats struct {
	use   usage
	dists int64
}

// batch chooses maxMinOrder's steps a batch at a time.
type batch struct {
	m     metric.Metric
	w     *metric.Workspace
	tt    *tournament
	pool  *streamer.Pool      // the tile's (nil: the calling goroutine)
	ws    []*metric.Workspace // by worker, for the tile's job
	use   *usage
	steps []int32
	radii []float64
	cand  []int32   // the batch's candidates: the best points when it starts
	cur   []float64 // and their values as the batch goes (-Inf: taken)
	dist  []float64 // their distances: cand[i] to cand[j] at i*len(cand)+j
	taken []int     // the steps, as positions in cand
	head  int       // bestCandidate's: candidates before it are taken or lowered
	low   []int     // the lowered candidates, as positions in cand
}

// choose takes the next steps of the max-min ordering (at most size) that
// can be decided before the range queries of the earlier ones, and
// returns them with their radii (their max-min distances); none when the
// best point is at 0. The best point p is the next step unless a step
// taken in this batch lowers it: its distances to them (distances are
// symmetric bit for bit, so these are the bits the steps' range queries
// will compute) give its value after them, and every other point's value
// can only have fallen below the tournament's. If p keeps its value it is
// taken (marked at -Inf); if not, it is lowered to its new value now (as
// the range queries would) and the next best is tried, up to 2 size
// times.
//
// The candidates are the best points when the batch starts, up to size
// of them (tournament.merge of what advance took out): nearly every step
// of a batch is one of them (at 131,072 points, 1.02 tries a step). They
// are out of the tournament while the batch is chosen, so the best point
// is the best of their values as they go or the best point outside them,
// which no step changes; the batch ends where that is not one of them.
// The steps go to -Inf and stay out; the other candidates keep their
// values now and come back in the next advance. Their distances come from
// one tile of their pairs (see tile), which costs less than a tile of one
// cold row against the steps per try (at 524,288 points the choice,
// serial, went from 1.3 s to 0.74 s of CPU time in a profile). The error
// is the context's, from the tile's job on the pool.
func (b *batch) choose(ctx context.Context, size int) ([]int32, []float64, error) {
	tt := b.tt
	b.steps, b.radii, b.taken = b.steps[:0], b.radii[:0], b.taken[:0]
	var out int32 // the best point outside the candidates (-1: none)
	b.cand, b.cur, out = tt.merge(size, b.cand[:0], b.cur[:0])
	if err := b.tile(ctx); err != nil {
		return nil, nil, err
	}
	b.head, b.low = 0, b.low[:0]
	for tries := 0; len(b.steps) < size && tries < 2*size; tries++ {
		i := b.bestCandidate()
		if i < 0 || b.cur[i] == 0 || out >= 0 && tt.wins(out, tt.v[out], b.cand[i], b.cur[i]) {
			break // the rest at 0 (duplicates), or the best is not a candidate
		}
		p, v := b.cand[i], b.cur[i]
		low := v
		for _, s := range b.taken {
			if d := b.pair(i, s); d < low {
				low = d
			}
		}
		if low < v {
			if !b.lowered(i) {
				b.low = append(b.low, i)
			}
			b.cur[i] = low
			continue
		}
		b.steps, b.radii, b.taken = append(b.steps, p), append(b.radii, v), append(b.taken, i)
		b.cur[i] = math.Inf(-1)
	}
	// The steps at -Inf (chosen: out for good), the other candidates at
	// their values now; they come back in the next advance.
	for i, p := range b.cand {
		tt.v[p] = b.cur[i]
	}
	return b.steps, b.radii, nil
}

// bestCandidate returns the position in cand of the best candidate not
// taken (by the tournament's rule), or -1 when all are. The candidates
// leave the tournament best first, so the first of them neither taken nor
// lowered (head) is the best of those; a lowered one (few: 1.02 tries a
// step) may be better still.
func (b *batch) bestCandidate() int {
	for b.head < len(b.cand) && (math.IsInf(b.cur[b.head], -1) || b.lowered(b.head)) {
		b.head++
	}
	best := -1
	if b.head < len(b.cand) {
		best = b.head
	}
	for _, i := range b.low {
		if v := b.cur[i]; !math.IsInf(v, -1) && (best < 0 || b.tt.wins(b.cand[i], v, b.cand[best], b.cur[best])) {
			best = i
		}
	}
	return best
}

// lowered reports whether candidate i was lowered in this batch.
func (b *batch) lowered(i int) bool { return slices.Contains(b.low, i) }

// tileRows is the number of candidates a task of the choice's tile takes
// as rows.
const tileRows = 8

// tile fills b.dist with the candidates' distances to each other, at
// least the lower triangle (pair reads it either way round: distances are
// symmetric bit for bit). On a pool, each task tiles a block of tileRows
// candidates against those up to its own last; without one, one tile of
// all the pairs runs on the calling goroutine (8 calls by blocks read the
// Euclidean k-d tree's 64 candidates 288 times to find their own pairs,
// against 64 in one call, and made its serial time no shorter). The tile
// was the choice's largest serial part: at 10^6 points the job took the
// ordering's serial time from 2.1 to 1.3 s (one worker's trace), and on 2
// workers the ordering 2.7 % faster at 131,072 points, the same on one.
// (Before the pool's workers waited for their next job, blocks of 16 rows
// as tasks, against all columns, made the ordering 2-10 % slower on 2
// workers: each job's start cost 8-9 µs.)
// A tile of cheap pairs (see cheapPairs) runs on the calling goroutine:
// the job would cost more than the whole tile.
func (b *batch) tile(ctx context.Context) error {
	nc, data := len(b.cand), b.m.Data()
	if nc < 2 {
		return nil
	}
	b.dist = grow(b.dist, nc*nc)
	if b.pool == nil || nc <= tileRows || cheapPairs(b.m) {
		b.m.Tile(b.w, b.dist, nc, data, metric.List(b.cand), data, metric.List(b.cand))
		return nil
	}
	for len(b.ws) < b.pool.Workers() {
		b.ws = append(b.ws, metric.NewWorkspace())
	}
	blocks := (nc + tileRows - 1) / tileRows
	js, err := b.pool.RunContext(ctx, blocks, func(w, k int) {
		r0, r1 := k*tileRows, min(nc, (k+1)*tileRows)
		b.m.Tile(b.ws[w], b.dist[r0*nc:], nc, data, metric.List(b.cand[r0:r1]), data, metric.List(b.cand[:r1]))
	})
	b.use.add(js)
	return err
}

// pair returns the distance between candidates i and j from the tile:
// row max(i, j) holds every column up to its block's last.
func (b *batch) pair(i, j int) float64 {
	if i < j {
		i, j = j, i
	}
	return b.dist[i*len(b.cand)+j]
}

// cheapPairs reports whether m's pairs cost a few nanoseconds each, so
// that a whole choice tile (64 x 64) costs less than a pool job's start:
// the Euclidean metric (0.3 ns a pair at d = 2; the k-d tree's ordering
// at 10^6 points on 2 workers 1.78-1.95 -> 1.65-1.75 s with the tile on
// the caller), against the residual metric's 2-11 ns (m = 64-512).
func cheapPairs(m metric.Metric) bool {
	_, ok := m.(*metric.Euclidean)
	return ok
}
