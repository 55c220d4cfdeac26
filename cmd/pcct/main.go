// Command pcct finds exact k-nearest neighbours in the residual-correlation
// metric of a Gaussian-process kernel (or the Euclidean metric), for
// Vecchia-type approximations. Run `pcct help` for the subcommands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/streamer"
)

const usage = `pcct: exact k-nearest neighbours in the residual-correlation metric

Usage:
  pcct knn [flags]   all-points k-NN (predecessor mode for Vecchia) on your data,
                     or on an embedded synthetic example without --input
  pcct queries [flags]
                     the benchmark run: k-NN of synthetic query points against a
                     tree of synthetic points, with baselines (brute, sequential,
                     gpboost), recall@k and a telemetry log
  pcct report LOG    a telemetry log (--log-file) as a per-phase table and PNG plots
  pcct gate-profile  sample the float32 error of the residual metric into a profile
                     for knn --gate lookup (approximate), or --merge profiles
  pcct cpu           CPU features and the kernel implementation chosen
  pcct help          this text

Run 'pcct <command> -h' for a command's flags.

Exit status: 0 success, 1 bad data or a failed run, 2 a bad command line.
`

func main() {
	// pcct's heap is dominated by V (n x m float64, no pointers), so a
	// collection is cheap while letting garbage grow to 100 % of V doubles
	// the peak memory. At 20 %, n = 262,144, m = 256, k = 30: peak resident
	// 1.26 -> 0.81 GB and 27.5 -> 24.0 s (fewer fresh pages to fault in).
	// At 10 %, n = 10^6: 2.97 -> 2.84 GB (the tree issue allows 3.07), 13
	// collections of a few ms of CPU each, the time unchanged. GOGC in the
	// environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(10)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors in how the command was called (exit code 2).
var errUsage = errors.New("usage")

// run executes one command line and returns the exit code: 0 success, 1 a
// failure of the job (bad data, I/O, an internal error), 2 a bad command
// line. An internal error (a panic) is one line; with --debug its stack
// follows.
func run(args []string, stdout, stderr io.Writer) (code int) {
	debugOn := slices.Contains(args, "--debug") || slices.Contains(args, "-debug")
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "pcct: internal error: %v (a bug in pcct: please report it with the output of --debug)\n", r)
			if debugOn {
				stderr.Write(debug.Stack())
			}
			code = 1
		}
	}()
	if err := kernels.EnvError(); err != nil {
		fmt.Fprintf(stderr, "pcct: %v\n", err)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "knn":
		err = knnCmd(args[1:], stdout, stderr)
	case "queries":
		err = queriesCmd(args[1:], stdout, stderr)
	case "report":
		err = reportCmd(args[1:], stdout, stderr)
	case "gate-profile":
		err = gateProfileCmd(args[1:], stdout, stderr)
	case "cpu":
		err = cpuCmd(stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "pcct: unknown command %q (try 'pcct help')\n", args[0])
		return 2
	}
	return exitCode(err, args[0], stderr, debugOn)
}

// exitCode prints a command's error (one line; a panic's stack only with
// debug) and returns its exit status.
func exitCode(err error, cmd string, stderr io.Writer, debug bool) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "pcct %s: %v\n", cmd, strings.TrimPrefix(err.Error(), "usage: "))
		return 2
	}
	fmt.Fprintf(stderr, "pcct %s: %v\n", cmd, err)
	if pe := (*streamer.PanicError)(nil); errors.As(err, &pe) && debug {
		stderr.Write(pe.Stack)
	}
	return 1
}

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

func cpuLine() string {
	return fmt.Sprintf("cpu: %s; kernels: %s (available: %s)", strings.Join(kernels.CPUFeatures(), " "),
		kernels.Impl(), strings.Join(kernels.List(), ", "))
}

func cpuCmd(w io.Writer) error {
	fmt.Fprintln(w, cpuLine())
	return nil
}
