//go:build !purego

package kernels

func residualRow(dst, k, g, sc []float64, sq, r float64, idx []int32) int {
	n := len(dst)
	switch lv := current(); lv {
	case levelAVX512, levelAVX2:
		if raceEnabled {
			raceRead(k)
			raceRead(g)
			raceRead(sc)
			raceWrite(dst)
			if r >= 0 {
				raceWrite(idx[:n])
			}
		}
		if lv == levelAVX512 {
			return residualRowAVX512(ptr(dst), ptr(k), ptr(g), ptr(sc), n, sq, r, ptr(idx))
		}
		return residualRowAVX2(ptr(dst), ptr(k), ptr(g), ptr(sc), n, sq, r, ptr(idx))
	default:
		return residualRowGeneric(dst, k, g, sc, sq, r, idx)
	}
}

// widen converts the longest prefix of whole vectors and returns its
// length (Widen converts the rest).
func widen(dst []float64, src []float32) int {
	n := len(src)
	switch lv := current(); lv {
	case levelAVX512, levelAVX2:
		lanes := 8
		if lv == levelAVX2 {
			lanes = 4
		}
		whole := n / lanes * lanes
		if whole == 0 {
			return 0
		}
		if raceEnabled {
			raceRead(src[:whole])
			raceWrite(dst[:whole])
		}
		if lv == levelAVX512 {
			widenF32AVX512(ptr(dst), ptr(src), whole)
		} else {
			widenF32AVX2(ptr(dst), ptr(src), whole)
		}
		return whole
	}
	return 0
}
