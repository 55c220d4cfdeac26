package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pcct/pcct/tree"
)

// Schema ids of the telemetry records.
const (
	BatchSchema = "pcct.batch.v1"
	RunSchema   = "pcct.run.v1"
)

// BatchRecord is one batch of work: an insertion batch of the tree build,
// the whole build when it is not made by insertion (phase "build"), or a
// query phase.
type BatchRecord struct {
	Schema      string  `json:"schema"`
	RunID       string  `json:"run_id"`
	Phase       string  `json:"phase"` // insert | build | query | order (a max-min ordering's steps, in QueryMS)
	BatchIndex  int     `json:"batch_index"`
	BatchSize   int     `json:"batch_size"`
	Selected    int     `json:"selected"`  // points that joined the tree
	Dominated   int     `json:"dominated"` // points an MIS sent down again
	MISRounds   int     `json:"mis_rounds"`
	TraversalMS float64 `json:"traversal_ms"`
	// TraversalSemisortMS: the insertion traversal's scope collections
	// (streamer/scope), part of TraversalMS.
	TraversalSemisortMS float64 `json:"traversal_semisort_ms"`
	ConflictGraphMS     float64 `json:"conflict_graph_ms"`
	MISMS               float64 `json:"mis_ms"`
	InsertMS            float64 `json:"insert_ms"`
	QueryMS             float64 `json:"query_ms"`
	Distances           int64   `json:"distances"`
	// The traversal's scope collections (insertion batches).
	ScopeChunkScans     int64 `json:"scope_chunk_scans"`
	ScopeChunkPoints    int64 `json:"scope_chunk_points"`
	ScopeChunkDedupe    int64 `json:"scope_chunk_dedupe"`
	ScopeChunkSaturated int64 `json:"scope_chunk_saturated"`
	ScopeCachePrefetch  int64 `json:"scope_cache_prefetch"`
	ScopeCacheHits      int64 `json:"scope_cache_hits"`
	Gate1Candidates     int64 `json:"gate1_candidates"`
	Gate1Pruned         int64 `json:"gate1_pruned"`
	// Gate1AuditFailures: neighbours a gate lost, found by --gate-audit.
	Gate1AuditFailures int64 `json:"gate1_audit_failures"`
	ConflictEdges      int64 `json:"conflict_edges"`
	GridCells          int   `json:"grid_cells"` // the grid conflict graph's occupied cells
	// GridLeaders is always 0: pcct's grid conflict graph measures the
	// pairs of neighbouring cells and picks no leaders (see the schema).
	GridLeaders  int       `json:"grid_leaders"`
	Workers      int       `json:"workers"`
	WorkerBusyMS []float64 `json:"worker_busy_ms"`
	Utilisation  float64   `json:"utilisation"`
	SerialMS     float64   `json:"serial_ms"` // time outside the pool's jobs
	// PivotSkipped: query records, first-level pairs (query, node and
	// subtree) the pivot bounds ruled out without a distance.
	PivotSkipped int64 `json:"pivot_skipped"`
	Steals       int   `json:"steals"`
	RSSBytes     int64 `json:"rss_bytes"`
}

// BaselineResult is one baseline's run.
type BaselineResult struct {
	Name     string  `json:"name"`
	Seconds  float64 `json:"seconds"`
	Slowdown float64 `json:"slowdown"` // its time over pcct's
	Recall   float64 `json:"recall_at_k"`
}

// RunRecord summarises a run; it is the log's last line.
type RunRecord struct {
	Schema      string             `json:"schema"`
	RunID       string             `json:"run_id"`
	Command     string             `json:"command"`
	Config      map[string]string  `json:"config"`
	Seed        uint64             `json:"seed"`
	Kernels     string             `json:"kernel_implementation"`
	CPUFeatures []string           `json:"cpu_features"`
	GoVersion   string             `json:"go_version"`
	Workers     int                `json:"workers"`
	Points      int                `json:"points"`
	Queries     int                `json:"queries"`
	K           int                `json:"k"`
	Search      string             `json:"search"`
	BuildS      float64            `json:"build_s"`
	QueryS      float64            `json:"query_s"`
	QueriesPerS float64            `json:"queries_per_s"`
	Recall      map[string]float64 `json:"recall_at_k"`
	Baselines   []BaselineResult   `json:"baselines"`
}

