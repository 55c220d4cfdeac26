package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

// TestKnnGpGp: --format gpgp writes GpGp's NNarray (1-based, row i = i
// then its neighbours nearest first, NA padding) as .csv and .npy.
func TestKnnGpGp(t *testing.T) {
	const n, d, k = 200, 2, 4
	dir := t.TempDir()
	x := syntheticPoints(n, d, 42)
	e, _ := metric.NewEuclidean(x, n, d)
	want, err := tree.BruteAllKNN(context.Background(), e, tree.KNNOptions{K: k, Predecessor: true})
	if err != nil {
		t.Fatal(err)
	}
	csvOut := filepath.Join(dir, "nn.csv")
	args := []string{"knn", "--example-n", fmt.Sprint(n), "--example-d", fmt.Sprint(d), "--metric", "euclidean", "--predecessor", "--k", fmt.Sprint(k), "--format", "gpgp"}
	if code, _, stderr := runCLI(append(args, "--output", csvOut)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(csvOut)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		ids, _ := want.Row(i)
		row := []string{fmt.Sprint(i + 1)}
		for _, j := range ids {
			if j < 0 {
				row = append(row, "NA")
			} else {
				row = append(row, fmt.Sprint(j+1))
			}
		}
		if l != strings.Join(row, ",") {
			t.Fatalf("line %d = %q, want %q", i+1, l, strings.Join(row, ","))
		}
	}
	if !strings.HasPrefix(lines[0], "1,NA,NA,NA,NA") || !strings.HasPrefix(lines[2], "3,") || !strings.HasSuffix(lines[2], ",NA,NA") {
		t.Fatalf("first rows: %q %q", lines[0], lines[2])
	}
	npyOut := filepath.Join(dir, "nn.npy")
	if code, _, stderr := runCLI(append(args, "--output", npyOut)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	a := readNpyCols[float64](t, npyOut, k+1)
	for i := range n {
		ids, _ := want.Row(i)
		if a[i*(k+1)] != float64(i+1) {
			t.Fatalf("row %d starts with %v", i, a[i*(k+1)])
		}
		for p, j := range ids {
			if v := a[i*(k+1)+1+p]; (j < 0) != math.IsNaN(v) || (j >= 0 && v != float64(j+1)) {
				t.Fatalf("row %d: %v, want %v (+1, NaN for -1)", i, a[i*(k+1):(i+1)*(k+1)], ids)
			}
		}
	}
	if dist := readNpyCols[float64](t, filepath.Join(dir, "nn_distances.npy"), k); len(dist) != n*k {
		t.Fatalf("distances: %d values", len(dist))
	}
}

// TestKnnTalk: the input and parameters go to stderr before the work,
// a lengthscale far off the coordinates is warned about, and --quiet
// silences everything but errors.
func TestKnnTalk(t *testing.T) {
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, "%d,%d\n", (i*7919)%1000*10, (i*104729)%1000*10) // metres, against lengthscale 1
	}
	far := writeFile(t, "far.csv", b.String())
	code, _, stderr := runCLI("knn", "--input", far, "--k", "3", "--inducing", "50")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"pcct knn: input: " + far + ": n = 300 points, d = 2", "parameters: k = 3 over all points", "inducing 50 (random, seed 42)", "warning: ", "lengthscale 1 is small"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Index(stderr, "parameters:") > strings.Index(stderr, "search:") {
		t.Errorf("parameters printed after the work:\n%s", stderr)
	}
	if code, _, stderr := runCLI("knn", "--input", far, "--k", "3", "--inducing", "50", "--lengthscale", "2000"); code != 0 || strings.Contains(stderr, "warning") {
		t.Errorf("a fitting lengthscale: exit %d, stderr %s", code, stderr)
	}
	if code, _, stderr := runCLI("knn", "--input", far, "--k", "3", "--inducing", "50", "--quiet"); code != 0 || stderr != "" {
		t.Errorf("--quiet: exit %d, stderr %q", code, stderr)
	}
	over := fmt.Sprint(runtime.NumCPU() + 1)
	if _, _, stderr := runCLI("knn", "--example-n", "50", "--example-d", "2", "--workers", over, "--k", "2"); !strings.Contains(stderr, "warning: --workers "+over+" is more than the") {
		t.Errorf("too many workers: %s", stderr)
	}
}

