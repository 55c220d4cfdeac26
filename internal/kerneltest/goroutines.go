package kerneltest

import (
	"runtime"
	"testing"
	"time"
)

// Goroutines returns the number of goroutines now.
func Goroutines() int { return runtime.NumGoroutine() }

// NoGoroutinesLeft fails t unless the goroutine count falls back to at most
// before within a second (goroutines that are finishing get that long).
func NoGoroutinesLeft(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left behind (was %d):\n%s", runtime.NumGoroutine()-before, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
