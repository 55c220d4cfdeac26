package kernels

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Implementation names, as accepted by Select and by the PCCT_KERNELS
// environment variable.
const (
	ImplGeneric = "generic"
	ImplAVX2    = "avx2"
	ImplAVX512  = "avx512"
)

// EnvVar is the environment variable that forces an implementation for the
// whole process: generic, avx2 or avx512.
const EnvVar = "PCCT_KERNELS"

type level int32

const (
	levelGeneric level = iota
	levelAVX2
	levelAVX512
	numLevels
)

var levelNames = [numLevels]string{ImplGeneric, ImplAVX2, ImplAVX512}

// available[l] reports whether this build and CPU can run level l; it is
// filled once at init by register (see cpu_*.go).
var available = [numLevels]bool{levelGeneric: true}

var (
	best   level        // the fastest available level
	active atomic.Int32 // the level every kernel call dispatches on
	envErr error        // a bad PCCT_KERNELS value, reported by EnvError
)

func register(l level, ok bool) {
	available[l] = ok
	if ok && l > best {
		best = l
	}
}

func init() {
	detectCPU()
	active.Store(int32(best))
	if v := os.Getenv(EnvVar); v != "" {
		if err := Select(v); err != nil {
			envErr = fmt.Errorf("%s=%q: %w", EnvVar, v, err)
		}
	}
}

func current() level { return level(active.Load()) }

// Impl returns the name of the implementation that kernel calls use now.
func Impl() string { return levelNames[current()] }

// List returns the implementations this build can run on this CPU, fastest
// first.
func List() []string {
	var out []string
	for l := numLevels - 1; l >= 0; l-- {
		if available[l] {
			out = append(out, levelNames[l])
		}
	}
	return out
}

// Known returns every implementation name, whether or not it can run here.
func Known() []string { return append([]string(nil), levelNames[:]...) }

// Select forces the named implementation for all later kernel calls. It
// returns an error, and changes nothing, for an unknown name or one that
// this CPU or build cannot run. It is meant for tests, benchmarks and
// start-up; calls already running finish on the implementation they began
// with.
func Select(name string) error {
	for l, n := range levelNames {
		if n != strings.ToLower(strings.TrimSpace(name)) {
			continue
		}
		if !available[l] {
			return fmt.Errorf("kernel implementation %q is not available on this CPU or build (available: %s)",
				n, strings.Join(List(), ", "))
		}
		active.Store(int32(l))
		return nil
	}
	return fmt.Errorf("unknown kernel implementation %q (known: %s)", name, strings.Join(Known(), ", "))
}

// Reset returns to the fastest available implementation.
func Reset() { active.Store(int32(best)) }

// EnvError reports a PCCT_KERNELS value that could not be honoured at start-up
// (the fastest implementation is used instead), or nil.
func EnvError() error { return envErr }