// Log writes telemetry records as JSON lines. A nil *Log writes nothing.
type Log struct {
	w     io.Writer
	runID string
	err   error
}

// NewLog returns a log writing to w with a fresh run id.
func NewLog(w io.Writer) *Log {
	return &Log{w: w, runID: strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// RunID returns the run's id.
func (l *Log) RunID() string {
	if l == nil {
		return ""
	}
	return l.runID
}

// Err returns the first write error.
func (l *Log) Err() error {
	if l == nil {
		return nil
	}
	return l.err
}

func (l *Log) write(v any) {
	if l == nil || l.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		_, err = l.w.Write(append(b, '\n'))
	}
	if err != nil {
		l.err = fmt.Errorf("telemetry log: %w", err)
	}
}

// Batch writes one batch record (schema and run id filled in).
func (l *Log) Batch(r BatchRecord) {
	if l == nil {
		return
	}
	r.Schema, r.RunID, r.RSSBytes = BatchSchema, l.runID, rss()
	if r.WorkerBusyMS == nil {
		r.WorkerBusyMS = []float64{}
	}
	l.write(r)
}

// Run writes the run record.
func (l *Log) Run(r RunRecord) {
	if l == nil {
		return
	}
	r.Schema, r.RunID, r.GoVersion = RunSchema, l.runID, runtime.Version()
	if r.Recall == nil {
		r.Recall = map[string]float64{}
	}
	if r.Baselines == nil {
		r.Baselines = []BaselineResult{}
	}
	l.write(r)
}

// BuildRecords turns a tree's build statistics into batch records: one
// per insertion batch, or one for a build by nets.
func BuildRecords(st tree.BuildStats, n, workers int) []BatchRecord {
	if len(st.Batches) == 0 {
		return []BatchRecord{{Phase: "build", BatchSize: n, Selected: n, TraversalMS: ms(st.Wall), Distances: st.Distances,
			Gate1Candidates: st.Distances, Workers: workers, WorkerBusyMS: BusyMS(st.Busy), Utilisation: st.Utilisation,
			SerialMS: ms(st.Serial), Steals: st.Steals}}
	}
	out := make([]BatchRecord, len(st.Batches))
	for i, b := range st.Batches {
		busy := BusyMS(b.Busy)
		out[i] = BatchRecord{Phase: "insert", BatchIndex: i, BatchSize: b.Size, Selected: b.Size, Dominated: b.Deferred,
			MISRounds: b.Rounds, TraversalMS: ms(b.Traversal), TraversalSemisortMS: ms(b.Scope), ConflictGraphMS: ms(b.Conflict), MISMS: ms(b.MIS), InsertMS: ms(b.Link),
			Distances: b.Distances, Gate1Candidates: b.Distances + b.GatePruned, Gate1Pruned: b.GatePruned,
			ScopeChunkScans: b.ScopeScans, ScopeChunkPoints: b.ScopePoints, ScopeChunkDedupe: b.ScopeDedupe, ScopeChunkSaturated: b.ScopeSaturated,
			ScopeCachePrefetch: b.ScopeCachePrefetch, ScopeCacheHits: b.ScopeCacheHits,
			ConflictEdges: b.Edges, GridCells: b.GridCells, Workers: workers, WorkerBusyMS: busy, Utilisation: b.Utilisation, SerialMS: ms(b.Serial), Steals: b.Steals}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// BusyMS converts busy times by worker to milliseconds (an empty slice,
// not nil, when there are none).
func BusyMS(busy []time.Duration) []float64 {
	out := make([]float64, len(busy))
	for w, d := range busy {
		out[w] = ms(d)
	}
	return out
}

// rss returns the resident set size from /proc/self/statm (0 elsewhere).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