// TestExitCodes: usage errors exit 2, failures 1; a pool task's panic is
// one line, its stack only with --debug.
func TestExitCodes(t *testing.T) {
	var buf bytes.Buffer
	if c := exitCode(usageErr("bad flag"), "knn", &buf, false); c != 2 || buf.String() != "pcct knn: bad flag\n" {
		t.Fatalf("usage: %d %q", c, buf.String())
	}
	pool := streamer.NewPool(2)
	defer pool.Close()
	_, err := pool.Run(4, func(w, k int) {
		if k == 2 {
			panic("boom")
		}
	})
	for _, debug := range []bool{false, true} {
		buf.Reset()
		if c := exitCode(fmt.Errorf("search: %w", err), "knn", &buf, debug); c != 1 {
			t.Fatalf("panic: exit %d", c)
		}
		lines := strings.Count(buf.String(), "\n")
		if !strings.HasPrefix(buf.String(), "pcct knn: search: streamer: task 2 panicked: boom\n") || (lines == 1) == debug {
			t.Fatalf("debug=%v: %q", debug, buf.String())
		}
	}
	if c := exitCode(errors.New("disk full"), "knn", &buf, false); c != 1 {
		t.Fatalf("failure: exit %d", c)
	}
}

// TestKnnMemory: a run estimated above --max-memory (or what is
// available) stops before the work with a one-line error, writing nothing.
func TestKnnMemory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "nn.npy")
	code, _, stderr := runCLI("knn", "--example-n", "3000", "--k", "2000", "--max-memory", "1M", "--output", out)
	if msgs := errorLines(stderr); code != 1 || len(msgs) != 1 || !strings.Contains(msgs[0], "this run needs about") || !strings.Contains(msgs[0], "answer 3000 x 2000") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stderr, "search:") {
		t.Fatal("the work ran")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output written: %v", err)
	}
	// Far beyond any machine: stopped by what is available, before the
	// example's coordinates are made.
	if code, _, stderr := runCLI("knn", "--example-n", "4000000000", "--example-d", "2", "--inducing", "512"); code != 1 || !strings.Contains(stderr, "V 4000000000 x 512") {
		t.Fatalf("huge n: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI("knn", "--example-n", "300", "--max-memory", "lots"); code != 2 || !strings.Contains(stderr, `--max-memory: "lots" is not a size`) {
		t.Fatalf("bad size: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI("knn", "--example-n", "300", "--example-d", "2", "--max-memory", "2G"); code != 0 {
		t.Fatalf("a small run under 2G: exit %d, stderr %q", code, stderr)
	}
	for s, want := range map[string]float64{"512": 512, "1k": 1024, "1.5G": 1.5 * (1 << 30), "2GiB": 2 << 30, "3TB": 3 << 40} {
		if got, err := parseSize(s); err != nil || got != want {
			t.Errorf("parseSize(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}

// TestKnnOrder: --order coord|maxmin|maxmin-coords writes the ordering
// beside the neighbours (max-min reporting its tree and cost), and the
// neighbours are the Vecchia job's on the reordered points (positions in
// the new order), equal to brute force there. maxmin-coords is the
// Euclidean max-min ordering of the coordinates under either metric
// (here computed on a cover tree for reference).
func TestKnnOrder(t *testing.T) {
	const n, d, k = 400, 2, 5
	dir := t.TempDir()
	x := syntheticPoints(n, d, 42)
	for _, order := range []string{"coord", "maxmin", "maxmin-coords"} {
		for _, name := range []string{"residual", "euclidean"} {
			out := filepath.Join(dir, order+name+".npy")
			args := []string{"knn", "--example-n", fmt.Sprint(n), "--example-d", "2", "--predecessor", "--k", fmt.Sprint(k), "--order", order, "--output", out, "--metric", name}
			var m metric.Metric
			if name == "residual" {
				args = append(args, "--lengthscale", "0.2", "--inducing", "60")
				m, _ = metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{0.2}, Inducing: 60, Seed: 42})
			} else {
				m, _ = metric.NewEuclidean(x, n, d)
			}
			code, _, stderr := runCLI(args...)
			if code != 0 {
				t.Fatalf("%s %s: exit %d: %s", order, name, code, stderr)
			}
			// The max-min ordering says what it ran on and what it cost.
			used := map[string]string{"residual": "cover tree built in", "euclidean": "k-d tree built in"}[name]
			if order == "maxmin-coords" {
				used = "k-d tree built in"
			}
			if order != "coord" && (!strings.Contains(stderr, "order: "+order+" (") || !strings.Contains(stderr, used) || !strings.Contains(stderr, " distances, utilisation ")) {
				t.Fatalf("%s %s: no report of the ordering in %s", order, name, stderr)
			}
			got := readNpyCols[int64](t, filepath.Join(dir, order+name+"_order.npy"), 1)
			perm := coordOrder(x, n, d)
			if order != "coord" {
				om := m
				if order == "maxmin-coords" {
					om, _ = metric.NewEuclidean(x, n, d)
				}
				tr, err := tree.Build(context.Background(), om, tree.Options{})
				if err != nil {
					t.Fatal(err)
				}
				perm, _ = tr.MaxMinOrder(context.Background(), tree.CentralPoint(x, n, d), tree.KNNOptions{})
			}
			for i, p := range perm {
				if got[i] != int64(p) {
					t.Fatalf("%s %s: order[%d] = %d, want %d", order, name, i, got[i], p)
				}
			}
			if order == "coord" && !slicesSortedBy(x, d, perm) {
				t.Fatalf("coord order is not sorted by the first coordinate")
			}
			mo, _ := metric.Reorder(context.Background(), m, perm, nil)
			want, _ := tree.BruteAllKNN(context.Background(), mo, tree.KNNOptions{K: k, Predecessor: true})
			idx := readNpy[int64](t, out)
			for i, v := range want.Indices() {
				if idx[i] != int64(v) {
					t.Fatalf("%s %s: neighbours differ from brute force on the ordered points at %d", order, name, i)
				}
			}
		}
	}
	// Per-dimension lengthscales: the order of the coordinates divided by
	// them (the ordering is invariant to a uniform factor, ties aside).
	out := filepath.Join(dir, "aniso.npy")
	if code, _, stderr := runCLI("knn", "--example-n", fmt.Sprint(n), "--example-d", "2", "--predecessor", "--k", fmt.Sprint(k),
		"--order", "maxmin-coords", "--lengthscale", "0.2,0.05", "--inducing", "60", "--output", out); code != 0 {
		t.Fatalf("anisotropic: exit %d: %s", code, stderr)
	}
	scaled := slices.Clone(x)
	for i := range scaled {
		scaled[i] /= []float64{0.2, 0.05}[i%d]
	}
	e, _ := metric.NewEuclidean(scaled, n, d)
	tr, err := tree.Build(context.Background(), e, tree.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tr.MaxMinOrder(context.Background(), tree.CentralPoint(scaled, n, d), tree.KNNOptions{})
	if got := readNpyCols[int64](t, filepath.Join(dir, "aniso_order.npy"), 1); !slices.Equal(got, int64s(want)) {
		t.Fatalf("anisotropic maxmin-coords: order %v..., want %v...", got[:8], want[:8])
	}
	if code, _, stderr := runCLI("knn", "--example-n", "50", "--order", "random"); code != 2 || !strings.Contains(stderr, `unknown --order "random"`) {
		t.Fatalf("bad order: %d %s", code, stderr)
	}
}

func int64s(v []int32) []int64 {
	out := make([]int64, len(v))
	for i, p := range v {
		out[i] = int64(p)
	}
	return out
}

func slicesSortedBy(x []float64, d int, perm []int32) bool {
	for i := 1; i < len(perm); i++ {
		if x[int(perm[i-1])*d] > x[int(perm[i])*d] {
			return false
		}
	}
	return true
}

// TestProgressOnlyOnTerminals: no bar for buffers, pipes, files or --quiet.
func TestProgressOnlyOnTerminals(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, w := range []io.Writer{&bytes.Buffer{}, f} {
		if tick, _ := newProgress(w, false, "x"); tick != nil {
			t.Fatalf("%T: a bar on a non-terminal", w)
		}
	}
	if tick, _ := newProgress(os.Stderr, true, "x"); tick != nil {
		t.Fatal("a bar with --quiet")
	}
}

// TestKnnGate: --gate screen writes the same bytes as --gate off, with
// brute force and with the cover tree, says how much it screened, and is
// refused where it does not apply.
func TestKnnGate(t *testing.T) {
	dir := t.TempDir()
	var outs [][]byte
	runs := []struct{ search, gate string }{{"brute", "off"}, {"brute", "screen"}, {"tree", "screen"}, {"brute", "bound"}, {"tree", "bound"}}
	for _, run := range runs {
		out := filepath.Join(dir, run.search+run.gate+".npy")
		args := []string{"knn", "--example-n", "4000", "--example-d", "8", "--inducing", "64", "--predecessor", "--k", "8",
			"--search", run.search, "--gate", run.gate, "--output", out}
		if run.gate != "off" {
			args = append(args, "--gate-audit")
		}
		code, _, stderr := runCLI(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", run, code, stderr)
		}
		if run.gate == "screen" && (!strings.Contains(stderr, "pairs screened in float32") || !strings.Contains(stderr, "audit: 0 false prunes")) {
			t.Fatalf("%v: no screening summary or audit: %s", run, stderr)
		}
		// m = 64: the residual distance is cheaper than the bound, which stays off.
		if run.gate == "bound" && (!strings.Contains(stderr, "pivot bound: off: this metric's distance costs less") || !strings.Contains(stderr, "audit: 0 false prunes")) {
			t.Fatalf("%v: no pivot bound summary or audit: %s", run, stderr)
		}
		for _, p := range []string{out, strings.TrimSuffix(out, ".npy") + "_distances.npy"} {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, b)
		}
	}
	for r := 1; r < len(runs); r++ {
		if !bytes.Equal(outs[0], outs[2*r]) || !bytes.Equal(outs[1], outs[2*r+1]) {
			t.Fatalf("run %v: --gate %s wrote other bytes than --gate off", runs[r], runs[r].gate)
		}
	}
	// Euclidean points in the plane: the distance is cheaper than the bound.
	var eouts [][]byte
	for _, gate := range []string{"off", "bound"} {
		out := filepath.Join(dir, "e"+gate+".npy")
		args := []string{"knn", "--metric", "euclidean", "--example-n", "3000", "--example-d", "2", "--predecessor", "--k", "5",
			"--search", "brute", "--gate", gate, "--output", out}
		if gate == "bound" {
			args = append(args, "--gate-audit")
		}
		code, _, stderr := runCLI(args...)
		if code != 0 {
			t.Fatalf("euclidean %s: exit %d: %s", gate, code, stderr)
		}
		if gate == "bound" && (!strings.Contains(stderr, "costs less per pair than the pivot bound") || !strings.Contains(stderr, "audit: 0 false prunes")) {
			t.Fatalf("euclidean bound: no summary or audit: %s", stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		eouts = append(eouts, b)
	}
	if !bytes.Equal(eouts[0], eouts[1]) {
		t.Fatal("euclidean: --gate bound wrote other bytes than --gate off")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--gate", "bound", "--metric", "euclidean", "--search", "kd"}, "--search kd computes distances directly"},
		{[]string{"--gate", "screen", "--metric", "euclidean"}, "--gate screen applies to the residual metric"},
		{[]string{"--gate", "fast"}, `unknown gate "fast"`},
		{[]string{"--gate-audit", "--gate", "off"}, "--gate-audit checks a gate"},
	} {
		code, _, stderr := runCLI(append([]string{"knn", "--example-n", "100"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %s", c.args, code, stderr)
		}
	}
}

// TestDescribeScreen: the screening summary names the probe's own limit
// when the probe turned screening off.
func TestDescribeScreen(t *testing.T) {
	for _, c := range []struct {
		st   tree.ScreenStats
		gate tree.Gate
		want string
	}{
		{tree.ScreenStats{Probe: 0.033, ProbeLimit: 0.01}, tree.GateScreen, "off: the probe found 3.3 % of a sample's candidates undecidable in float32 (above 1 %)"},
		{tree.ScreenStats{Probe: 0.994, ProbeLimit: 0.05}, tree.GateBound, "undecidable by their pivot bounds (above 5 %)"},
		{tree.ScreenStats{Cheap: true}, tree.GateBound, "costs less per pair"},
		{tree.ScreenStats{}, tree.GateScreen, "not used"},
		{tree.ScreenStats{Screened: 1000, Recomputed: 10, Probe: 0.002, ProbeLimit: 0.01}, tree.GateAuto, "1000 pairs screened in float32, 1.000 % recomputed"},
	} {
		if got := describeScreen(c.st, c.gate); !strings.Contains(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.st, got, c.want)
		}
	}
}

// TestGateProfileAndLookup: pcct gate-profile samples and merges
// profiles; knn --gate lookup says it is approximate and the audit counts
// its losses; mismatched profiles and flags are refused.
func TestGateProfileAndLookup(t *testing.T) {
	dir := t.TempDir()
	p1, p2, pm := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json"), filepath.Join(dir, "m.json")
	base := []string{"--example-n", "3000", "--example-d", "4", "--inducing", "64"}
	for i, p := range []string{p1, p2} {
		args := append([]string{"gate-profile", "--rows", "50", "--seed", fmt.Sprint(42 + i), "--output", p}, base...)
		if code, stdout, stderr := runCLI(args...); code != 0 || !strings.Contains(stdout, "wrote "+p) {
			t.Fatalf("gate-profile: exit %d, %s %s", code, stdout, stderr)
		}
	}
	if code, stdout, stderr := runCLI("gate-profile", "--merge", p1+","+p2, "--output", pm); code != 0 || !strings.Contains(stdout, "299900 pairs") {
		t.Fatalf("merge: exit %d: %s %s", code, stdout, stderr)
	}
	code, stdout, stderr := runCLI(append([]string{"knn", "--predecessor", "--search", "brute", "--gate", "lookup", "--gate-profile", pm, "--gate-audit"}, base...)...)
	if code != 0 || !strings.Contains(stdout, "APPROXIMATE (lookup gate) 8-NN") || !strings.Contains(stderr, "APPROXIMATE lookup gate:") || !strings.Contains(stderr, "audit: 0 false prunes") {
		t.Fatalf("lookup: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{append([]string{"knn", "--gate", "lookup"}, base...), 2, "--gate lookup and --gate-profile go together"},
		{append([]string{"knn", "--gate", "screen", "--lookup-quantile", "0.5"}, base...), 2, "--lookup-quantile must be in (0, 1] with --gate lookup"},
		{[]string{"knn", "--example-n", "3000", "--example-d", "4", "--inducing", "32", "--predecessor", "--search", "brute", "--gate", "lookup", "--gate-profile", pm}, 1, "gate profile was made for"},
		{[]string{"gate-profile", "--merge", p1 + "," + writeFile(t, "bad.json", `{"schema": "x"}`), "--output", filepath.Join(dir, "x.json")}, 1, `schema "x"`},
		{[]string{"gate-profile", "--metric", "euclidean", "--output", filepath.Join(dir, "y.json")}, 2, "residual metric"},
	} {
		code, _, stderr := runCLI(c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %s", c.args, code, stderr)
		}
	}
}
