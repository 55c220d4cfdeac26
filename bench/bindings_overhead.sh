#!/usr/bin/env bash
# Measures what a call from Python or R adds to the same search in Go: the
# Vecchia job (predecessor k = 8) on n = 32,768 uniform points in [0,1]^8,
# residual metric, m = 512, three alternating runs each. Go's time is the
# pcct command's own "metric built + search" (file reading excluded); the
# bindings' times cover their whole call (checks, copies, the metric, the
# search, the output matrices).
set -euo pipefail
cd "$(dirname "$0")/.."
. cmd/libpcct/build.sh --with-r
/usr/bin/python3 -c "
import numpy as np
np.save('$tmp/x.npy', np.random.default_rng(1).random((32768, 8)))"
for run in 1 2 3; do
	"$tmp/pcct" knn --input "$tmp/x.npy" --predecessor --k 8 --show 0 2>/dev/null | awk '/metric built/ {gsub(",", ""); print "go:     " $9 + $12 " s"}'
	PCCT_LIB="$tmp/libpcct.so" /usr/bin/python3 -c "
import sys, time, numpy as np
sys.path.insert(0, 'python')
import pcct
x = np.load('$tmp/x.npy')
t = time.perf_counter(); pcct.knn(x, 8, predecessor=True); print('python: %.3f s' % (time.perf_counter() - t))"
	R_LIBS="$tmp/rlib" Rscript -e "
con <- file('$tmp/x.npy', 'rb'); invisible(readBin(con, 'raw', 8)); h <- readBin(con, 'integer', 1, size = 2, signed = FALSE); invisible(readBin(con, 'raw', h))
x <- matrix(readBin(con, 'double', 32768 * 8, size = 8), 32768, 8, byrow = TRUE); close(con)
library(pcct); t <- proc.time()[['elapsed']]; invisible(pcct_knn(x, 8, predecessor = TRUE)); cat(sprintf('r:      %.3f s\n', proc.time()[['elapsed']] - t))"
done
