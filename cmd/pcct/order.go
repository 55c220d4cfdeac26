package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/pcct/pcct/internal/dataio"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

// reorder computes the --order permutation and returns the metric over
// the points in that order (the same rows, so the same distances), or in
// the storage layout of the ordered points (storedPerm).
func (j *knnJob) reorder(ctx context.Context, m metric.Metric, pool *streamer.Pool) (metric.Metric, error) {
	if err := j.computeOrder(ctx, m, pool); err != nil {
		return nil, err
	}
	// In place: V is not copied (the job's peak memory stays one V), and
	// the metric as built is not used again.
	perm := j.storedPerm(pool)
	if j.builtAt != nil { // from given indices to the rows as built
		for i, p := range perm {
			perm[i] = j.builtAt[p]
		}
	}
	return metric.ReorderInPlace(ctx, m, perm, pool)
}

// orderFirst reports whether the ordering is computed from the
// coordinates before the metric is built (coord and maxmin-coords on the
// residual metric): the metric is then built once in its final order
// (firstOrder), with no reordering.
func (j *knnJob) orderFirst() bool {
	return (j.order == "coord" || j.order == "maxmin-coords") && j.mf.metric != "euclidean"
}

// firstOrder computes an ordering of orderFirst's and returns the order
// to build the metric in: the ordered points, in their storage layout.
func (j *knnJob) firstOrder(ctx context.Context, pool *streamer.Pool) ([]int32, error) {
	if err := j.computeOrder(ctx, nil, pool); err != nil {
		return nil, err
	}
	return j.storedPerm(pool), nil
}

// computeOrder sets j.perm to the --order permutation (given indices) and
// reports it: coord and maxmin-coords from the coordinates (before the
// metric exists: m is nil), maxmin under the metric m.
func (j *knnJob) computeOrder(ctx context.Context, m metric.Metric, pool *streamer.Pool) error {
	t0 := time.Now()
	how := ""
	var perm []int32
	var rep tree.Report
	var err error
	switch {
	case j.order == "coord":
		j.perm = coordOrder(j.x, j.n, j.d)
	case j.order == "maxmin-coords" && j.orderFirst():
		perm, rep, err = tree.OrderMaxMinCoords(ctx, j.x, j.n, j.d, j.mf.orderScale(), tree.KNNOptions{Pool: pool})
	default: // maxmin, and maxmin-coords on the Euclidean metric (the same)
		perm, rep, err = j.maxMin(ctx, m, pool)
	}
	if err != nil {
		return err
	}
	if perm != nil {
		j.perm, how, j.orderRep = perm, ": "+describeOrder(rep), &rep
	}
	fmt.Fprintf(j.info, "pcct knn: order: %s (%.3f s%s); indices below are positions in that order\n", j.order, time.Since(t0).Seconds(), how)
	return nil
}

// maxMin returns the exact max-min ordering of the points (given indices)
// from the point nearest their mean, computed on m as built (in the given
// order, or in j.built's, ties then by the given order).
func (j *knnJob) maxMin(ctx context.Context, m metric.Metric, pool *streamer.Pool) ([]int32, tree.Report, error) {
	if j.built != nil {
		var err error
		if j.builtAt, err = metric.InversePerm(j.built, j.n); err != nil {
			return nil, tree.Report{}, err
		}
	}
	return tree.OrderMaxMinStored(ctx, m, tree.CentralPoint(j.x, j.n, j.d), j.built, tree.KNNOptions{Pool: pool})
}

// describeOrder summarises how a max-min ordering ran: the tree it was
// computed on and its build, then its steps (their distances, the pool's
// utilisation over its jobs and the serial time between them, where more
// workers cannot help).
func describeOrder(r tree.Report) string {
	what := "cover tree"
	if r.Method == tree.SearchKD {
		what = "k-d tree"
	}
	q := r.Query
	return fmt.Sprintf("%s built in %.3f s; steps %.3f s (%d distances, utilisation %.0f%%, serial %.3f s)",
		what, r.Build.Wall.Seconds(), r.QueryTime.Seconds(), q.Distances, 100*q.Utilisation, q.Serial.Seconds())
}

// storedPerm returns the points' order in the reordered metric: the
// --order permutation, or with a storage layout (spaceLayout) the ordered
// points in the layout's order, which it keeps in j.stored (positions in
// the --order order, the search's Rank).
func (j *knnJob) storedPerm(pool *streamer.Pool) []int32 {
	if !j.spaceLayout() {
		return j.perm
	}
	ordered := make([]float64, 0, j.n*j.d)
	for _, p := range j.perm {
		ordered = append(ordered, j.x[int(p)*j.d:int(p+1)*j.d]...)
	}
	j.stored = j.layoutOf(ordered, pool)
	perm := make([]int32, j.n)
	for s, p := range j.stored {
		perm[s] = j.perm[p]
	}
	return perm
}

// coordOrder sorts the points by their first coordinate (ties: index).
func coordOrder(x []float64, n, d int) []int32 {
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortStableFunc(perm, func(a, b int32) int { return cmp.Compare(x[int(a)*d], x[int(b)*d]) })
	return perm
}

// writeOrder writes the ordering: position i holds the original index of
// the i-th point, 0-based (1-based for gpgp, R's convention), as an n x 1
// int64 .npy or one index per line.
func writeOrder(w io.Writer, perm []int32, base int, npy bool) error {
	if npy {
		v := make([]int64, len(perm))
		for i, p := range perm {
			v[i] = int64(p) + int64(base)
		}
		return dataio.WriteNpy(w, v, len(v), 1)
	}
	buf := make([]byte, 0, 12*len(perm))
	for _, p := range perm {
		buf = strconv.AppendInt(buf, int64(p)+int64(base), 10)
		buf = append(buf, '\n')
	}
	_, err := w.Write(buf)
	return err
}
