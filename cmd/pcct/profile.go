package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"

	"github.com/pcct/pcct/streamer"
)

// startCPUProfile starts a pprof CPU profile into path; the returned
// function stops it.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeHeapProfile writes a pprof heap profile to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	return nil
}

// session starts what every command's work runs in: the CPU profile (if
// asked for), a context that Ctrl-C cancels, and the worker pool. end
// undoes them.
func session(cpuprofile string, workers int) (ctx context.Context, pool *streamer.Pool, end func(), err error) {
	stopProfile := func() {}
	if cpuprofile != "" {
		if stopProfile, err = startCPUProfile(cpuprofile); err != nil {
			return nil, nil, nil, err
		}
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt)
	pool = streamer.NewPool(workers)
	return ctx, pool, func() { pool.Close(); stopSignals(); stopProfile() }, nil
}

// given returns the flags set on the command line and every flag's value.
func given(fs *flag.FlagSet) (set map[string]bool, all map[string]string) {
	set, all = map[string]bool{}, map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) { all[f.Name] = f.Value.String() })
	return set, all
}
