package layers

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/pcct/pcct/"

// floor ranks the packages: a package may import only packages of a lower
// floor. Helpers under internal/ sit on floor 0 except where listed.
var floor = map[string]int{
	"kernels":                   1,
	"streamer":                  1,
	"kernels/metric":            2,
	"internal/kerneltest/every": 2,
	"streamer/scope":            3,
	"tree":                      4,
	"bench":                     5,
	"cmd/pcct":                  6,
	"cmd/libpcct":               6,
}

func floorOf(pkg string) int {
	if f, ok := floor[pkg]; ok {
		return f
	}
	return 0 // internal helpers, generators
}

// TestLayers parses every non-test Go file of the module and checks that no
// package imports one on its own floor or above, and that streamer imports
// no pcct package.
func TestLayers(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			dep, ok := strings.CutPrefix(strings.Trim(imp.Path.Value, `"`), module)
			if !ok {
				continue
			}
			checked++
			if pkg == "streamer" {
				t.Errorf("%s: streamer imports %s; the pool must import no pcct package", path, dep)
			}
			if floorOf(pkg) > 0 && floorOf(dep) >= floorOf(pkg) {
				t.Errorf("%s: %s (floor %d) imports %s (floor %d)", path, pkg, floorOf(pkg), dep, floorOf(dep))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("only %d pcct imports found: the walk missed the module", checked)
	}
}
