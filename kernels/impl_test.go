package kernels

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest"
)

// forEachImpl runs f once per implementation, as subtests named after it
// (see kerneltest.ForEach).
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	kerneltest.ForEach(t, kerneltest.Registry{Known: Known, Select: Select, Reset: Reset}, f)
}

// withImpl runs f with the named implementation selected.
func withImpl(t testing.TB, name string, f func()) {
	t.Helper()
	if err := Select(name); err != nil {
		t.Fatal(err)
	}
	defer Reset()
	f()
}

func randSlice(r *rand.Rand, n int, lo, hi float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = lo + (hi-lo)*r.Float64()
	}
	return s
}

// sameSpecial reports whether got and want agree on NaN and infinities.
func sameSpecial(got, want float64) (special, ok bool) {
	switch {
	case math.IsNaN(want):
		return true, math.IsNaN(got)
	case math.IsInf(want, 0):
		return true, got == want
	}
	return false, !math.IsNaN(got) && !math.IsInf(got, 0)
}

func TestSelect(t *testing.T) {
	defer Reset()
	if err := Select("nonsense"); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("Select(nonsense) = %v, want unknown-implementation error", err)
	}
	if err := Select(ImplGeneric); err != nil || Impl() != ImplGeneric {
		t.Fatalf("Select(generic) = %v, Impl() = %s", err, Impl())
	}
	for _, name := range Known() {
		avail := false
		for _, a := range List() {
			avail = avail || a == name
		}
		if err := Select(name); (err == nil) != avail {
			t.Fatalf("Select(%s) = %v, available = %v", name, err, avail)
		}
	}
	Reset()
	if Impl() != List()[0] {
		t.Fatalf("after Reset Impl() = %s, want fastest %s", Impl(), List()[0])
	}
}
