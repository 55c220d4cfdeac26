package main

import (
	"io"
	"strings"

	"github.com/pcct/pcct/bench"
	"github.com/pcct/pcct/internal/dataio"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/tree"
)

// knnFiles are the paths a knn run writes ("" for those it does not).
type knnFiles struct {
	main, dist, order, log string
}

func (j *knnJob) files() knnFiles {
	var f knnFiles
	if j.output != "" {
		f.main = j.output
		if isNpy(j.output) {
			f.dist = dataio.DistancesPath(j.output)
		}
		if j.order != "given" {
			f.order = dataio.SiblingPath(j.output, "_order")
		}
	}
	f.log = j.logFile
	return f
}

// outputs returns the files the run will write.
func (j *knnJob) outputs() []string {
	var out []string
	f := j.files()
	for _, p := range []string{f.main, f.dist, f.order, f.log} {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func isNpy(path string) bool { return strings.HasSuffix(strings.ToLower(path), ".npy") }

// write writes the run's files, all or none.
func (j *knnJob) write(nb *tree.Neighbours) error {
	var files dataio.Files
	defer files.Abort()
	f := j.files()
	idx := nb.Indices()
	n, k := nb.N(), nb.K()
	base := 0
	main := func(w io.Writer) error { return dataio.WriteNpyIndices(w, idx, n, k) }
	switch {
	case j.format == "gpgp":
		base = 1
		main = func(w io.Writer) error { return writeGpGp(w, nb, isNpy(f.main)) }
	case !isNpy(f.main):
		main = func(w io.Writer) error { return dataio.WriteNeighboursCSV(w, idx, nb.Distances(), n, k) }
	}
	err := files.WriteAll(
		dataio.Job{Path: f.main, Write: main},
		dataio.Job{Path: f.dist, Write: func(w io.Writer) error { return dataio.WriteNpy(w, nb.Distances(), n, k) }},
		dataio.Job{Path: f.order, Write: func(w io.Writer) error { return writeOrder(w, j.perm, base, isNpy(f.order)) }},
		dataio.Job{Path: f.log, Write: j.writeLog},
	)
	if err != nil {
		return err
	}
	return files.Commit()
}

// writeLog writes the run's telemetry: the max-min ordering's steps (with
// --order maxmin or maxmin-coords), the build's batch records, the query
// phase, the run record.
func (j *knnJob) writeLog(w io.Writer) error {
	log := bench.NewLog(w)
	if o := j.orderRep; o != nil {
		log.Batch(bench.BatchRecord{Phase: "order", BatchSize: j.n, QueryMS: float64(o.QueryTime) / 1e6,
			Distances: o.Query.Distances, Workers: j.workersUsed, WorkerBusyMS: bench.BusyMS(o.Query.Busy),
			Utilisation: o.Query.Utilisation, SerialMS: float64(o.Query.Serial) / 1e6, Steals: o.Query.Steals})
	}
	rep := j.rep
	if rep.Build.Wall > 0 {
		for _, r := range bench.BuildRecords(rep.Build, j.n, j.workersUsed) {
			log.Batch(r)
		}
	}
	rows := j.n
	if j.queries != "" {
		rows = j.nq
	}
	log.Batch(bench.BatchRecord{Phase: "query", BatchSize: rows, QueryMS: float64(rep.QueryTime) / 1e6,
		Distances: rep.Query.Distances, Workers: j.workersUsed, WorkerBusyMS: bench.BusyMS(rep.Query.Busy), Utilisation: rep.Query.Utilisation,
		SerialMS: float64(rep.Query.Serial) / 1e6, PivotSkipped: rep.Query.PivotSkipped, Steals: rep.Query.Steals,
		Gate1Candidates: j.screen.Screened, Gate1Pruned: j.screen.Screened - j.screen.Recomputed, Gate1AuditFailures: j.falsePrunes})
	qps := 0.0
	if rep.QueryTime > 0 {
		qps = float64(rows) / rep.QueryTime.Seconds()
	}
	search := describeSearch(rep)
	if j.gate == tree.GateLookup {
		search = "APPROXIMATE (lookup gate): " + search
	}
	log.Run(bench.RunRecord{Command: "knn", Config: j.flags, Seed: j.mf.seed, Kernels: kernels.Impl(),
		CPUFeatures: kernels.CPUFeatures(), Workers: j.workersUsed, Points: j.n, Queries: rows, K: j.k,
		Search: search, BuildS: rep.Build.Wall.Seconds(), QueryS: rep.QueryTime.Seconds(), QueriesPerS: qps})
	return log.Err()
}
