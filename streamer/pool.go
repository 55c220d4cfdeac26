package streamer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a set of long-lived workers that run jobs of indexed tasks. Each
// worker owns a Deque of task ranges: it splits the range it holds, pushing
// the upper halves, runs single tasks from the bottom, and when its deque is
// empty steals from random victims (taking the largest ranges, from the
// top). Submitting a job hands it to the workers and waits; no goroutine is
// created per task or per job. A worker that has finished a job waits
// spinWait for the next one, yielding its thread, before it parks: a job
// that follows within that time starts on every worker at once, where
// waking parked workers one after another took 8-9 µs on 2 workers and
// 34-41 µs on 16. A pool runs one job at a time; Run may be
// called from several goroutines, which then take turns, but a task must not
// call Run on its own pool (it would wait for itself). Close a pool that is
// no longer needed: its workers live until then.
type Pool struct {
	workers []*worker
	mu      sync.Mutex // serialises jobs (taken once per job, never per task)
	closed  atomic.Bool
	trace   *Trace // records the jobs when set (SetTrace); guarded by mu
	// cur is the job the waiting workers are handed (closing: a closed
	// pool's); it changes only while no worker runs a job.
	cur atomic.Pointer[job]
}

// spinWait is how long a worker that has finished a job waits for the
// next before it parks: longer than the serial gaps between the jobs of
// an ordering's or a build's batches (about 100 µs), short enough that an
// idle pool costs nothing measurable.
const spinWait = 200 * time.Microsecond

// A worker's state: parked (blocked on its start channel, or about to
// be), waiting (spinning for the next job), or handed (a job was handed
// to it while it waited, in Pool.cur).
const (
	parked int32 = iota
	waiting
	handed
)

// closing is the job a closed pool hands to its waiting workers.
var closing = &job{}

type worker struct {
	id    int
	pool  *Pool
	deque *Deque
	rng   *rand.Rand
	start chan *job
	state atomic.Int32 // parked, waiting or handed
	// per-job accounting, written by this worker only
	busy   time.Duration
	tasks  int
	steals int
	log    []taskTime // the job's tasks, when it is traced
}

// job is one Run call.
type job struct {
	fn        func(w int, task int)
	n         int
	traced    bool
	remaining atomic.Int64
	started   atomic.Int64 // workers that have pushed their share
	failed    atomic.Bool
	errOnce   sync.Once
	err       error
	wg        sync.WaitGroup
}

// JobStats describes one job: wall time, per-worker busy and idle time,
// tasks run and successful steals, and utilisation = busy / (workers x wall).
type JobStats struct {
	Workers     int
	Tasks       int
	Wall        time.Duration
	Busy        []time.Duration
	Idle        []time.Duration
	TasksRun    []int
	Steals      []int
	Utilisation float64
}

// TotalSteals sums the steals of all workers.
func (s JobStats) TotalSteals() int {
	t := 0
	for _, v := range s.Steals {
		t += v
	}
	return t
}

// NewPool starts workers goroutines (GOMAXPROCS when workers <= 0).
func NewPool(workers int) *Pool {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	p := &Pool{}
	for i := 0; i < workers; i++ {
		w := &worker{id: i, pool: p, deque: NewDeque(6), rng: rand.New(rand.NewPCG(uint64(i), 0x57ea1)),
			start: make(chan *job)}
		p.workers = append(p.workers, w)
		go w.loop()
	}
	return p
}

// Workers returns the number of workers.
func (p *Pool) Workers() int { return len(p.workers) }

// Close stops the workers; the pool cannot be used afterwards.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Swap(true) {
		return
	}
	p.cur.Store(closing)
	for _, w := range p.workers {
		if !w.state.CompareAndSwap(waiting, handed) {
			close(w.start)
		}
	}
}

