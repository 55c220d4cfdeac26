"""pcct: exact k-nearest neighbours in the residual-correlation metric.

A thin ctypes binding of libpcct (build it with
``go build -buildmode=c-shared -o python/pcct/libpcct.so ./cmd/libpcct``).
The library is looked up at $PCCT_LIB, else beside this file.
"""

import ctypes
import os
import threading

import numpy as np

__all__ = ["knn", "maxmin_order", "maxmin_order_coords", "version", "kernels", "PcctError"]

OK, BAD_INPUT, FAILED, INTERNAL = 0, 1, 2, 3
_ERRLEN = 4096


class PcctError(RuntimeError):
    """A failed run inside pcct (not bad input)."""


_lib = None
_lock = threading.Lock()


def _load():
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        path = os.environ.get("PCCT_LIB") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "libpcct.so")
        if not os.path.exists(path):
            raise OSError(
                "libpcct not found at %s: build it with "
                "'go build -buildmode=c-shared -o %s ./cmd/libpcct' or set PCCT_LIB" % (path, path))
        lib = ctypes.CDLL(path)  # CDLL releases the GIL during calls
        i64, dbl, u64, ptr = ctypes.c_int64, ctypes.c_double, ctypes.c_uint64, ctypes.c_void_p
        lib.pcct_version.restype = ctypes.c_char_p
        lib.pcct_kernels.restype = ctypes.c_char_p
        lib.pcct_abi_version.restype = ctypes.c_int
        lib.pcct_metric_residual.argtypes = [ptr, i64, i64, ctypes.c_char_p, ptr, i64, dbl, i64, ptr, i64, dbl, u64, i64,
                                             ctypes.POINTER(u64), ctypes.c_char_p, i64]
        lib.pcct_metric_euclidean.argtypes = [ptr, i64, i64, ctypes.POINTER(u64), ctypes.c_char_p, i64]
        lib.pcct_metric_free.argtypes = [u64]
        cs = ctypes.c_char_p
        lib.pcct_knn.argtypes = [u64, i64, ctypes.c_int, cs, cs, i64, ptr, ptr, cs, i64]
        lib.pcct_knn_queries.argtypes = [u64, ptr, i64, i64, cs, cs, i64, ptr, ptr, cs, i64]
        lib.pcct_maxmin_order.argtypes = [u64, i64, i64, ptr, cs, i64]
        lib.pcct_maxmin_order_coords.argtypes = [ptr, i64, i64, ptr, i64, i64, i64, ptr, cs, i64]
        for f in ("pcct_metric_residual", "pcct_metric_euclidean", "pcct_knn", "pcct_knn_queries", "pcct_maxmin_order",
                  "pcct_maxmin_order_coords"):
            getattr(lib, f).restype = ctypes.c_int
        if lib.pcct_abi_version() != 1:
            raise OSError("libpcct at %s has C ABI %d; this package needs 1" % (path, lib.pcct_abi_version()))
        _lib = lib
        return lib


def version():
    """The library's version string."""
    return _load().pcct_version().decode()


def kernels():
    """The kernel implementation in use (avx512, avx2 or generic)."""
    return _load().pcct_kernels().decode()


def _check(status, err):
    if status == OK:
        return
    msg = err.value.decode(errors="replace")
    if status == BAD_INPUT:
        raise ValueError("pcct: " + msg)
    raise PcctError("pcct: " + msg)


def _points(x, name, d=None):
    """A C-contiguous float64 copy or view of a 2-D array of floats."""
    a = np.asarray(x)
    if a.dtype.kind != "f":
        raise ValueError("pcct: %s must hold floating-point numbers, got dtype %s" % (name, a.dtype))
    if a.ndim != 2:
        raise ValueError("pcct: %s must be a 2-D array (points x dimensions), got shape %s" % (name, a.shape))
    if not (a.flags.c_contiguous or a.flags.f_contiguous):
        raise ValueError("pcct: %s is not contiguous (a strided view): pass np.ascontiguousarray(%s)" % (name, name))
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError("pcct: %s is empty (shape %s)" % (name, a.shape))
    if d is not None and a.shape[1] != d:
        raise ValueError("pcct: %s has %d dimensions, the data %d" % (name, a.shape[1], d))
    a = np.ascontiguousarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError("pcct: %s[%d, %d] is %r: coordinates must be finite" % (name, bad[0], bad[1], a[bad[0], bad[1]]))
    return a


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def _workers(workers):
    w = 0 if workers is None else int(workers)
    if w < 0:
        raise ValueError("pcct: workers must be positive, got %d" % w)
    return w


def _metric(lib, a, metric, kernel, lengthscale, variance, inducing, inducing_points, jitter, seed, w, err):
    """Makes the metric over the points a; the caller frees the handle."""
    n, d = a.shape
    h = ctypes.c_uint64(0)
    if metric == "euclidean":
        st = lib.pcct_metric_euclidean(_ptr(a), n, d, ctypes.byref(h), err, _ERRLEN)
    elif metric == "residual":
        ls = np.ascontiguousarray(np.atleast_1d(np.asarray(lengthscale, dtype=np.float64)))
        u, nu = None, 0
        if inducing_points is not None:
            u = _points(inducing_points, "inducing_points", d)
            nu = u.shape[0]
        m = 0 if inducing is None else int(inducing)
        if inducing is not None and m < 1:
            raise ValueError("pcct: inducing must be at least 1, got %d" % m)
        jit = 0.0 if jitter is None else float(jitter)
        if jitter is not None and not jit > 0:
            raise ValueError("pcct: jitter must be positive, got %r" % (jitter,))
        st = lib.pcct_metric_residual(_ptr(a), n, d, kernel.encode(), _ptr(ls), ls.size, float(variance), m,
                                      None if u is None else _ptr(u), nu, jit, int(seed), w, ctypes.byref(h), err, _ERRLEN)
    else:
        raise ValueError("pcct: metric must be 'residual' or 'euclidean', got %r" % (metric,))
    _check(st, err)
    return h


