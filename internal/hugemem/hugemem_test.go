package hugemem

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestHugeRange(t *testing.T) {
	for _, c := range []struct {
		start, size, off, n uintptr
	}{
		{0, 4 * hugePage, 0, 4 * hugePage},
		{100, 4 * hugePage, hugePage - 100, 3 * hugePage},
		{hugePage - 1, hugePage + 1, 1, hugePage},
		{1, hugePage, 0, 0},
		{3 * hugePage, hugePage - 1, 0, 0},
	} {
		off, n := hugeRange(c.start, c.size)
		if off != c.off || n != c.n {
			t.Errorf("hugeRange(%#x, %#x) = %#x, %#x; want %#x, %#x", c.start, c.size, off, n, c.off, c.n)
		}
	}
}

func TestMake(t *testing.T) {
	for _, n := range []int{0, 1, 1000, minBytes/8 - 1, minBytes / 8, 3*minBytes/8 + 5} {
		s := Make[float64](n)
		if len(s) != n {
			t.Fatalf("len %d, want %d", len(s), n)
		}
		for i, v := range s {
			if v != 0 {
				t.Fatalf("n=%d: s[%d] = %v, want 0", n, i, v)
			}
		}
		for i := range s {
			s[i] = float64(i)
		}
		for i, v := range s {
			if v != float64(i) {
				t.Fatalf("n=%d: s[%d] = %v after writing", n, i, v)
			}
		}
	}
	s32 := Make[float32](minBytes)
	if len(s32) != minBytes || s32[len(s32)-1] != 0 {
		t.Fatalf("float32: len %d", len(s32))
	}
}

// TestMakeAdvises checks, where the kernel offers transparent huge pages on
// request, that a large buffer is backed by some once it is written.
func TestMakeAdvises(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if runtime.GOOS != "linux" || err != nil || strings.Contains(string(mode), "[never]") {
		t.Skip("no transparent huge pages here")
	}
	before := anonHuge(t)
	s := Make[float64](64 << 20 / 8)
	for i := 0; i < len(s); i += 512 {
		s[i] = 1
	}
	after := anonHuge(t)
	runtime.KeepAlive(s)
	if after <= before {
		t.Skipf("no huge pages were given (AnonHugePages %d -> %d kB); the kernel may be short of free 2 MiB blocks", before, after)
	}
}

func anonHuge(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "AnonHugePages:" {
			var kb int
			for _, c := range f[1] {
				kb = kb*10 + int(c-'0')
			}
			return kb
		}
	}
	t.Skip("no AnonHugePages line")
	return 0
}
