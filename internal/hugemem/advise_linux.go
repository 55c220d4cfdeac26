package hugemem

import (
	"syscall"
	"unsafe"
)

// madvHugepage is MADV_HUGEPAGE from linux/mman.h.
const madvHugepage = 14

func advise(p unsafe.Pointer, size uintptr) {
	off, n := hugeRange(uintptr(p), size)
	if n == 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, off)), n)
	// EINVAL (huge pages disabled or unsupported) leaves the buffer as it
	// is, backed by small pages.
	_ = syscall.Madvise(b, madvHugepage)
}
