#' The libpcct version string.
pcct_version <- function() .Call("pcct_r_version", PACKAGE = "pcct")

# points checks a matrix of coordinates and returns its transpose (whose
# memory is the row-major array pcct reads).
points <- function(x, name, d = NULL) {
  if (is.data.frame(x)) x <- as.matrix(x)
  if (!is.numeric(x)) stop(sprintf("pcct: %s must be a numeric matrix, got %s", name, class(x)[1]), call. = FALSE)
  if (is.null(dim(x))) x <- matrix(x, ncol = 1)
  if (length(dim(x)) != 2) stop(sprintf("pcct: %s must be a matrix (points x dimensions)", name), call. = FALSE)
  if (nrow(x) < 1 || ncol(x) < 1) stop(sprintf("pcct: %s is empty", name), call. = FALSE)
  if (!is.null(d) && ncol(x) != d) stop(sprintf("pcct: %s has %d dimensions, the data %d", name, ncol(x), d), call. = FALSE)
  bad <- which(!is.finite(x), arr.ind = TRUE)
  if (length(bad) > 0) {
    stop(sprintf("pcct: %s[%d, %d] is %s: coordinates must be finite", name, bad[1, 1], bad[1, 2],
                 format(x[bad[1, 1], bad[1, 2]])), call. = FALSE)
  }
  t(matrix(as.double(x), nrow(x), ncol(x)))
}

count <- function(v, name, min = 1) {
  if (length(v) != 1 || !is.numeric(v) || is.na(v) || v != round(v) || v < min) {
    stop(sprintf("pcct: %s must be a whole number >= %d, got %s", name, min, format(v)), call. = FALSE)
  }
  as.integer(v)
}

#' Exact k-nearest neighbours in the residual-correlation metric.
#'
#' The same answer as `pcct knn` with the same options. x: an n x d
#' numeric matrix. Returns list(index, distance): n x k matrices, index
#' 1-based, nearest first (ties to the lower index), NA where a point has
#' fewer than k neighbours. predecessor = TRUE gives the Vecchia job (point
#' i takes only j < i). gate = "auto" lets brute force screen in float32
#' where it pays (the same answer); "off" never does.
pcct_knn <- function(x, k, predecessor = FALSE, kernel = "rbf", lengthscale = 1, variance = 1,
                     inducing = NULL, inducing_points = NULL, jitter = NULL, seed = 42, queries = NULL,
                     workers = NULL, search = "auto", metric = "residual", gate = "auto") {
  xt <- points(x, "x")
  k <- count(k, "k")
  if (!search %in% c("auto", "tree", "brute", "kd")) stop("pcct: search must be \"auto\", \"tree\", \"brute\" or \"kd\"", call. = FALSE)
  if (!gate %in% c("auto", "off")) stop("pcct: gate must be \"auto\" or \"off\"", call. = FALSE)
  if (isTRUE(predecessor) && !is.null(queries)) stop("pcct: predecessor applies to all-points k-NN, not to queries", call. = FALSE)
  qt <- if (is.null(queries)) NULL else points(queries, "queries", nrow(xt))
  a <- metric_args(xt, metric, inducing, inducing_points, workers, jitter)
  .Call("pcct_r_knn", xt, k, isTRUE(predecessor), metric, as.character(kernel), as.double(lengthscale),
        as.double(variance), a$m, a$ut, a$jit, as.double(seed), qt, a$w, search, gate, PACKAGE = "pcct")
}

# metric_args checks the arguments that make the metric (and the worker
# count) and returns them as the C glue takes them.
metric_args <- function(xt, metric, inducing, inducing_points, workers, jitter) {
  if (!metric %in% c("residual", "euclidean")) stop("pcct: metric must be \"residual\" or \"euclidean\"", call. = FALSE)
  jit <- if (is.null(jitter)) 0 else as.double(jitter)
  if (!is.null(jitter) && !(jit > 0)) stop("pcct: jitter must be positive", call. = FALSE)
  list(ut = if (is.null(inducing_points)) NULL else points(inducing_points, "inducing_points", nrow(xt)),
       m = if (is.null(inducing)) 0L else count(inducing, "inducing"),
       w = if (is.null(workers)) 0L else count(workers, "workers"),
       jit = jit)
}

#' The exact max-min ordering of the points, as `pcct knn --order maxmin`
#' computes it: a 1-based integer vector o, so that x[o, ] is the Vecchia
#' ordering to pass to pcct_knn(..., predecessor = TRUE) or pcct_nnarray.
#' It starts at point first (default: the point nearest the coordinates'
#' mean), then always takes the point farthest from all chosen so far
#' under the metric, ties to the lower index. The metric's options are
#' pcct_knn's.
pcct_order_maxmin <- function(x, first = NULL, kernel = "rbf", lengthscale = 1, variance = 1,
                              inducing = NULL, inducing_points = NULL, jitter = NULL, seed = 42,
                              workers = NULL, metric = "residual") {
  xt <- points(x, "x")
  f <- if (is.null(first)) 0L else count(first, "first")
  if (f > ncol(xt)) stop(sprintf("pcct: first must be a point index in 1..%d, got %d", ncol(xt), f), call. = FALSE)
  a <- metric_args(xt, metric, inducing, inducing_points, workers, jitter)
  .Call("pcct_r_order", xt, f, metric, as.character(kernel), as.double(lengthscale), as.double(variance),
        a$m, a$ut, a$jit, as.double(seed), a$w, PACKAGE = "pcct")
}

#' The exact max-min ordering of the coordinates, as `pcct knn --order
#' maxmin-coords` computes it: the Euclidean distance of the coordinates
#' divided by the lengthscales (one, or one per dimension) over the
#' smallest, so GpGp's order_maxmin and GPvecchia's order_maxmin_exact
#' (ties aside), scaled as scaled Vecchia scales it; far faster than
#' pcct_order_maxmin under the residual metric. A 1-based integer vector,
#' starting at first (default: the point nearest the scaled coordinates'
#' mean).
pcct_order_maxmin_coords <- function(x, lengthscale = 1, first = NULL, workers = NULL) {
  xt <- points(x, "x")
  f <- if (is.null(first)) 0L else count(first, "first")
  if (f > ncol(xt)) stop(sprintf("pcct: first must be a point index in 1..%d, got %d", ncol(xt), f), call. = FALSE)
  ls <- as.double(lengthscale)
  if (!length(ls) %in% c(1, nrow(xt))) {
    stop(sprintf("pcct: lengthscale must be one value or one per dimension (%d), got %d", nrow(xt), length(ls)), call. = FALSE)
  }
  w <- if (is.null(workers)) 0L else count(workers, "workers")
  .Call("pcct_r_order_coords", xt, f, ls, w, PACKAGE = "pcct")
}

#' The NNarray of GpGp, GPvecchia and VeccTMVN: n x (k+1), row i holding i
#' and then its k nearest predecessors (1-based, nearest first, NA
#' padding), for points already in the Vecchia ordering.
pcct_nnarray <- function(x, k, ...) {
  nb <- pcct_knn(x, k, predecessor = TRUE, ...)
  cbind(seq_len(nrow(nb$index)), nb$index)
}
