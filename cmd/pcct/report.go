package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pcct/pcct/bench"
	"github.com/pcct/pcct/internal/dataio"
)

// reportCmd summarises a telemetry log: a per-phase table on stdout and
// PNG plots (phases.png, utilisation.png, distances.png) in --out-dir,
// named PREFIX_*.png after the log's file name.
func reportCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pcct report", flag.ContinueOnError)
	outDir := fs.String("out-dir", "", "directory for the PNG plots (default: the log's directory)")
	noPlots := fs.Bool("no-plots", false, "print the table only")
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	var logPath string
	// The log is the one positional argument, before or after the flags.
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		logPath, args = args[0], args[1:]
	}
	if err := parseFlagsArgs(fs, args, stdout); err != nil {
		return err
	}
	if logPath == "" && fs.NArg() == 1 {
		logPath = fs.Arg(0)
	} else if fs.NArg() > 0 || logPath == "" {
		return usageErr("give one telemetry log: pcct report LOG [--out-dir DIR]")
	}
	f, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	t, err := bench.ReadLog(f)
	if err != nil {
		return fmt.Errorf("%s: %w", logPath, err)
	}
	if err := t.Summary(stdout); err != nil {
		return err
	}
	if *noPlots || len(t.Batches) == 0 {
		return nil
	}
	dir := *outDir
	if dir == "" {
		dir = filepath.Dir(logPath)
	}
	prefix := filepath.Join(dir, stem(logPath)+"_")
	plots, err := t.Plots()
	if err != nil {
		return err
	}
	var files dataio.Files
	defer files.Abort()
	for _, p := range plots {
		if err := dataio.CheckOutput(prefix+p.Name, logPath); err != nil {
			return err
		}
		if err := files.Write(prefix+p.Name, p.Write); err != nil {
			return err
		}
	}
	if err := files.Commit(); err != nil {
		return err
	}
	for _, p := range plots {
		fmt.Fprintf(stdout, "wrote %s\n", prefix+p.Name)
	}
	return nil
}

func stem(path string) string {
	b := filepath.Base(path)
	return b[:len(b)-len(filepath.Ext(b))]
}

// parseFlagsArgs is parseFlags allowing positional arguments.
func parseFlagsArgs(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	err := fs.Parse(args)
	if err == flag.ErrHelp {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage: pcct report LOG [flags]\n")
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return usageErr("%v (run '%s -h' for the flags)", err, fs.Name())
	}
	return nil
}
