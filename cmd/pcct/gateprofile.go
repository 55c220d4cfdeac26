package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pcct/pcct/internal/dataio"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// gateProfileCmd builds a gate profile from sampled pairs of the data (or
// the synthetic example), or merges profiles: pcct gate-profile [metric
// flags] [--input FILE | --example-n N --example-d D] --rows R --output
// P.json, or pcct gate-profile --merge A.json,B.json --output P.json.
func gateProfileCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pcct gate-profile", flag.ContinueOnError)
	var mf metricFlags
	mf.register(fs)
	input := fs.String("input", "", "points file (.npy or .csv); without it the synthetic example")
	exN := fs.Int("example-n", 8192, "points in the synthetic example")
	exD := fs.Int("example-d", 8, "dimensions of the synthetic example")
	rows := fs.Int("rows", 256, "sampled query points, each paired with every point")
	merge := fs.String("merge", "", "comma list of profiles to merge instead of sampling")
	output := fs.String("output", "", "the profile to write (JSON)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	set, _ := given(fs)
	if *output == "" {
		return usageErr("--output is required")
	}
	if *merge != "" {
		return mergeProfiles(strings.Split(*merge, ","), *output, stdout)
	}
	if err := mf.check(set); err != nil {
		return err
	}
	if mf.metric != "residual" || mf.float32 {
		return usageErr("gate profiles are of the residual metric with V in float64")
	}
	if *rows < 1 {
		return usageErr("--rows must be at least 1, got %d", *rows)
	}
	var x []float64
	n, d := *exN, *exD
	var err error
	if *input != "" {
		if x, n, d, err = dataio.ReadPoints(*input); err != nil {
			return err
		}
	} else {
		x = syntheticPoints(n, d, mf.seed)
	}
	if err := mf.checkData(n, d); err != nil {
		return err
	}
	if err := dataio.CheckOutput(*output, *input); err != nil {
		return err
	}
	pool := streamer.NewPool(0)
	defer pool.Close()
	m, err := mf.build(context.Background(), x, n, d, pool, nil)
	if err != nil {
		return err
	}
	r := m.(*metric.Residual)
	if err := r.EnableScreening(); err != nil {
		return err
	}
	p, err := r.BuildProfile(context.Background(), *rows, mf.seed)
	if err != nil {
		return err
	}
	return writeProfile(p, *output, stdout)
}

func mergeProfiles(paths []string, output string, stdout io.Writer) error {
	var ps []*metric.GateProfile
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		p, err := metric.ReadProfile(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		ps = append(ps, p)
	}
	if err := dataio.CheckOutput(output, paths...); err != nil {
		return err
	}
	p, err := metric.MergeProfiles(ps...)
	if err != nil {
		return err
	}
	return writeProfile(p, output, stdout)
}

func writeProfile(p *metric.GateProfile, output string, stdout io.Writer) error {
	var files dataio.Files
	defer files.Abort()
	if err := files.Write(output, func(w io.Writer) error { return metric.WriteProfile(w, p) }); err != nil {
		return err
	}
	if err := files.Commit(); err != nil {
		return err
	}
	lo, hi := p.Margins(1, 1)
	fmt.Fprintf(stdout, "wrote %s: %d pairs; float32 distances stray at most %.3g above and %.3g below float64 within radius 1\n", output, p.Pairs, lo, hi)
	return nil
}