// Run calls fn(worker, task) once for every task in [0, n), spread over the
// workers, and returns when all have finished. worker is the index of the
// worker running the task (0 <= worker < Workers()), so fn can use
// per-worker scratch space without locks. A panic in fn is recovered: the
// remaining tasks are skipped and Run returns the panic as an error (a
// *PanicError carrying the stack); the pool stays usable.
func (p *Pool) Run(n int, fn func(worker, task int)) (JobStats, error) {
	return p.RunContext(context.Background(), n, fn)
}

// Each is RunContext without the statistics: the small interface
// (Each(ctx, n, fn) error, Workers() int) through which packages below the
// streamer, such as the metric, run their work on a caller's pool.
func (p *Pool) Each(ctx context.Context, n int, fn func(worker, task int)) error {
	_, err := p.RunContext(ctx, n, fn)
	return err
}

// RunContext is Run that stops early when ctx is done: tasks not yet started
// are skipped, the tasks already running finish (so cancellation takes at
// most one task's time), and the error is ctx.Err(), also when ctx is done
// only as the last tasks finish (tasks may watch ctx themselves and stop
// early). The pool stays usable.
func (p *Pool) RunContext(ctx context.Context, n int, fn func(worker, task int)) (JobStats, error) {
	if err := ctx.Err(); err != nil {
		return JobStats{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return JobStats{}, fmt.Errorf("streamer: Run on a closed pool")
	}
	if n < 0 || n >= 1<<31 {
		return JobStats{}, fmt.Errorf("streamer: task count %d out of range", n)
	}
	st := JobStats{Workers: len(p.workers), Tasks: n}
	if n == 0 {
		return st, nil
	}
	j := &job{fn: fn, n: n, traced: p.trace != nil}
	j.remaining.Store(int64(n))
	stop := context.AfterFunc(ctx, func() { j.fail(ctx.Err()) })
	j.wg.Add(len(p.workers))
	t0 := time.Now()
	p.cur.Store(j)
	for _, w := range p.workers {
		if !w.state.CompareAndSwap(waiting, handed) {
			w.start <- j // parked
		}
	}
	j.wg.Wait()
	st.Wall = time.Since(t0)
	stop()
	j.errOnce.Do(func() {}) // a cancellation under way has set j.err by now
	if err := ctx.Err(); err != nil && j.err == nil {
		// Done while the last tasks ran (they may have seen it and stopped
		// early) but before the cancellation reached the job: report it,
		// so that no caller takes a cut-short job for a whole one.
		j.err = err
	}
	var busy time.Duration
	for _, w := range p.workers {
		st.Busy = append(st.Busy, w.busy)
		st.Idle = append(st.Idle, max(st.Wall-w.busy, 0))
		st.TasksRun = append(st.TasksRun, w.tasks)
		st.Steals = append(st.Steals, w.steals)
		busy += w.busy
	}
	if st.Wall > 0 {
		st.Utilisation = float64(busy) / (float64(len(p.workers)) * float64(st.Wall))
	}
	if j.traced {
		p.trace.record(st.Wall, n, p.workers)
	}
	return st, j.err
}

func packRange(lo, hi int) uint64     { return uint64(lo)<<32 | uint64(hi) }
func unpackRange(v uint64) (int, int) { return int(v >> 32), int(v & 0xffffffff) }

func (w *worker) loop() {
	for j := range w.start {
		for j != nil {
			if j == closing {
				return
			}
			w.runJob(j)
			j = w.next()
		}
	}
}

// next waits up to spinWait for the next job and returns it, or nil once
// the worker has parked (its next job then comes through start). It
// yields its thread first (the caller, woken by the last report of a job,
// waits for this thread) and then every spinLooks looks, so that a
// goroutine waiting for a thread gets one.
func (w *worker) next() *job {
	deadline := time.Now().Add(spinWait)
	for i := 0; ; i++ {
		runtime.Gosched()
		for range spinLooks {
			if w.state.Load() == handed {
				return w.pool.cur.Load()
			}
		}
		if i%4 == 3 && time.Now().After(deadline) {
			if w.state.CompareAndSwap(waiting, parked) {
				return nil
			}
			return w.pool.cur.Load() // handed just now
		}
	}
}

// spinLooks is the number of times a waiting worker looks for its next
// job between two yields of its thread (about 0.3 µs of looks on the
// 2-vCPU VM). Each yield takes the scheduler's lock (the yielding
// goroutine goes to the global run queue), which 16 waiting workers
// yielding at every look would contend for. 16,384 looks (about 4 µs)
// made a job after a gap slower on 2 workers (1.3-3.2 µs against
// 1.0-1.3 µs) and nothing faster; a many-core run should say whether the
// lock calls for more.
const spinLooks = 1024

// runJob takes the worker's share of the tasks, then works and steals until
// every task of the job is done. The worker waits for the next job from
// before it reports this one done, so that the next is handed to it.
func (w *worker) runJob(j *job) {
	defer j.wg.Done()
	defer w.state.Store(waiting)
	w.busy, w.tasks, w.steals = 0, 0, 0
	nw := len(w.pool.workers)
	lo, hi := j.n*w.id/nw, j.n*(w.id+1)/nw
	if lo < hi {
		w.deque.Push(packRange(lo, hi))
	}
	j.started.Add(1)
	misses := 0
	for j.remaining.Load() > 0 {
		v, ok := w.deque.Pop()
		if !ok {
			v, ok = w.steal()
		}
		if !ok {
			// Nothing to take: others are finishing their last tasks. Yield
			// for a while; once every worker has pushed its share and 64
			// sweeps in a row found nothing, what is left are tasks already
			// running (ranges are split as soon as they are taken), so leave
			// the job rather than wait for it, and let the job end when its
			// last task does. (A 20 µs sleep instead left workers asleep
			// while the job was done; on 16 cores of a Xeon, leaving raised
			// the scope's utilisation from 93.8 to 95.8 %, p=0.041.)
			misses++
			if misses < 64 {
				runtime.Gosched()
				continue
			}
			if j.started.Load() == int64(nw) {
				return
			}
			time.Sleep(20 * time.Microsecond)
			continue
		}
		misses = 0
		lo, hi := unpackRange(v)
		w.work(j, lo, hi)
	}
}

// work runs the tasks [lo, hi): it keeps splitting off the upper half for
// thieves, then runs one task, until the range is used up.
func (w *worker) work(j *job, lo, hi int) {
	for lo < hi {
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			w.deque.Push(packRange(mid, hi))
			hi = mid
		}
		w.runTask(j, lo)
		lo++
		if v, ok := w.deque.Pop(); ok {
			lo, hi = unpackRange(v)
		}
	}
}

