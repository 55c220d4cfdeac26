package main

/*
#include <stdint.h>
*/
import "C"

import (
	"context"
	"os"
	"unsafe"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

// parseSearch reads a search name; NULL means auto.
func parseSearch(s *C.char) (tree.Search, error) {
	if s == nil {
		return tree.SearchAuto, nil
	}
	sr, err := tree.ParseSearch(C.GoString(s))
	if err != nil {
		return 0, bad("%v", err)
	}
	return sr, nil
}

// searchArgs checks a search's metric handle, search name, gate and k.
func searchArgs(h C.uint64_t, search, gate *C.char, k C.int64_t) (*metricHandle, tree.Search, tree.Gate, error) {
	mh, err := lookup[*metricHandle](h, "metric")
	if err != nil {
		return nil, 0, 0, err
	}
	sr, err := parseSearch(search)
	if err != nil {
		return nil, 0, 0, err
	}
	g := tree.GateAuto
	if gate != nil {
		switch C.GoString(gate) {
		case "off":
			g = tree.GateOff
		case "auto":
		default:
			return nil, 0, 0, bad("gate must be \"auto\" or \"off\", got %q", C.GoString(gate))
		}
	}
	if k < 1 {
		return nil, 0, 0, bad("k must be at least 1, got %d", k)
	}
	return mh, sr, g, nil
}

// lock takes the handle's lock for a search (job, search, k) with gate g:
// exclusive when the auto gate may add the residual metric's float32 copy
// (which a search adds where screening pays), unless such a search has
// already left the metric without it; shared otherwise. It returns the
// unlock, which records a search that held the metric alone and left it
// without the copy (done: the search ran), and whether the search holds
// the metric alone (else it must not add the copy: KNNOptions.NoCopy).
func (mh *metricHandle) lock(g tree.Gate, job jobKind, search tree.Search, k int64) (unlock func(done bool), alone bool) {
	r, ok := mh.m.(*metric.Residual)
	p := &mh.probed[job][search]
	if ok && g == tree.GateAuto && !(p.Load() > 0 && k >= p.Load()) {
		mh.mu.RLock()
		screened := r.CanScreen(r.Data(), r.Data())
		mh.mu.RUnlock()
		if !screened {
			mh.mu.Lock()
			return func(done bool) {
				if done && !r.CanScreen(r.Data(), r.Data()) && (p.Load() == 0 || k < p.Load()) {
					p.Store(k) // under the lock: no other search writes it
				}
				mh.mu.Unlock()
			}, true
		}
	}
	mh.mu.RLock()
	return func(bool) { mh.mu.RUnlock() }, false
}

// export writes an answer into the caller's arrays (n x k each).
func export(nb *tree.Neighbours, idx *C.int64_t, dist *C.double) error {
	n := len(nb.Indices())
	if idx == nil || dist == nil {
		return bad("the index and distance arrays must not be NULL")
	}
	ix := unsafe.Slice((*int64)(unsafe.Pointer(idx)), n)
	for i, v := range nb.Indices() {
		ix[i] = int64(v)
	}
	copy(unsafe.Slice((*float64)(unsafe.Pointer(dist)), n), nb.Distances())
	return nil
}

//export pcct_knn
func pcct_knn(h C.uint64_t, k C.int64_t, predecessor C.int, search, gate *C.char, workers C.int64_t,
	idx *C.int64_t, dist *C.double, msg *C.char, msglen C.int64_t) C.int {
	return status(guard(func() error {
		mh, sr, g, err := searchArgs(h, search, gate, k)
		if err != nil {
			return err
		}
		job := allPoints
		if predecessor != 0 {
			job = predecessors
		}
		unlock, alone := mh.lock(g, job, sr, int64(k))
		done := false
		defer func() { unlock(done) }()
		pool := streamer.NewPool(int(workers))
		defer pool.Close()
		opt := tree.KNNOptions{K: int(k), Predecessor: predecessor != 0, Pool: pool, Gate: g, Rank: mh.stored, NoCopy: !alone}
		nb, _, err := tree.AllKNNSearch(context.Background(), mh.m, opt, sr, tree.Options{Pool: pool})
		if err != nil {
			return err
		}
		done = true
		mh.unorder(nb, true)
		return export(nb, idx, dist)
	}), msg, msglen)
}

//export pcct_knn_queries
func pcct_knn_queries(h C.uint64_t, q *C.double, nq C.int64_t, k C.int64_t, search, gate *C.char, workers C.int64_t,
	idx *C.int64_t, dist *C.double, msg *C.char, msglen C.int64_t) C.int {
	return status(guard(func() error {
		mh, sr, g, err := searchArgs(h, search, gate, k)
		if err != nil {
			return err
		}
		if nq < 1 {
			return bad("the number of queries must be at least 1, got %d", nq)
		}
		xq, err := floats(q, int(nq)*mh.m.Data().D)
		if err != nil {
			return err
		}
		unlock, alone := mh.lock(g, queryPoints, sr, int64(k))
		done := false
		defer func() { unlock(done) }()
		pool := streamer.NewPool(int(workers))
		defer pool.Close()
		qs, err := mh.m.Embed(context.Background(), xq, int(nq))
		if err != nil {
			return err
		}
		opt := tree.KNNOptions{K: int(k), Pool: pool, Gate: g, Rank: mh.stored, NoCopy: !alone}
		nb, _, err := tree.KNNSearch(context.Background(), mh.m, qs, opt, sr, tree.Options{Pool: pool})
		if err != nil {
			return err
		}
		done = true
		mh.unorder(nb, false)
		return export(nb, idx, dist)
	}), msg, msglen)
}

//export pcct_tree_build
func pcct_tree_build(h C.uint64_t, workers C.int64_t, out *C.uint64_t, msg *C.char, msglen C.int64_t) C.int {
	return status(guard(func() error {
		mh, err := lookup[*metricHandle](h, "metric")
		if err != nil {
			return err
		}
		if out == nil {
			return bad("the output handle is NULL")
		}
		// Keyed by the caller's order, for its predecessor searches.
		t, err := tree.Build(context.Background(), mh.m, tree.Options{Workers: int(workers), Rank: mh.stored})
		if err != nil {
			return err
		}
		*out = C.uint64_t(newHandle(&treeHandle{t: t, mh: mh}))
		return nil
	}), msg, msglen)
}

//export pcct_tree_free
func pcct_tree_free(h C.uint64_t) { free[*treeHandle](h) }

//export pcct_tree_save
func pcct_tree_save(h C.uint64_t, path *C.char, msg *C.char, msglen C.int64_t) C.int {
	return status(guard(func() error {
		th, err := lookup[*treeHandle](h, "tree")
		if err != nil {
			return err
		}
		if path == nil {
			return bad("the path is NULL")
		}
		p := C.GoString(path)
		f, err := os.CreateTemp(dirOf(p), ".pcct-tree-*")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		if err := th.t.Save(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(f.Name(), p)
	}), msg, msglen)
}

//export pcct_tree_load
func pcct_tree_load(h C.uint64_t, path *C.char, out *C.uint64_t, msg *C.char, msglen C.int64_t) C.int {
	return status(guard(func() error {
		mh, err := lookup[*metricHandle](h, "metric")
		if err != nil {
			return err
		}
		if path == nil || out == nil {
			return bad("the path and the output handle must not be NULL")
		}
		f, err := os.Open(C.GoString(path))
		if err != nil {
			return err
		}
		defer f.Close()
		t, err := tree.Load(f, mh.m)
		if err != nil {
			return err
		}
		*out = C.uint64_t(newHandle(&treeHandle{t: t, mh: mh}))
		return nil
	}), msg, msglen)
}

//export pcct_tree_knn
func pcct_tree_knn(h C.uint64_t, k C.int64_t, predecessor C.int, workers C.int64_t,
	idx *C.int64_t, dist *C.double, msg *C.char, msglen C.int64_t) C.int {
	return status(guard(func() error {
		th, err := lookup[*treeHandle](h, "tree")
		if err != nil {
			return err
		}
		if k < 1 {
			return bad("k must be at least 1, got %d", k)
		}
		nb, _, err := th.t.AllKNN(context.Background(), tree.KNNOptions{K: int(k), Predecessor: predecessor != 0, Workers: int(workers), Rank: th.mh.stored})
		if err != nil {
			return err
		}
		th.mh.unorder(nb, true)
		return export(nb, idx, dist)
	}), msg, msglen)
}
