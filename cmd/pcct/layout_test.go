package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pcct/pcct/tree"
)

// TestLayout: the points stored in Morton order (--layout space) give the
// same output bytes as the given order, for all points and predecessors
// (auto, tree and brute force, with repeated points, so that ties decide)
// and for a query set, in the given order and after --order; --layout
// auto stores them so from tree.LayoutMin points; the flag is refused
// with the Euclidean metric. (Equal points share a Morton code and keep
// their given order; ties the storage order breaks otherwise, a random
// one, are tree's TestRankedSearch.)
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	// 1,500 points on a 30 x 50 grid, every 7th point repeating the first.
	var data, qs strings.Builder
	for i := range 1500 {
		x, y := float64(i%30)/30, float64(i/30)/50
		if i%7 == 3 {
			x, y = 0, 0
		}
		fmt.Fprintf(&data, "%g,%g\n", x, y)
	}
	for i := range 40 {
		fmt.Fprintf(&qs, "%g,%g\n", float64(i)/40, float64(i%5)/5)
	}
	in, q := filepath.Join(dir, "x.csv"), filepath.Join(dir, "q.csv")
	os.WriteFile(in, []byte(data.String()), 0o644)
	os.WriteFile(q, []byte(qs.String()), 0o644)
	outputs := func(args ...string) (string, [3][]byte) {
		t.Helper()
		out := filepath.Join(dir, "nn.npy")
		os.Remove(filepath.Join(dir, "nn_order.npy"))
		code, _, stderr := runCLI(append([]string{"knn", "--input", in, "--k", "9", "--lengthscale", "0.1", "--inducing", "64", "--output", out}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		a, _ := os.ReadFile(out)
		b, _ := os.ReadFile(filepath.Join(dir, "nn_distances.npy"))
		c, _ := os.ReadFile(filepath.Join(dir, "nn_order.npy")) // with --order
		return stderr, [3][]byte{a, b, c}
	}
	for _, extra := range [][]string{{"--search", "auto"}, {"--search", "tree"}, {"--search", "brute"}, {"--queries", q},
		{"--predecessor"}, {"--predecessor", "--search", "tree"}, {"--predecessor", "--search", "brute"},
		{"--order", "coord"}, {"--order", "maxmin"}, {"--predecessor", "--order", "maxmin", "--search", "tree"},
		{"--predecessor", "--order", "coord", "--search", "brute"}, {"--predecessor", "--order", "maxmin-coords", "--search", "tree"}} {
		_, want := outputs(append([]string{"--layout", "given"}, extra...)...)
		stderr, got := outputs(append([]string{"--layout", "space"}, extra...)...)
		if !strings.Contains(stderr, "layout: the points stored in Morton order") {
			t.Fatalf("%v: no layout line:\n%s", extra, stderr)
		}
		// With --order maxmin the ordering itself runs on the points in
		// Morton order, and its ties go by the given order.
		if ordering := strings.Contains(stderr, "Morton order for the ordering"); ordering != slices.Contains(extra, "maxmin") {
			t.Fatalf("%v: ordering in Morton order %v:\n%s", extra, ordering, stderr)
		}
		for f, what := range []string{"indices", "distances", "ordering"} {
			if !bytes.Equal(got[f], want[f]) {
				t.Fatalf("%v: --layout space wrote other %s than --layout given", extra, what)
			}
		}
	}
	if stderr, _ := outputs(); strings.Contains(stderr, "layout:") {
		t.Fatalf("--layout auto stored 1,500 points in Morton order (below %d)", tree.LayoutMin)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--layout", "space", "--metric", "euclidean"}, "--layout space applies to the residual metric"},
		{[]string{"--layout", "curve"}, `unknown --layout "curve"`},
	} {
		code, _, stderr := runCLI(append([]string{"knn", "--input", in}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}
