package tree

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/pcct/pcct/kernels"
	"github.com/pcct/pcct/kernels/metric"
)

func TestDebugTree(t *testing.T) {
	if os.Getenv("PCCT_DEBUG") == "" {
		t.Skip()
	}
	n, d := 8192, 2
	x := uniformPoints(n, d, 1)
	met, _ := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 512, Seed: 1})
	tr, _ := Build(context.Background(), met, Options{})
	fmt.Println("root children", len(tr.Children(0)), "root level", tr.level[0], "stats", tr.Stats)
	hist := map[int32]int{}
	for z := range n {
		hist[tr.level[z]]++
	}
	fmt.Println("levels", hist)
	var rs []float64
	for _, c := range tr.Children(0) {
		rs = append(rs, tr.radius[c])
	}
	slices.Sort(rs)
	nb, _ := BruteAllKNN(context.Background(), met, KNNOptions{K: 8})
	var kth []float64
	for i := range n {
		_, dd := nb.Row(i)
		kth = append(kth, dd[7])
	}
	slices.Sort(kth)
	fmt.Println("root-children radius quartiles", rs[len(rs)/4], rs[len(rs)/2], rs[3*len(rs)/4], "kth quartiles", kth[n/4], kth[n/2], kth[3*n/4], "slack", tr.slack)
	row := make([]float64, len(tr.Children(0)))
	met.Tile(metric.NewWorkspace(), row, len(row), met.Data(), metric.Range(5000, 5001), met.Data(), metric.List(tr.Children(0)))
	cnt := 0
	for j, c := range tr.Children(0) {
		if row[j]-tr.radius[c] <= kth[n/2] {
			cnt++
		}
	}
	fmt.Println("root children expanded for query 5000 at median kth:", cnt)
	for _, qb := range []int{1, 16, 64} {
		for _, pred := range []bool{false, true} {
			_, st, _ := tr.AllKNN(context.Background(), KNNOptions{K: 8, Predecessor: pred, QueryBlock: qb})
			fmt.Printf("qb=%d pred=%v dist/query %.0f frac %.3f\n", qb, pred, float64(st.Distances)/float64(n), float64(st.Distances)/(float64(n)*float64(n)/2))
		}
	}
}

func TestDebugSeed(t *testing.T) {
	if os.Getenv("PCCT_DEBUG") == "" {
		t.Skip()
	}
	n, d := 8192, 2
	x := uniformPoints(n, d, 1)
	met, _ := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 512, Seed: 1})
	groups := coherentGroups(met.Data(), 64, false)
	g := groups[40]
	fmt.Println("group", g[:8])
	for _, id := range g[:8] {
		fmt.Printf("(%.3f %.3f) ", x[id*2], x[id*2+1])
	}
	fmt.Println()
	best := kernels.NewKBest(n, 8)
	met.Nearest(metric.NewWorkspace(), met.Data(), metric.List(g), met.Data(), metric.List(g), metric.Offer{Best: best, Rows: g, Skip: g})
	nb, _ := BruteAllKNN(context.Background(), met, KNNOptions{K: 8})
	for _, id := range g[:10] {
		_, dd := nb.Row(int(id))
		fmt.Printf("q %d seed kth %.3f true kth %.3f\n", id, best.Worst(int(id)), dd[7])
	}
}

func TestDebugOracle(t *testing.T) {
	if os.Getenv("PCCT_DEBUG") == "" {
		t.Skip()
	}
	n, d := 8192, 2
	x := uniformPoints(n, d, 1)
	met, _ := metric.NewResidual(context.Background(), x, n, d, metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 512, Seed: 1})
	for _, base := range []float64{2, 1.5, 1.3} {
		tr, _ := Build(context.Background(), met, Options{Base: base})
		nb, _ := BruteAllKNN(context.Background(), met, KNNOptions{K: 8})
		total := 0
		w := metric.NewWorkspace()
		var one [1]float64
		for q := 0; q < n; q += 97 {
			_, dd := nb.Row(q)
			kth := dd[7]
			front := []int32{tr.root}
			for len(front) > 0 {
				z := front[len(front)-1]
				front = front[:len(front)-1]
				total++
				met.Tile(w, one[:], 1, met.Data(), metric.Range(q, q+1), met.Data(), metric.Range(int(z), int(z)+1))
				if one[0]-tr.radius[z]-tr.slack <= kth {
					front = append(front, tr.Children(int(z))...)
				}
			}
		}
		fmt.Printf("base %v: root children %d, depth %d, build dist frac %.3f, oracle dist/query %.0f\n", base, len(tr.Children(0)), tr.Stats.Depth, float64(tr.Stats.Distances)/(float64(n)*float64(n)/2), float64(total)/float64((n+96)/97))
	}
}

func TestDebugProbe(t *testing.T) {
	if os.Getenv("PCCT_DEBUG") == "" {
		t.Skip()
	}
	for _, c := range []struct {
		n, d int
		ls   float64
	}{{8192, 2, 0.1}, {32768, 2, 0.1}, {8192, 8, 1}, {32768, 8, 1}, {2000, 8, 1}, {8192, 2, 1}, {8192, 4, 0.3}} {
		x := uniformPoints(c.n, c.d, 1)
		met, _ := metric.NewResidual(context.Background(), x, c.n, c.d, metric.ResidualConfig{Lengthscale: []float64{c.ls}, Inducing: 512, Seed: 1})
		near, kth := probe(met, KNNOptions{K: 8})
		fmt.Printf("%+v near %.3f kth %.3f\n", c, near, kth)
	}
}
