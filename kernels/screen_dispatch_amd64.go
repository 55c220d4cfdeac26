//go:build !purego

package kernels

func screenRow32(matern bool, out, x, bt []float32, ldbt int, g, sc, c1, tc []float32, s2, sq, wq, r1, t0 float32, idx []int32) int {
	n, d := len(out), len(x)
	lv := current()
	if lv == levelGeneric {
		return screenRow32Generic(matern, out, x, bt, ldbt, g, sc, c1, tc, s2, sq, wq, r1, t0, idx)
	}
	if raceEnabled {
		raceRead(x)
		if d > 0 {
			raceRead(bt[:(d-1)*ldbt+n])
		}
		raceRead(g)
		raceRead(sc)
		raceRead(c1)
		raceRead(tc)
		raceWrite(out)
		raceWrite(idx[:n])
	}
	var xp, bp *float32
	if d > 0 {
		xp, bp = &x[0], &bt[0]
	}
	f := screenRBF32AVX2
	switch {
	case lv == levelAVX512 && matern:
		f = screenMatern32AVX512
	case lv == levelAVX512:
		f = screenRBF32AVX512
	case matern:
		f = screenMatern32AVX2
	}
	return f(&out[0], xp, bp, 4*ldbt, d, &g[0], &sc[0], &c1[0], &tc[0], n, s2, sq, wq, r1, t0, &idx[0])
}
