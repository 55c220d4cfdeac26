package main

import (
	"fmt"
	"time"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

// layoutMin is the number of points from which --layout auto stores them
// in Morton order.
const layoutMin = 1 << 16

// storageOrder returns the order in which the residual metric stores the
// points (nil: as given). With --layout space, or auto from layoutMin
// points, a job whose answer does not follow the points' order (not
// --predecessor, not --order) stores them along a Morton curve: points
// near in space then lie near in V, so the search's tiles read fewer
// lines from memory. The search breaks ties by the given order
// (KNNOptions.Rank) and the answer is turned back (Neighbours.Unorder),
// so the output is the same bytes.
func (j *knnJob) storageOrder(pool *streamer.Pool) []int32 {
	if !j.spaceLayout() {
		return nil
	}
	t0 := time.Now()
	order := tree.MortonOrder(&metric.Set{N: j.n, D: j.d, X: j.x}, pool)
	fmt.Fprintf(j.info, "pcct knn: layout: the points stored in Morton order (%.3f s); the answer is the given order's\n", time.Since(t0).Seconds())
	return order
}

// spaceLayout reports whether the job stores its points in Morton order.
func (j *knnJob) spaceLayout() bool {
	switch {
	case j.layout == "given" || j.pred || j.order != "given" || j.mf.metric == "euclidean":
		return false
	case j.layout == "space":
		return true
	}
	return j.n >= layoutMin
}

// checkLayout validates --layout: space needs a job it applies to.
func (j *knnJob) checkLayout() error {
	switch {
	case j.layout != "auto" && j.layout != "given" && j.layout != "space":
		return usageErr("unknown --layout %q (want auto, given or space)", j.layout)
	case j.layout == "space" && (j.pred || j.order != "given"):
		return usageErr("--layout space applies to jobs without --predecessor or --order (their answers follow the points' order)")
	case j.layout == "space" && j.mf.metric == "euclidean":
		return usageErr("--layout space applies to the residual metric (the Euclidean k-d tree keeps its own leaf order)")
	}
	return nil
}
