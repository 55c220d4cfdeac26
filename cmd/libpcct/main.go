package main

/*
#include <stdint.h>
#include <string.h>

#define PCCT_ABI 1

enum {
	PCCT_OK = 0,
	PCCT_BAD_INPUT = 1,
	PCCT_FAILED = 2,
	PCCT_INTERNAL = 3
};
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

// abiVersion is the C ABI's version (PCCT_ABI in the header).
const abiVersion = 1

var versionString = C.CString(fmt.Sprintf("pcct %s (C ABI %d)", version, abiVersion))

// version is the library's version.
const version = "0.5.0"

// status maps an error to a status code and writes its message.
func status(err error, msg *C.char, msglen C.int64_t) C.int {
	if err == nil {
		return C.PCCT_OK
	}
	if msg != nil && msglen > 0 {
		b := []byte(err.Error())
		n := min(len(b), int(msglen)-1)
		out := unsafe.Slice((*byte)(unsafe.Pointer(msg)), int(msglen))
		copy(out, b[:n])
		out[n] = 0
	}
	var pe *streamer.PanicError
	switch {
	case errors.As(err, &pe), errors.Is(err, errInternal):
		return C.PCCT_INTERNAL
	case errors.Is(err, metric.ErrBadInput), errors.Is(err, errBadInput):
		return C.PCCT_BAD_INPUT
	}
	return C.PCCT_FAILED
}

var (
	errBadInput = errors.New("bad input")
	errInternal = errors.New("internal error")
)

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errBadInput, fmt.Sprintf(format, a...))
}

// guard runs fn, turning a panic into an internal error. fn runs on a
// goroutine of its own while the caller's thread waits: a call from C
// runs on a goroutine locked to the caller's thread, and a job that hands
// work to the pool's workers and waits for it thousands of times (the
// max-min ordering's batches) would switch threads every time. At 524,288
// points (m = 256, 2 workers) pcct_maxmin_order took 17.0-18.7 s on the
// caller's goroutine against 9.3 s here, as `pcct knn` takes.
func guard(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: %v", errInternal, r)
			}
			done <- err
		}()
		err = fn()
	}()
	return <-done
}

// floats returns a read-only view of n caller-owned doubles (nil for n = 0).
func floats(p *C.double, n int) ([]float64, error) {
	if n == 0 {
		return nil, nil
	}
	if p == nil {
		return nil, bad("a required array is NULL")
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(p)), n), nil
}

//export pcct_version
func pcct_version() *C.char { return versionString }

//export pcct_abi_version
func pcct_abi_version() C.int { return abiVersion }

var (
	kernelMu    sync.Mutex
	kernelNames = map[string]*C.char{}
)

//export pcct_kernels
func pcct_kernels() *C.char {
	name := kernels.Impl()
	kernelMu.Lock()
	defer kernelMu.Unlock()
	if s, ok := kernelNames[name]; ok {
		return s
	}
	s := C.CString(name) // a handful of names, kept for the process
	kernelNames[name] = s
	return s
}

// handle registry: metrics and trees are cgo.Handles.
type metricHandle struct {
	m       metric.Metric
	pool    *streamer.Pool // the residual metric's (it embeds query points on it); closed on free
	central int            // where a max-min ordering starts by default (tree.CentralPoint)
	// stored, from tree.LayoutMin points (residual metric), is the order
	// the metric stores the points in: its point i is the caller's point
	// stored[i] (nil: as given). Searches take it as their Rank, so ties
	// and predecessors follow the caller's order, and their answers are
	// turned back (see storage).
	stored []int32
	// mu lets searches share the metric (read) except the first search
	// with the auto gate on a residual metric, which may add its float32
	// copy (write).
	mu sync.RWMutex
	// probed[job][search] is the smallest k at which a search of that
	// kind with the auto gate held the metric alone and left it without
	// the copy (its probe found that screening does not pay, or the tree
	// answered), 0 for none: later such searches with k at least that
	// share the metric and do not try again (KNNOptions.NoCopy), since a
	// larger k leaves more candidates undecided.
	probed [jobKinds][tree.SearchKD + 1]atomic.Int64
}

// jobKind tells the searches of a handle apart for metricHandle.probed.
type jobKind int

const (
	allPoints jobKind = iota
	predecessors
	queryPoints
	jobKinds
)

type treeHandle struct {
	t  *tree.Tree
	mh *metricHandle // the metric it was built or loaded on (its storage order)
}

//export pcct_metric_residual
func pcct_metric_residual(x *C.double, n, d C.int64_t, kernel *C.char, ls *C.double, nls C.int64_t,
	variance C.double, inducing C.int64_t, u *C.double, nu C.int64_t, jitter C.double, seed C.uint64_t,
	workers C.int64_t, out *C.uint64_t, msg *C.char, msglen C.int64_t) C.int {
	return status(guard(func() error {
		if out == nil || n < 1 || d < 1 || nls < 0 || nu < 0 {
			return bad("n and d must be at least 1 and the output handle not NULL (n = %d, d = %d)", n, d)
		}
		xs, err := floats(x, int(n*d))
		if err != nil {
			return err
		}
		kind := metric.RBF
		if kernel != nil {
			if kind, err = metric.ParseKernel(C.GoString(kernel)); err != nil {
				return bad("%v", err)
			}
		}
		lsv, err := floats(ls, int(nls))
		if err != nil {
			return err
		}
		cfg := metric.ResidualConfig{Kernel: kind, Variance: float64(variance), Lengthscale: lsv,
			Inducing: int(inducing), Jitter: float64(jitter), Seed: uint64(seed)}
		if nu > 0 {
			if cfg.InducingPoints, err = floats(u, int(nu*d)); err != nil {
				return err
			}
			cfg.Method = metric.InducingExplicit
		}
		pool := streamer.NewPool(int(workers))
		cfg.Pool = pool
		cfg.Order = storage(xs, int(n), int(d), pool)
		m, err := metric.NewResidual(context.Background(), xs, int(n), int(d), cfg)
		if err != nil {
			pool.Close()
			return err
		}
		*out = C.uint64_t(newHandle(&metricHandle{m: m, pool: pool, central: tree.CentralPoint(xs, int(n), int(d)), stored: cfg.Order}))
		return nil
	}), msg, msglen)
}

// storage returns the order a residual metric of the points x (n x d)
// stores them in: from tree.LayoutMin points by index band, each band
// along a Morton curve (tree.BandOrder), as pcct knn --predecessor
// stores them; nil (as given) below. The order serves every search of
// the handle: predecessor searches read only lower bands, and the
// all-points search measured as fast as in plain Morton order (524,288
// points, m = 256, k = 30: 4.21 and 4.19 s against 4.25 and 4.05 s; 4.85
// s as given).
func storage(x []float64, n, d int, pool *streamer.Pool) []int32 {
	if n < tree.LayoutMin {
		return nil
	}
	return tree.BandOrder(&metric.Set{N: n, D: d, X: x}, pool)
}

// unorder turns an answer over the stored points (rows: of all of them,
// else of query points) back into the caller's order.
func (mh *metricHandle) unorder(nb *tree.Neighbours, rows bool) {
	if mh.stored != nil {
		nb.Unorder(mh.stored, rows)
	}
}

//export pcct_metric_euclidean
func pcct_metric_euclidean(x *C.double, n, d C.int64_t, out *C.uint64_t, msg *C.char, msglen C.int64_t) C.int {
	return status(guard(func() error {
		if out == nil || n < 1 || d < 1 {
			return bad("n and d must be at least 1 and the output handle not NULL (n = %d, d = %d)", n, d)
		}
		xs, err := floats(x, int(n*d))
		if err != nil {
			return err
		}
		m, err := metric.NewEuclidean(xs, int(n), int(d))
		if err != nil {
			return err
		}
		*out = C.uint64_t(newHandle(&metricHandle{m: m, central: tree.CentralPoint(xs, int(n), int(d))}))
		return nil
	}), msg, msglen)
}

func newHandle(v any) cgo.Handle { return cgo.NewHandle(v) }

// dirOf returns the directory of a path ("." for a bare name).
func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i+1]
	}
	return "."
}

// lookup returns the value of handle h if it is a T.
func lookup[T any](h C.uint64_t, what string) (v T, err error) {
	defer func() {
		if recover() != nil { // cgo panics on a handle it never made
			err = bad("handle %d is not a live %s", uint64(h), what)
		}
	}()
	if h == 0 {
		return v, bad("%s handle is 0", what)
	}
	v, ok := cgo.Handle(h).Value().(T)
	if !ok {
		return v, bad("handle %d is not a %s", uint64(h), what)
	}
	return v, nil
}

// free deletes a live handle of type T; anything else is ignored.
func free[T any](h C.uint64_t) {
	if _, err := lookup[T](h, ""); err == nil {
		cgo.Handle(h).Delete()
	}
}

//export pcct_metric_free
func pcct_metric_free(h C.uint64_t) {
	if mh, err := lookup[*metricHandle](h, "metric"); err == nil {
		cgo.Handle(h).Delete()
		if mh.pool != nil {
			mh.pool.Close()
		}
	}
}

//export pcct_metric_points
func pcct_metric_points(h C.uint64_t) C.int64_t {
	mh, err := lookup[*metricHandle](h, "metric")
	if err != nil {
		return -1
	}
	return C.int64_t(mh.m.Data().N)
}
