// Command libpcct is pcct as a C library: `go build -buildmode=c-shared -o
// libpcct.so ./cmd/libpcct` writes libpcct.so and its header libpcct.h
// (the C ABI, version PCCT_ABI 1, declared in abi.h and pcct.h).
//
// Memory: the caller owns every array it passes; pcct reads the input
// arrays during the call only (the metric keeps its own scaled copy of the
// coordinates) and writes the output arrays, which must hold n x k
// elements (n for pcct_maxmin_order's ordering). Handles (metrics, trees) are opaque integers, freed with the
// matching _free function; a handle may be used from several threads at
// once for searches, but must not be freed while in use. Errors: every
// function returns a status (0 success, 1 bad input, 2 a failed run, 3 an
// internal error: a Go panic, never propagated) and writes a
// NUL-terminated message into the caller's err buffer (errlen bytes; may
// be NULL). One process loads one Go runtime: load libpcct once.
package main

// main is required of a c-shared library's main package; it never runs.
// (Without cgo, as in a cross-build, the package is only this file.)
func main() {}
