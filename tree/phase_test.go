package tree

import (
	"context"
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
		tr = streamer.NewTrace()
		pool.SetTrace(tr)
		_, qs, err := tree.AllKNN(context.Background(), KNNOptions{K: 5, Predecessor: true, Pool: pool})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Jobs()) == 0 || qs.Serial != qs.Wall-jobs(tr) || qs.Serial <= 0 {
			t.Fatalf("%v: query serial %v, wall %v, %d jobs of %v", alg, qs.Serial, qs.Wall, len(tr.Jobs()), jobs(tr))
		}
	}
	pool.SetTrace(nil)
}
