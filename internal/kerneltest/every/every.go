// Package every runs a test under every kernel implementation of package
// kernels (subtests avx512, avx2, generic), for the tests of the packages
// above the kernels: the metric, scope collection and the tree.
package every

import (
	"testing"

	"github.com/pcct/pcct/internal/kerneltest"
	"github.com/pcct/pcct/kernels"
)

// Impl runs f under each implementation, as kerneltest.ForEach does.
// Under the race detector, which looks for data races rather than for
// differences between kernels, it runs f once, under the implementation
// in use (a subtest of its name): the others run in the plain, purego and
// AVX-512-disabled test passes, and three runs of every tree test under
// -race took CI's race step past ten minutes.
func Impl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	if raceDetector {
		t.Run(kernels.Impl(), f)
		return
	}
	kerneltest.ForEach(t, Registry, f)
}

// Registry is package kernels' implementation registry.
var Registry = kerneltest.Registry{Known: kernels.Known, Select: kernels.Select, Reset: kernels.Reset}
