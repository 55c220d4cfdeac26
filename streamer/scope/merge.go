package scope

import (
	"context"
	"slices"

	"github.com/pcct/pcct/streamer"
)

// merge gathers the tiles' hits query by query, sorts each query's members
// by id and drops repeated ids. Every task belongs to one query block
// (blockOf), so the work runs on the pool block by block: one pass counts
// each query's hits, a prefix sum places the queries, and a second pass
// copies a block's hits (its tasks in task order, which is chunk order),
// sorts and de-duplicates them. Only when some id was repeated does a
// serial pass close the gaps. The output does not depend on the worker
// count.
func (c *Collector) merge(ctx context.Context, r *Request, nq int, listLen func(i int) int, results [][]hit, blockOf func(t int) int) (*Result, []streamer.JobStats, error) {
	nblocks := (nq + r.QueryBlock - 1) / r.QueryBlock
	tasks := make([][]int32, nblocks)
	for t, hs := range results {
		if len(hs) > 0 {
			b := blockOf(t)
			tasks[b] = append(tasks[b], int32(t))
		}
	}
	s := &Result{Offsets: make([]int, nq+1), Saturated: make([]bool, nq), Next: make([]int, nq)}
	var jobs []streamer.JobStats
	st, err := c.run(ctx, r, nblocks, func(_, b int) {
		for _, t := range tasks[b] {
			for _, h := range results[t] {
				s.Offsets[h.q+1]++
			}
		}
	})
	jobs = append(jobs, st)
	if err != nil {
		return nil, jobs, err
	}
	for i := 0; i < nq; i++ {
		s.Offsets[i+1] += s.Offsets[i]
	}
	total := s.Offsets[nq]
	s.Members, s.Dist = make([]int32, total), make([]float64, total)
	kept := make([]int, nq) // a cursor while copying, then the distinct count
	st, err = c.run(ctx, r, nblocks, func(w, b int) {
		for _, t := range tasks[b] {
			for _, h := range results[t] {
				p := s.Offsets[h.q] + kept[h.q]
				s.Members[p], s.Dist[p] = h.id, h.d
				kept[h.q]++
			}
		}
		for i := b * r.QueryBlock; i < min(nq, (b+1)*r.QueryBlock); i++ {
			_, hi, sat := r.window(i, listLen(i))
			s.Saturated[i], s.Next[i] = sat, hi
			kept[i] = c.ws[w].distinct(s.Members[s.Offsets[i]:s.Offsets[i+1]], s.Dist[s.Offsets[i]:s.Offsets[i+1]])
		}
	})
	jobs = append(jobs, st)
	if err != nil {
		return nil, jobs, err
	}
	s.compact(kept)
	return s, jobs, nil
}

// distinct sorts one query's members m (with their distances d) by id and
// moves the first of each id to the front, returning how many there are.
func (sw *scopeWorker) distinct(m []int32, d []float64) int {
	sw.sortMembers(m, d)
	k := 0
	for j := range m {
		if k > 0 && m[j] == m[k-1] {
			continue
		}
		m[k], d[k] = m[j], d[j]
		k++
	}
	sw.counters.Dedupe += int64(len(m) - k)
	return k
}

// compact closes the gaps that repeated ids left: query i keeps the first
// kept[i] members of its span.
func (s *Result) compact(kept []int) {
	nq := len(kept)
	out := 0
	for i := 0; i < nq; i++ {
		lo := s.Offsets[i]
		if out != lo {
			copy(s.Members[out:], s.Members[lo:lo+kept[i]])
			copy(s.Dist[out:], s.Dist[lo:lo+kept[i]])
		}
		s.Offsets[i] = out
		out += kept[i]
	}
	s.Offsets[nq] = out
	s.Members, s.Dist = s.Members[:out], s.Dist[:out]
}

// sortMembers sorts ids ascending, carrying their distances; stable, so
// equal ids keep their scan order. The ids (non-negative) and their
// places are packed into one key each and sorted as integers: a node's
// scope can hold thousands of members (many duplicate points), where a
// stable sort by swaps took most of an insertion's time.
func (sw *scopeWorker) sortMembers(ids []int32, d []float64) {
	if slices.IsSorted(ids) {
		return
	}
	sw.keys, sw.dists = slices.Grow(sw.keys[:0], len(ids)), append(sw.dists[:0], d...)
	for j, id := range ids {
		sw.keys = append(sw.keys, uint64(id)<<32|uint64(j))
	}
	slices.Sort(sw.keys)
	for j, k := range sw.keys {
		ids[j], d[j] = int32(k>>32), sw.dists[uint32(k)]
	}
}
