package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress draws a bar on a terminal for the search's pool jobs (each job
// a bar: the auto search's sample, then the walk or brute force).
type progress struct {
	w    io.Writer
	desc string
	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	max  int
}

// newProgress returns the bar's KNNOptions.Progress callback and a
// function that clears it, or (nil, no-op) when stderr is not a terminal
// or quiet is set: logs and pipes get no bar.
func newProgress(stderr io.Writer, quiet bool, desc string) (func(done, total int), func()) {
	f, ok := stderr.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	p := &progress{w: stderr, desc: desc}
	return p.update, p.finish
}

func (p *progress) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil || total != p.max {
		if p.bar != nil {
			p.bar.Finish()
		}
		p.max = total
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(p.desc),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(),
			progressbar.OptionSetPredictTime(true))
	}
	p.bar.Set(done)
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
