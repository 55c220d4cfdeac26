#!/usr/bin/env bash
# Builds libpcct and the pcct command, installs the R package into a
# temporary library and runs its tests (Debian's r-base-core, r-base-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" r/pcct/src/*.o r/pcct/src/*.so' EXIT
go build -buildmode=c-shared -o "$tmp/libpcct.so" ./cmd/libpcct
go build -o "$tmp/pcct" ./cmd/pcct
mkdir -p "$tmp/rlib"
PCCT_LIB_DIR="$tmp" R CMD INSTALL --preclean --no-test-load --library="$tmp/rlib" r/pcct > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
R_LIBS="$tmp/rlib" PCCT_CLI="$tmp/pcct" Rscript r/tests/test.R
