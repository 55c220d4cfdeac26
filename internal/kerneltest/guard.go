package kerneltest

import (
	"math"
	"syscall"
	"testing"
	"unsafe"
)

// GuardVal surrounds outputs; a kernel write outside its range changes it.
var GuardVal = math.Float64frombits(0x7ff8dead0000beef)

// CheckGuards fails t unless buf holds GuardVal outside [lo, hi).
func CheckGuards(t testing.TB, buf []float64, lo, hi int, what string) {
	t.Helper()
	for i := 0; i < lo; i++ {
		if math.Float64bits(buf[i]) != math.Float64bits(GuardVal) {
			t.Fatalf("%s: guard before output overwritten at %d", what, i)
		}
	}
	for i := hi; i < len(buf); i++ {
		if math.Float64bits(buf[i]) != math.Float64bits(GuardVal) {
			t.Fatalf("%s: guard after output overwritten at %d", what, i)
		}
	}
}

// Fill sets every element of s to v.
func Fill(s []float64, v float64) {
	for i := range s {
		s[i] = v
	}
}

// Guarded returns a float64 slice of length n whose last element ends at a
// page that may not be read, so a kernel that reads past its inputs faults.
// The start is 8-byte aligned, and 64-byte aligned only when n%8 == 0.
func Guarded(t testing.TB, n int) []float64 {
	t.Helper()
	page := syscall.Getpagesize()
	size := (n*8+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	end := size - page
	return unsafe.Slice((*float64)(unsafe.Pointer(&mem[end-n*8])), n)[:n:n]
}
