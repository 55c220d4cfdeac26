package metric

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// Runner runs n indexed tasks on a set of workers: fn(worker, task) for
// every task in [0, n), with 0 <= worker < Workers(), returning when all
// are done or, once ctx is done, with ctx.Err(). *streamer.Pool satisfies
// it; the metric declares it so that it can build V on the caller's pool
// without importing the layers above it.
type Runner interface {
	Workers() int
	Each(ctx context.Context, n int, fn func(worker, task int)) error
}

// goRunner is the Runner used when the caller passes none: workers
// goroutines (GOMAXPROCS when 0) started per call, taking tasks from a
// shared counter.
type goRunner struct{ workers int }

func (g goRunner) Workers() int {
	if g.workers > 0 {
		return g.workers
	}
	return runtime.GOMAXPROCS(0)
}

func (g goRunner) Each(ctx context.Context, n int, fn func(worker, task int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range min(g.Workers(), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t := int(next.Add(1) - 1)
				if t >= n {
					return
				}
				fn(w, t)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func runnerOr(r Runner) Runner {
	if r == nil {
		return goRunner{}
	}
	return r
}
