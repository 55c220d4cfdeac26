package kernels

import (
	"unsafe"
)

// The coordinate tiles take the q query points as rows of a (q x d, stride
// lda) and the c candidates transposed, as columns of bt (d x c, stride
// ldbt >= c), so that the assembly vectorises over candidates (8 lanes of a
// zmm register on AVX-512, 4 of a ymm on AVX2, opmask or scalar tails).
// Coordinates are expected pre-scaled by the lengthscales; out must not
// overlap a or bt. Each function's comment gives its reference loop and
// tolerance against the generic code.

// ExpMaxULP is the largest error of the vectorised exp, in units in the last
// place of the true result, that the tests allow over [-745, 0] (the
// measured maximum is lower; see TestExpAccuracy). Results below the
// smallest normal number carry an absolute error of at most 2^-1073.
const ExpMaxULP = 2

// RBFTile computes an RBF kernel tile:
//
//	for i < q, j < c:
//		r2 = Σ_{k<d} (a[i*lda+k] - bt[k*ldbt+j])²
//		out[i*ldo+j] = s2 exp(-r2/2)
//
// The assembly accumulates r2 with FMA (the generic code does not), so r2
// agrees to (d+1) eps relative and the result to ((r2/2)(d+2) + 6) eps
// relative, where the vectorised exp adds at most ExpMaxULP ulp. A NaN
// coordinate gives NaN, an infinite one 0. out must not overlap a or bt;
// short slices or a stride below c panic.
func RBFTile(out []float64, ldo int, a []float64, lda int, bt []float64, ldbt int, q, c, d int, s2 float64) {
	checkCoordTile(len(out), ldo, len(a), lda, len(bt), ldbt, q, c, d)
	for i := 0; i < q; i++ {
		rbfRow(a[i*lda:i*lda+d], bt, ldbt, d, c, s2, out[i*ldo:i*ldo+c])
	}
}

// MaternTile computes a Matern 5/2 kernel tile:
//
//	for i < q, j < c:
//		r2 = Σ_{k<d} (a[i*lda+k] - bt[k*ldbt+j])²,  t = sqrt(5 r2)
//		out[i*ldo+j] = s2 (1 + t + t²/3) exp(-t)
//
// With r2 accumulated by FMA in the assembly, the result agrees with the
// generic code to ((r2/2 + t)(d+2) + 6) eps relative, the vectorised exp
// adding at most ExpMaxULP ulp. A NaN coordinate gives NaN, an infinite
// one 0. out must not overlap a or bt; short slices or a stride below c
// panic.
func MaternTile(out []float64, ldo int, a []float64, lda int, bt []float64, ldbt int, q, c, d int, s2 float64) {
	checkCoordTile(len(out), ldo, len(a), lda, len(bt), ldbt, q, c, d)
	for i := 0; i < q; i++ {
		maternRow(a[i*lda:i*lda+d], bt, ldbt, d, c, s2, out[i*ldo:i*ldo+c])
	}
}

// EuclidTile computes a Euclidean distance tile:
//
//	for i < q, j < c:
//		out[i*ldo+j] = sqrt(Σ_{k<d} (a[i*lda+k] - bt[k*ldbt+j])²)
//
// The assembly accumulates with FMA, so distances agree with the generic
// code to (d+2) eps relative; identical points are at exactly 0 in every
// implementation. A NaN coordinate gives NaN, an infinite one +Inf. out
// must not overlap a or bt; short slices or a stride below c panic.
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

// EuclidRowHits is EuclidRow for a caller that reads only the hits'
// distances: out[j] holds the distance of every hit j, bit for bit as
// EuclidRow computes it, and the other entries of out[:c] are unspecified
// (the assembly takes the square roots only of the vectors of columns
// where some squared distance is within a bound of r², and stores only
// those). The hits are EuclidRow's.
func EuclidRowHits(out []float64, a []float64, bt []float64, ldbt, c int, r float64, idx []int32) int {
	d := len(a)
	checkCoordTile(len(out), c, d, d, len(bt), ldbt, 1, c, d)
	checkIdx(idx, c, r)
	return euclidHitsRow(a, bt, ldbt, d, c, out[:c], r, idx)
}

// hitsBound returns a bound on the squared distances worth a square root
// at radius r: every x >= 0 with sqrt(x) <= r (rounded) is at most it. The
// rounded square root of x is at most r only when x <= (r + ulp(r)/2)² <=
// r² (1 + 2^-51), and r*r is rounded once (relative error 2^-53), so r*r
// (1 + 2^-46) has room to spare. Where r² is subnormal or underflows, x
// lies on the same grid of subnormals as the rounded r*r, so the largest
// such x is at most it (TestHitsBound checks this range too). A negative r
// has no hits, and a NaN r gives a NaN bound, which no lane passes.
func hitsBound(r float64) float64 {
	if r < 0 {
		return -1
	}
	return r * r * (1 + 0x1p-46)
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
