# Tests of the R binding: same answers as the pcct command (its .csv
# output, full precision), the NNarray against --format gpgp, and clear
# errors. Run by r/test.sh.
library(pcct)
cli <- Sys.getenv("PCCT_CLI")
fail <- function(...) { cat("FAIL:", ..., "\n"); quit(status = 1) }

# read_npy reads a little-endian int64 or float64 .npy vector or matrix (C
# order).
read_npy <- function(path) {
  con <- file(path, "rb"); on.exit(close(con))
  readBin(con, "raw", 8)
  hlen <- readBin(con, "integer", 1, size = 2, endian = "little", signed = FALSE)
  header <- rawToChar(readBin(con, "raw", hlen))
  dims <- sub(".*shape': \\(", "", header)
  shape <- as.integer(regmatches(dims, gregexpr("[0-9]+", sub("\\).*", "", dims)))[[1]])
  v <- if (grepl("<i8", header, fixed = TRUE)) {
    readBin(con, "integer", prod(shape), size = 8, endian = "little")
  } else {
    readBin(con, "double", prod(shape), size = 8, endian = "little")
  }
  if (length(shape) == 1) return(v)
  matrix(v, shape[1], shape[2], byrow = TRUE)
}

run_cli <- function(x, args, ext = "npy") {
  d <- tempfile(); dir.create(d)
  inp <- file.path(d, "x.csv"); out <- file.path(d, paste0("nn.", ext))
  write.table(format(x, digits = 17), inp, sep = ",", row.names = FALSE, col.names = FALSE, quote = FALSE)
  st <- system2(cli, c("knn", "--input", inp, "--output", out, "--quiet", args), stdout = FALSE)
  if (st != 0) fail("pcct knn exit", st)
  if (ext == "csv") return(read.csv(out, header = FALSE, colClasses = "character"))
  list(index = read_npy(out), distance = read_npy(sub("\\.npy$", "_distances.npy", out)), path = out)
}

set.seed(3)
x <- matrix(runif(1500 * 3), 1500, 3)
k <- 6
got <- pcct_knn(x, k, predecessor = TRUE, kernel = "matern52", lengthscale = c(0.2, 0.3, 0.4), inducing = 64)
ref <- run_cli(x, c("--k", k, "--predecessor", "--kernel", "matern52", "--lengthscale", "0.2,0.3,0.4", "--inducing", "64"))
wi <- ref$index; wi[wi < 0] <- NA; wi <- wi + 1L
wd <- ref$distance; wd[is.na(wi)] <- NA
if (!identical(got$index, wi)) fail("indices differ from pcct knn")
if (!identical(got$distance, wd)) fail("distances differ from pcct knn")
if (!all(is.na(got$index[1, ])) || !all(is.na(got$index[3, 3:k]))) fail("padding")

nn <- pcct_nnarray(x, 8, lengthscale = 0.1, inducing = 100)
g <- run_cli(x, c("--k", "8", "--predecessor", "--lengthscale", "0.1", "--inducing", "100", "--format", "gpgp"), ext = "csv")
gm <- matrix(suppressWarnings(as.integer(as.matrix(g))), nrow(g))
if (!identical(unname(nn), gm)) fail("NNarray differs from --format gpgp")

q <- matrix(runif(40 * 3), 40, 3)
e <- pcct_knn(x, 4, metric = "euclidean", queries = q, search = "tree")
e2 <- pcct_knn(x, 4, metric = "euclidean", queries = q, search = "brute", workers = 1)
if (!identical(e, e2)) fail("tree and brute force differ")
e3 <- pcct_knn(x, 4, metric = "euclidean", queries = q, search = "kd")
if (!identical(e3, e2)) fail("k-d tree and brute force differ")
rq <- pcct_knn(x, 4, queries = q, lengthscale = 0.2, inducing = 80, workers = 2)
rq2 <- pcct_knn(x, 4, queries = q, lengthscale = 0.2, inducing = 80, search = "brute")
if (!identical(rq, rq2) || any(is.na(rq$index))) fail("residual queries")

x8 <- matrix(runif(4000 * 8), 4000, 8)
g1 <- pcct_knn(x8, 8, predecessor = TRUE, inducing = 64, search = "brute")
g2 <- pcct_knn(x8, 8, predecessor = TRUE, inducing = 64, search = "brute", gate = "off")
if (!identical(g1, g2)) fail("gate auto and off differ")

