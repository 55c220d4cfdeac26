package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestQueriesCmd: the benchmark run with every baseline reports recall 1
// for each and writes a log whose last line is the run record.
func TestQueriesCmd(t *testing.T) {
	log := filepath.Join(t.TempDir(), "run.jsonl")
	for _, build := range []string{"nets", "insertion"} {
		code, stdout, stderr := runCLI("queries", "--dimension", "2", "--tree-points", "1200", "--queries", "64", "--k", "4",
			"--lengthscale", "0.1", "--inducing", "64", "--search", "tree", "--build", build, "--baseline", "brute,sequential,gpboost", "--log-file", log)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", build, code, stderr)
		}
		for _, want := range []string{"pcct: build", "queries/s", "baseline brute:", "baseline sequential:", "baseline gpboost:", "pcct recall@4 against brute force: 1.0000", "wrote " + log} {
			if !strings.Contains(stdout, want) {
				t.Fatalf("%s: stdout lacks %q:\n%s", build, want, stdout)
			}
		}
		if strings.Count(stdout, "recall@4 1.0000 (against brute)") != 3 {
			t.Fatalf("%s: a baseline's recall is not 1:\n%s", build, stdout)
		}
		b, _ := os.ReadFile(log)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		var last struct {
			Schema    string
			Baselines []struct{ Name string }
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Schema != "pcct.run.v1" || len(last.Baselines) != 3 {
			t.Fatalf("%s: last log line %q (%v)", build, lines[len(lines)-1], err)
		}
		if build == "insertion" && len(lines) < 10 {
			t.Fatalf("insertion build: %d log lines, want one per batch", len(lines))
		}
		checkBatchTimes(t, build, lines[:len(lines)-1])
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--baseline", "fast"}, `unknown baseline "fast"`},
		{[]string{"--batch-size", "64"}, "--batch-size applies to --build insertion"},
		{[]string{"--tree-points", "1"}, "--tree-points must be at least 2"},
		{[]string{"--build", "bottom-up"}, `unknown --build "bottom-up"`},
		{[]string{"--metric", "euclidean", "--inducing", "5"}, "--inducing applies to the residual metric"},
		{[]string{"--gate", "lookup"}, "--gate must be off, screen or bound"},
		{[]string{"--gate", "screen", "--metric", "euclidean"}, "--gate screen applies to the residual metric"},
	} {
		code, _, stderr := runCLI(append([]string{"queries"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

// checkBatchTimes checks the batch records' times: every record gives
// each worker's busy time (in all, at most workers x the phase's time),
// and an insertion's scope collections (traversal_semisort_ms) take part
// of its traversal, a positive part over the whole build, as its linking
// (insert_ms) does.
func checkBatchTimes(t *testing.T, build string, lines []string) {
	t.Helper()
	scope, link := 0.0, 0.0
	for _, l := range lines {
		var r struct {
			Phase     string
			Workers   int
			Busy      []float64 `json:"worker_busy_ms"`
			Traversal float64   `json:"traversal_ms"`
			Semisort  float64   `json:"traversal_semisort_ms"`
			Conflict  float64   `json:"conflict_graph_ms"`
			MIS       float64   `json:"mis_ms"`
			Link      float64   `json:"insert_ms"`
			Query     float64   `json:"query_ms"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		busy := 0.0
		for _, b := range r.Busy {
			busy += b
		}
		phase := r.Traversal + r.Conflict + r.MIS + r.Link + r.Query
		if len(r.Busy) != 0 && len(r.Busy) != r.Workers || busy > float64(r.Workers)*phase*1.01+0.01 {
			t.Errorf("%s: %s record: worker_busy_ms %v for %d workers in %.3f ms", build, r.Phase, r.Busy, r.Workers, phase)
		}
		if r.Semisort > r.Traversal {
			t.Errorf("%s: %s record: scope collections %.3f ms in a traversal of %.3f ms", build, r.Phase, r.Semisort, r.Traversal)
		}
		scope += r.Semisort
		link += r.Link
	}
	if (build == "insertion") != (scope > 0 && link > 0) {
		t.Errorf("%s build: scope collections took %.3f ms in all, linking %.3f ms", build, scope, link)
	}
}

// validLog returns the lines of the telemetry log at path, failing t
// unless each validates against docs/telemetry.schema.json.
func validLog(t *testing.T, path string) []string {
	t.Helper()
	sch, err := jsonschema.NewCompiler().Compile("../../docs/telemetry.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, l := range lines {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(l))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
	return lines
}

// TestKnnLog: pcct knn --log-file writes records that validate against
// the schema, with the outputs (all or none).
func TestKnnLog(t *testing.T) {
	dir := t.TempDir()
	log, out := filepath.Join(dir, "knn.jsonl"), filepath.Join(dir, "nn.npy")
	code, _, stderr := runCLI("knn", "--example-n", "3000", "--example-d", "2", "--lengthscale", "0.1", "--inducing", "64",
		"--predecessor", "--search", "tree", "--log-file", log, "--output", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := validLog(t, log)
	if len(lines) != 3 { // build, query, run
		t.Fatalf("%d log lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	// The build and the query record give each worker's busy time.
	for _, l := range lines[:2] {
		var r struct {
			Phase   string
			Workers int
			Busy    []float64 `json:"worker_busy_ms"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, b := range r.Busy {
			sum += b
		}
		if len(r.Busy) != r.Workers || !(sum > 0) {
			t.Errorf("%s record: worker_busy_ms %v for %d workers", r.Phase, r.Busy, r.Workers)
		}
	}
}

// TestKnnLogOrder: with --order maxmin the log opens with an order
// record (schema-valid, with the ordering's distances and each worker's
// busy time), and pcct report lists the phase.
func TestKnnLogOrder(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "knn.jsonl")
	code, _, stderr := runCLI("knn", "--example-n", "3000", "--example-d", "2", "--lengthscale", "0.1", "--inducing", "64",
		"--predecessor", "--order", "maxmin", "--workers", "2", "--log-file", log, "--output", filepath.Join(dir, "nn.npy"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := validLog(t, log)
	var r struct {
		Phase     string
		BatchSize int   `json:"batch_size"`
		Distances int64 `json:"distances"`
		Workers   int
		Busy      []float64 `json:"worker_busy_ms"`
		QueryMS   float64   `json:"query_ms"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatal(err)
	}
	if r.Phase != "order" || r.BatchSize != 3000 || r.Distances < 3000 || r.Workers != 2 || len(r.Busy) != 2 || !(r.QueryMS > 0) {
		t.Fatalf("order record: %+v", r)
	}
	code, stdout, stderr := runCLI("report", log)
	if code != 0 || !strings.Contains(stdout, "order") {
		t.Fatalf("report: exit %d: %s%s", code, stdout, stderr)
	}
}

// TestReportCmd: pcct report prints a per-phase table and draws PNG plots
// that decode; a malformed log is an error naming its line.
func TestReportCmd(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "run.jsonl")
	if code, _, stderr := runCLI("queries", "--dimension", "2", "--tree-points", "3000", "--queries", "100", "--lengthscale", "0.1",
		"--inducing", "64", "--search", "tree", "--build", "insertion", "--log-file", log); code != 0 {
		t.Fatalf("queries: %s", stderr)
	}
	out := filepath.Join(dir, "plots")
	os.Mkdir(out, 0o755)
	code, stdout, stderr := runCLI("report", log, "--out-dir", out)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"phase", "insert", "query", "run ", "3000 points"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("report lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"phases", "utilisation", "distances"} {
		f, err := os.Open(filepath.Join(out, "run_"+name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 || img.Bounds().Dy() < 100 {
			t.Fatalf("%s.png: %v %v", name, err, img)
		}
	}
	bad := writeFile(t, "bad.jsonl", `{"schema": "pcct.batch.v1", "phase": "insert"}`+"\n{not json\n")
	if code, _, stderr := runCLI("report", bad); code != 1 || !strings.Contains(stderr, "line 2: not JSON") {
		t.Fatalf("bad log: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI("report"); code != 2 || !strings.Contains(stderr, "give one telemetry log") {
		t.Fatalf("no log: exit %d, %s", code, stderr)
	}
}

// TestQueriesGate: --gate screen screens the tree's query tiles and
// brute force's, with recall 1 against the float64 brute force.
func TestQueriesGate(t *testing.T) {
	for _, search := range []string{"tree", "brute"} {
		code, stdout, stderr := runCLI("queries", "--dimension", "8", "--tree-points", "3000", "--queries", "200", "--k", "8",
			"--inducing", "64", "--search", search, "--gate", "screen", "--baseline", "brute")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", search, code, stderr)
		}
		for _, want := range []string{"pairs screened in float32", "pcct recall@8 against brute force: 1.0000"} {
			if !strings.Contains(stdout, want) {
				t.Fatalf("%s: stdout lacks %q:\n%s", search, want, stdout)
			}
		}
	}
}