func (w *worker) runTask(j *job, t int) {
	defer j.remaining.Add(-1)
	if j.failed.Load() {
		return
	}
	t0 := time.Now()
	defer func() {
		d := time.Since(t0)
		w.busy += d
		w.tasks++
		if j.traced {
			w.log = append(w.log, taskTime{int32(t), d})
		}
		if r := recover(); r != nil {
			j.fail(&PanicError{Task: t, Value: r, Stack: debug.Stack()})
		}
	}()
	j.fn(w.id, t)
}

// fail records the job's first error and skips the tasks not yet started.
func (j *job) fail(err error) {
	j.errOnce.Do(func() { j.err = err })
	j.failed.Store(true)
}

// PanicError is the error of a job whose task panicked: the task, the value
// it panicked with and the goroutine's stack at the panic.
type PanicError struct {
	Task  int
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("streamer: task %d panicked: %v", e.Task, e.Value)
}

// steal tries every other worker once, starting at a random one.
func (w *worker) steal() (uint64, bool) {
	ws := w.pool.workers
	if len(ws) < 2 {
		return 0, false
	}
	start := w.rng.IntN(len(ws))
	for k := 0; k < len(ws); k++ {
		v := ws[(start+k)%len(ws)]
		if v == w {
			continue
		}
		if x, ok := v.deque.Steal(); ok {
			w.steals++
			return x, true
		}
	}
	return 0, false
}
