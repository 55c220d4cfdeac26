#!/usr/bin/env bash
# Sourced by the bindings' scripts from the repository root: builds libpcct
# (libpcct.so, libpcct.h) and the pcct command into a fresh temporary
# directory $tmp, removed on exit with R's build products; with
# --with-r, also installs the R package into $tmp/rlib.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" r/pcct/src/*.o r/pcct/src/*.so' EXIT
go build -buildmode=c-shared -o "$tmp/libpcct.so" ./cmd/libpcct
go build -o "$tmp/pcct" ./cmd/pcct
if [ "${1:-}" = --with-r ]; then
	mkdir -p "$tmp/rlib"
	PCCT_LIB_DIR="$tmp" R CMD INSTALL --preclean --no-test-load --library="$tmp/rlib" r/pcct > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
fi
