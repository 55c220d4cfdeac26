package kernels

import "fmt"

// ResidualRow computes one row of residual-correlation distances from the
// kernel values k, the low-rank dot products g = V_q·V_j and the inverse
// square roots of the residual variances (sq = 1/sqrt(p_q) of the query, sc[j]
// = 1/sqrt(p_j) of the candidates):
//
//	rho    = (k[j] - g[j]) * (sc[j] * sq)
//	dst[j] = sqrt(1 - min(|rho|, 1))
//
// for j < len(dst), in exactly this order of operations in every
// implementation, so all of them give bit-identical results. Scaling by the
// product sc[j]*sq (commutative, so the same for the pair either way round)
// makes the distance exactly symmetric when k and g are. A NaN input
// gives NaN (min keeps it); an infinite rho gives 0. Fused with it is the
// radius test: the columns j with dst[j] <= r are written to idx in
// ascending order and their count is returned; NaN never passes. idx needs
// room for len(dst) entries unless r < 0 (then it may be nil).
//
// Aliasing: dst may be k or g itself (each element is read before it is
// written), but must not overlap them otherwise, nor sc. ResidualRow does not
// know which candidate is the query's own point: ResidualTile sets those
// entries to 0.
func ResidualRow(dst, k, g, sc []float64, sq, r float64, idx []int32) int {
	n := len(dst)
	if len(k) < n || len(g) < n || len(sc) < n {
		panic(fmt.Sprintf("kernels: ResidualRow inputs shorter than dst (%d): k=%d g=%d sc=%d", n, len(k), len(g), len(sc)))
	}
	checkIdx(idx, n, r)
	return residualRow(dst, k[:n], g[:n], sc[:n], sq, r, idx)
}

// ResidualTile computes q rows of ResidualRow without a radius test:
// dst[i*ldd+j] from k[i*ldk+j], g[i*ldg+j], sq[i] and sc[j], j < c. self, if
// not nil, gives for each query the column of its own point in this tile
// (or -1): that distance is set to exactly 0, as d(i, i) = 0 by definition.
func ResidualTile(dst []float64, ldd int, k []float64, ldk int, g []float64, ldg int, sq, sc []float64, q, c int, self []int) {
	if q <= 0 || c <= 0 {
		return
	}
	if len(sq) < q || len(sc) < c || (self != nil && len(self) < q) {
		panic(fmt.Sprintf("kernels: ResidualTile: len(sq)=%d q=%d, len(sc)=%d c=%d", len(sq), q, len(sc), c))
	}
	for i := 0; i < q; i++ {
		ResidualRow(dst[i*ldd:i*ldd+c], k[i*ldk:i*ldk+c], g[i*ldg:i*ldg+c], sc, sq[i], -1, nil)
		if self != nil && self[i] >= 0 && self[i] < c {
			dst[i*ldd+self[i]] = 0
		}
	}
}

// Widen sets dst[j] = float64(src[j]) for j < len(src) (exact: every
// float32 is a float64); dst must have room and must not overlap src. The
// screened residual tiles widen their float32 dot products with it.
func Widen(dst []float64, src []float32) {
	n := len(src)
	if len(dst) < n {
		panic(fmt.Sprintf("kernels: Widen: dst has %d elements for %d", len(dst), n))
	}
	done := widen(dst[:n], src)
	for j := done; j < n; j++ {
		dst[j] = float64(src[j])
	}
}
