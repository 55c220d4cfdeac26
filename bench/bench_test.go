package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

func metrics(t *testing.T, n, d int, dup bool) []metric.Metric {
	t.Helper()
	x := Uniform(n, d, 3)
	if dup {
		for i := 0; i < n; i += 7 {
			copy(x[i*d:(i+1)*d], x[:d])
		}
	}
	r, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{0.2}, Inducing: 40, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := metric.NewEuclidean(x, n, d)
	return []metric.Metric{r, e}
}

// TestBaselinesExact: every baseline finds the exact neighbours of a query
// set, for both metrics, with duplicates; the GPBoost re-creation also in
// predecessor mode, point by point.
func TestBaselinesExact(t *testing.T) {
	pool := streamer.NewPool(2)
	defer pool.Close()
	for _, dup := range []bool{false, true} {
		for _, m := range metrics(t, 500, 2, dup) {
			qs, _ := m.Embed(context.Background(), Uniform(60, 2, 9), 60)
			want, _ := tree.BruteKNN(context.Background(), m, qs, tree.KNNOptions{K: 6})
			for _, b := range Baselines {
				got, _, err := RunBaseline(context.Background(), b, m, qs, 6, pool)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(want) || Recall(got, want) != 1 {
					t.Fatalf("%s on %s (duplicates %v): not exact, recall %v", b, m.Name(), dup, Recall(got, want))
				}
			}
			g, err := buildGP(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			pred, _ := tree.BruteAllKNN(context.Background(), m, tree.KNNOptions{K: 4, Predecessor: true})
			for i := range m.Data().N {
				ids, ds := g.knn(m.Data(), i, 4, int32(i))
				wi, wd := pred.Row(i)
				for p := range ids {
					if ids[p] != wi[p] || ds[p] != wd[p] {
						t.Fatalf("gpboost predecessor row %d: %v %v, want %v %v", i, ids, ds, wi, wd)
					}
				}
				if len(ids) != min(i, 4) {
					t.Fatalf("gpboost row %d: %d neighbours", i, len(ids))
				}
			}
		}
	}
	if _, err := ParseBaselines("brute,bogus"); err == nil {
		t.Fatal("unknown baseline accepted")
	}
	if bs, _ := ParseBaselines("none"); len(bs) != 0 {
		t.Fatal("none gave baselines")
	}
}

// TestRecall: recall counts the shared neighbours.
func TestRecall(t *testing.T) {
	want := tree.NewNeighbours(2, 2, []int32{1, 2, 0, -1}, []float64{0, 0, 0, 0})
	got := tree.NewNeighbours(2, 2, []int32{1, 3, 0, 5}, []float64{0, 0, 0, 0})
	if r := Recall(got, want); r != 0.75 {
		t.Fatalf("recall %v, want 0.75", r)
	}
}

// TestQueriesLog: a queries run with every baseline has recall 1, and its
// telemetry log validates against docs/telemetry.schema.json (an
// insertion build, so batch records carry MIS and gate fields).
func TestQueriesLog(t *testing.T) {
	pool := streamer.NewPool(2)
	defer pool.Close()
	var buf bytes.Buffer
	log := NewLog(&buf)
	for _, name := range []string{"residual", "euclidean"} {
		res, err := RunQueries(context.Background(), QueriesConfig{
			Dimension: 2, TreePoints: 1500, Queries: 100, K: 5, Seed: 4, Search: tree.SearchTree,
			Tree:      tree.Options{Algorithm: tree.Insertion, Batch: 128},
			Baselines: Baselines, Pool: pool, Log: log,
			Metric: func(ctx context.Context, x []float64, n, d int) (metric.Metric, error) {
				if name == "euclidean" {
					return metric.NewEuclidean(x, n, d)
				}
				return metric.NewResidual(ctx, x, n, d, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 64, Seed: 2})
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.RecallAgainst != "brute" || res.Recall != 1 || len(res.Baselines) != 3 {
			t.Fatalf("%s: %+v", name, res)
		}
		for _, b := range res.Baselines {
			if b.Recall != 1 || b.Seconds <= 0 {
				t.Fatalf("%s baseline %+v", name, b)
			}
		}
		log.Run(RunRecord{Command: "queries", Config: map[string]string{"metric": name}, Kernels: "avx512", Workers: 2, Points: 1500,
			Queries: 100, K: 5, Search: "tree", BuildS: res.Build.Seconds(), QueryS: res.Query.Seconds(),
			QueriesPerS: res.PerSecond, Recall: map[string]float64{"brute": res.Recall}, Baselines: res.Baselines, CPUFeatures: []string{}})
	}
	if err := log.Err(); err != nil {
		t.Fatal(err)
	}
	sch, err := jsonschema.NewCompiler().Compile("../docs/telemetry.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	phases := map[string]int{}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(sc.Text()))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		var rec struct{ Phase, Schema string }
		json.Unmarshal(sc.Bytes(), &rec)
		phases[rec.Schema+"/"+rec.Phase]++
	}
	if phases["pcct.batch.v1/insert"] < 10 || phases["pcct.batch.v1/query"] != 2 || phases["pcct.run.v1/"] != 2 {
		t.Fatalf("records: %v", phases)
	}
	// The schema is strict: a record with a missing key does not pass.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"schema": "pcct.batch.v1", "run_id": "x"}`))
	if sch.Validate(bad) == nil {
		t.Fatal("an incomplete record validated")
	}
}

// TestSummary: a log written by Log reads back, and Summary sums each
// phase: its times (the scope collections' and the linking's apart), its
// distances and steals, and the least and most busy worker over its
// records.
func TestSummary(t *testing.T) {
	var buf bytes.Buffer
	log := NewLog(&buf)
	log.Batch(BatchRecord{Phase: "insert", BatchSize: 10, TraversalMS: 2, TraversalSemisortMS: 0.5, MISMS: 0.25, InsertMS: 0.125,
		Distances: 100, Workers: 2, WorkerBusyMS: []float64{1, 2}, Utilisation: 0.5, Steals: 3})
	log.Batch(BatchRecord{Phase: "insert", BatchSize: 20, TraversalMS: 4, TraversalSemisortMS: 1.5, MISMS: 0.75, InsertMS: 0.375,
		Distances: 200, Workers: 2, WorkerBusyMS: []float64{3, 1}, Utilisation: 1, Steals: 4})
	log.Batch(BatchRecord{Phase: "query", BatchSize: 7, QueryMS: 9, Distances: 50, Workers: 2, Utilisation: 0.9})
	log.Run(RunRecord{Command: "queries", Points: 30, Queries: 7, K: 3, Workers: 2, Kernels: "generic", Search: "tree"})
	tel, err := ReadLog(&buf)
	if err != nil || len(tel.Batches) != 3 || len(tel.Runs) != 1 {
		t.Fatalf("read back: %v, %+v", err, tel)
	}
	var out strings.Builder
	if err := tel.Summary(&out); err != nil {
		t.Fatal(err)
	}
	var insert, query []string
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "insert":
			insert = f
		case len(f) > 0 && f[0] == "query":
			query = f
		}
	}
	// phase batches points rounds dominated traversal (scopes) conflict
	// MIS link query distances pruned% edges steals util% busy
	want := []string{"insert", "2", "30", "0", "0", "6.0", "2.0", "0.0", "1.0", "0.5", "0.0", "300", "0.0", "%", "0", "7", "75", "%", "3.0-4.0"}
	if strings.Join(insert, " ") != strings.Join(want, " ") {
		t.Errorf("insert row %q, want %q\n%s", insert, want, out.String())
	}
	if len(query) == 0 || query[len(query)-1] != "-" || query[10] != "9.0" {
		t.Errorf("query row %q: want 9.0 ms of queries and no busy times\n%s", query, out.String())
	}
}
