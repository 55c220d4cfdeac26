package streamer

import (
	"container/heap"
	"time"
)

// Trace records a pool's jobs while it is attached to the pool (SetTrace):
// each job's wall time and the duration of each of its tasks, and the time
// the callers spent between jobs. From one run, on any number of workers,
// Project estimates the wall time the same work would take on another
// number: the time between jobs stays as it is, and each job's tasks are
// scheduled greedily, in task order, on that many workers. It is a model of
// what the schedule allows (the serial parts, and jobs with fewer or longer
// tasks than workers), not of what the machine allows: memory bandwidth
// shared by more cores, a job's start-up cost (Projection.Jobs says how
// many there were) and steals are left out, so a lent many-core machine
// remains the judge.
type Trace struct {
	start, end time.Time
	jobs       []TracedJob
}

// TracedJob is one job of a Trace: its wall time, and each task's duration
// by task index.
type TracedJob struct {
	Wall  time.Duration
	Tasks []time.Duration
}

// taskTime is one task run by a worker, recorded while a trace is attached.
type taskTime struct {
	task int32
	d    time.Duration
}

// NewTrace returns an empty trace whose clock starts now.
func NewTrace() *Trace { return &Trace{start: time.Now()} }

// Stop ends the trace's clock: the time between its last job and Stop
// counts as serial. A trace not stopped ends at its last job.
func (t *Trace) Stop() { t.end = time.Now() }

// Jobs returns the recorded jobs.
func (t *Trace) Jobs() []TracedJob { return t.jobs }

// SetTrace attaches t to the pool (nil detaches): every later job is
// recorded into it until another call. A trace must not be attached to two
// pools at once.
func (p *Pool) SetTrace(t *Trace) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trace = t
}

// record adds a finished job to the trace: its wall time and its tasks'
// durations, gathered from the workers' logs.
func (t *Trace) record(wall time.Duration, n int, workers []*worker) {
	tj := TracedJob{Wall: wall, Tasks: make([]time.Duration, n)}
	for _, w := range workers {
		for _, r := range w.log {
			tj.Tasks[r.task] = r.d
		}
		w.log = w.log[:0]
	}
	t.jobs = append(t.jobs, tj)
}

// Projection is a trace's wall time projected onto a number of workers:
// Serial (the time outside jobs, as measured), Parallel (the jobs, each
// scheduled greedily on the workers) and Wall, their sum. Work is the sum
// of all task durations, and Jobs the number of jobs.
type Projection struct {
	Workers                      int
	Serial, Parallel, Wall, Work time.Duration
	Jobs                         int
}

// Project returns the trace's projection onto workers workers.
func (t *Trace) Project(workers int) Projection {
	workers = max(workers, 1)
	end := t.end
	if end.IsZero() {
		end = time.Now()
	}
	pr := Projection{Workers: workers, Jobs: len(t.jobs)}
	var jobWall time.Duration
	for _, j := range t.jobs {
		jobWall += j.Wall
		span, work := makespan(j.Tasks, workers)
		pr.Parallel += span
		pr.Work += work
	}
	pr.Serial = max(end.Sub(t.start)-jobWall, 0)
	pr.Wall = pr.Serial + pr.Parallel
	return pr
}

// makespan schedules tasks, in order, each on the worker that is free
// first, and returns the time the last one ends and the tasks' sum.
func makespan(tasks []time.Duration, workers int) (span, work time.Duration) {
	free := make(finishTimes, min(workers, len(tasks)))
	for _, d := range tasks {
		work += d
		free[0] += d
		heap.Fix(&free, 0)
	}
	for _, f := range free {
		span = max(span, f)
	}
	return span, work
}

// finishTimes is a min-heap of the workers' finish times.
type finishTimes []time.Duration

func (h finishTimes) Len() int           { return len(h) }
func (h finishTimes) Less(i, j int) bool { return h[i] < h[j] }
func (h finishTimes) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *finishTimes) Push(x any)        { *h = append(*h, x.(time.Duration)) }
func (h *finishTimes) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
