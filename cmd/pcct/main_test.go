package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/tree"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// errorLines returns the lines of stderr that are not information
// (input, parameters, notes, warnings, search summary).
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		info := false
		for _, p := range []string{"input:", "parameters:", "note:", "warning:", "search:"} {
			info = info || strings.HasPrefix(l, "pcct knn: "+p)
		}
		if !info && l != "" {
			out = append(out, l)
		}
	}
	return out
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKnnBadInputs(t *testing.T) {
	good := writeFile(t, "good.csv", "x,y\n0,0\n1,0\n0,1\n1,1\n0.5,0.5\n")
	cases := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"nan", []string{"--input", writeFile(t, "nan.csv", "0,0\n1,NaN\n2,2\n")}, "point 1, coordinate 1 is NaN", 1},
		{"inf", []string{"--input", writeFile(t, "inf.csv", "0,0\n1,1\n2,+Inf\n")}, "point 2, coordinate 1 is +Inf", 1},
		{"ragged", []string{"--input", writeFile(t, "ragged.csv", "0,0\n1,1,1\n")}, "line 2 has 3 values", 1},
		{"text", []string{"--input", writeFile(t, "text.csv", "0,0\n1,abc\n")}, `"abc" is not a number`, 1},
		{"empty", []string{"--input", writeFile(t, "empty.csv", "")}, "no points", 1},
		{"empty-npy", []string{"--input", writeFile(t, "empty.npy", "")}, "not a valid .npy file", 1},
		{"ext", []string{"--input", writeFile(t, "x.json", "[]")}, "unknown file type", 1},
		{"missing", []string{"--input", "/nonexistent/points.csv"}, "no such file", 1},
		{"k0", []string{"--input", good, "--k", "0"}, "--k must be at least 1", 2},
		{"workers", []string{"--input", good, "--k", "2", "--workers", "-3"}, "--workers must be at least 1, got -3", 2},
		{"workers0", []string{"--input", good, "--k", "2", "--workers", "0"}, "--workers must be at least 1, got 0", 2},
		{"jitter0", []string{"--input", good, "--k", "2", "--jitter", "0"}, "--jitter must be positive and finite, got 0", 2},
		{"inducing0", []string{"--input", good, "--k", "2", "--inducing", "0"}, "--inducing must be at least 1, got 0", 2},
		{"euclid-kernel", []string{"--input", good, "--k", "2", "--metric", "euclidean", "--kernel", "rbf"}, "--kernel applies to the residual metric", 2},
		{"kd-residual", []string{"--input", good, "--k", "2", "--search", "kd"}, "--search kd applies to the Euclidean metric", 2},
		{"euclid-float32", []string{"--input", good, "--k", "2", "--metric", "euclidean", "--float32"}, "--float32 applies to the residual metric", 2},
		{"example-input", []string{"--input", good, "--example-n", "100"}, "--example-n and --example-d apply to the synthetic example", 2},
		{"show", []string{"--input", good, "--show", "-1"}, "--show must be at least 0", 2},
		{"format", []string{"--input", good, "--k", "2", "--output", "o.csv", "--format", "R"}, `unknown --format "R"`, 2},
		{"format-no-output", []string{"--input", good, "--k", "2", "--format", "gpgp"}, "--format applies to --output", 2},
		{"csv-typo", []string{"--input", writeFile(t, "typo.csv", "1,abc,3\n4,5,6\n")}, `line 1, column 2: "abc" is not a number`, 1},
		{"npy-header", []string{"--input", writeFile(t, "cut.npy", "\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fort")}, "truncated inside its 128-byte header", 1},
		{"npy-object", []string{"--input", writeFile(t, "obj.npy", "\x93NUMPY\x01\x00\x76\x00{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }"+strings.Repeat(" ", 58)+"\n"+strings.Repeat("\x00", 32))}, "dtype '|O' is not supported", 1},
		{"output-is-input", []string{"--input", good, "--k", "2", "--output", good}, "is the input file", 2},
		{"output-dir", []string{"--input", good, "--k", "2", "--output", "/nonexistent/dir/o.npy"}, "no such file or directory", 1},
		{"variance", []string{"--input", good, "--k", "2", "--variance", "-2"}, "--variance must be positive", 2},
		{"lengthscale", []string{"--input", good, "--k", "2", "--lengthscale", "-1"}, "--lengthscale must be positive and finite, got -1", 2},
		{"lengthscale2", []string{"--input", good, "--k", "2", "--lengthscale", "1,0"}, "--lengthscale: value 2 (0) must be positive", 2},
		{"lengthscales", []string{"--input", good, "--k", "2", "--lengthscale", "1,2,3"}, "--lengthscale: 3 values for 2 dimensions", 2},
		{"lengthscale-nan", []string{"--input", good, "--k", "2", "--lengthscale", "x"}, `"x" is not a number`, 2},
		{"inducing>n", []string{"--input", good, "--k", "2", "--inducing", "6"}, "--inducing 6 is larger than the number of points 5", 2},
		{"metric", []string{"--input", good, "--k", "2", "--metric", "cosine"}, `unknown --metric "cosine"`, 2},
		{"kernel", []string{"--input", good, "--k", "2", "--kernel", "linear"}, `unknown kernel "linear"`, 2},
		{"impl", []string{"--input", good, "--k", "2", "--kernels", "sse"}, `unknown kernel implementation "sse"`, 2},
		{"flag", []string{"--nope"}, "flag provided but not defined", 2},
		{"float32", []string{"--input", good, "--k", "2", "--float32"}, "float32 storage refused", 1},
		{"output", []string{"--input", good, "--k", "2", "--output", "out.txt"}, "--output must end in .npy or .csv", 2},
		{"inducing-file", []string{"--input", good, "--k", "2", "--inducing-points", writeFile(t, "u.csv", "1,2,3\n")}, "points have 3 dimensions, the data has 2", 1},
	}
	goodBefore, _ := os.ReadFile(good)
	for _, c := range cases {
		cwd := t.TempDir()
		t.Chdir(cwd)
		code, _, stderr := runCLI(append([]string{"knn"}, c.args...)...)
		msgs := errorLines(stderr)
		if code != c.code || len(msgs) != 1 || !strings.Contains(msgs[0], c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and one line mentioning %q", c.name, code, stderr, c.code, c.want)
		}
		if left, _ := os.ReadDir(cwd); len(left) > 0 {
			t.Errorf("%s: left %d files behind", c.name, len(left))
		}
		if now, _ := os.ReadFile(good); !bytes.Equal(now, goodBefore) {
			t.Fatalf("%s: the input file changed", c.name)
		}
		if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
			t.Errorf("%s: stack trace on stderr: %q", c.name, stderr)
		}
	}
}

