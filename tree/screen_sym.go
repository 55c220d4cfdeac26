package tree

import (
	"context"
	"sync"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
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
	n, k := data.N, opt.K
	best := kernels.NewKBest(n, k)
	nb := (n + symBlock - 1) / symBlock
	locks := make([]sync.Mutex, nb)
	rows := make([]screenRow, n)
	span := func(b int) (int, int) { return b * symBlock, min(n, (b+1)*symBlock) }
	// Heavy points (p near the jitter: every pair of theirs would stay
	// undecided) are computed in float64 in a pass of their own.
	limit := sc.s.Heavy()
	heavy := make([]bool, n)
	var hids []int32
	for i := range n {
		if heavyPoint(data, i, limit) {
			heavy[i] = true
			hids = append(hids, int32(i))
		}
	}
	p, release := opt.pool()
	defer release()
	type scratch struct {
		w        *metric.Workspace
		buf      scanBuf
		tile, tr []float64
	}
	ws := make([]*scratch, p.Workers())
	get := func(w int) *scratch {
		if ws[w] == nil {
			ws[w] = &scratch{w: metric.NewWorkspace()}
		}
		return ws[w]
	}
	// onBlocks runs f for tasks 0..n-1; with progress, they are reported
	// (the pairs of blocks: the search's bulk).
	onBlocks := func(n int, progress bool, f func(s *scratch, t int)) error {
		run := func(w, t int) { f(get(w), t) }
		if progress {
			run = opt.ticker(n, run)
		}
		_, err := p.RunContext(ctx, n, labelled(phaseBrute, run))
		return err
	}

	// 1. Diagonal tiles.
	err := onBlocks(nb, false, func(s *scratch, b int) {
		i0, i1 := span(b)
		ni := i1 - i0
		s.tile = grow(s.tile, ni*ni)
		m.Tile(s.w, s.tile, ni, data, metric.Range(i0, i1), data, metric.Range(i0, i1))
		for i := i0; i < i1; i++ {
			scanRow(best, i, s.tile[(i-i0)*ni:(i-i0+1)*ni], int32(i0), int32(i))
			rows[i].startFrom(best, i)
		}
		sc.full.Add(int64(ni * ni))
	})
	if err != nil {
		return best, err
	}

	// 2. The other pairs of blocks.
	type pair struct{ bi, bj int }
	pairs := make([]pair, 0, nb*(nb-1)/2)
	for bi := 0; bi < nb; bi++ {
		for bj := 0; bj < bi; bj++ {
			pairs = append(pairs, pair{bi, bj})
		}
	}
	err = onBlocks(len(pairs), true, func(s *scratch, t int) {
		pr := pairs[t]
		i0, i1 := span(pr.bi)
		j0, j1 := span(pr.bj)
		if sc.off.Load() {
			s.tile, s.tr = grow(s.tile, (i1-i0)*(j1-j0)), grow(s.tr, (i1-i0)*(j1-j0))
			symTile(m, s.w, s.tile, s.tr, best, locks, heavy, pr.bi, pr.bj, i0, i1, j0, j1) // heavy pairs: their own pass
			sc.full.Add(int64(2 * (i1 - i0) * (j1 - j0)))
			return
		}
		sc.screenPair(s.w, &s.buf, rows, heavy, locks, k, pr.bi, pr.bj, i0, i1, j0, j1)
	})
	if err != nil {
		return best, err
	}

	// The heavy points' rows outside their own blocks, in float64: each
	// pair offered to the heavy point and, when the other is light, to it.
	const hchunk = 16
	err = onBlocks((len(hids)+hchunk-1)/hchunk, false, func(s *scratch, t int) {
		hs := hids[t*hchunk : min(len(hids), (t+1)*hchunk)]
		for b := 0; b < nb; b++ {
			j0, j1 := span(b)
			nj := j1 - j0
			s.tile = grow(s.tile, len(hs)*nj)
			m.Tile(s.w, s.tile, nj, data, metric.List(hs), data, metric.Range(j0, j1))
			for r, h := range hs {
				if int(h)/symBlock == b {
					continue // its own block: the diagonal tile's
				}
				scanRow(best, int(h), s.tile[r*nj:(r+1)*nj], int32(j0), -1)
			}
			locks[b].Lock()
			for r, h := range hs {
				if int(h)/symBlock == b {
					continue
				}
				for j := j0; j < j1; j++ {
					if d := s.tile[r*nj+j-j0]; !heavy[j] && d <= best.Worst(j) {
						best.Push(j, h, d)
					}
				}
			}
			locks[b].Unlock()
			sc.full.Add(int64(len(hs) * nj))
		}
	})
	if err != nil {
		return best, err
	}

	// 4. What stayed pending, in float64.
	err = onBlocks(nb, false, func(s *scratch, b int) {
		i0, i1 := span(b)
		s.buf.rows = rows[i0:i1]
		sc.finish(s.w, &s.buf, best, data, metric.Range(i0, i1), metric.Range(i0, i1))
	})
	return best, err
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
		rows[i].prune()
	}
	locks[bi].Unlock()
	locks[bj].Lock()
	for x := range h.Cand {
		offer(&rows[h.Cand[x]], int32(i0)+h.Query[x], x)
	}
	for j := j0; j < j1; j++ {
		rows[j].prune()
	}
	locks[bj].Unlock()
	sc.screened.Add(int64(2 * ni * nj))
	sc.keep(kept)
}
