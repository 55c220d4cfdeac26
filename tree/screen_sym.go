package tree

import (
	"context"
	"sync"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// bruteAllScreened is the all-points search (no predecessor rule) with
// float32 screening, in bruteAllSymmetric's scheme: each pair of point
// blocks is screened once and serves both of its points. Every point keeps
// its screening state (the k smallest upper bounds seen, the candidates
// not yet proven out) under its block's lock:
//
//  1. the diagonal tiles in float64, offered to best, and each point's
//     bounds started from its k-th distance among them;
//  2. the other pairs of blocks screened once for both sides (a pair is a
//     hit when it could be within the bound of its row or of its column,
//     Screener.ScreenBoth); each hit is then kept or dropped for row i
//     against i's bound and for column j against j's;
//  3. the heavy points' pairs (outside their blocks) in float64, offered
//     to both sides (phase 2 leaves them alone);
//  4. each point's pending candidates computed in float64 and offered.
//
// Every pair is either offered in float64 or proven beyond the k-th
// distance of its point, so the answer is the float64 one bit for bit.
func bruteAllScreened(ctx context.Context, m metric.Metric, sc *screening, opt KNNOptions) (*kernels.KBest, error) {
	data := m.Data()
	n := data.N
	p, release := opt.pool()
	defer release()
	s := &symScreen{m: m, sc: sc, opt: opt, pool: p, n: n,
		nb:    (n + symBlock - 1) / symBlock,
		best:  opt.ranked(kernels.NewKBest(n, opt.K)),
		rows:  make([]screenRow, n),
		heavy: make([]bool, n),
		ws:    make([]*symScratch, p.Workers()),
	}
	s.locks = make([]sync.Mutex, s.nb)
	// Heavy points (p near the jitter: every pair of theirs would stay
	// undecided) are computed in float64 in a pass of their own.
	limit := sc.s.Heavy()
	for i := range n {
		if heavyPoint(data, i, limit) {
			s.heavy[i] = true
			s.hids = append(s.hids, int32(i))
		}
	}
	for _, step := range []func(context.Context) error{s.diagonal, s.offDiagonal, s.heavyRows, s.pending} {
		if err := step(ctx); err != nil {
			return s.best, err
		}
	}
	return s.best, nil
}

// symScreen is the state of one bruteAllScreened search: the answers, each
// point's screening state and its block's lock, and the heavy points.
type symScreen struct {
	m     metric.Metric
	sc    *screening
	opt   KNNOptions
	pool  *streamer.Pool
	n, nb int // points, blocks of symBlock points
	best  *kernels.KBest
	locks []sync.Mutex // by block
	rows  []screenRow  // by point
	heavy []bool       // by point
	hids  []int32      // the heavy points
	ws    []*symScratch
}

type symScratch struct {
	w        *metric.Workspace
	buf      scanBuf
	tile, tr []float64
}

// span returns the points of block b.
func (s *symScreen) span(b int) (int, int) { return b * symBlock, min(s.n, (b+1)*symBlock) }

// onBlocks runs f for tasks 0..n-1 on the pool; with progress, they are
// reported (the pairs of blocks: the search's bulk).
func (s *symScreen) onBlocks(ctx context.Context, n int, progress bool, f func(ws *symScratch, t int)) error {
	run := func(w, t int) {
		if s.ws[w] == nil {
			s.ws[w] = &symScratch{w: metric.NewWorkspace()}
		}
		f(s.ws[w], t)
	}
	if progress {
		run = s.opt.ticker(n, run)
	}
	js, err := s.pool.RunContext(ctx, n, labelled(phaseBrute, run))
	s.opt.use.add(js)
	return err
}

// diagonal tiles each block against itself in float64, offers the pairs
// and starts each point's bounds from its k-th distance among them.
func (s *symScreen) diagonal(ctx context.Context) error {
	data := s.m.Data()
	return s.onBlocks(ctx, s.nb, false, func(ws *symScratch, b int) {
		i0, i1 := s.span(b)
		ni := i1 - i0
		ws.tile = grow(ws.tile, ni*ni)
		s.m.Tile(ws.w, ws.tile, ni, data, metric.Range(i0, i1), data, metric.Range(i0, i1))
		for i := i0; i < i1; i++ {
			scanRow(s.best, i, ws.tile[(i-i0)*ni:(i-i0+1)*ni], int32(i0), int32(i))
			s.rows[i].startFrom(s.best, i)
		}
		s.sc.full.Add(int64(ni * ni))
	})
}

// offDiagonal screens every other pair of blocks once for both sides (or
// tiles it in float64 when the probe turned screening off), leaving the
// heavy points' pairs to heavyRows.
func (s *symScreen) offDiagonal(ctx context.Context) error {
	type pair struct{ bi, bj int }
	pairs := make([]pair, 0, s.nb*(s.nb-1)/2)
	for bi := 0; bi < s.nb; bi++ {
		for bj := 0; bj < bi; bj++ {
			pairs = append(pairs, pair{bi, bj})
		}
	}
	return s.onBlocks(ctx, len(pairs), true, func(ws *symScratch, t int) {
		pr := pairs[t]
		i0, i1 := s.span(pr.bi)
		j0, j1 := s.span(pr.bj)
		if s.sc.off.Load() {
			ws.tile, ws.tr = grow(ws.tile, (i1-i0)*(j1-j0)), grow(ws.tr, (i1-i0)*(j1-j0))
			symTile(s.m, ws.w, ws.tile, ws.tr, s.best, s.locks, s.heavy, pr.bi, pr.bj, i0, i1, j0, j1)
			s.sc.full.Add(int64(2 * (i1 - i0) * (j1 - j0)))
			return
		}
		s.sc.screenPair(ws.w, &ws.buf, s.rows, s.heavy, s.locks, s.opt.K, pr.bi, pr.bj, i0, i1, j0, j1)
	})
}

// heavyRows computes the heavy points' rows outside their own blocks in
// float64: each pair offered to the heavy point and, when the other is
// light, to it.
func (s *symScreen) heavyRows(ctx context.Context) error {
	const hchunk = 16
	data := s.m.Data()
	return s.onBlocks(ctx, (len(s.hids)+hchunk-1)/hchunk, false, func(ws *symScratch, t int) {
		hs := s.hids[t*hchunk : min(len(s.hids), (t+1)*hchunk)]
		for b := 0; b < s.nb; b++ {
			j0, j1 := s.span(b)
			nj := j1 - j0
			ws.tile = grow(ws.tile, len(hs)*nj)
			s.m.Tile(ws.w, ws.tile, nj, data, metric.List(hs), data, metric.Range(j0, j1))
			for r, h := range hs {
				if int(h)/symBlock != b { // its own block is the diagonal tile's
					scanRow(s.best, int(h), ws.tile[r*nj:(r+1)*nj], int32(j0), -1)
				}
			}
			s.locks[b].Lock()
			for r, h := range hs {
				if int(h)/symBlock == b {
					continue
				}
				for j := j0; j < j1; j++ {
					if d := ws.tile[r*nj+j-j0]; !s.heavy[j] && d <= s.best.Worst(j) {
						s.best.Push(j, h, d)
					}
				}
			}
			s.locks[b].Unlock()
			s.sc.full.Add(int64(len(hs) * nj))
		}
	})
}

// pending computes what stayed pending in float64 and offers it.
func (s *symScreen) pending(ctx context.Context) error {
	data := s.m.Data()
	return s.onBlocks(ctx, s.nb, false, func(ws *symScratch, b int) {
		i0, i1 := s.span(b)
		ws.buf.rows = s.rows[i0:i1]
		s.sc.finish(ws.w, &ws.buf, s.best, data, metric.Range(i0, i1), metric.Range(i0, i1))
	})
}

// screenPair screens the tile of blocks bi (rows i0..i1) and bj (columns
// j0..j1) for both sides.
func (sc *screening) screenPair(w *metric.Workspace, buf *scanBuf, rows []screenRow, heavy []bool, locks []sync.Mutex, k, bi, bj, i0, i1, j0, j1 int) {
	data := sc.m.Data()
	ni, nj := i1-i0, j1-j0
	// Bounds only shrink: a stale one is looser, never wrong.
	buf.kth2 = grow(buf.kth2, ni+nj)
	rowK, colK := buf.kth2[:ni], buf.kth2[ni:]
	locks[bj].Lock()
	for j := j0; j < j1; j++ {
		colK[j-j0] = rows[j].ubMax
	}
	locks[bj].Unlock()
	locks[bi].Lock()
	for i := i0; i < i1; i++ {
		rowK[i-i0] = rows[i].ubMax
	}
	locks[bi].Unlock()
	buf.hits.Reset()
	sc.s.ScreenBoth(w, data, metric.Range(i0, i1), data, metric.Range(j0, j1), rowK, colK, &buf.hits)
	h := &buf.hits
	kept := 0
	offer := func(r *screenRow, cand int32, x int) {
		if heavy[i0+int(h.Query[x])] || heavy[h.Cand[x]] {
			return // the heavy pass's
		}
		r.offerBound(k, h.Hi2[x])
		if !(h.Lo2[x] > r.ubMax) {
			r.pending = append(r.pending, pendingCand{cand, h.Lo2[x]})
			kept++
		}
	}
	locks[bi].Lock()
	for x := range h.Cand {
		offer(&rows[i0+int(h.Query[x])], h.Cand[x], x)
	}
	for i := i0; i < i1; i++ {
		rows[i].tidy()
	}
	locks[bi].Unlock()
	locks[bj].Lock()
	for x := range h.Cand {
		offer(&rows[h.Cand[x]], int32(i0)+h.Query[x], x)
	}
	for j := j0; j < j1; j++ {
		rows[j].tidy()
	}
	locks[bj].Unlock()
	sc.screened.Add(int64(2 * ni * nj))
	sc.keep(kept)
}
