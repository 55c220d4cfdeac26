#!/usr/bin/env bash
# Builds libpcct and the pcct command, installs the R package into a
# temporary library and runs its tests (Debian's r-base-core, r-base-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
. cmd/libpcct/build.sh --with-r
R_LIBS="$tmp/rlib" PCCT_CLI="$tmp/pcct" Rscript r/tests/test.R
