package streamer

import (
	"slices"
	"testing"
	"time"
)

func TestMakespan(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		tasks      []time.Duration
		workers    int
		span, work time.Duration
	}{
		{nil, 4, 0, 0},
		{[]time.Duration{5 * ms}, 16, 5 * ms, 5 * ms},
		{[]time.Duration{ms, ms, ms, ms}, 1, 4 * ms, 4 * ms},
		{[]time.Duration{ms, ms, ms, ms}, 3, 2 * ms, 4 * ms},
		{[]time.Duration{ms, ms, ms, ms}, 4, ms, 4 * ms},
		{[]time.Duration{ms, ms, ms, ms}, 16, ms, 4 * ms},
		// In task order: the long task last leaves the others idle.
		{[]time.Duration{ms, ms, ms, 6 * ms}, 2, 7 * ms, 9 * ms},
		{[]time.Duration{6 * ms, ms, ms, ms}, 2, 6 * ms, 9 * ms},
	} {
		span, work := makespan(c.tasks, c.workers)
		if span != c.span || work != c.work {
			t.Errorf("%v on %d workers: span %v work %v, want %v %v", c.tasks, c.workers, span, work, c.span, c.work)
		}
	}
}

// spin busy-waits for d (a sleeping task would still count as busy).
func spin(d time.Duration) {
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

// TestTrace records two jobs with a pause between them: every task is
// recorded, the pause counts as serial, and the projection onto more
// workers than tasks is the longest task of each job.
func TestTrace(t *testing.T) {
	for _, workers := range []int{1, 3} {
		p := NewPool(workers)
		tr := NewTrace()
		p.SetTrace(tr)
		lens := []int{7, 1}
		for k, n := range lens {
			if _, err := p.Run(n, func(w, task int) { spin(time.Duration(task+1) * 200 * time.Microsecond) }); err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				time.Sleep(20 * time.Millisecond)
			}
		}
		p.SetTrace(nil)
		if _, err := p.Run(5, func(w, task int) {}); err != nil { // not recorded
			t.Fatal(err)
		}
		tr.Stop()
		p.Close()
		jobs := tr.Jobs()
		if len(jobs) != len(lens) {
			t.Fatalf("workers=%d: %d jobs recorded, want %d", workers, len(jobs), len(lens))
		}
		for k, j := range jobs {
			if len(j.Tasks) != lens[k] {
				t.Fatalf("workers=%d job %d: %d tasks", workers, k, len(j.Tasks))
			}
			for task, d := range j.Tasks {
				if want := time.Duration(task+1) * 200 * time.Microsecond; d < want {
					t.Errorf("workers=%d job %d task %d: %v, shorter than its %v", workers, k, task, d, want)
				}
			}
		}
		pr := tr.Project(64)
		if pr.Serial < 20*time.Millisecond {
			t.Errorf("workers=%d: serial %v, below the 20 ms pause", workers, pr.Serial)
		}
		if want := slices.Max(jobs[0].Tasks) + slices.Max(jobs[1].Tasks); pr.Parallel != want {
			t.Errorf("workers=%d: parallel %v on 64 workers, want the longest tasks' %v", workers, pr.Parallel, want)
		}
		one := tr.Project(1)
		if one.Parallel != one.Work || one.Wall != one.Serial+one.Work || one.Jobs != 2 {
			t.Errorf("workers=%d: projection on one worker %+v", workers, one)
		}
	}
}
