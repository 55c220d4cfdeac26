package tree

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// TestStatsSerial checks the serial times of a build and of a query call
// against a trace of the same pool: each is the call's wall time less its
// pool jobs' wall times.
func TestStatsSerial(t *testing.T) {
	n := 3000
	x := uniformPoints(n, 2, 7)
	m, err := metric.NewResidual(context.Background(), x, n, 2, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 32})
	if err != nil {
		t.Fatal(err)
	}
	pool := streamer.NewPool(2)
	defer pool.Close()
	jobs := func(tr *streamer.Trace) (sum time.Duration) {
		for _, j := range tr.Jobs() {
			sum += j.Wall
		}
		return sum
	}
	for _, alg := range []Algorithm{Nets, Insertion} {
		tr := streamer.NewTrace()
		pool.SetTrace(tr)
		tree, err := Build(context.Background(), m, Options{Pool: pool, Algorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		st := tree.Stats
		if len(tr.Jobs()) == 0 || st.Serial != st.Wall-jobs(tr) {
			t.Fatalf("%v: build serial %v, wall %v, %d jobs of %v", alg, st.Serial, st.Wall, len(tr.Jobs()), jobs(tr))
		}
		checkBusy(t, fmt.Sprintf("%v build", alg), st.Busy, jobs(tr))
		tr = streamer.NewTrace()
		pool.SetTrace(tr)
		_, qs, err := tree.AllKNN(context.Background(), KNNOptions{K: 5, Predecessor: true, Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Jobs()) == 0 || qs.Serial != qs.Wall-jobs(tr) || qs.Serial <= 0 {
			t.Fatalf("%v: query serial %v, wall %v, %d jobs of %v", alg, qs.Serial, qs.Wall, len(tr.Jobs()), jobs(tr))
		}
		checkBusy(t, fmt.Sprintf("%v queries", alg), qs.Busy, jobs(tr))
	}
	pool.SetTrace(nil)
}

// checkBusy checks a phase's busy times by worker against its pool jobs'
// wall time: one per worker of the pool (2), none longer than the jobs,
// some work done.
func checkBusy(t *testing.T, what string, busy []time.Duration, jobs time.Duration) {
	t.Helper()
	var sum time.Duration
	for _, b := range busy {
		if b < 0 || b > jobs {
			t.Errorf("%s: a worker busy %v in jobs of %v", what, b, jobs)
		}
		sum += b
	}
	if len(busy) != 2 || sum <= 0 {
		t.Errorf("%s: busy %v", what, busy)
	}
}

// TestParallelPaths lowers the sizes from which the build, the k-d tree,
// the Morton index and the answer rows use the pool, so that a small set
// runs those paths: the trees and the answers equal those of the default
// sizes (the serial paths at this size), for 1 and 4 workers.
func TestParallelPaths(t *testing.T) {
	n := 6000
	if testing.Short() {
		n = 3000
	}
	if raceDetector { // still above every lowered size below
		n = 1500
	}
	x := uniformPoints(n, 2, 5)
	r, err := metric.NewResidual(context.Background(), x, n, 2, metric.ResidualConfig{Lengthscale: []float64{0.05}, Inducing: 64, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	e := must(metric.NewEuclidean(x, n, 2))
	opt := KNNOptions{K: 10, Predecessor: true, Workers: 1}
	type answer struct {
		tree  *Tree
		nb    *Neighbours
		kd    *KDTree
		kdAll *Neighbours
	}
	run := func(m metric.Metric, workers int) answer {
		tr := buildOrFail(t, m, Options{Workers: workers})
		o := opt
		o.Workers = workers
		nb, _, err := tr.AllKNN(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		a := answer{tree: tr, nb: nb}
		if m == metric.Metric(e) {
			pool := streamer.NewPool(workers)
			defer pool.Close()
			kd, err := BuildKD(context.Background(), e, pool)
			if err != nil {
				t.Fatal(err)
			}
			a.kd = kd
			if a.kdAll, _, err = kd.AllKNN(context.Background(), o); err != nil {
				t.Fatal(err)
			}
		}
		return a
	}
	for _, m := range []metric.Metric{r, e} {
		want := run(m, 1)
		restore := setPoolSizes(512, 256, 2, 64, 128, 1000)
		var kd1 *KDTree
		for _, w := range []int{1, 4} {
			got := run(m, w)
			if got.kd != nil && kd1 == nil {
				kd1 = got.kd
			} else if got.kd != nil && (!slices.Equal(got.kd.ids, kd1.ids) || !slices.Equal(got.kd.nodes, kd1.nodes)) {
				t.Errorf("k-d tree, pool paths: 1 and %d workers build different trees", w)
			}
			if err := sameTree(got.tree, want.tree); err != nil {
				t.Errorf("%s, %d workers, pool paths: %v", m.Name(), w, err)
			}
			if v := got.tree.Check(); len(v) > 0 {
				t.Errorf("%s, %d workers, pool paths: %v", m.Name(), w, v[0])
			}
			if !got.nb.Equal(want.nb) {
				t.Errorf("%s, %d workers, pool paths: %s", m.Name(), w, firstDiff(got.nb, want.nb))
			}
			if want.kdAll != nil && !got.kdAll.Equal(want.kdAll) {
				t.Errorf("k-d tree, %d workers, pool paths: %s", w, firstDiff(got.kdAll, want.kdAll))
			}
		}
		restore()
	}
}

// setPoolSizes sets the sizes from which the build (bigItem, bigSplit,
// gatherChunks), the Morton index and the answer rows (partSize) and the
// k-d tree (kdTask, kdPoolCut) use the pool, until the returned function
// restores them.
func setPoolSizes(item, split, chunks, part, task, cut int) (restore func()) {
	saved := [...]int{bigItem, bigSplit, gatherChunks, partSize, kdTask, kdPoolCut}
	bigItem, bigSplit, gatherChunks, partSize, kdTask, kdPoolCut = item, split, chunks, part, task, cut
	return func() {
		bigItem, bigSplit, gatherChunks, partSize, kdTask, kdPoolCut = saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]
	}
}
