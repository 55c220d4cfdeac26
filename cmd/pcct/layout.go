package main

import (
	"fmt"
	"time"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

// storageOrder returns the order in which the residual metric stores the
// points (nil: as given). With --layout space, or auto from layoutMin
// points, a job of the residual metric stores them along a Morton curve:
// points near in space then lie near in V, so the search's tiles read
// fewer lines from memory. A predecessor job stores them by index band
// first, along the curve within each band (tree.BandOrder): its queries
// of one band read only the lower bands, which the given order already
// keeps together (the curve alone measured no faster than the given order
// there). The search breaks ties by the given order, and with
// --predecessor takes its predecessors in it too (KNNOptions.Rank: the
// tree's lowest indices, bands and groups follow it); the answer is
// turned back (Neighbours.Unorder), so the output is the same bytes. With
// --order the layout is applied to the ordered points (see layoutOf and
// reorder).
func (j *knnJob) storageOrder(pool *streamer.Pool) []int32 {
	if !j.spaceLayout() || j.order != "given" {
		return nil
	}
	return j.layoutOf(j.x, pool)
}

// buildOrder returns the order the metric is built in when it is not the
// storage order: with --order maxmin and a space layout, the ordering's
// range queries run on the points in Morton order (all of them: the
// ordering takes no predecessors), so that its walks read neighbouring
// rows of V, and reorder then moves the rows into the layout of the
// ordered points. Ties go by the given order (KNNOptions.Rank), so the
// ordering is the same (10^6 points, m = 256, 2 workers: 20.5 -> 17.8 s).
func (j *knnJob) buildOrder(pool *streamer.Pool) []int32 {
	if j.order != "maxmin" || !j.spaceLayout() {
		return nil
	}
	t0 := time.Now()
	order := tree.MortonOrder(&metric.Set{N: j.n, D: j.d, X: j.x}, pool)
	fmt.Fprintf(j.info, "pcct knn: layout: the points stored in Morton order for the ordering (%.3f s)\n", time.Since(t0).Seconds())
	return order
}

// layoutOf returns the storage order of the points x (n x d, in the
// order the job's answer follows): tree.BandOrder's for a predecessor
// job, tree.MortonOrder's otherwise.
func (j *knnJob) layoutOf(x []float64, pool *streamer.Pool) []int32 {
	t0 := time.Now()
	s, what := &metric.Set{N: j.n, D: j.d, X: x}, "Morton order"
	var order []int32
	if j.pred {
		order, what = tree.BandOrder(s, pool), "Morton order within index bands"
	} else {
		order = tree.MortonOrder(s, pool)
	}
	fmt.Fprintf(j.info, "pcct knn: layout: the points stored in %s (%.3f s); the answer is the %s order's\n", what, time.Since(t0).Seconds(), j.order)
	return order
}

// spaceLayout reports whether the job stores its points in Morton order
// (by band for predecessors).
func (j *knnJob) spaceLayout() bool {
	switch {
	case j.layout == "given" || j.mf.metric == "euclidean":
		return false
	case j.layout == "space":
		return true
	}
	return j.n >= tree.LayoutMin
}

// checkLayout validates --layout: space needs a job it applies to.
func (j *knnJob) checkLayout() error {
	switch {
	case j.layout != "auto" && j.layout != "given" && j.layout != "space":
		return usageErr("unknown --layout %q (want auto, given or space)", j.layout)
	case j.layout == "space" && j.mf.metric == "euclidean":
		return usageErr("--layout space applies to the residual metric (the Euclidean k-d tree keeps its own leaf order)")
	}
	return nil
}
