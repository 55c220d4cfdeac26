package kernels

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGeneratedAssembly checks what the generators emit: AVX2 functions use
// only the 16 VEX-encodable vector registers and no AVX-512 state (avo's
// allocator does not know about the VEX limit), and nothing uses AVX512ER.
func TestGeneratedAssembly(t *testing.T) {
	files, _ := filepath.Glob("*_amd64.s")
	if len(files) == 0 {
		t.Fatal("no generated assembly found")
	}
	evexOnly := regexp.MustCompile(`\b([XY](1[6-9]|2[0-9]|3[01])|Z[0-9]+|K[0-7])\b`)
	er := regexp.MustCompile(`\b(VEXP2P[SD]|VRCP28|VRSQRT28)`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fn := ""
		for n, line := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(line, "TEXT ") {
				fn = line
			}
			if er.MatchString(line) {
				t.Errorf("%s:%d: AVX512ER instruction: %s", f, n+1, line)
			}
			if strings.Contains(fn, "AVX2(SB)") && evexOnly.MatchString(line) {
				t.Errorf("%s:%d: AVX2 function uses an EVEX-only register: %s", f, n+1, strings.TrimSpace(line))
			}
		}
	}
}
