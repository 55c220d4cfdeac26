package tree

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest/every"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

// screenCase is a residual metric's data for the screening tests.
type screenCase struct {
	name string
	x    []float64
	n, d int
	cfg  metric.ResidualConfig
}

// screened builds the case's residual metric with its float32 copy.
func (c screenCase) screened(t *testing.T) *metric.Residual {
	t.Helper()
	m, err := metric.NewResidual(context.Background(), c.x, c.n, c.d, c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnableScreening(); err != nil {
		t.Fatal(err)
	}
	return m
}

// screenCases: structureless, clustered and duplicated data, RBF and
// Matern, p at the floor (all points equal).
func screenCases() []screenCase {
	return []screenCase{
		{"d8-ls1", uniformPoints(1200, 8, 1), 1200, 8, metric.ResidualConfig{Lengthscale: []float64{1}, Inducing: 64, Seed: 1}},
		{"d2-clustered", shapes(900, 2, 3)["clustered"], 900, 2, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 40, Seed: 2}},
		{"duplicates-matern", shapes(900, 3, 4)["duplicates"], 900, 3, metric.ResidualConfig{Kernel: metric.Matern52, Lengthscale: []float64{0.2, 0.4, 0.8}, Inducing: 60, Seed: 3}},
		{"all-equal", shapes(300, 2, 5)["all-equal"], 300, 2, metric.ResidualConfig{Lengthscale: []float64{0.5}, Inducing: 10, Seed: 4}},
	}
}

// TestScreenExact: brute force with float32 screening gives the float64
// answer bit for bit (predecessor mode, all points and query sets; RBF and Matern;
// structureless, clustered and duplicated data; p at the floor), under
// every implementation, and drops most candidates where the data has no
// structure.
func TestScreenExact(t *testing.T) {
	screenAlways = true
	defer func() { screenAlways = false }()
	every.Impl(t, func(t *testing.T) {
		for _, c := range screenCases() {
			m := c.screened(t)
			qs, _ := m.Embed(context.Background(), uniformPoints(70, c.d, 9), 70)
			for _, k := range []int{1, 8} {
				opt := KNNOptions{K: k, Predecessor: true, Workers: 2, QueryBlock: 16, CandidateBlock: 64}
				want, err := BruteAllKNN(context.Background(), m, opt)
				if err != nil {
					t.Fatal(err)
				}
				var st ScreenStats
				opt.Gate, opt.ScreenStats = GateScreen, &st
				got, err := BruteAllKNN(context.Background(), m, opt)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equal(want) || Audit(got, want) != 0 {
					t.Fatalf("%s k=%d predecessor: %s", c.name, k, firstDiff(got, want))
				}
				if c.name == "d8-ls1" && (st.Screened == 0 || st.Decided() < 0.5) {
					t.Fatalf("%s k=%d: screening decided %.2f of %d pairs", c.name, k, st.Decided(), st.Screened)
				}
				// All points: the screened symmetric tiles against the float64
				// ones (a point is not its own neighbour, its duplicates are).
				aopt := KNNOptions{K: k, Workers: 2, QueryBlock: 16, CandidateBlock: 64}
				wantA, err := BruteAllKNN(context.Background(), m, aopt)
				if err != nil {
					t.Fatal(err)
				}
				aopt.Gate = GateScreen
				gotA, err := BruteAllKNN(context.Background(), m, aopt)
				if err != nil {
					t.Fatal(err)
				}
				if !gotA.Equal(wantA) {
					t.Fatalf("%s k=%d all points: %s", c.name, k, firstDiff(gotA, wantA))
				}
				qopt := KNNOptions{K: k, QueryBlock: 8, CandidateBlock: 100}
				wantQ, _ := BruteKNN(context.Background(), m, qs, qopt)
				qopt.Gate = GateScreen
				gotQ, err := BruteKNN(context.Background(), m, qs, qopt)
				if err != nil {
					t.Fatal(err)
				}
				if !gotQ.Equal(wantQ) {
					t.Fatalf("%s k=%d query set: %s", c.name, k, firstDiff(gotQ, wantQ))
				}
			}
		}
	})
}

