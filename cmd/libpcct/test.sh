#!/usr/bin/env bash
# Builds libpcct and runs the C test of its ABI (gcc).
set -euo pipefail
cd "$(dirname "$0")/../.."
. cmd/libpcct/build.sh
${CC:-cc} -O1 -Wall -o "$tmp/abi_test" cmd/libpcct/testdata/abi_test.c -I"$tmp" -L"$tmp" -lpcct -Wl,-rpath,"$tmp" -lm -lpthread
"$tmp/abi_test" "$tmp"
