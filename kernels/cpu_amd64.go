//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// CPU features behind each assembly level. The AVX-512 kernels use F, VL and
// DQ instructions (opmask tails, VSCALEFPD, VPCOMPRESSD on ymm); the AVX2
// kernels need FMA as well.
var (
	useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ
	useAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

func detectCPU() {
	register(levelAVX2, useAVX2)
	register(levelAVX512, useAVX512)
}
