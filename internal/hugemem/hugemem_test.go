package hugemem

import (
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
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

// TestMakeAdvises checks, where the kernel has transparent huge pages, that
// the mapping holding a large buffer's interior carries the huge-page advice
// (VmFlags "hg" in /proc/self/smaps), and logs how many huge pages writing it
// got (that depends on free 2 MiB blocks, so it is not asserted).
func TestMakeAdvises(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("huge-page advice is Linux only")
	}
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		t.Skip("kernel without transparent huge pages")
	}
	s := Make[float64](64 << 20 / 8)
	off, n := hugeRange(uintptr(unsafe.Pointer(&s[0])), uintptr(len(s))*8)
	if n == 0 {
		t.Fatal("a 64 MiB buffer holds no whole huge page")
	}
	mid := uintptr(unsafe.Pointer(&s[0])) + off + n/2
	flags := vmFlags(t, mid)
	if !slices.Contains(flags, "hg") {
		t.Fatalf("mapping of %#x has VmFlags %v, want hg (MADV_HUGEPAGE)", mid, flags)
	}
	for i := 0; i < len(s); i += 512 {
		s[i] = 1
	}
	t.Logf("AnonHugePages after writing 64 MiB: %d kB", anonHuge(t))
	runtime.KeepAlive(s)
}

// vmFlags returns the VmFlags of the mapping that holds address p.
func vmFlags(t *testing.T, p uintptr) []string {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && !strings.HasSuffix(f[0], ":") {
			a, err1 := strconv.ParseUint(lo, 16, 64)
			z, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				in = uint64(p) >= a && uint64(p) < z
				continue
			}
		}
		if in && f[0] == "VmFlags:" {
			return f[1:]
		}
	}
	t.Fatalf("no mapping holds %#x", p)
	return nil
}

func anonHuge(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "AnonHugePages:" {
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	t.Skip("no AnonHugePages line")
	return 0
}
