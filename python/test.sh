#!/usr/bin/env bash
# Builds libpcct and the pcct command into a temporary directory and runs
# the Python binding's tests against them (Debian's python3-numpy).
set -euo pipefail
cd "$(dirname "$0")/.."
. cmd/libpcct/build.sh
PY=${PYTHON:-/usr/bin/python3}
PCCT_LIB="$tmp/libpcct.so" PCCT_CLI="$tmp/pcct" "$PY" -m unittest discover -s python/tests -v "$@"
