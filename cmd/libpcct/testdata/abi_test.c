// A C test of libpcct's ABI: metrics, every search, trees (build, save,
// load, k-NN), the max-min ordering, error codes and messages. Built and run by
// cmd/libpcct/test.sh; exits non-zero on the first failure.
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libpcct.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); failures++; } } while (0)

// One search of a shared metric, run from several threads at once.
struct job {
    uint64_t m;
    int64_t idx[2000 * 6];
    double dist[2000 * 6];
    int status;
    char err[256];
};

static void *search(void *arg) {
    struct job *j = arg;
    j->status = pcct_knn(j->m, 6, 1, "tree", "auto", 1, j->idx, j->dist, j->err, sizeof j->err);
    return NULL;
}

// One query search of a shared metric (auto gate: the first may add the
// float32 copies), run from several threads at once.
enum { QN = 300, QD = 8, QK = 5 };
struct qjob {
    uint64_t m;
    double *q;
    int64_t idx[QN * QK];
    double dist[QN * QK];
    int status;
    char err[256];
};

static void *qsearch(void *arg) {
    struct qjob *j = arg;
    j->status = pcct_knn_queries(j->m, j->q, QN, QK, "brute", "auto", 1, j->idx, j->dist, j->err, sizeof j->err);
    return NULL;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    enum { N = 2000, D = 2, K = 6 };
    static double x[N * D];
    srand(7);
    for (int i = 0; i < N * D; i++) x[i] = (double)rand() / RAND_MAX;
    char err[512];
    CHECK(pcct_abi_version() == 1, "abi %d", pcct_abi_version());
    CHECK(strstr(pcct_version(), "C ABI 1") != NULL, "version %s", pcct_version());
    const char *impl = pcct_kernels();
    CHECK(!strcmp(impl, "avx512") || !strcmp(impl, "avx2") || !strcmp(impl, "generic"), "kernels %s", impl);

    uint64_t m = 0;
    double ls[] = {0.1};
    int st = pcct_metric_residual(x, N, D, "rbf", ls, 1, 1.0, 100, NULL, 0, 0.0, 3, 2, &m, err, sizeof err);
    CHECK(st == 0 && m != 0, "residual metric: %d %s", st, err);
    CHECK(pcct_metric_points(m) == N, "points %lld", (long long)pcct_metric_points(m));

    static int64_t idx[3][N * K];
    static double dist[3][N * K];
    const char *searches[] = {"auto", "tree", "brute"};
    for (int s = 0; s < 3; s++) {
        st = pcct_knn(m, K, 1, (char *)searches[s], s == 1 ? "off" : NULL, 0, idx[s], dist[s], err, sizeof err);
        CHECK(st == 0, "knn %s: %s", searches[s], err);
    }
    CHECK(!memcmp(idx[0], idx[2], sizeof idx[0]) && !memcmp(dist[0], dist[2], sizeof dist[0]), "auto and brute differ");
    CHECK(!memcmp(idx[1], idx[2], sizeof idx[0]) && !memcmp(dist[1], dist[2], sizeof dist[0]), "tree and brute differ");
    CHECK(idx[2][0] == -1 && isinf(dist[2][0]), "point 0 has no predecessor");
    CHECK(idx[2][1 * K] == 0 && idx[2][1 * K + 1] == -1, "point 1's only predecessor is 0");
    for (int i = K; i < N; i++)
        for (int j = 0; j < K; j++)
            CHECK(idx[2][i * K + j] >= 0 && idx[2][i * K + j] < i, "row %d: %lld is not a predecessor", i, (long long)idx[2][i * K + j]);

    // Several threads searching one metric at once get the same answer.
    enum { T = 4 };
    static struct job jobs[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        jobs[i].m = m;
        CHECK(pthread_create(&th[i], NULL, search, &jobs[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].status == 0, "thread %d: %s", i, jobs[i].err);
        CHECK(!memcmp(jobs[i].idx, idx[2], sizeof jobs[i].idx) && !memcmp(jobs[i].dist, dist[2], sizeof jobs[i].dist), "thread %d's answer differs", i);
    }

    // A tree: build, save, load, query: the same answer.
    uint64_t t = 0, t2 = 0;
    st = pcct_tree_build(m, 2, &t, err, sizeof err);
    CHECK(st == 0 && t != 0, "tree build: %s", err);
    char path[1024];
    snprintf(path, sizeof path, "%s/tree.pcct", dir);
    CHECK(pcct_tree_save(t, path, err, sizeof err) == 0, "save: %s", err);
    CHECK(pcct_tree_load(m, path, &t2, err, sizeof err) == 0, "load: %s", err);
    static int64_t tidx[N * K];
    static double tdist[N * K];
    CHECK(pcct_tree_knn(t2, K, 1, 0, tidx, tdist, err, sizeof err) == 0, "tree knn: %s", err);
    CHECK(!memcmp(tidx, idx[2], sizeof tidx) && !memcmp(tdist, dist[2], sizeof tdist), "loaded tree's answer differs");
    pcct_tree_free(t);
    pcct_tree_free(t2);
    pcct_tree_free(t2); // a second free is ignored

    // Query points.
    double q[4] = {0.5, 0.5, 0.1, 0.9};
    int64_t qi[2 * K];
    double qd[2 * K];
    CHECK(pcct_knn_queries(m, q, 2, K, "tree", "auto", 0, qi, qd, err, sizeof err) == 0, "queries: %s", err);

    // Query searches from several threads at once on data without
    // structure (d = 8, lengthscale 1), where the auto gate screens: each
    // answer is the float64 one.
    {
        enum { NQ8 = 6000 };
        static double x8[NQ8 * QD], q8[QN * QD];
        for (int i = 0; i < NQ8 * QD; i++) x8[i] = (double)rand() / RAND_MAX;
        for (int i = 0; i < QN * QD; i++) q8[i] = (double)rand() / RAND_MAX;
        double ls8[] = {1.0};
        uint64_t m8 = 0;
        CHECK(pcct_metric_residual(x8, NQ8, QD, "rbf", ls8, 1, 1.0, 256, NULL, 0, 0.0, 3, 2, &m8, err, sizeof err) == 0, "d = 8 metric: %s", err);
        static int64_t wi[QN * QK];
        static double wd[QN * QK];
        CHECK(pcct_knn_queries(m8, q8, QN, QK, "brute", "off", 1, wi, wd, err, sizeof err) == 0, "d = 8 queries, gate off: %s", err);
        static struct qjob qjobs[T];
        pthread_t qth[T];
        for (int i = 0; i < T; i++) {
            qjobs[i].m = m8;
            qjobs[i].q = q8;
            CHECK(pthread_create(&qth[i], NULL, qsearch, &qjobs[i]) == 0, "pthread_create");
        }
        for (int i = 0; i < T; i++) {
            pthread_join(qth[i], NULL);
            CHECK(qjobs[i].status == 0, "query thread %d: %s", i, qjobs[i].err);
            CHECK(!memcmp(qjobs[i].idx, wi, sizeof wi) && !memcmp(qjobs[i].dist, wd, sizeof wd), "query thread %d's answer differs", i);
        }
        pcct_metric_free(m8);
    }

    // The max-min ordering: a permutation of the points from the given
    // first point, the same for every worker count, and the default start
    // (first < 0) is a point of the data.
    static int64_t ord[2][N];
    static char seen[N];
    CHECK(pcct_maxmin_order(m, 17, 1, ord[0], err, sizeof err) == 0, "maxmin: %s", err);
    CHECK(pcct_maxmin_order(m, 17, 3, ord[1], err, sizeof err) == 0, "maxmin, 3 workers: %s", err);
    CHECK(ord[0][0] == 17, "maxmin starts at %lld", (long long)ord[0][0]);
    CHECK(!memcmp(ord[0], ord[1], sizeof ord[0]), "maxmin differs between 1 and 3 workers");
    for (int i = 0; i < N; i++) {
        CHECK(ord[0][i] >= 0 && ord[0][i] < N && !seen[ord[0][i]], "maxmin: position %d holds %lld", i, (long long)ord[0][i]);
        if (ord[0][i] >= 0 && ord[0][i] < N) seen[ord[0][i]] = 1;
    }
    CHECK(pcct_maxmin_order(m, -1, 0, ord[1], err, sizeof err) == 0 && ord[1][0] >= 0 && ord[1][0] < N, "maxmin from the centre: %s", err);
    CHECK(pcct_maxmin_order(m, N, 0, ord[1], err, sizeof err) == 1 && strstr(err, "not one of the"), "maxmin, first out of range: %s", err);
    CHECK(pcct_maxmin_order(m, 0, 0, NULL, err, sizeof err) == 1, "maxmin, NULL order: %s", err);

    // The coordinates' ordering: with one lengthscale (the coordinates as
    // given) the Euclidean metric's ordering, from the same first point;
    // its bad arguments.
    {
        uint64_t e = 0;
        CHECK(pcct_metric_euclidean(x, N, D, &e, err, sizeof err) == 0, "euclidean: %s", err);
        CHECK(pcct_maxmin_order(e, 17, 2, ord[0], err, sizeof err) == 0, "euclidean maxmin: %s", err);
        CHECK(pcct_maxmin_order_coords(x, N, D, ls, 1, 17, 2, ord[1], err, sizeof err) == 0, "coords maxmin: %s", err);
        CHECK(!memcmp(ord[0], ord[1], sizeof ord[0]), "maxmin_order_coords differs from the Euclidean metric's ordering");
        pcct_metric_free(e);
        double two[] = {0.1, 0.2}, badls[] = {0.1, -1};
        CHECK(pcct_maxmin_order_coords(x, N, D, two, 2, -1, 0, ord[1], err, sizeof err) == 0 && ord[1][0] >= 0, "coords maxmin, two lengthscales: %s", err);
        CHECK(pcct_maxmin_order_coords(x, N, D, badls, 2, -1, 0, ord[1], err, sizeof err) == 1 && strstr(err, "must be positive"), "coords maxmin, negative lengthscale: %s", err);
        CHECK(pcct_maxmin_order_coords(x, N, D, two, 3, -1, 0, ord[1], err, sizeof err) == 1, "coords maxmin, 3 lengthscales: %s", err);
        CHECK(pcct_maxmin_order_coords(x, N, D, NULL, 0, N, 0, ord[1], err, sizeof err) == 1 && strstr(err, "not one of the"), "coords maxmin, first out of range: %s", err);
        CHECK(pcct_maxmin_order_coords(x, N, D, NULL, 0, -1, 0, NULL, err, sizeof err) == 1, "coords maxmin, NULL order: %s", err);
    }

    // From 65,536 points the metric stores the points in another order
    // (by index band along a Morton curve): every search and the tree
    // handles must still answer in the given order (each repeated point's
    // nearest is its equal point, a predecessor's index below its own).
    // The Python tests compare these answers with the command's; here the
    // paths agree.
    {
        enum { NL = 70000 };
        static double xl[NL * D];
        for (int i = 0; i < NL * D; i++) xl[i] = (double)rand() / RAND_MAX;
        memcpy(xl + (NL - 500) * D, xl, 500 * D * sizeof(double)); // the last 500 repeat the first
        uint64_t ml = 0, tl = 0, tl2 = 0;
        CHECK(pcct_metric_residual(xl, NL, D, "rbf", ls, 1, 1.0, 32, NULL, 0, 0.0, 3, 2, &ml, err, sizeof err) == 0, "large metric: %s", err);
        static int64_t li[3][NL * K];
        static double ld[3][NL * K];
        CHECK(pcct_knn(ml, K, 1, "brute", "off", 2, li[0], ld[0], err, sizeof err) == 0, "large brute: %s", err);
        CHECK(pcct_knn(ml, K, 1, "tree", NULL, 2, li[1], ld[1], err, sizeof err) == 0, "large tree: %s", err);
        CHECK(!memcmp(li[0], li[1], sizeof li[0]) && !memcmp(ld[0], ld[1], sizeof ld[0]), "large: tree and brute differ");
        for (int i = 1; i < NL; i++)
            CHECK(li[0][i * K] >= 0 && li[0][i * K] < i, "large row %d: %lld is not a predecessor", i, (long long)li[0][i * K]);
        for (int i = NL - 500; i < NL; i++)
            CHECK(li[0][i * K] == i - (NL - 500) && ld[0][i * K] < 1e-6, "large row %d: nearest %lld at %g, not its equal point", i, (long long)li[0][i * K], ld[0][i * K]);
        CHECK(pcct_tree_build(ml, 2, &tl, err, sizeof err) == 0, "large tree build: %s", err);
        snprintf(path, sizeof path, "%s/tree-large.pcct", dir);
        CHECK(pcct_tree_save(tl, path, err, sizeof err) == 0, "large save: %s", err);
        CHECK(pcct_tree_load(ml, path, &tl2, err, sizeof err) == 0, "large load: %s", err);
        CHECK(pcct_tree_knn(tl2, K, 1, 2, li[2], ld[2], err, sizeof err) == 0, "large tree knn: %s", err);
        CHECK(!memcmp(li[2], li[0], sizeof li[0]) && !memcmp(ld[2], ld[0], sizeof ld[0]), "large: the loaded tree's answer differs");
        CHECK(pcct_knn(ml, K, 0, "brute", "off", 2, li[0], ld[0], err, sizeof err) == 0, "large all points: %s", err);
        CHECK(pcct_tree_knn(tl, K, 0, 2, li[1], ld[1], err, sizeof err) == 0, "large tree all points: %s", err);
        CHECK(!memcmp(li[0], li[1], sizeof li[0]) && !memcmp(ld[0], ld[1], sizeof ld[0]), "large all points: tree handle and brute differ");
        for (int i = 0; i < 500; i++)
            CHECK(li[0][i * K] == NL - 500 + i && ld[0][i * K] < 1e-6, "large all points row %d: nearest %lld", i, (long long)li[0][i * K]);
        pcct_tree_free(tl);
        pcct_tree_free(tl2);
        pcct_metric_free(ml);
    }

    // Errors: status codes and messages, never a crash.
    CHECK(pcct_knn(m, 0, 0, "auto", NULL, 0, idx[0], dist[0], err, sizeof err) == 1 && strstr(err, "k must be at least 1"), "k = 0: %s", err);
    CHECK(pcct_knn(m, K, 0, "fast", NULL, 0, idx[0], dist[0], err, sizeof err) == 1 && strstr(err, "fast"), "bad search: %s", err);
    CHECK(pcct_knn(m, K, 0, "auto", "lookup", 0, idx[0], dist[0], err, sizeof err) == 1 && strstr(err, "gate must be"), "bad gate: %s", err);
    CHECK(pcct_knn(m, K, 0, "auto", NULL, 0, NULL, NULL, err, sizeof err) == 1, "NULL outputs: %s", err);
    CHECK(pcct_knn(12345, K, 0, "auto", NULL, 0, idx[0], dist[0], err, sizeof err) == 1 && strstr(err, "not a live metric"), "bad handle: %s", err);
    CHECK(pcct_tree_knn(m, K, 0, 0, idx[0], dist[0], err, sizeof err) == 1 && strstr(err, "not a tree"), "metric as tree: %s", err);
    double bad[4] = {0, 0, NAN, 1};
    uint64_t mb = 0;
    CHECK(pcct_metric_euclidean(bad, 2, 2, &mb, err, sizeof err) == 1 && strstr(err, "NaN"), "NaN: %s", err);
    CHECK(pcct_metric_residual(x, N, D, "linear", ls, 1, 1.0, 0, NULL, 0, 0.0, 1, 0, &mb, err, sizeof err) == 1, "kernel: %s", err);
    double u[6] = {0, 0, 0, 0, 0, 0};
    CHECK(pcct_metric_residual(x, N, D, "rbf", ls, 1, 1.0, 0, u, 3, 1e-300, 1, 0, &mb, err, sizeof err) == 2 && strstr(err, "Cholesky"), "singular: %s", err);
    CHECK(pcct_tree_load(m, "/nonexistent/tree.pcct", &t2, err, sizeof err) == 2, "missing file: %s", err);
    CHECK(pcct_metric_residual(x, N, D, "rbf", ls, 1, 1.0, 0, NULL, 0, 0.0, 1, 0, &mb, NULL, 0) == 0, "NULL err buffer");
    pcct_metric_free(mb);
    pcct_metric_free(m);
    pcct_metric_free(m); // ignored
    if (failures) return 1;
    printf("libpcct C ABI: all tests passed\n");
    return 0;
}
