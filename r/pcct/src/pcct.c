// R glue for libpcct: .Call entry points that take R vectors, call the C
// ABI, and return R matrices (1-based indices, NA padding). Errors from
// pcct become R errors carrying pcct's message.
#include <stdint.h>
#include <string.h>
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
#include "libpcct.h"

#define ERRLEN 4096

// make_metric makes the metric over the d x n transpose xt (so its memory
// is the n x d row-major array pcct reads), ut likewise or NULL; it stops
// with an R error carrying pcct's message.
static uint64_t make_metric(SEXP xt, SEXP metric, SEXP kernel, SEXP lengthscale, SEXP variance,
                            SEXP inducing, SEXP ut, SEXP jitter, SEXP seed, int64_t w) {
    char err[ERRLEN] = {0};
    int64_t d = Rf_nrows(xt), n = Rf_ncols(xt);
    uint64_t h = 0;
    int st;
    if (strcmp(CHAR(STRING_ELT(metric, 0)), "euclidean") == 0) {
        st = pcct_metric_euclidean(REAL(xt), n, d, &h, err, ERRLEN);
    } else {
        double *u = NULL;
        int64_t nu = 0;
        if (!Rf_isNull(ut)) {
            u = REAL(ut);
            nu = Rf_ncols(ut);
        }
        st = pcct_metric_residual(REAL(xt), n, d, (char *)CHAR(STRING_ELT(kernel, 0)), REAL(lengthscale),
                                  XLENGTH(lengthscale), Rf_asReal(variance), (int64_t)Rf_asInteger(inducing), u, nu,
                                  Rf_asReal(jitter), (uint64_t)Rf_asReal(seed), w, &h, err, ERRLEN);
    }
    if (st != 0) Rf_error("pcct: %s", err);
    return h;
}

// pcct_r_knn(xt, k, predecessor, metric, kernel, lengthscale, variance,
// inducing, ut, jitter, seed, qt, workers, search, gate): the metric's
// arguments as make_metric's, qt the queries' transpose or NULL.
static SEXP pcct_r_knn(SEXP xt, SEXP k, SEXP predecessor, SEXP metric, SEXP kernel, SEXP lengthscale,
                       SEXP variance, SEXP inducing, SEXP ut, SEXP jitter, SEXP seed, SEXP qt,
                       SEXP workers, SEXP search, SEXP gate) {
    char err[ERRLEN] = {0};
    int64_t n = Rf_ncols(xt);
    int64_t kk = (int64_t)Rf_asInteger(k);
    int64_t w = (int64_t)Rf_asInteger(workers);
    int st;
    uint64_t h = make_metric(xt, metric, kernel, lengthscale, variance, inducing, ut, jitter, seed, w);
    int64_t rows = Rf_isNull(qt) ? n : Rf_ncols(qt);
    int64_t *idx = (int64_t *)R_alloc(rows * kk, sizeof(int64_t));
    double *dist = (double *)R_alloc(rows * kk, sizeof(double));
    if (Rf_isNull(qt)) {
        st = pcct_knn(h, kk, Rf_asLogical(predecessor), (char *)CHAR(STRING_ELT(search, 0)), (char *)CHAR(STRING_ELT(gate, 0)), w, idx, dist, err, ERRLEN);
    } else {
        st = pcct_knn_queries(h, REAL(qt), rows, kk, (char *)CHAR(STRING_ELT(search, 0)), (char *)CHAR(STRING_ELT(gate, 0)), w, idx, dist, err, ERRLEN);
    }
    pcct_metric_free(h);
    if (st != 0) Rf_error("pcct: %s", err);
    SEXP index = PROTECT(Rf_allocMatrix(INTSXP, rows, kk));
    SEXP distance = PROTECT(Rf_allocMatrix(REALSXP, rows, kk));
    int *ix = INTEGER(index);
    double *dx = REAL(distance);
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < kk; j++) {
            int64_t v = idx[i * kk + j];
            ix[i + j * rows] = v < 0 ? NA_INTEGER : (int)(v + 1);
            dx[i + j * rows] = v < 0 ? NA_REAL : dist[i * kk + j];
        }
    }
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 2));
    SET_VECTOR_ELT(out, 0, index);
    SET_VECTOR_ELT(out, 1, distance);
    SEXP names = PROTECT(Rf_allocVector(STRSXP, 2));
    SET_STRING_ELT(names, 0, Rf_mkChar("index"));
    SET_STRING_ELT(names, 1, Rf_mkChar("distance"));
    Rf_setAttrib(out, R_NamesSymbol, names);
    UNPROTECT(4);
    return out;
}

// order_vector returns the 0-based ordering order (n entries) as R's
// 1-based integer vector.
static SEXP order_vector(const int64_t *order, int64_t n) {
    SEXP out = PROTECT(Rf_allocVector(INTSXP, n));
    int *o = INTEGER(out);
    for (int64_t i = 0; i < n; i++) o[i] = (int)(order[i] + 1);
    UNPROTECT(1);
    return out;
}

// pcct_r_order(xt, first, metric, kernel, lengthscale, variance, inducing,
// ut, jitter, seed, workers): the max-min ordering, 1-based (first: a
// 1-based index, or 0 for the point nearest the coordinates' mean).
static SEXP pcct_r_order(SEXP xt, SEXP first, SEXP metric, SEXP kernel, SEXP lengthscale, SEXP variance,
                         SEXP inducing, SEXP ut, SEXP jitter, SEXP seed, SEXP workers) {
    char err[ERRLEN] = {0};
    int64_t n = Rf_ncols(xt);
    int64_t w = (int64_t)Rf_asInteger(workers);
    uint64_t h = make_metric(xt, metric, kernel, lengthscale, variance, inducing, ut, jitter, seed, w);
    int64_t *order = (int64_t *)R_alloc(n, sizeof(int64_t));
    int st = pcct_maxmin_order(h, (int64_t)Rf_asInteger(first) - 1, w, order, err, ERRLEN);
    pcct_metric_free(h);
    if (st != 0) Rf_error("pcct: %s", err);
    return order_vector(order, n);
}

// pcct_r_order_coords(xt, first, lengthscale, workers): the max-min
// ordering of the scaled coordinates, 1-based (first as pcct_r_order's).
static SEXP pcct_r_order_coords(SEXP xt, SEXP first, SEXP lengthscale, SEXP workers) {
    char err[ERRLEN] = {0};
    int64_t d = Rf_nrows(xt), n = Rf_ncols(xt);
    int64_t *order = (int64_t *)R_alloc(n, sizeof(int64_t));
    int st = pcct_maxmin_order_coords(REAL(xt), n, d, REAL(lengthscale), XLENGTH(lengthscale),
                                      (int64_t)Rf_asInteger(first) - 1, (int64_t)Rf_asInteger(workers), order, err, ERRLEN);
    if (st != 0) Rf_error("pcct: %s", err);
    return order_vector(order, n);
}

static SEXP pcct_r_version(void) { return Rf_mkString(pcct_version()); }

static const R_CallMethodDef calls[] = {
    {"pcct_r_knn", (DL_FUNC)&pcct_r_knn, 15},
    {"pcct_r_order", (DL_FUNC)&pcct_r_order, 11},
    {"pcct_r_order_coords", (DL_FUNC)&pcct_r_order_coords, 4},
    {"pcct_r_version", (DL_FUNC)&pcct_r_version, 0},
    {NULL, NULL, 0}};

void R_init_pcct(DllInfo *dll) {
    R_registerRoutines(dll, NULL, calls, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
}
