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

// usage sums the pool jobs of a phase: busy time over workers x wall time.
type usage struct {
	busy, capacity float64
	jobs           time.Duration // the jobs' wall time
}

func (u *usage) add(st streamer.JobStats) {
	for _, b := range st.Busy {
		u.busy += float64(b)
	}
	u.capacity += float64(st.Workers) * float64(st.Wall)
	u.jobs += st.Wall
}

// newBest returns a KBest of rows rows of k, emptied in ranges on the pool
// (nil: on the caller's goroutine), adding the job to use: the first
// writes to its memory (at 10^6 rows and k = 30, 360 MB of page faults)
// are spread over the workers in contiguous ranges, rather than paid by
// whichever queries touch a page first.
func newBest(pool *streamer.Pool, use *usage, rows, k int) *kernels.KBest {
	best := kernels.NewKBestUnset(rows, k)
	forChunks(pool, use, rows, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			best.ResetRow(i)
		}
	})
	return best
}

// accounted is a metric.Runner on a pool that adds its jobs to use, so
// that work the metric runs on the pool is not counted as serial.
type accounted struct {
	pool *streamer.Pool
	use  *usage
}

func (a accounted) Workers() int { return a.pool.Workers() }

func (a accounted) Each(ctx context.Context, n int, fn func(worker, task int)) error {
	st, err := a.pool.RunContext(ctx, n, fn)
	a.use.add(st)
	return err
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
