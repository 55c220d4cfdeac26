package kerneltest

import (
	"os"
	"strings"
	"testing"
)

// RequireEnv lists implementations (comma-separated) that must not be
// skipped; .ci/run sets it from /proc/cpuinfo so that a dispatch bug cannot
// hide an assembly path.
const RequireEnv = "PCCT_REQUIRE_IMPLS"

// Registry is a kernel implementation registry: the names it knows, a way
// to select one (an error when the CPU lacks it) and to go back to the
// default.
type Registry struct {
	Known  func() []string
	Select func(name string) error
	Reset  func()
}

// ForEach runs f once per implementation of reg, as subtests named after
// it. An implementation the CPU lacks is skipped, unless RequireEnv names
// it: then the test fails.
func ForEach(t *testing.T, reg Registry, f func(t *testing.T)) {
	t.Helper()
	required := strings.Split(os.Getenv(RequireEnv), ",")
	for _, name := range reg.Known() {
		t.Run(name, func(t *testing.T) {
			if err := reg.Select(name); err != nil {
				for _, r := range required {
					if strings.TrimSpace(r) == name {
						t.Fatalf("required implementation unavailable: %v", err)
					}
				}
				t.Skip(err)
			}
			defer reg.Reset()
			f(t)
		})
	}
}
