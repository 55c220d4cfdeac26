// Package bench holds pcct's benchmark harness: the baselines a run is
// compared with (exact brute force, a sequential cover tree, a
// re-creation of GPBoost's cover-tree search), the `pcct queries`
// workload, and the telemetry log (JSON lines, schemas pcct.batch.v1 and
// pcct.run.v1, described in docs/telemetry.schema.json).
package bench
