package kernels

import (
	"runtime"

	"golang.org/x/sys/cpu"
)

// CPUFeatures lists the CPU features that matter to the kernels, as
// "name=true|false" pairs, for logs and the `pcct cpu` command.
func CPUFeatures() []string {
	if runtime.GOARCH != "amd64" {
		return []string{"arch=" + runtime.GOARCH}
	}
	f := func(name string, ok bool) string {
		if ok {
			return name + "=true"
		}
		return name + "=false"
	}
	return []string{
		f("avx2", cpu.X86.HasAVX2), f("fma", cpu.X86.HasFMA),
		f("avx512f", cpu.X86.HasAVX512F), f("avx512vl", cpu.X86.HasAVX512VL),
		f("avx512dq", cpu.X86.HasAVX512DQ),
	}
}
