package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Telemetry is a parsed log: its batch records and run records, in order.
type Telemetry struct {
	Batches []BatchRecord
	Runs    []RunRecord
}

// ReadLog parses a telemetry log (JSON lines). A line that is not a
// pcct.batch.v1 or pcct.run.v1 record is an error naming the line.
func ReadLog(r io.Reader) (*Telemetry, error) {
	t := &Telemetry{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 16<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var head struct{ Schema string }
		if err := json.Unmarshal([]byte(text), &head); err != nil {
			return nil, fmt.Errorf("line %d: not JSON: %v", line, err)
		}
		var err error
		switch head.Schema {
		case BatchSchema:
			var b BatchRecord
			err = json.Unmarshal([]byte(text), &b)
			t.Batches = append(t.Batches, b)
		case RunSchema:
			var r RunRecord
			err = json.Unmarshal([]byte(text), &r)
			t.Runs = append(t.Runs, r)
		default:
			return nil, fmt.Errorf("line %d: schema %q is not %s or %s", line, head.Schema, BatchSchema, RunSchema)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.Batches)+len(t.Runs) == 0 {
		return nil, fmt.Errorf("no telemetry records")
	}
	return t, nil
}

// Summary writes a per-phase table of the batch records and one line per
// run record.
func (t *Telemetry) Summary(w io.Writer) error {
	type agg struct {
		batches, points, rounds, dominated int
		trav, scope, conf, mis, link       float64
		query, util                        float64
		busy                               []float64 // by worker
		dists, pruned, edges               int64
		steals                             int
	}
	by := map[string]*agg{}
	for _, b := range t.Batches {
		a := by[b.Phase]
		if a == nil {
			a = &agg{}
			by[b.Phase] = a
		}
		a.batches++
		a.points += b.BatchSize
		a.rounds += b.MISRounds
		a.dominated += b.Dominated
		a.trav, a.conf, a.mis, a.query = a.trav+b.TraversalMS, a.conf+b.ConflictGraphMS, a.mis+b.MISMS, a.query+b.QueryMS
		a.scope, a.link = a.scope+b.TraversalSemisortMS, a.link+b.InsertMS
		for len(a.busy) < len(b.WorkerBusyMS) {
			a.busy = append(a.busy, 0)
		}
		for w, ms := range b.WorkerBusyMS {
			a.busy[w] += ms
		}
		a.dists, a.pruned, a.edges, a.steals = a.dists+b.Distances, a.pruned+b.Gate1Pruned, a.edges+b.ConflictEdges, a.steals+b.Steals
		a.util += b.Utilisation
	}
	phases := make([]string, 0, len(by))
	for p := range by {
		phases = append(phases, p)
	}
	sort.Strings(phases)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tbatches\tpoints\trounds\tdominated\ttraversal ms\t(scopes ms)\tconflict ms\tMIS ms\tlink ms\tquery ms\tdistances\tgate-1 pruned\tedges\tsteals\tmean util\tworker busy ms\t")
	for _, p := range phases {
		a := by[p]
		pr := 0.0
		if a.dists+a.pruned > 0 {
			pr = 100 * float64(a.pruned) / float64(a.dists+a.pruned)
		}
		busy := "-"
		if len(a.busy) > 0 {
			busy = fmt.Sprintf("%.1f-%.1f", slices.Min(a.busy), slices.Max(a.busy))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%.1f %%\t%d\t%d\t%.0f %%\t%s\t\n", p, a.batches, a.points, a.rounds,
			a.dominated, a.trav, a.scope, a.conf, a.mis, a.link, a.query, a.dists, pr, a.edges, a.steals, 100*a.util/float64(a.batches), busy)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range t.Runs {
		fmt.Fprintf(w, "run %s (%s): %d points, %d queries, k = %d, %d workers, kernels %s: build %.3f s, queries %.3f s, %.0f queries/s; %s\n",
			r.RunID, r.Command, r.Points, r.Queries, r.K, r.Workers, r.Kernels, r.BuildS, r.QueryS, r.QueriesPerS, r.Search)
		for _, b := range r.Baselines {
			fmt.Fprintf(w, "  baseline %s: %.3f s (%.2fx), recall@%d %.4f\n", b.Name, b.Seconds, b.Slowdown, r.K, b.Recall)
		}
	}
	return nil
}

// Plot is one figure of the report: its file name and how to write it.
type Plot struct {
	Name  string
	Write func(w io.Writer) error
}

// Plots returns the report's figures over the batch records (in log
// order): phase times per batch, worker utilisation per batch, and
// distances and Gate-1 prunes per batch.
func (t *Telemetry) Plots() ([]Plot, error) {
	if len(t.Batches) == 0 {
		return nil, fmt.Errorf("no batch records to plot")
	}
	series := func(f func(b BatchRecord) float64) plotter.XYs {
		xy := make(plotter.XYs, len(t.Batches))
		for i, b := range t.Batches {
			xy[i].X, xy[i].Y = float64(i), f(b)
		}
		return xy
	}
	figure := func(title, ylabel string, lines ...any) (Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "batch (log order)"
		p.Y.Label.Text = ylabel
		p.Legend.Top, p.Legend.Left = true, true
		if err := plotutil.AddLinePoints(p, lines...); err != nil {
			return Plot{}, err
		}
		wt, err := p.WriterTo(8*vg.Inch, 4*vg.Inch, "png")
		if err != nil {
			return Plot{}, err
		}
		return Plot{Write: func(w io.Writer) error { _, err := wt.WriteTo(w); return err }}, nil
	}
	var out []Plot
	for _, f := range []struct {
		name, title, ylabel string
		lines               []any
	}{
		{"phases.png", "Phase time per batch", "ms", []any{
			"traversal", series(func(b BatchRecord) float64 { return b.TraversalMS }),
			"conflict graph", series(func(b BatchRecord) float64 { return b.ConflictGraphMS }),
			"MIS + link", series(func(b BatchRecord) float64 { return b.MISMS }),
			"query", series(func(b BatchRecord) float64 { return b.QueryMS })}},
		{"utilisation.png", "Worker utilisation per batch (busy / workers x wall)", "utilisation", []any{
			"utilisation", series(func(b BatchRecord) float64 { return b.Utilisation })}},
		{"distances.png", "Distances per batch", "distances", []any{
			"computed", series(func(b BatchRecord) float64 { return float64(b.Distances) }),
			"pruned by Gate-1", series(func(b BatchRecord) float64 { return float64(b.Gate1Pruned) })}},
	} {
		p, err := figure(f.title, f.ylabel, f.lines...)
		if err != nil {
			return nil, err
		}
		p.Name = f.name
		out = append(out, p)
	}
	return out, nil
}
