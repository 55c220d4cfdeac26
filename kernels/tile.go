package kernels

import (
	"fmt"
	"unsafe"
)

// The coordinate tiles take the q query points as rows of a (q x d, stride
// lda) and the c candidates transposed, as columns of bt (d x c, stride
// ldbt >= c), so that the assembly vectorises over candidates. With
// r2(i, j) = Σ_{k<d} (a[i*lda+k] - bt[k*ldbt+j])², they compute, for i < q
// and j < c:
//
//	RBFTile:    out[i*ldo+j] = s2 exp(-r2/2)
//	MaternTile: out[i*ldo+j] = s2 (1 + t + t²/3) exp(-t), t = sqrt(5 r2)
//	EuclidTile: out[i*ldo+j] = sqrt(r2)
//
// Coordinates are expected pre-scaled by the lengthscales. out must not
// overlap a or bt. The assembly accumulates r2 with FMA (the generic code
// does not), so r2 agrees to (d+1) eps relative, the Euclidean distance to
// (d+2) eps and the kernels to ((r2/2 + t)(d+2) + 6) eps relative (t = 0 for
// RBF), where the vectorised exp adds at most 2 ulp (see ExpMaxULP). A NaN
// coordinate gives NaN; an infinite one gives 0 for the kernels and +Inf for
// the distance, as the generic code does.

// ExpMaxULP is the largest error of the vectorised exp, in units in the last
// place of the true result, that the tests allow over [-745, 0] (the
// measured maximum is lower; see TestExpAccuracy). Results below the
// smallest normal number carry an absolute error of at most 2^-1073.
const ExpMaxULP = 2

// RBFTile computes an RBF kernel tile; see the comment above.
func RBFTile(out []float64, ldo int, a []float64, lda int, bt []float64, ldbt int, q, c, d int, s2 float64) {
	checkCoordTile(len(out), ldo, len(a), lda, len(bt), ldbt, q, c, d)
	for i := 0; i < q; i++ {
		rbfRow(a[i*lda:i*lda+d], bt, ldbt, d, c, s2, out[i*ldo:i*ldo+c])
	}
}

// MaternTile computes a Matern 5/2 kernel tile; see the comment above.
func MaternTile(out []float64, ldo int, a []float64, lda int, bt []float64, ldbt int, q, c, d int, s2 float64) {
	checkCoordTile(len(out), ldo, len(a), lda, len(bt), ldbt, q, c, d)
	for i := 0; i < q; i++ {
		maternRow(a[i*lda:i*lda+d], bt, ldbt, d, c, s2, out[i*ldo:i*ldo+c])
	}
}

// EuclidTile computes a Euclidean distance tile; see the comment above.
func EuclidTile(out []float64, ldo int, a []float64, lda int, bt []float64, ldbt int, q, c, d int) {
	checkCoordTile(len(out), ldo, len(a), lda, len(bt), ldbt, q, c, d)
	for i := 0; i < q; i++ {
		euclidRow(a[i*lda:i*lda+d], bt, ldbt, d, c, out[i*ldo:i*ldo+c], -1, nil)
	}
}

// EuclidRow computes out[j] = |a - column j of bt| for j < c, as EuclidTile
// does for one query, and fused with it the radius test: it writes the
// columns j with out[j] <= r to idx in ascending order and returns their
// count. idx needs room for c entries unless r < 0 (no hits; idx may be nil).
// NaN distances never pass.
func EuclidRow(out []float64, a []float64, bt []float64, ldbt, c int, r float64, idx []int32) int {
	d := len(a)
	checkCoordTile(len(out), c, d, d, len(bt), ldbt, 1, c, d)
	checkIdx(idx, c, r)
	return euclidRow(a, bt, ldbt, d, c, out[:c], r, idx)
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

// ptr returns the address of a slice's first element, or nil, without a
// bounds check: the assembly reads nothing through it when the length is 0.
func ptr[T any](s []T) *T { return unsafe.SliceData(s) }

// btSpan is the part of bt that a row call reads.
func btSpan(bt []float64, ldbt, d, n int) []float64 {
	if d == 0 || n == 0 {
		return nil
	}
	return bt[:(d-1)*ldbt+n]
}