// TestScreenAllHeavy: the screened all-points search computes the heavy
// points' pairs (the inducing points, p near the jitter) in a float64 pass
// of their own; with k = n - 1 every point has them among its neighbours,
// so a lost pair of theirs shows.
func TestScreenAllHeavy(t *testing.T) {
	screenAlways = true
	defer func() { screenAlways = false }()
	n := 700
	if raceDetector { // see race_test.go
		n = 300
	}
	m, err := metric.NewResidual(context.Background(), uniformPoints(n, 8, 11), n, 8, metric.ResidualConfig{Lengthscale: []float64{1}, Inducing: 40, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnableScreening(); err != nil {
		t.Fatal(err)
	}
	if heavy := slices.Max(m.Data().SW); !(heavy > m.Heavy()) {
		t.Fatalf("no heavy point (largest weight %v, limit %v)", heavy, m.Heavy())
	}
	for _, k := range []int{n - 1, n / 2} {
		opt := KNNOptions{K: k, Workers: 2}
		want, _ := BruteAllKNN(context.Background(), m, opt)
		var st ScreenStats
		opt.Gate, opt.ScreenStats = GateScreen, &st
		got, err := BruteAllKNN(context.Background(), m, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("k=%d: the screened all-points answer differs", k)
		}
		if st.Screened == 0 {
			t.Fatalf("k=%d: nothing was screened", k)
		}
		// Screening given up (from the start): the tiles in float64 must
		// leave the heavy points' pairs to their own pass.
		opt.Gate = GateScreen
		sc, err := newScreening(context.Background(), m, m.Data(), opt)
		if err != nil {
			t.Fatal(err)
		}
		sc.off.Store(true)
		best, err := bruteAllScreened(context.Background(), m, sc, opt)
		if err != nil {
			t.Fatal(err)
		}
		if off, _ := wrap(best, nil); !off.Equal(want) {
			t.Fatalf("k=%d, screening given up: %s", k, firstDiff(off, want))
		}
	}
}

// TestScreenNeedsCopy: screening the Euclidean metric, a residual metric
// whose V is float32, or a query set embedded before the metric had its
// float32 copy, is a clear error; the data's own search makes the copy
// only when its probe finds that screening pays.
func TestScreenNeedsCopy(t *testing.T) {
	r32, err := metric.NewResidual(context.Background(), uniformPoints(100, 2, 3), 100, 2, metric.ResidualConfig{Lengthscale: []float64{0.5}, Inducing: 4, Jitter: 0.1, Float32: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BruteAllKNN(context.Background(), r32, KNNOptions{K: 3, Predecessor: true, Gate: GateScreen}); !errors.Is(err, metric.ErrBadInput) || !strings.Contains(err.Error(), "stores it in float32") {
		t.Fatalf("float32 V screened: %v", err)
	}
	for _, m := range testMetrics(t, 100, 2) {
		_, err := BruteAllKNN(context.Background(), m, KNNOptions{K: 3, Predecessor: true, Gate: GateScreen})
		if _, ok := m.(*metric.Euclidean); ok != errors.Is(err, metric.ErrBadInput) || ok && !strings.Contains(err.Error(), "has none") {
			t.Fatalf("%s: %v", m.Name(), err)
		}
		if r, ok := m.(*metric.Residual); ok {
			qs, _ := r.Embed(context.Background(), uniformPoints(5, 2, 3), 5)
			if _, err := BruteKNN(context.Background(), m, qs, KNNOptions{K: 3, Gate: GateScreen}); !errors.Is(err, metric.ErrBadInput) {
				t.Fatalf("query set without the copy: %v", err)
			}
		}
	}
	for _, c := range []struct {
		d    int
		ls   float64
		copy bool // on AVX-512 (the generic kernels' wider bound may fail the probe at d = 8)
	}{{8, 1, true}, {2, 0.1, false}} {
		for _, gate := range []Gate{GateScreen, GateAuto} {
			const n = 6000
			m, err := metric.NewResidual(context.Background(), uniformPoints(n, c.d, 6), n, c.d, metric.ResidualConfig{Lengthscale: []float64{c.ls}, Inducing: 512, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := BruteAllKNN(context.Background(), m, KNNOptions{K: 8, Predecessor: true})
			var st ScreenStats
			got, err := BruteAllKNN(context.Background(), m, KNNOptions{K: 8, Predecessor: true, Gate: gate, ScreenStats: &st})
			if err != nil || !got.Equal(want) {
				t.Fatalf("d=%d %s: %v", c.d, gate, err)
			}
			if st.ProbeLimit != screenWorth && st.Probe != 0 {
				t.Fatalf("d=%d %s: probe limit %v", c.d, gate, st.ProbeLimit)
			}
			has := m.Data().S32 != nil
			if gate == GateAuto && kernels.Impl() == kernels.ImplGeneric {
				if has || st.Screened != 0 {
					t.Fatalf("d=%d auto under the generic kernels screened (copy %v, %d pairs)", c.d, has, st.Screened)
				}
				continue // auto leaves the generic kernels unscreened
			}
			if has != (st.Probe <= screenWorth) || (has && !c.copy) || (c.copy && kernels.Impl() == "avx512" && !has) {
				t.Fatalf("d=%d %s (%s): float32 copy made: %v, probe %.3f", c.d, gate, kernels.Impl(), has, st.Probe)
			}
		}
	}
	if _, err := ParseGate("fast"); err == nil {
		t.Fatal("gate fast accepted")
	}
	if g, err := ParseGate("screen"); err != nil || g != GateScreen || g.String() != "screen" {
		t.Fatal(g, err)
	}
}

// TestScreenFloat32ZeroV: a metric whose V is stored in float32 is never
// screened, even where V is all zeros (inducing points far beyond every
// data point, so its float32 error bound is 0): the auto gate leaves it in
// its own precision on every search, and the screen gate refuses it.
// (The soak found the auto gate taking such a metric for a float64 one.)
func TestScreenFloat32ZeroV(t *testing.T) {
	const n = 600
	x := uniformPoints(n, 2, 4)
	cfg := metric.ResidualConfig{Lengthscale: []float64{0.1}, Method: metric.InducingExplicit,
		InducingPoints: []float64{1000, 1000, 2000, 2000}, Float32: true}
	m, err := metric.NewResidual(context.Background(), x, n, 2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Float32() || m.Float32Bound() != 0 {
		t.Fatalf("float32 %v, bound %g: want float32 V with a bound of 0", m.Float32(), m.Float32Bound())
	}
	opt := KNNOptions{K: 6, Predecessor: true}
	want, err := BruteAllKNN(context.Background(), m, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, search := range []Search{SearchAuto, SearchTree, SearchBrute} {
		var st ScreenStats
		o := opt
		o.Gate, o.ScreenStats = GateAuto, &st
		got, _, err := AllKNNSearch(context.Background(), m, o, search, Options{})
		if err != nil {
			t.Fatalf("%s, gate auto: %v", search, err)
		}
		if !got.Equal(want) || st.Screened != 0 {
			t.Fatalf("%s, gate auto: %s, %d pairs screened", search, firstDiff(got, want), st.Screened)
		}
		o.Gate = GateScreen
		if _, _, err := AllKNNSearch(context.Background(), m, o, search, Options{}); !errors.Is(err, metric.ErrBadInput) || !strings.Contains(err.Error(), "stores it in float32") {
			t.Fatalf("%s, gate screen: %v", search, err)
		}
	}
}

// TestScreenProbe: the probe lets screening run where the bounds decide
// (structureless data) and turns it off where p is small everywhere, and
// the search still answers exactly either way.
func TestScreenProbe(t *testing.T) {
	for _, c := range []struct {
		name string
		d    int
		ls   float64
		m    int
		on   bool
	}{
		{"d8-ls1", 8, 1, 64, true},
		{"d2-ls0.1", 2, 0.1, 512, false},
	} {
		const n = 4000
		x := uniformPoints(n, c.d, 6)
		m, err := metric.NewResidual(context.Background(), x, n, c.d, metric.ResidualConfig{Lengthscale: []float64{c.ls}, Inducing: c.m, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		m.EnableScreening()
		var st ScreenStats
		opt := KNNOptions{K: 8, Predecessor: true}
		want, _ := BruteAllKNN(context.Background(), m, opt)
		opt.Gate, opt.ScreenStats = GateScreen, &st
		got, err := BruteAllKNN(context.Background(), m, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("%s: %s", c.name, firstDiff(got, want))
		}
		if on := st.Screened > 0; on != c.on {
			t.Fatalf("%s: screening ran %v (probe %.3f), want %v", c.name, on, st.Probe, c.on)
		}
	}
}

// TestAudit: the audit counts the neighbours a gated answer lost.
func TestAudit(t *testing.T) {
	want := NewNeighbours(2, 3, []int32{1, 2, 3, 0, -1, -1}, []float64{0.1, 0.2, 0.3, 0.5, 0, 0})
	got := NewNeighbours(2, 3, []int32{1, 3, 4, 0, -1, -1}, []float64{0.1, 0.3, 0.4, 0.5, 0, 0})
	if n := Audit(got, want); n != 1 {
		t.Fatalf("audit counted %d, want 1", n)
	}
	if Audit(want, want) != 0 {
		t.Fatal("an answer audited against itself")
	}
}

// TestLookup: the lookup gate with a profile of the data answers like
// float64 here (it is approximate: the audit counts what it loses), and
// the audit catches a deliberately wrong profile, one claiming the float32
// distances never exceed the float64 ones.
func TestLookup(t *testing.T) {
	screenAlways = true
	defer func() { screenAlways = false }()
	const n, d = 2000, 3
	// Many exact duplicates: their float64 distances are rounding-small
	// and their float32 ones about 1e-3, so a profile that ignores the
	// float32 error orders them wrongly.
	x := shapes(n, d, 8)["duplicates"]
	m, err := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{0.3}, Inducing: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	m.EnableScreening()
	prof, err := m.BuildProfile(context.Background(), 400, 3)
	if err != nil {
		t.Fatal(err)
	}
	wrong := *prof
	wrong.Bins = nil
	for _, b := range prof.Bins {
		b.Zero += slicesSum(b.Pos) + slicesSum(b.Neg)
		b.Pos, b.Neg = make([]int64, len(b.Pos)), make([]int64, len(b.Neg))
		wrong.Bins = append(wrong.Bins, b)
	}
	lostWrong := int64(0)
	for _, k := range []int{1, 8} {
		opt := KNNOptions{K: k, Predecessor: true, QueryBlock: 32, CandidateBlock: 128}
		want, _ := BruteAllKNN(context.Background(), m, opt)
		opt.Gate, opt.Profile = GateLookup, prof
		got, err := BruteAllKNN(context.Background(), m, opt)
		if err != nil {
			t.Fatal(err)
		}
		if lost := Audit(got, want); lost != 0 {
			t.Fatalf("k=%d: lookup with the data's own profile lost %d neighbours", k, lost)
		}
		// All points (each row scans every other point): nothing lost, and
		// never a point's own index.
		aopt := KNNOptions{K: k, QueryBlock: 32, CandidateBlock: 128}
		wantA, _ := BruteAllKNN(context.Background(), m, aopt)
		aopt.Gate, aopt.Profile = GateLookup, prof
		gotA, err := BruteAllKNN(context.Background(), m, aopt)
		if err != nil {
			t.Fatal(err)
		}
		if lost := Audit(gotA, wantA); lost != 0 {
			t.Fatalf("k=%d: lookup, all points, lost %d neighbours", k, lost)
		}
		for i := range gotA.N() {
			if ids, _ := gotA.Row(i); slices.Contains(ids, int32(i)) {
				t.Fatalf("k=%d: lookup, all points: point %d is its own neighbour", k, i)
			}
		}
		opt.Profile = &wrong
		bad, err := BruteAllKNN(context.Background(), m, opt)
		if err != nil {
			t.Fatal(err)
		}
		lostWrong += Audit(bad, want)
	}
	if lostWrong == 0 {
		t.Fatal("the audit found no loss with a profile claiming d32 = d64")
	}
	opt := KNNOptions{K: 3, Predecessor: true, Gate: GateLookup}
	if _, err := BruteAllKNN(context.Background(), m, opt); !errors.Is(err, metric.ErrBadInput) {
		t.Fatalf("lookup without a profile: %v", err)
	}
}

func slicesSum(s []int64) int64 {
	var t int64
	for _, v := range s {
		t += v
	}
	return t
}

// TestGateAuto: auto screens brute force where it pays, enabling the
// metric's float32 copy itself, and leaves other metrics (and the generic
// kernels, whose float32 loops do not pay) alone; the answers are the
// float64 ones.
func TestGateAuto(t *testing.T) {
	const n = 4000
	x := uniformPoints(n, 8, 6)
	m, err := metric.NewResidual(context.Background(), x, n, 8, metric.ResidualConfig{Lengthscale: []float64{1}, Inducing: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := metric.NewEuclidean(x, n, 8)
	for _, mm := range []metric.Metric{m, e} {
		var st ScreenStats
		opt := KNNOptions{K: 8, Predecessor: true}
		want, _ := BruteAllKNN(context.Background(), mm, opt)
		opt.Gate, opt.ScreenStats = GateAuto, &st
		got, err := BruteAllKNN(context.Background(), mm, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("%s: %s", mm.Name(), firstDiff(got, want))
		}
		wantScreen := mm == metric.Metric(m) && kernels.Impl() != kernels.ImplGeneric
		if screened := st.Screened > 0; screened != wantScreen {
			t.Fatalf("%s (%s): screened %v", mm.Name(), kernels.Impl(), screened)
		}
	}
	if m.CanScreen(m.Data(), m.Data()) != (kernels.Impl() != kernels.ImplGeneric) {
		t.Fatalf("auto (%s): float32 copy kept %v", kernels.Impl(), m.CanScreen(m.Data(), m.Data()))
	}
}

// TestGateAutoTree: with the auto gate the cover tree's queries screen
// only where the metric has no structure (d = 8, lengthscale 1: the walk
// scans nearly every point), making the float32 copy there, and leave a
// metric with structure (d = 2, lengthscale 0.1) in float64 without the
// copy; the answers are brute force's float64 ones either way.
func TestGateAutoTree(t *testing.T) {
	for _, c := range []struct {
		n, d   int
		ls     float64
		screen bool
	}{{3000, 8, 1, true}, {3000, 2, 0.1, false}} {
		x := uniformPoints(c.n, c.d, 11)
		m, err := metric.NewResidual(context.Background(), x, c.n, c.d, metric.ResidualConfig{Lengthscale: []float64{c.ls}, Inducing: 64, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		tr := buildOrFail(t, m, Options{Workers: 2})
		opt := KNNOptions{K: 8, Predecessor: true, Workers: 2}
		st := treeMatchesBrute(t, tr, m, opt, GateAuto, fmt.Sprintf("d = %d", c.d))
		wantScreen := c.screen && kernels.Impl() != kernels.ImplGeneric
		if screened, copied := st.Screened > 0, m.CanScreen(m.Data(), m.Data()); screened != wantScreen || copied != wantScreen {
			t.Fatalf("d = %d (%s): screened %v (%d pairs), float32 copy %v; want %v", c.d, kernels.Impl(), screened, st.Screened, copied, wantScreen)
		}
	}
}

// treeMatchesBrute runs the tree's all-points job with opt and gate,
// checks its answer against brute force's float64 one (what names the
// case) and returns the job's screening statistics.
func treeMatchesBrute(t *testing.T, tr *Tree, m metric.Metric, opt KNNOptions, gate Gate, what string) ScreenStats {
	t.Helper()
	want, err := BruteAllKNN(context.Background(), m, opt)
	if err != nil {
		t.Fatal(err)
	}
	var st ScreenStats
	opt.Gate, opt.ScreenStats = gate, &st
	got, _, err := tr.AllKNN(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Fatalf("%s: %s", what, firstDiff(got, want))
	}
	return st
}

// TestTreeScreenExact: the tree's queries through the float32 screen give
// brute force's float64 answer bit for bit (predecessor, all points and
// query sets; data with and without structure, duplicates, p at the floor),
// under every implementation, and screen every tile of the walk.
func TestTreeScreenExact(t *testing.T) {
	screenAlways = true
	defer func() { screenAlways = false }()
	every.Impl(t, func(t *testing.T) {
		cases := append(screenCases(), screenCase{"d2-uniform", uniformPoints(1500, 2, 7), 1500, 2, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 48, Seed: 5}})
		for _, c := range cases {
			m := c.screened(t)
			tr, err := Build(context.Background(), m, Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			qs, _ := m.Embed(context.Background(), uniformPoints(70, c.d, 9), 70)
			for _, k := range []int{1, 8} {
				for _, pred := range []bool{true, false} {
					opt := KNNOptions{K: k, Predecessor: pred, Workers: 2, QueryBlock: 32}
					st := treeMatchesBrute(t, tr, m, opt, GateScreen, fmt.Sprintf("%s k=%d pred=%v", c.name, k, pred))
					if st.Screened == 0 || st.Recomputed > st.Screened {
						t.Fatalf("%s k=%d pred=%v: %+v", c.name, k, pred, st)
					}
					if c.name == "d8-ls1" && st.Decided() < 0.5 {
						t.Fatalf("%s k=%d: screening decided %.2f of %d pairs", c.name, k, st.Decided(), st.Screened)
					}
				}
				qopt := KNNOptions{K: k, QueryBlock: 8}
				wantQ, _ := BruteKNN(context.Background(), m, qs, qopt)
				qopt.Gate = GateScreen
				gotQ, _, err := tr.KNN(context.Background(), qs, qopt)
				if err != nil {
					t.Fatal(err)
				}
				if !gotQ.Equal(wantQ) {
					t.Fatalf("%s k=%d query set: %s", c.name, k, firstDiff(gotQ, wantQ))
				}
			}
		}
	})
}

// TestSplitHeavy: the heavy queries (the inducing points, among others)
// leave their groups for groups of their own, every query in exactly one
// group, each group's maxQ its largest query.
func TestSplitHeavy(t *testing.T) {
	const n = 1200
	m, err := metric.NewResidual(context.Background(), uniformPoints(n, 8, 1), n, 8, metric.ResidualConfig{Lengthscale: []float64{1}, Inducing: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnableScreening(); err != nil {
		t.Fatal(err)
	}
	tr, err := Build(context.Background(), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	limit := m.Heavy()
	for _, pred := range []bool{true, false} {
		groups := tr.splitHeavy(tr.allGroups(allOptions(KNNOptions{K: 4, Predecessor: pred}), nil), m.Data(), limit)
		seen := make([]int, n)
		heavy := 0
		for _, g := range groups {
			if len(g.qids) == 0 || g.maxQ != slices.Max(g.qids) || !slices.Equal(g.qids, g.rows) {
				t.Fatalf("pred=%v: group %+v", pred, g)
			}
			for _, q := range g.qids {
				seen[q]++
				if (m.Data().SW[q] > limit) != g.heavy {
					t.Fatalf("pred=%v: query %d (weight %v, limit %v) in a group with heavy=%v", pred, q, m.Data().SW[q], limit, g.heavy)
				}
				if g.heavy {
					heavy++
				}
			}
		}
		for q, c := range seen {
			if c != 1 {
				t.Fatalf("pred=%v: query %d in %d groups", pred, q, c)
			}
		}
		if heavy < 64 {
			t.Fatalf("pred=%v: %d heavy queries, want the 64 inducing points at least", pred, heavy)
		}
	}
}

// TestProbeShape: the probe's rows are distinct, ascending and spread
// over the queries (in predecessor mode over the last half, above their
// candidates), 16 of them for small searches and up to 64 for large ones,
// and never more than the queries.
func TestProbeShape(t *testing.T) {
	for _, c := range []struct {
		nqs, ndata int
		pred       bool
		rows, nc   int
	}{
		{1, 1, false, 1, 1},
		{10, 500, false, 10, 500},
		{1000, 6000, false, 16, 6000},
		{40000, 6000, false, 64, 6000},
		{20, 20, true, 16, 4},
		{1000, 1000, true, 16, 984},
		{10000, 10000, true, 16, 8192},
		{32768, 32768, true, 64, 8192},
		{1000000, 1000000, true, 64, 8192},
	} {
		rows, nc := probeShape(c.nqs, c.ndata, c.pred)
		if len(rows) != c.rows || nc != c.nc {
			t.Fatalf("%+v: %d rows, %d candidates", c, len(rows), nc)
		}
		for j, p := range rows {
			if p < 0 || p >= c.nqs || (j > 0 && p <= rows[j-1]) || (c.pred && p < nc) {
				t.Fatalf("%+v: rows %v", c, rows)
			}
		}
		// Spread: from the first query (predecessors: from at most the
		// middle one), in even steps to the last.
		first, step := rows[0], (c.nqs-rows[0]+len(rows)-1)/len(rows)
		spread := (c.pred || first == 0) && first <= max(c.nqs/2, c.nqs-len(rows))
		for j := 1; j < len(rows); j++ {
			spread = spread && rows[j]-rows[j-1] <= step
		}
		if !spread || rows[len(rows)-1] < c.nqs-step {
			t.Fatalf("%+v: rows %v not spread", c, rows)
		}
	}
}
