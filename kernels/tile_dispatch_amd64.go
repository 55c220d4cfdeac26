//go:build !purego

package kernels

func rbfRow(a, bt []float64, ldbt, d, n int, s2 float64, out []float64) {
	kernelRow(rbfRowAVX512, rbfRowAVX2, rbfRowGeneric, a, bt, ldbt, d, n, s2, out)
}

func maternRow(a, bt []float64, ldbt, d, n int, s2 float64, out []float64) {
	kernelRow(maternRowAVX512, maternRowAVX2, maternRowGeneric, a, bt, ldbt, d, n, s2, out)
}

// kernelRow dispatches one kernel row to its assembly or generic version.
func kernelRow(avx512, avx2 func(a, bt *float64, ldbt, d, n int, s2 float64, out *float64),
	generic func(a, bt []float64, ldbt, d, n int, s2 float64, out []float64),
	a, bt []float64, ldbt, d, n int, s2 float64, out []float64) {
	lv := current()
	if lv == levelGeneric {
		generic(a, bt, ldbt, d, n, s2, out)
		return
	}
	if raceEnabled {
		raceRead(a)
		raceRead(btSpan(bt, ldbt, d, n))
		raceWrite(out[:n])
	}
	if lv == levelAVX512 {
		avx512(ptr(a), ptr(bt), ldbt, d, n, s2, ptr(out))
	} else {
		avx2(ptr(a), ptr(bt), ldbt, d, n, s2, ptr(out))
	}
}

func euclidRow(a, bt []float64, ldbt, d, n int, out []float64, r float64, idx []int32) int {
	switch lv := current(); lv {
	case levelAVX512, levelAVX2:
		raceEuclidRow(a, bt, ldbt, d, n, out, r, idx)
		if lv == levelAVX512 {
			return euclidRowAVX512(ptr(a), ptr(bt), ldbt, d, n, ptr(out), r, ptr(idx))
		}
		return euclidRowAVX2(ptr(a), ptr(bt), ldbt, d, n, ptr(out), r, ptr(idx))
	default:
		return euclidRowGeneric(a, bt, ldbt, d, n, out, r, idx)
	}
}

func euclidHitsRow(a, bt []float64, ldbt, d, n int, out []float64, r float64, idx []int32) int {
	switch lv := current(); lv {
	case levelAVX512, levelAVX2:
		raceEuclidRow(a, bt, ldbt, d, n, out, r, idx)
		if lv == levelAVX512 {
			return euclidHitsRowAVX512(ptr(a), ptr(bt), ldbt, d, n, ptr(out), r, hitsBound(r), ptr(idx))
		}
		return euclidHitsRowAVX2(ptr(a), ptr(bt), ldbt, d, n, ptr(out), r, hitsBound(r), ptr(idx))
	default:
		return euclidRowGeneric(a, bt, ldbt, d, n, out, r, idx)
	}
}

func boxDist2(lo, hi, q []float64) float64 {
	if raceEnabled {
		raceRead(lo)
		raceRead(hi)
		raceRead(q)
	}
	switch current() {
	case levelAVX512:
		return boxDist2AVX512(ptr(lo), ptr(hi), ptr(q), len(lo))
	case levelAVX2:
		return boxDist2AVX2(ptr(lo), ptr(hi), ptr(q), len(lo))
	default:
		return boxDist2Generic(lo, hi, q)
	}
}

// raceEuclidRow tells the race detector what a Euclidean row's assembly
// reads and writes (nothing without it).
func raceEuclidRow(a, bt []float64, ldbt, d, n int, out []float64, r float64, idx []int32) {
	if raceEnabled {
		raceRead(a)
		raceRead(btSpan(bt, ldbt, d, n))
		raceWrite(out[:n])
		if r >= 0 {
			raceWrite(idx[:n])
		}
	}
}