// TestKnnOutputs runs the command on a .npy input (with duplicates) and
// checks the .npy and .csv outputs against the library.
func TestKnnOutputs(t *testing.T) {
	const n, d, k = 120, 3, 5
	x := syntheticPoints(n, d, 9)
	copy(x[10*d:11*d], x[3*d:4*d]) // a duplicate point
	dir := t.TempDir()
	in := filepath.Join(dir, "points.npy")
	f, _ := os.Create(in)
	if err := npyio.Write(f, mat.NewDense(n, d, x)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "nn.npy")
	code, stdout, stderr := runCLI("knn", "--input", in, "--k", "5", "--predecessor", "--inducing", "40",
		"--lengthscale", "0.5,0.6,0.7", "--kernel", "matern52", "--output", out, "--workers", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("stdout: %s", stdout)
	}
	m, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Kernel: metric.Matern52, Inducing: 40,
		Lengthscale: []float64{0.5, 0.6, 0.7}, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	want, err := tree.BruteAllKNN(context.Background(), m, tree.KNNOptions{K: k, Predecessor: true, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	gotIdx := readNpy[int64](t, out)
	gotDist := readNpy[float64](t, filepath.Join(dir, "nn_distances.npy"))
	wantIdx := make([]int64, len(want.Indices()))
	for i, v := range want.Indices() {
		wantIdx[i] = int64(v)
	}
	if !slices.Equal(gotIdx, wantIdx) || !slices.Equal(gotDist[k:], want.Distances()[k:]) {
		t.Fatalf("npy output differs from the library's answer")
	}
	csvOut := filepath.Join(dir, "nn.csv")
	if code, _, stderr := runCLI("knn", "--input", in, "--k", "5", "--metric", "euclidean", "--output", csvOut); code != 0 {
		t.Fatalf("csv run: exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(csvOut)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != n+1 || lines[0] != "point,n1,n2,n3,n4,n5,d1,d2,d3,d4,d5" {
		t.Fatalf("csv: %d lines, header %q", len(lines), lines[0])
	}
	if !strings.HasPrefix(lines[4], "3,10,") { // point 3's duplicate is point 10, at distance 0
		t.Fatalf("csv row for point 3: %q", lines[4])
	}
}

func readNpy[T int64 | float64](t *testing.T, path string) []T {
	t.Helper()
	return readNpyCols[T](t, path, 5)
}

func readNpyCols[T int64 | float64](t *testing.T, path string, cols int) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := npyio.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Header.Descr.Shape; len(s) != 2 || s[1] != cols {
		t.Fatalf("%s: shape %v", path, s)
	}
	var v []T
	if err := r.Read(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestKnnExample(t *testing.T) {
	code, stdout, stderr := runCLI("knn", "--example-n", "300", "--example-d", "2", "--predecessor", "--k", "4")
	if code != 0 || !strings.Contains(stdout, "synthetic example (n=300") || !strings.Contains(stdout, "point 299: neighbours") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

// TestBinaryNoStackTrace runs the real binary with a bad input.
func TestBinaryNoStackTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "pcct")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "knn", "--input", writeFile(t, "bad.csv", "1,2\n3,nan\n"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "is NaN") {
		t.Fatalf("stderr %q: want one line naming the NaN", got)
	}
	cmd = exec.Command(bin, "cpu")
	cmd.Env = append(os.Environ(), "PCCT_KERNELS=bogus")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `PCCT_KERNELS="bogus"`) {
		t.Fatalf("bad PCCT_KERNELS: %v %q", err, out)
	}
}

func TestKnnQueriesAndProfiles(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, "data.csv", "0,0\n1,0\n0,1\n1,1\n0.5,0.5\n3,3\n")
	q := writeFile(t, "q.csv", "0.1,0.1\n2.9,3.2\n")
	out := filepath.Join(dir, "nn.csv")
	prof := filepath.Join(dir, "cpu.prof")
	mem := filepath.Join(dir, "mem.prof")
	code, stdout, stderr := runCLI("knn", "--input", data, "--queries", q, "--k", "2", "--metric", "euclidean",
		"--output", out, "--cpuprofile", prof, "--memprofile", mem)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "0,0,4,") || !strings.HasPrefix(lines[2], "1,5,3,") {
		t.Fatalf("query neighbours:\n%s\nstdout %s", b, stdout)
	}
	for _, p := range []string{prof, mem} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Fatalf("profile %s not written: %v", p, err)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--input", data, "--queries", q, "--predecessor"}, "--predecessor applies to all-points"},
		{[]string{"--input", data, "--queries", writeFile(t, "q3.csv", "1,2,3\n"), "--k", "2"}, "points have 3 dimensions"},
	} {
		code, _, stderr := runCLI(append([]string{"knn"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

// TestKnnWorkersIdentical: the written answer does not depend on --workers.
// TestKnnKD: --search kd (and auto, which takes it for the Euclidean metric
// in few dimensions) writes the files brute force writes, in every mode,
// and says so.
func TestKnnKD(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range [][]string{nil, {"--predecessor"}} {
		var files [][]byte
		for _, s := range []string{"brute", "kd", "auto"} {
			out := filepath.Join(dir, s+".npy")
			args := append([]string{"knn", "--example-n", "3000", "--example-d", "5", "--metric", "euclidean", "--k", "7", "--search", s, "--output", out}, mode...)
			code, _, stderr := runCLI(args...)
			if code != 0 {
				t.Fatalf("%s %v: %s", s, mode, stderr)
			}
			if s != "brute" && !strings.Contains(stderr, "search: k-d tree") {
				t.Fatalf("%s %v: no k-d tree in %q", s, mode, stderr)
			}
			for _, f := range []string{out, strings.TrimSuffix(out, ".npy") + "_distances.npy"} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, b)
			}
		}
		for i := 2; i < len(files); i++ {
			if !bytes.Equal(files[i], files[i%2]) {
				t.Fatalf("%v: file %d differs from brute force's", mode, i)
			}
		}
	}
}

func TestKnnWorkersIdentical(t *testing.T) {
	dir := t.TempDir()
	var outs [][]byte
	for _, w := range []string{"1", "2", "5"} {
		for _, pred := range []bool{false, true} {
			out := filepath.Join(dir, "w"+w+".csv")
			args := []string{"knn", "--example-n", "700", "--example-d", "3", "--inducing", "64", "--k", "6", "--workers", w, "--output", out}
			if pred {
				args = append(args, "--predecessor")
			}
			if code, _, stderr := runCLI(args...); code != 0 {
				t.Fatalf("workers %s: %s", w, stderr)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, b)
		}
	}
	for i := 2; i < len(outs); i++ {
		if !bytes.Equal(outs[i], outs[i%2]) {
			t.Fatalf("output %d differs from the one-worker run", i)
		}
	}
}

// TestKnnPadsLargeK: k >= n pads the rows (a note on stderr, exit 0).
func TestKnnPadsLargeK(t *testing.T) {
	in := writeFile(t, "five.csv", "0,0\n1,0\n0,1\n1,1\n0.5,0.5\n")
	out := filepath.Join(t.TempDir(), "nn.npy")
	code, _, stderr := runCLI("knn", "--input", in, "--k", "6", "--metric", "euclidean", "--output", out)
	if code != 0 || !strings.Contains(stderr, "padded with -1") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	idx := readNpyCols[int64](t, out, 6)
	dist := readNpyCols[float64](t, strings.TrimSuffix(out, ".npy")+"_distances.npy", 6)
	for i := 0; i < 5; i++ {
		for p := 0; p < 6; p++ {
			if pad := p >= 4; pad != (idx[i*6+p] == -1) || pad != math.IsInf(dist[i*6+p], 1) {
				t.Fatalf("row %d = %v %v: want 4 neighbours then padding", i, idx[i*6:i*6+6], dist[i*6:i*6+6])
			}
		}
	}
}

// TestKnnDistancesUnwritable: when the distances file cannot be written
// (here a directory stands at its path) the run stops before the work and
// writes no indices file either.
func TestKnnDistancesUnwritable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "nn_distances.npy"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI("knn", "--example-n", "200", "--output", filepath.Join(dir, "nn.npy"))
	if msgs := errorLines(stderr); code != 1 || len(msgs) != 1 || !strings.Contains(msgs[0], "is a directory") || strings.Contains(stderr, "search:") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "nn.npy")); !os.IsNotExist(err) {
		t.Fatalf("the indices file was written: %v", err)
	}
}
