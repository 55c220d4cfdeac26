package tree

import (
	"context"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/streamer"
)

// Phase names, used as the pprof label "pcct_phase" on the pool's workers
// while they run a phase's tasks, so that `go tool pprof -tagfocus` splits
// a profile by phase.
const (
	phaseBuild     = "build"
	phaseTraversal = "traversal" // insertion: points walking down to their targets
	phaseConflict  = "conflict"  // insertion: the conflict graph's tiles
	phaseQuery     = "query"
	phaseBrute     = "brute"
)

var phaseLabels sync.Map // phase -> context carrying its labels

// labelled wraps a pool task so that it runs under the phase's pprof label.
func labelled(phase string, fn func(w, t int)) func(w, t int) {
	lc, ok := phaseLabels.Load(phase)
	if !ok {
		lc, _ = phaseLabels.LoadOrStore(phase, pprof.WithLabels(context.Background(), pprof.Labels("pcct_phase", phase)))
	}
	ctx := lc.(context.Context)
	return func(w, t int) {
		pprof.SetGoroutineLabels(ctx)
		defer pprof.SetGoroutineLabels(context.Background())
		fn(w, t)
	}
}

// usage sums the pool jobs of a phase: busy time over workers x wall time,
// each worker's busy time and the steals. A nil *usage adds nothing.
type usage struct {
	busy, capacity float64
	jobs           time.Duration   // the jobs' wall time
	perWorker      []time.Duration // busy time by worker
	steals         int
}

func (u *usage) add(st streamer.JobStats) {
	if u == nil {
		return
	}
	u.perWorker = addBusy(u.perWorker, st.Busy)
	for _, b := range st.Busy {
		u.busy += float64(b)
	}
	u.steals += st.TotalSteals()
	u.capacity += float64(st.Workers) * float64(st.Wall)
	u.jobs += st.Wall
}

// addBusy adds busy times by worker to sum, growing it as needed.
func addBusy(sum, busy []time.Duration) []time.Duration {
	if len(sum) < len(busy) {
		sum = append(sum, make([]time.Duration, len(busy)-len(sum))...)
	}
	for w, b := range busy {
		sum[w] += b
	}
	return sum
}

// serial returns the part of a phase's wall time spent outside its pool
// jobs: work on the caller's goroutine that no worker count speeds up.
func (u *usage) serial(wall time.Duration) time.Duration { return max(wall-u.jobs, 0) }

// utilisation returns busy / (workers x wall), or 0 without jobs.
func (u *usage) utilisation() float64 {
	if u.capacity == 0 {
		return 0
	}
	return u.busy / u.capacity
}

// newBest returns a KBest of rows rows of k, emptied in ranges on the pool
// (nil: on the caller's goroutine), adding the job to use: the first
// writes to its memory (at 10^6 rows and k = 30, 360 MB of page faults)
// are spread over the workers in contiguous ranges, rather than paid by
// whichever queries touch a page first (the k-d tree's: a chunk of 256
// queries in leaf order touches rows all over the answer). The cover
// tree's queries do not need it: thousands of groups, each emptying its
// own 128 rows as it starts, spread the first touches by themselves.
func newBest(pool *streamer.Pool, use *usage, rows, k int) *kernels.KBest {
	best := kernels.NewKBestUnset(rows, k)
	forChunks(pool, use, rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			best.ResetRow(i)
		}
	})
	return best
}

// forTasks runs tasks 0..n-1 as one job of the pool, adding it to use, or
// in turn on the caller's goroutine when the pool is nil or n < 2. The
// tasks cannot fail but by a bug: a task's panic, which the pool recovers,
// is raised again here, as it would be on the caller's goroutine.
func forTasks(pool *streamer.Pool, use *usage, n int, fn func(k int)) {
	if pool == nil || n < 2 {
		for k := range n {
			fn(k)
		}
		return
	}
	st, err := pool.Run(n, labelled(phaseBuild, func(_, k int) { fn(k) }))
	if use != nil {
		use.add(st)
	}
	if err != nil {
		panic(err)
	}
}

// partSize is the number of points per task of forParts.
var partSize = 1 << 14

// partCount is the number of ranges forParts cuts n points into: ranges
// of partSize (one range without a pool). It does not depend on the
// worker count, so that neither do the results of the ranges' work, and a
// trace taken on one worker holds the tasks a run on many would.
func partCount(pool *streamer.Pool, n int) int {
	if pool == nil {
		return 1
	}
	return max(1, (n+partSize-1)/partSize)
}

// forParts calls fn for each range k of [0, n), [k n / parts, (k+1) n /
// parts) for parts = partCount(pool, n) (see forTasks).
func forParts(pool *streamer.Pool, use *usage, n int, fn func(k, lo, hi int)) {
	parts := partCount(pool, n)
	forTasks(pool, use, parts, func(k int) { fn(k, k*n/parts, (k+1)*n/parts) })
}

// forChunks is forParts for work that needs no range index.
func forChunks(pool *streamer.Pool, use *usage, n int, fn func(lo, hi int)) {
	forParts(pool, use, n, func(_, lo, hi int) { fn(lo, hi) })
}
