package main

/*
#include <stdint.h>
*/
import "C"

import (
	"context"
	"math"
	"unsafe"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/tree"
)

// pcct_maxmin_order writes to order (n int64s) the exact max-min ordering
// of the metric's points, as `pcct knn --order maxmin` computes it:
// order[i] is the 0-based index of the i-th point. It starts at point
// first, or with first < 0 at the point nearest the coordinates' mean.
// The Euclidean metric's ordering runs on a k-d tree, the residual
// metric's on a cover tree built for the call on workers workers.
//
//export pcct_maxmin_order
func pcct_maxmin_order(h C.uint64_t, first C.int64_t, workers C.int64_t, order *C.int64_t, msg *C.char, msglen C.int64_t) C.int {
	return status(guard(func() error {
		mh, err := lookup[*metricHandle](h, "metric")
		if err != nil {
			return err
		}
		if order == nil {
			return bad("the order array is NULL")
		}
		n := mh.m.Data().N
		start := int(first)
		if first < 0 {
			start = mh.central
		} else if first >= C.int64_t(n) {
			return bad("first point %d is not one of the %d points", first, n)
		}
		mh.mu.RLock()
		defer mh.mu.RUnlock()
		// Over stored points: start at the stored position of the caller's
		// point, break ties by the caller's order, answer its indices.
		perm, _, err := tree.OrderMaxMinStored(context.Background(), mh.m, start, mh.stored, tree.KNNOptions{Workers: int(workers)})
		if err != nil {
			return err
		}
		writeOrder(order, perm)
		return nil
	}), msg, msglen)
}

// pcct_maxmin_order_coords writes to order (n int64s) the exact max-min
// ordering of the points x (n x d, row-major) under the Euclidean distance
// of their coordinates divided by the lengthscales ls (nls values: none,
// one, or one per dimension) over the smallest, as `pcct knn --order
// maxmin-coords` computes it: order[i] is the 0-based index of the i-th
// point. It starts at point first, or with first < 0 at the point nearest
// the scaled coordinates' mean. No metric handle is needed: it runs on a
// k-d tree of the points.
//
//export pcct_maxmin_order_coords
func pcct_maxmin_order_coords(x *C.double, n, d C.int64_t, ls *C.double, nls C.int64_t, first C.int64_t, workers C.int64_t,
	order *C.int64_t, msg *C.char, msglen C.int64_t) C.int {
	return status(guard(func() error {
		if n < 1 || d < 1 {
			return bad("n and d must be at least 1 (n = %d, d = %d)", n, d)
		}
		if order == nil {
			return bad("the order array is NULL")
		}
		if nls != 0 && nls != 1 && nls != d {
			return bad("give no lengthscale, one, or one per dimension (%d), got %d", d, nls)
		}
		if first >= n {
			return bad("first point %d is not one of the %d points", first, n)
		}
		xs, err := floats(x, int(n*d))
		if err != nil {
			return err
		}
		lsv, err := floats(ls, int(nls))
		if err != nil {
			return err
		}
		for k, v := range lsv {
			if !(v > 0) || math.IsInf(v, 1) {
				return bad("lengthscale %d must be positive and finite, got %v", k, v)
			}
		}
		e, err := metric.NewEuclideanScaled(xs, int(n), int(d), tree.CoordScale(lsv))
		if err != nil {
			return err
		}
		start := int(first)
		if first < 0 {
			start = tree.CentralPoint(e.Data().X, int(n), int(d))
		}
		perm, _, err := tree.OrderMaxMinReport(context.Background(), e, start, tree.KNNOptions{Workers: int(workers)})
		if err != nil {
			return err
		}
		writeOrder(order, perm)
		return nil
	}), msg, msglen)
}

// writeOrder writes an ordering into the caller's array (len(perm) int64s).
func writeOrder(order *C.int64_t, perm []int32) {
	out := unsafe.Slice((*int64)(unsafe.Pointer(order)), len(perm))
	for i, p := range perm {
		out[i] = int64(p)
	}
}
