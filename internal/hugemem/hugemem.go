// Package hugemem allocates large numeric buffers that the operating system
// may back with transparent huge pages.
//
// A buffer of n x m float64 is written once, page by page, right after it is
// allocated (the metric's V, for instance), so its cost includes one page
// fault per 4 KiB page. Linux distributions commonly set transparent huge
// pages to "madvise", and the Go runtime does not ask for them, so every
// large slice faults 4 KiB at a time. On the 2-vCPU development VM a fault
// costs 11 to 15 µs (a 32 MiB buffer: about 100 ms, twice the time of the
// tile that fills it); marking the buffer MADV_HUGEPAGE before its first
// use lets the kernel fault 2 MiB at a time.
package hugemem

import "unsafe"

// hugePage is the size of an x86-64 or arm64 transparent huge page.
const hugePage = 2 << 20

// minBytes is the smallest buffer that is advised: one that spans at least
// one whole huge page wherever it starts.
const minBytes = 2 * hugePage

// Make returns a zeroed slice of n elements. When it is large enough to
// span whole huge pages, the kernel is asked (on Linux) to back those with
// huge pages; the answer does not change the slice's contents, and the
// request is skipped silently where the system does not support it.
func Make[T any](n int) []T {
	s := make([]T, n)
	var zero T
	if size := uintptr(n) * unsafe.Sizeof(zero); size >= minBytes {
		advise(unsafe.Pointer(unsafe.SliceData(s)), size)
	}
	return s
}

// hugeRange returns the offset and length, within the address range
// [start, start+size), of the whole huge pages it contains.
func hugeRange(start, size uintptr) (off, n uintptr) {
	first := (start + hugePage - 1) &^ (hugePage - 1)
	end := (start + size) &^ (hugePage - 1)
	if end <= first {
		return 0, 0
	}
	return first - start, end - first
}
