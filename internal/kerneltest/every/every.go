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
func Impl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	kerneltest.ForEach(t, Registry, f)
}

// Registry is package kernels' implementation registry.
var Registry = kerneltest.Registry{Known: kernels.Known, Select: kernels.Select, Reset: kernels.Reset}
