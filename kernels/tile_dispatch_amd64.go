//go:build !purego

package kernels

func rbfRow(a, bt []float64, ldbt, d, n int, s2 float64, out []float64) {
	switch lv := current(); lv {
	case levelAVX512, levelAVX2:
		if raceEnabled {
			raceRead(a)
			raceRead(btSpan(bt, ldbt, d, n))
			raceWrite(out[:n])
		}
		if lv == levelAVX512 {
			rbfRowAVX512(ptr(a), ptr(bt), ldbt, d, n, s2, ptr(out))
		} else {
			rbfRowAVX2(ptr(a), ptr(bt), ldbt, d, n, s2, ptr(out))
		}
	default:
		rbfRowGeneric(a, bt, ldbt, d, n, s2, out)
	}
}

func maternRow(a, bt []float64, ldbt, d, n int, s2 float64, out []float64) {
	switch lv := current(); lv {
	case levelAVX512, levelAVX2:
		if raceEnabled {
			raceRead(a)
			raceRead(btSpan(bt, ldbt, d, n))
			raceWrite(out[:n])
		}
		if lv == levelAVX512 {
			maternRowAVX512(ptr(a), ptr(bt), ldbt, d, n, s2, ptr(out))
		} else {
			maternRowAVX2(ptr(a), ptr(bt), ldbt, d, n, s2, ptr(out))
		}
	default:
		maternRowGeneric(a, bt, ldbt, d, n, s2, out)
	}
}

func euclidRow(a, bt []float64, ldbt, d, n int, out []float64, r float64, idx []int32) int {
	switch lv := current(); lv {
	case levelAVX512, levelAVX2:
		if raceEnabled {
			raceRead(a)
			raceRead(btSpan(bt, ldbt, d, n))
			raceWrite(out[:n])
			if r >= 0 {
				raceWrite(idx[:n])
			}
		}
		if lv == levelAVX512 {
			return euclidRowAVX512(ptr(a), ptr(bt), ldbt, d, n, ptr(out), r, ptr(idx))
		}
		return euclidRowAVX2(ptr(a), ptr(bt), ldbt, d, n, ptr(out), r, ptr(idx))
	default:
		return euclidRowGeneric(a, bt, ldbt, d, n, out, r, idx)
	}
}

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