def knn(x, k, predecessor=False, kernel="rbf", lengthscale=1.0, variance=1.0, inducing=None,
        inducing_points=None, jitter=None, seed=42, queries=None, workers=None, search="auto",
        metric="residual", gate="auto"):
    """Exact k-nearest neighbours, as ``pcct knn`` computes them.

    x: (n, d) array of floats (C or Fortran order). Returns (indices,
    distances), int64 and float64 arrays of shape (n, k) (or (nq, k) with
    queries): 0-based indices, nearest first, ties to the lower index,
    padded with -1 / inf. predecessor=True gives the Vecchia job (point i
    takes only j < i). lengthscale: one value or one per dimension.
    inducing: the inducing-point count (default min(512, n)), or
    inducing_points: an (m, d) array. search: "auto", "tree", "brute" or "kd" (k-d tree, Euclidean metric only).
    gate: "auto" (brute force screens in float32 where it pays, keeping a
    float32 copy of V; the same answer) or "off".
    Bad arguments raise ValueError; a failed run raises PcctError.
    """
    lib = _load()
    a = _points(x, "x")
    n, d = a.shape
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError("pcct: k must be an integer >= 1, got %r" % (k,))
    if search not in ("auto", "tree", "brute", "kd"):
        raise ValueError("pcct: search must be 'auto', 'tree', 'brute' or 'kd', got %r" % (search,))
    if gate not in ("auto", "off"):
        raise ValueError("pcct: gate must be 'auto' or 'off', got %r" % (gate,))
    if predecessor and queries is not None:
        raise ValueError("pcct: predecessor applies to all-points k-NN, not to queries")
    w = _workers(workers)
    err = ctypes.create_string_buffer(_ERRLEN)
    h = _metric(lib, a, metric, kernel, lengthscale, variance, inducing, inducing_points, jitter, seed, w, err)
    try:
        if queries is None:
            idx = np.empty((n, k), dtype=np.int64)
            dist = np.empty((n, k), dtype=np.float64)
            st = lib.pcct_knn(h, k, 1 if predecessor else 0, search.encode(), gate.encode(), w, _ptr(idx), _ptr(dist), err, _ERRLEN)
        else:
            q = _points(queries, "queries", d)
            idx = np.empty((q.shape[0], k), dtype=np.int64)
            dist = np.empty((q.shape[0], k), dtype=np.float64)
            st = lib.pcct_knn_queries(h, _ptr(q), q.shape[0], k, search.encode(), gate.encode(), w, _ptr(idx), _ptr(dist), err, _ERRLEN)
        _check(st, err)
        return idx, dist
    finally:
        lib.pcct_metric_free(h)


def maxmin_order(x, first=None, metric="residual", kernel="rbf", lengthscale=1.0, variance=1.0, inducing=None,
                 inducing_points=None, jitter=None, seed=42, workers=None):
    """The exact max-min ordering of the points, as ``pcct knn --order maxmin`` computes it.

    Returns an int64 array of the n point indices (0-based) in the order:
    first the point first (default: the point nearest the coordinates'
    mean), then always the point farthest from all chosen so far under the
    metric, ties to the lower index. x[order] is then the Vecchia ordering
    to pass to knn(..., predecessor=True). The metric options are knn's.
    Bad arguments raise ValueError; a failed run raises PcctError.
    """
    lib = _load()
    a = _points(x, "x")
    n = a.shape[0]
    f = _first(first, n)
    w = _workers(workers)
    err = ctypes.create_string_buffer(_ERRLEN)
    h = _metric(lib, a, metric, kernel, lengthscale, variance, inducing, inducing_points, jitter, seed, w, err)
    try:
        order = np.empty(n, dtype=np.int64)
        _check(lib.pcct_maxmin_order(h, f, w, _ptr(order), err, _ERRLEN), err)
        return order
    finally:
        lib.pcct_metric_free(h)


def _first(first, n):
    if first is None:
        return -1
    if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or not 0 <= first < n:
        raise ValueError("pcct: first must be a point index in [0, %d), got %r" % (n, first))
    return int(first)


def maxmin_order_coords(x, lengthscale=1.0, first=None, workers=None):
    """The exact max-min ordering of the coordinates, as ``pcct knn --order maxmin-coords`` computes it.

    The Euclidean distance of the coordinates divided by the lengthscales
    (one value, or one per dimension) over the smallest: the ordering of
    GpGp's order_maxmin and GPvecchia's order_maxmin_exact (ties aside),
    scaled as scaled Vecchia scales it, far faster than maxmin_order
    under the residual metric (a k-d tree, no inducing points). Returns
    an int64 array of the n point indices (0-based), starting at first
    (default: the point nearest the scaled coordinates' mean).
    Bad arguments raise ValueError; a failed run raises PcctError.
    """
    lib = _load()
    a = _points(x, "x")
    n, d = a.shape
    f = _first(first, n)
    ls = np.ascontiguousarray(np.atleast_1d(np.asarray(lengthscale, dtype=np.float64)))
    if ls.ndim != 1 or ls.size not in (1, d):
        raise ValueError("pcct: lengthscale must be one value or one per dimension (%d), got %d" % (d, ls.size))
    w = _workers(workers)
    err = ctypes.create_string_buffer(_ERRLEN)
    order = np.empty(n, dtype=np.int64)
    _check(lib.pcct_maxmin_order_coords(_ptr(a), n, d, _ptr(ls), ls.size, f, w, _ptr(order), err, _ERRLEN), err)
    return order

