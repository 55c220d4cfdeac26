package kernels

import "unsafe"

// overlaps reports whether two slices share memory.
func overlaps[T, U any](x []T, y []U) bool {
	if len(x) == 0 || len(y) == 0 {
		return false
	}
	x0 := uintptr(unsafe.Pointer(&x[0]))
	x1 := x0 + uintptr(len(x))*unsafe.Sizeof(x[0])
	y0 := uintptr(unsafe.Pointer(&y[0]))
	y1 := y0 + uintptr(len(y))*unsafe.Sizeof(y[0])
	return x0 < y1 && y0 < x1
}

// checkNoOverlap panics, naming the tile and what overlaps, when x and y
// share memory. The message is built only then: the check runs on every
// tile, tiny ones included.
func checkNoOverlap[T, U any](x []T, y []U, name, what string) {
	if overlaps(x, y) {
		panic("kernels: " + name + ": " + what)
	}
}
