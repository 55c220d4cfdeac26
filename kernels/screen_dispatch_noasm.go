//go:build !amd64 || purego

package kernels

func screenRow32(matern bool, out, x, bt []float32, ldbt int, g, sc, c1, tc []float32, s2, sq, wq, r1, t0 float32, idx []int32) int {
	return screenRow32Generic(matern, out, x, bt, ldbt, g, sc, c1, tc, s2, sq, wq, r1, t0, idx)
}
