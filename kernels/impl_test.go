package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// RequireEnv lists implementations (comma-separated) that must not be skipped;
// .ci/run sets it from /proc/cpuinfo so that a dispatch bug cannot hide an
// assembly path.
const RequireEnv = "PCCT_REQUIRE_IMPLS"

// forEachImpl runs f once per implementation, as subtests named after it.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	required := strings.Split(os.Getenv(RequireEnv), ",")
	for _, name := range []string{ImplAVX512, ImplAVX2, ImplGeneric} {
		t.Run(name, func(t *testing.T) {
			if err := Select(name); err != nil {
				for _, r := range required {
					if strings.TrimSpace(r) == name {
						t.Fatalf("required implementation unavailable: %v", err)
					}
				}
				t.Skip(err)
			}
			defer Reset()
			f(t)
		})
	}
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

// guardVal surrounds outputs; any kernel write outside its range changes it.
var guardVal = math.Float64frombits(0x7ff8dead0000beef)

func checkGuards(t *testing.T, buf []float64, lo, hi int, what string) {
	t.Helper()
	for i := 0; i < lo; i++ {
		if math.Float64bits(buf[i]) != math.Float64bits(guardVal) {
			t.Fatalf("%s: guard before output overwritten at %d", what, i)
		}
	}
	for i := hi; i < len(buf); i++ {
		if math.Float64bits(buf[i]) != math.Float64bits(guardVal) {
			t.Fatalf("%s: guard after output overwritten at %d", what, i)
		}
	}
}

func fill(s []float64, v float64) {
	for i := range s {
		s[i] = v
	}
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
