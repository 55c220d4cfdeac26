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
