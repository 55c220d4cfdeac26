// Package benchutil holds the knobs that pcct's benchmarks share.
package benchutil

import (
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Workers returns the worker counts a scaling benchmark runs: the list in
// PCCT_BENCH_WORKERS (e.g. "1,2,4,8,16"), or 1, 2, 4, ... up to the CPUs
// (at most 16).
func Workers() []int {
	if out := EnvInts("PCCT_BENCH_WORKERS"); out != nil {
		return out
	}
	var out []int
	for w := 1; w <= runtime.NumCPU() && w <= 16; w *= 2 {
		out = append(out, w)
	}
	return out
}

// EnvInt returns the positive integer in the environment variable name, or
// def.
func EnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// EnvInts returns the positive integers listed, comma-separated, in the
// environment variable name (nil when it is unset or lists none).
func EnvInts(name string) []int {
	var out []int
	for _, s := range strings.Split(os.Getenv(name), ",") {
		if w, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && w > 0 {
			out = append(out, w)
		}
	}
	return out
}
