package kernels

import (
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns a float64 slice of length n whose last element ends at a
// page that may not be read, so a kernel that reads past its inputs faults.
// The start is 8-byte aligned, and 64-byte aligned only when n%8 == 0.
func guarded(t testing.TB, n int) []float64 {
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
