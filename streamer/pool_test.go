package streamer

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolRunsEveryTaskOnce(t *testing.T) {
	for _, workers := range []int{1, 2, 4, 16} {
		p := NewPool(workers)
		for _, n := range []int{0, 1, 2, 3, 7, 64, 1000, 4097} {
			counts := make([]atomic.Int32, n)
			st, err := p.Run(n, func(w, task int) {
				if w < 0 || w >= workers {
					t.Errorf("worker index %d", w)
				}
				counts[task].Add(1)
			})
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, c := range st.TasksRun {
				total += c
			}
			if total != n {
				t.Fatalf("workers=%d n=%d: stats count %d tasks", workers, n, total)
			}
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("workers=%d n=%d: task %d ran %d times", workers, n, i, c)
				}
			}
		}
		p.Close()
	}
}

// TestPoolSteals gives all the work to worker 0's share: the others must
// steal it, and utilisation stays meaningful.
func TestPoolSteals(t *testing.T) {
	p := NewPool(4)
	defer p.Close()
	st, err := p.Run(400, func(w, task int) {
		if task < 100 { // worker 0's initial share
			time.Sleep(200 * time.Microsecond)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalSteals() == 0 {
		t.Fatalf("no steals: %+v", st)
	}
	if st.Utilisation <= 0 || st.Utilisation > 1.0001 {
		t.Fatalf("utilisation %v", st.Utilisation)
	}
	others := 0
	for w := 1; w < 4; w++ {
		others += st.TasksRun[w]
	}
	if others <= 300 {
		t.Fatalf("other workers ran only their own %d tasks: %v", others, st.TasksRun)
	}
}

func TestPoolPanicIsError(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	var ran atomic.Int32
	_, err := p.Run(100, func(w, task int) {
		ran.Add(1)
		if task == 17 {
			panic("boom")
		}
	})
	if err == nil || !strings.Contains(err.Error(), "task 17 panicked: boom") {
		t.Fatalf("err = %v", err)
	}
	// The pool is still usable.
	var again atomic.Int32
	if _, err := p.Run(50, func(w, task int) { again.Add(1) }); err != nil || again.Load() != 50 {
		t.Fatalf("after a panic: err %v, ran %d of 50", err, again.Load())
	}
}

func TestPoolNoGoroutinePerTask(t *testing.T) {
	p := NewPool(4)
	defer p.Close()
	before := runtime.NumGoroutine()
	var peak atomic.Int32
	if _, err := p.Run(5000, func(w, task int) {
		if g := int32(runtime.NumGoroutine()); g > peak.Load() {
			peak.Store(g)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if int(peak.Load()) > before+1 {
		t.Fatalf("goroutines rose from %d to %d during a job", before, peak.Load())
	}
}

func TestPoolClosed(t *testing.T) {
	p := NewPool(2)
	p.Close()
	p.Close()
	if _, err := p.Run(3, func(int, int) {}); err == nil {
		t.Fatal("Run on a closed pool succeeded")
	}
}

// TestPoolHandOff: jobs that follow their predecessor at once, within
// spinWait (handed to waiting workers) and after it (sent to parked
// ones) each run every task once on every worker count, and Close ends
// the workers in either state: no goroutine is left behind.
func TestPoolHandOff(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, workers := range []int{1, 2, 5} {
		for _, gap := range []time.Duration{0, spinWait / 4, 3 * spinWait} {
			p := NewPool(workers)
			for round := range 6 {
				time.Sleep(gap)
				const n = 300
				var ran [n]atomic.Int32
				if _, err := p.Run(n, func(_, task int) { ran[task].Add(1) }); err != nil {
					t.Fatal(err)
				}
				for task := range ran {
					if c := ran[task].Load(); c != 1 {
						t.Fatalf("workers %d, gap %v, round %d: task %d ran %d times", workers, gap, round, task, c)
					}
				}
			}
			time.Sleep(gap) // close while the workers wait, or after they parked
			p.Close()
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Fatalf("%d goroutines after closing every pool, %d before", g, before)
	}
}

func BenchmarkPoolEmptyTasks(b *testing.B) {
	p := NewPool(0)
	defer p.Close()
	for b.Loop() {
		p.Run(1024, func(int, int) {})
	}
	b.ReportMetric(float64(b.N)*1024/b.Elapsed().Seconds(), "tasks/s")
}

// BenchmarkPoolJobAfterGap measures a job that follows some serial work
// of the caller (gap), as a batch's jobs follow its choice: job-µs is the
// job's own wall time, from its start to its last task's end. Within
// spinWait the workers are still waiting for it; after it they have
// parked and are woken one after another.
func BenchmarkPoolJobAfterGap(b *testing.B) {
	for _, gap := range []time.Duration{20 * time.Microsecond, 100 * time.Microsecond, time.Millisecond} {
		b.Run(fmt.Sprintf("gap=%v", gap), func(b *testing.B) {
			p := NewPool(0)
			defer p.Close()
			var wall time.Duration
			for b.Loop() {
				for t0 := time.Now(); time.Since(t0) < gap; {
				}
				st, _ := p.Run(p.Workers(), func(int, int) {})
				wall += st.Wall
			}
			b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N)/1e3, "job-µs")
		})
	}
}

// BenchmarkPoolJob measures one job's round trip (start every worker, one
// empty task each, wait): the fixed cost a phase pays per Run.
func BenchmarkPoolJob(b *testing.B) {
	p := NewPool(0)
	defer p.Close()
	n := p.Workers()
	for b.Loop() {
		p.Run(n, func(int, int) {})
	}
}

// TestPoolCancel: a job whose context is done skips the tasks not yet
// started, returns ctx.Err(), and the pool stays usable.
func TestPoolCancel(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Int32
	_, err := p.RunContext(ctx, 10000, func(w, task int) {
		if ran.Add(1) == 20 {
			cancel()
		}
		time.Sleep(50 * time.Microsecond)
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if r := ran.Load(); r >= 10000 || r < 20 {
		t.Fatalf("%d tasks ran after cancelling at 20", r)
	}
	if err := p.Each(ctx, 5, func(int, int) { t.Error("task ran on a done context") }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Each on a done context: %v", err)
	}
	var n atomic.Int32
	if err := p.Each(context.Background(), 100, func(int, int) { n.Add(1) }); err != nil || n.Load() != 100 {
		t.Fatalf("after cancel: err %v, %d of 100 tasks", err, n.Load())
	}
}

// TestPoolPanicStack: a panicking task's error carries its stack.
func TestPoolPanicStack(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	_, err := p.Run(10, func(w, task int) {
		if task == 7 {
			panic("boom")
		}
	})
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Task != 7 || pe.Value != "boom" || !strings.Contains(string(pe.Stack), "TestPoolPanicStack") {
		t.Fatalf("err = %#v, want a *PanicError for task 7 with its stack", err)
	}
}

// TestPoolCancelInLastTask: a context done while the last task runs (tasks
// may watch it and stop early) makes the job an error, every time.
func TestPoolCancelInLastTask(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	for range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := p.RunContext(ctx, 1, func(int, int) { cancel() })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	}
}
