package tree

import (
	"context"
	"testing"
	"time"

	"github.com/pcct/pcct/internal/benchutil"
	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

func TestZZAB(t *testing.T) {
	n := benchutil.EnvInt("ZZ_N", 0)
	if n == 0 {
		t.Skip()
	}
	x := uniformPoints(n, 2, 1)
	met, err := metric.NewResidual(context.Background(), x, n, 2, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 256, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Build(context.Background(), met, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var tot [2]time.Duration
	for rep := 0; rep < benchutil.EnvInt("ZZ_REP", 4); rep++ {
		for v := 0; v < 2; v++ {
			zzSet(v == 1)
			_, st, err := tr.AllKNN(context.Background(), KNNOptions{K: 30, Predecessor: true, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			tot[v] += st.Wall
			t.Logf("variant %d: %.1f dist/query, %v", v, float64(st.Distances)/float64(n), st.Wall)
		}
	}
	t.Logf("totals: old %v new %v ratio %.3f", tot[0], tot[1], tot[1].Seconds()/tot[0].Seconds())
}

func zzSet(newer bool) { kernels.ZZSetPF(newer) }

func TestZZHist(t *testing.T) {
	n := benchutil.EnvInt("ZZ_N", 0)
	if n == 0 {
		t.Skip()
	}
	x := uniformPoints(n, 2, 1)
	met, _ := metric.NewResidual(context.Background(), x, n, 2, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 256, Seed: 1})
	tr, _ := Build(context.Background(), met, Options{})
	for i := range kernels.ZZHist {
		kernels.ZZHist[i].Store(0)
		kernels.ZZRows[i].Store(0)
	}
	tr.AllKNN(context.Background(), KNNOptions{K: 30, Predecessor: true, Workers: 1})
	for i := range kernels.ZZHist {
		if kernels.ZZHist[i].Load() > 0 {
			t.Logf("c < 2^%d: calls %d rows %d", i, kernels.ZZHist[i].Load(), kernels.ZZRows[i].Load())
		}
	}
}
