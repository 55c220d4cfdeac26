package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// memEstimate is what a run is expected to hold at its peak, in bytes,
// with the largest parts named for the error message.
type memEstimate struct {
	total float64
	parts []string
}

// estimateMemory estimates the peak memory of a k-NN run over n points of
// dimension d (m columns of V for the residual metric, 0 for Euclidean;
// 4-byte V with float32), answering rows queries: the coordinates (and
// their transpose; for the Euclidean metric also the k-d tree's leaf
// blocks), V, p and 1/sqrt(p), the tree's arrays, the answer
// (int32 indices and float64 distances) and its int64 copy for the output
// (with screen, V's float32 copy and the fused row's per-point inputs:
// float32 coordinates, norms, weights, and up to 6 dimensions their
// 64-byte per-point records as well; with pivots, the bound gate's
// pivot distances), plus the runtime's base and a 25 % margin for the garbage collector at
// 20 % growth and the workers' scratch.
func estimateMemory(n, d, m, rows, k, pivots int, float32V, screen bool) memEstimate {
	fn, fr, fk := float64(n), float64(rows), float64(k)
	v := fn * float64(m) * 8
	if float32V {
		v /= 2
	}
	if screen {
		v *= 1.5 // the float32 copy screening keeps
	}
	coords := 2 * fn * float64(d) * 8
	if m == 0 {
		coords *= 1.5 // the k-d tree's leaf blocks: one more copy
	}
	if screen {
		coords += fn * (float64(d)*4 + 16)
		if d <= 6 {
			coords += fn * 64 // metric's fusedRec records
		}
	}
	tree := fn * (100 + 8*float64(pivots))
	answer := fr * fk * (4 + 8 + 8)
	e := memEstimate{total: 1.25*(coords+v+16*fn+tree+answer) + 64<<20}
	if v > 0 {
		e.parts = append(e.parts, fmt.Sprintf("V %d x %d: %s", n, m, human(v)))
	}
	e.parts = append(e.parts, fmt.Sprintf("answer %d x %d: %s", rows, k, human(answer)))
	return e
}

// availableMemory returns the memory this process may still take (the
// smaller of the cgroup's limit less its usage and MemAvailable) and where
// that figure comes from; ok is false when neither is known.
func availableMemory() (bytes float64, source string, ok bool) {
	bytes = math.Inf(1)
	if kb, found := meminfo("MemAvailable"); found {
		bytes, source, ok = kb*1024, "MemAvailable in /proc/meminfo", true
	}
	if limit, usage, found := cgroupMemory(); found && limit-usage < bytes {
		bytes, source, ok = max(0, limit-usage), "the cgroup's memory limit less its usage", true
	}
	return bytes, source, ok
}

func meminfo(key string) (float64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == key+":" {
			v, err := strconv.ParseFloat(fields[1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// cgroupMemory reads the memory limit and usage of this process's cgroup
// (v2, else v1); found is false without a finite limit.
func cgroupMemory() (limit, usage float64, found bool) {
	read := func(p string) (float64, bool) {
		b, err := os.ReadFile(p)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		return v, err == nil && v < 1<<60
	}
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "0::"); ok {
				dir := filepath.Join("/sys/fs/cgroup", rest)
				if l, ok := read(filepath.Join(dir, "memory.max")); ok {
					u, _ := read(filepath.Join(dir, "memory.current"))
					return l, u, true
				}
			}
		}
	}
	if l, ok := read("/sys/fs/cgroup/memory/memory.limit_in_bytes"); ok {
		u, _ := read("/sys/fs/cgroup/memory/memory.usage_in_bytes")
		return l, u, true
	}
	return 0, 0, false
}

// parseSize reads a byte count: a number with an optional K, M, G or T
// suffix (powers of 1024, an optional trailing B or iB).
func parseSize(s string) (float64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := 1.0
	if len(t) > 0 {
		if i := strings.IndexByte("KMGT", t[len(t)-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a size (for example 512M, 8G)", s)
	}
	return v * mult, nil
}

// human formats a byte count.
func human(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	}
	return fmt.Sprintf("%.0f KiB", b/1024)
}