# The max-min ordering: the command's (--order maxmin writes it, 0-based,
# beside the neighbours), and the neighbours on the reordered points are
# the command's (explicit inducing points, so the metric is the same).
u <- x[1:40, ] + 0.01
d <- tempfile(); dir.create(d)
up <- file.path(d, "u.csv")
write.table(format(u, digits = 17), up, sep = ",", row.names = FALSE, col.names = FALSE, quote = FALSE)
ref <- run_cli(x, c("--k", "5", "--predecessor", "--order", "maxmin", "--inducing-points", up, "--lengthscale", "0.2"))
o <- pcct_order_maxmin(x, inducing_points = u, lengthscale = 0.2, workers = 2)
co <- read_npy(file.path(dirname(ref$path), "nn_order.npy"))
if (!identical(o, as.vector(co) + 1L)) fail("max-min order differs from --order maxmin")
ro <- pcct_knn(x[o, ], 5, predecessor = TRUE, inducing_points = u, lengthscale = 0.2)
wi <- ref$index; wi[wi < 0] <- NA; wi <- wi + 1L
if (!identical(ro$index, wi)) fail("neighbours on the max-min order differ from the command's")
oe <- pcct_order_maxmin(x, first = 8, metric = "euclidean")
if (oe[1] != 8L || !identical(sort(oe), seq_len(nrow(x)))) fail("euclidean max-min order is not a permutation from 8")
# --order maxmin-coords: the Euclidean ordering of the coordinates divided
# by the lengthscales over the smallest (the same bits).
ls <- c(0.2, 0.05, 0.1)[seq_len(ncol(x))]
ref <- run_cli(x, c("--k", "4", "--predecessor", "--order", "maxmin-coords", "--lengthscale", paste(ls, collapse = ",")))
oc <- pcct_order_maxmin(sweep(x, 2, ls / min(ls), "/"), metric = "euclidean")
if (!identical(oc, as.vector(read_npy(file.path(dirname(ref$path), "nn_order.npy"))) + 1L)) fail("max-min order of the scaled coordinates differs from --order maxmin-coords")
if (!identical(pcct_order_maxmin_coords(x, lengthscale = ls, workers = 2), oc)) fail("pcct_order_maxmin_coords differs from --order maxmin-coords")
if (pcct_order_maxmin_coords(x, lengthscale = 0.3, first = 9)[1] != 9L) fail("pcct_order_maxmin_coords does not start at first")

expect_error <- function(expr, msg) {
  r <- tryCatch({ expr; NULL }, error = function(e) conditionMessage(e))
  if (is.null(r) || !grepl(msg, r, fixed = TRUE)) fail("expected an error with", msg, "got", format(r))
}
bad <- x; bad[7, 2] <- NaN
expect_error(pcct_knn(bad, 3), "x[7, 2] is NaN")
expect_error(pcct_knn(matrix(letters[1:6], 3), 3), "must be a numeric matrix")
expect_error(pcct_knn(x, 0), "k must be a whole number >= 1")
expect_error(pcct_knn(x, 2.5), "k must be a whole number >= 1")
expect_error(pcct_knn(x, 3, lengthscale = -1), "lengthscale of dimension 0 must be positive")
expect_error(pcct_knn(x, 3, kernel = "linear"), "unknown kernel \"linear\"")
expect_error(pcct_knn(x[1:10, ], 3, inducing = 50), "larger than the number of points")
expect_error(pcct_knn(x, 3, queries = matrix(1, 2, 2)), "queries has 2 dimensions")
expect_error(pcct_knn(x, 3, search = "fast"), "search must be")
expect_error(pcct_knn(x, 3, gate = "screen"), "gate must be")
expect_error(pcct_knn(matrix(0, 10, 2), 2, inducing_points = matrix(0, 3, 2), jitter = 1e-300), "Cholesky")
expect_error(pcct_order_maxmin(x, first = 1501), "first must be a point index in 1..1500")
expect_error(pcct_order_maxmin(x, first = 0), "first must be a whole number >= 1")
expect_error(pcct_order_maxmin(x, metric = "cosine"), "metric must be")
expect_error(pcct_order_maxmin(bad), "x[7, 2] is NaN")
expect_error(pcct_order_maxmin_coords(bad), "x[7, 2] is NaN")
expect_error(pcct_order_maxmin_coords(x, lengthscale = c(1, 2, 3, 4)), "one value or one per dimension")
expect_error(pcct_order_maxmin_coords(x, lengthscale = c(1, -1, 1)), "lengthscale 1 must be positive")
expect_error(pcct_order_maxmin_coords(x, first = 0), "first must be a whole number >= 1")
if (!grepl("C ABI 1", pcct_version())) fail("version")
cat("R binding: all tests passed\n")
