package tree

import (
	"context"
	"time"

	"github.com/pcct/pcct/streamer"
)

// MaxMinOrder returns the exact max-min ordering of the points (as
// Tree.MaxMinOrder defines it, the same order bit for bit), each step's
// range query running through the k-d tree (within), on the calling
// goroutine. OrderMaxMin runs the same ordering with its steps on a pool.
func (t *KDTree) MaxMinOrder(ctx context.Context, first int) ([]int32, error) {
	order, _, err := t.maxMinOrder(ctx, first, nil, nil, 1)
	return order, err
}

// maxMinOrder is MaxMinOrder with ties to the lower rank (nil: index),
// with its statistics. With a pool p (nil: none), the steps are decided
// in batches (see maxMinOrder) whose range queries run as one task each,
// and the batch's hits lower the tournament in parts for split workers;
// without one, one step at a time on the calling goroutine. A step's
// range query costs a few microseconds, about what deciding it in a
// batch costs, so batches pay only on more than one worker (10^6 points,
// d = 2: one step at a time 2.1-2.5 s; batches 2.2-2.5 s on one worker,
// 1.2-2.2 s on two, projected 0.67 s on 16).
func (t *KDTree) maxMinOrder(ctx context.Context, first int, rank []int32, p *streamer.Pool, split int) ([]int32, QueryStats, error) {
	t0 := time.Now()
	kws := []*kdWorker{newKDWorker()}
	batchSize := 1
	if p != nil {
		kws, batchSize = make([]*kdWorker, p.Workers()), maxMinBatch
		for w := range kws {
			kws[w] = newKDWorker()
		}
	}
	x, d := t.m.Data().X, t.d
	// step puts into out the points within r of point q that it would
	// bring closer to the chosen set (below their mind).
	step := func(kw *kdWorker, q int32, r float64, mind []float64, out []rangeHit) []rangeHit {
		t.within(kw, x[int(q)*d:int(q+1)*d], r, func(id int32, dist float64) {
			if dist < mind[id] {
				out = append(out, rangeHit{id, dist})
			}
		})
		return out
	}
	var st orderStats
	steps := func(ctx context.Context, qids []int32, radii, mind []float64, hits [][]rangeHit) error {
		if len(qids) == 1 {
			hits[0] = step(kws[0], qids[0], radii[0], mind, hits[0][:0])
			return nil
		}
		js, err := p.RunContext(ctx, len(qids), labelled(phaseQuery, func(w, i int) {
			hits[i] = step(kws[w], qids[i], radii[i], mind, hits[i][:0])
		}))
		st.use.add(js)
		return err
	}
	order, err := maxMinOrder(ctx, t.m, first, rank, batchSize, steps, p, split, &st)
	qs := QueryStats{Distances: st.dists, Wall: time.Since(t0)}
	for _, kw := range kws {
		qs.Distances += kw.dists
	}
	u := &st.use
	qs.Utilisation, qs.Serial = u.utilisation(), u.serial(qs.Wall)
	qs.Busy, qs.Steals = u.perWorker, u.steals
	return order, qs, err
}
