package tree

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcct/pcct/internal/kerneltest"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// TestPercent: auto's reason keeps two digits of a small fraction.
func TestPercent(t *testing.T) {
	for f, want := range map[float64]string{0: "0%", 0.5: "50%", 0.123: "12%", 0.0534: "5.3%", 0.0026: "0.26%", 0.00012: "0.012%", 1e-6: "under 0.01%"} {
		if got := percent(f); got != want {
			t.Errorf("percent(%g) = %q, want %q", f, got, want)
		}
	}
}

// TestAutoSample: auto's sample of groups keeps the tree where it prunes
// (d = 2, lengthscale 0.1) and hands the job to brute force where it does
// not (d = 8, lengthscale 1, the probe bypassed), saying why each time,
// with the sample's fraction and statistics.
func TestAutoSample(t *testing.T) {
	if raceDetector {
		t.Skip("a decision, not concurrency: see race_test.go")
	}
	for _, c := range []struct {
		n, d  int
		ls    float64
		brute bool
	}{{8192, 2, 0.1, false}, {2000, 8, 1, true}} {
		n := c.n
		x := uniformPoints(n, c.d, 4)
		m, err := metric.NewResidual(context.Background(), x, n, c.d, metric.ResidualConfig{Lengthscale: []float64{c.ls}, Inducing: 256, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		tr := buildOrFail(t, m, Options{})
		opt := allOptions(KNNOptions{K: 8, Predecessor: true, Workers: 1})
		sc, err := tr.treeScreening(context.Background(), m.Data(), opt)
		if err != nil {
			t.Fatal(err)
		}
		var use usage
		groups := tr.allGroups(opt, &use)
		all := len(groups)
		var rep Report
		brute, err := tr.autoSample(context.Background(), m.Data(), opt, kernels.NewKBestUnset(n, opt.K), &groups, sc, &rep)
		if err != nil {
			t.Fatal(err)
		}
		want := "< 0.8)"
		if c.brute {
			want = "too little structure"
		}
		if brute != c.brute || !strings.Contains(rep.Reason, want) || rep.SampleFraction <= 0 || rep.Query.Groups != all-len(groups) || rep.Query.Distances <= 0 {
			t.Fatalf("d = %d, lengthscale %g: brute %v, %d of %d groups left, %+v", c.d, c.ls, brute, len(groups), all, rep)
		}
	}
}

// TestSearchModes: auto, tree and brute give the same answer; auto takes
// brute force where the metric has no structure (d = 8, lengthscale 1) and
// says why.
func TestSearchModes(t *testing.T) {
	const n, d = 2000, 8
	x := uniformPoints(n, d, 4)
	m, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Inducing: 512, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	opt := KNNOptions{K: 8, Predecessor: true}
	want, _ := BruteAllKNN(context.Background(), m, opt)
	if _, _, err := AllKNNSearch(context.Background(), m, opt, SearchKD, Options{}); !errors.Is(err, metric.ErrBadInput) || !strings.Contains(err.Error(), "Euclidean") {
		t.Fatalf("kd on the residual metric: %v", err)
	}
	for _, s := range []Search{SearchAuto, SearchTree, SearchBrute} {
		got, rep, err := AllKNNSearch(context.Background(), m, opt, s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("%v: %s", s, firstDiff(got, want))
		}
		if s == SearchAuto && (rep.Method != SearchBrute || !strings.Contains(rep.Reason, "too little structure") || rep.ProbeNear <= probeNear) {
			t.Fatalf("auto on d = 8, lengthscale 1 chose %v: %+v", rep.Method, rep)
		}
		if s != SearchAuto && rep.Method != s {
			t.Fatalf("%v ran %v", s, rep.Method)
		}
		checkQueryJobs(t, s.String(), rep.Query)
	}
	// From autoTrialN points auto samples the tree even where the probe
	// finds no structure (lowered here: the sample still says brute force).
	defer func(n int) { autoTrialN = n }(autoTrialN)
	autoTrialN = n
	got, rep, err := AllKNNSearch(context.Background(), m, opt, SearchAuto, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Fatalf("auto past autoTrialN: %s", firstDiff(got, want))
	}
	if rep.Method != SearchBrute || rep.Build.Wall <= 0 || rep.SampleFraction*treeCostFactor < autoKeep || !strings.Contains(rep.Reason, "a sample of queries computed") || rep.ProbeNear <= probeNear {
		t.Fatalf("auto past autoTrialN on d = 8, lengthscale 1: %+v", rep)
	}
	// So does a query set's search where brute force costs as much as the
	// all-points job (half as many queries as points or more), and only
	// there.
	for _, nq := range []int{n / 2, n/2 - 1} {
		qs, err := m.Embed(context.Background(), uniformPoints(nq, d, 5), nq)
		if err != nil {
			t.Fatal(err)
		}
		qopt := KNNOptions{K: 8}
		want, err := BruteKNN(context.Background(), m, qs, qopt)
		if err != nil {
			t.Fatal(err)
		}
		got, rep, err := KNNSearch(context.Background(), m, qs, qopt, SearchAuto, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("auto on %d queries past autoTrialN: %s", nq, firstDiff(got, want))
		}
		sampled := rep.Build.Wall > 0 && rep.SampleFraction*treeCostFactor >= autoKeep && strings.Contains(rep.Reason, "a sample of queries computed")
		if rep.Method != SearchBrute || sampled != (nq == n/2) || rep.ProbeNear <= probeNear {
			t.Fatalf("auto on %d queries past autoTrialN, d = 8, lengthscale 1: %+v", nq, rep)
		}
		checkQueryJobs(t, "queries", rep.Query)
	}
	// Where no net covers anything, the build hangs the points flat (and
	// the tree stays sound and exact, checked above through SearchTree).
	tr := buildOrFail(t, m, Options{})
	flat := 0
	for z := range tr.N() {
		if tr.scale[z] == flatScale {
			flat++
		}
	}
	if flat < n/2 {
		t.Fatalf("d = 8, lengthscale 1: %d of %d points hung flat, want most", flat, n)
	}
	for good, want := range map[string]Search{"auto": SearchAuto, "tree": SearchTree, "brute": SearchBrute, "kd": SearchKD} {
		if got, err := ParseSearch(good); got != want || err != nil || got.String() != good {
			t.Errorf("ParseSearch(%q) = %v, %v", good, got, err)
		}
	}
	for _, bad := range []string{"fast", "Tree", "KD"} {
		if _, err := ParseSearch(bad); !errors.Is(err, metric.ErrBadInput) {
			t.Errorf("ParseSearch(%q) = %v", bad, err)
		}
	}
	if _, _, err := AllKNNSearch(context.Background(), m, KNNOptions{K: 0}, SearchTree, Options{}); !errors.Is(err, metric.ErrBadInput) {
		t.Errorf("k = 0: %v", err)
	}
	if _, err := Build(context.Background(), m, Options{Base: 1}); !errors.Is(err, metric.ErrBadInput) {
		t.Errorf("base 1: %v", err)
	}
}

// checkQueryJobs checks that a search reported its query jobs, whichever
// way it went: each worker's busy time (GOMAXPROCS of them), some work,
// a utilisation.
func checkQueryJobs(t *testing.T, what string, st QueryStats) {
	t.Helper()
	var sum time.Duration
	for _, b := range st.Busy {
		sum += b
	}
	if len(st.Busy) != runtime.GOMAXPROCS(0) || sum <= 0 || !(st.Utilisation > 0) || st.Steals < 0 {
		t.Errorf("%s: query statistics %+v", what, st)
	}
}

// TestTreeCancel: a cancelled build or query returns ctx.Err() promptly,
// leaves no goroutine behind, and the pool gives the usual answers after.
func TestTreeCancel(t *testing.T) {
	m := testMetrics(t, 3000, 2)[0]
	pool := streamer.NewPool(2)
	defer pool.Close()
	before := kerneltest.Goroutines()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, m, Options{Pool: pool}); !errors.Is(err, context.Canceled) {
		t.Fatalf("build: %v", err)
	}
	tr, err := Build(context.Background(), m, Options{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tr.AllKNN(ctx, KNNOptions{K: 4, Pool: pool}); !errors.Is(err, context.Canceled) {
		t.Fatalf("query: %v", err)
	}
	if _, _, err := tr.Range(ctx, m.Data(), 0.5, KNNOptions{Pool: pool}); !errors.Is(err, context.Canceled) {
		t.Fatalf("range: %v", err)
	}
	for _, d := range []time.Duration{time.Millisecond, 5 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		t0 := time.Now()
		_, err := Build(ctx, m, Options{Pool: pool})
		if err == nil {
			_, _, err = tr.AllKNN(ctx, KNNOptions{K: 4, Predecessor: true, Pool: pool})
		}
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("deadline %v: %v", d, err)
		}
		if time.Since(t0) > 2*time.Second {
			t.Fatalf("deadline %v: took %v", d, time.Since(t0))
		}
	}
	again := buildOrFail(t, m, Options{Pool: pool})
	if err := sameTree(tr, again); err != nil {
		t.Fatalf("after cancellations: %v", err)
	}
	a, _, _ := again.AllKNN(context.Background(), KNNOptions{K: 4, Pool: pool})
	b, _ := BruteAllKNN(context.Background(), m, KNNOptions{K: 4})
	if !a.Equal(b) {
		t.Fatal("after cancellations the tree answers differently")
	}
	kerneltest.NoGoroutinesLeft(t, before)
}

// TestKNNSearchModes: every search answers a query set like brute force.
func TestKNNSearchModes(t *testing.T) {
	for _, m := range testMetrics(t, 600, 2) {
		qs, _ := m.Embed(context.Background(), uniformPoints(50, 2, 31), 50)
		want, _ := BruteKNN(context.Background(), m, qs, KNNOptions{K: 6})
		for _, s := range []Search{SearchAuto, SearchTree, SearchBrute, SearchKD} {
			got, rep, err := KNNSearch(context.Background(), m, qs, KNNOptions{K: 6}, s, Options{})
			if s == SearchKD && m.Name() != "euclidean" {
				if !errors.Is(err, metric.ErrBadInput) {
					t.Fatalf("kd on the %s metric: %v", m.Name(), err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if s == SearchAuto && m.Name() == "euclidean" && rep.Method != SearchKD {
				t.Fatalf("auto on the Euclidean metric in 2 dimensions chose %v", rep.Method)
			}
			if !got.Equal(want) {
				t.Fatalf("%s %v: %s", m.Name(), s, firstDiff(got, want))
			}
			if s != SearchAuto && rep.Method != s || rep.Reason == "" {
				t.Fatalf("%s %v: report %+v", m.Name(), s, rep)
			}
			checkQueryJobs(t, m.Name()+" "+s.String(), rep.Query)
		}
	}
}

// TestProgress: every task of the tree walk and of brute force reports
// once, and the last report says all are done.
func TestProgress(t *testing.T) {
	m := testMetrics(t, 1500, 2)[0]
	tr, err := Build(context.Background(), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"tree", "brute", "brute-pred", "brute-queries"} {
		var calls, maxDone, total atomic.Int64
		opt := KNNOptions{K: 5, Workers: 3, Progress: func(done, tot int) {
			calls.Add(1)
			total.Store(int64(tot))
			for {
				cur := maxDone.Load()
				if int64(done) <= cur || maxDone.CompareAndSwap(cur, int64(done)) {
					break
				}
			}
		}}
		switch how {
		case "tree":
			_, _, err = tr.AllKNN(context.Background(), opt)
		case "brute":
			_, err = BruteAllKNN(context.Background(), m, opt)
		case "brute-pred":
			opt.Predecessor = true
			_, err = BruteAllKNN(context.Background(), m, opt)
		case "brute-queries":
			_, err = BruteKNN(context.Background(), m, m.Data(), opt)
		}
		if err != nil {
			t.Fatal(err)
		}
		if calls.Load() == 0 || calls.Load() != total.Load() || maxDone.Load() != total.Load() {
			t.Fatalf("%s: %d calls, last done %d, total %d", how, calls.Load(), maxDone.Load(), total.Load())
		}
	}
}
