package kernels

import (
	"fmt"
	"math"
)

// The argument checks every exported kernel shares: a misuse panics with
// a message naming the kernel and the problem, before any assembly runs.

// checkTile panics on the misuses the dot tiles reject (named after the
// caller) and reports whether the tile has anything to compute. With rows,
// every picked row [id*ldb, id*ldb+m) must lie in b.
func checkTile[T Float](name string, g []T, ldg int, a []T, lda int, b []T, ldb int, rows []int32, q, c, m int) bool {
	lb := len(b)
	if rows != nil {
		lb = math.MaxInt // checked row by row below
	}
	checkDot(len(g), ldg, len(a), lda, lb, ldb, q, c, m)
	if q == 0 || c == 0 {
		return false
	}
	for j, id := range rows {
		if id < 0 || int(id)*ldb+m > len(b) {
			panic(fmt.Sprintf("kernels: %s: row id %d (position %d) outside b (%d elements, stride %d, m=%d)", name, id, j, len(b), ldb, m))
		}
	}
	checkNoOverlap(g[:(q-1)*ldg+c], a, name, "g overlaps a")
	checkNoOverlap(g[:(q-1)*ldg+c], b, name, "g overlaps b")
	return true
}

// checkShape panics on what every q x c tile over row-major A rows of
// length k rejects: negative sizes, an output stride below c or an A stride
// below k, an output or an A too short. It reports whether the tile is
// empty (then nothing else needs checking).
func checkShape(lo, ldo, la, lda, q, c, k int) (empty bool) {
	switch {
	case q < 0 || c < 0 || k < 0:
		panic(fmt.Sprintf("kernels: negative tile size q=%d c=%d, row length %d", q, c, k))
	case q == 0 || c == 0:
		return true
	case ldo < c || lda < k:
		panic(fmt.Sprintf("kernels: stride too small (output %d for c=%d, a %d for rows of %d)", ldo, c, lda, k))
	case lo < (q-1)*ldo+c:
		panic(fmt.Sprintf("kernels: output has %d elements, tile needs %d", lo, (q-1)*ldo+c))
	case la < (q-1)*lda+k:
		panic(fmt.Sprintf("kernels: a has %d elements, tile needs %d", la, (q-1)*lda+k))
	}
	return false
}

func checkCoordTile(lo, ldo, la, lda, lbt, ldbt, q, c, d int) {
	if checkShape(lo, ldo, la, lda, q, c, d) {
		return
	}
	switch {
	case ldbt < c:
		panic(fmt.Sprintf("kernels: bt stride %d is below c=%d", ldbt, c))
	case d > 0 && lbt < (d-1)*ldbt+c:
		panic(fmt.Sprintf("kernels: bt has %d elements, tile needs %d", lbt, (d-1)*ldbt+c))
	}
}

func checkIdx(idx []int32, c int, r float64) {
	if r >= 0 && len(idx) < c {
		panic(fmt.Sprintf("kernels: idx has room for %d hits, row has %d columns", len(idx), c))
	}
}

func checkDot(lg, ldg, la, lda, lb, ldb, q, c, m int) {
	if checkShape(lg, ldg, la, lda, q, c, m) {
		return
	}
	switch {
	case ldb < m:
		panic(fmt.Sprintf("kernels: b stride %d is below m=%d", ldb, m))
	case lb < (c-1)*ldb+m:
		panic(fmt.Sprintf("kernels: b has %d elements, tile needs %d", lb, (c-1)*ldb+m))
	}
}
