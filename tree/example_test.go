package tree_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
	"github.com/pcct/pcct/tree"
)

// points returns n seeded points uniform in the unit square.
func points(n int) []float64 {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, 2*n)
	for i := range x {
		x[i] = r.Float64()
	}
	return x
}

// The Vecchia job: every point's nearest predecessors in the residual
// metric, searched the way that suits the data.
func ExampleAllKNNSearch() {
	ctx := context.Background()
	pool := streamer.NewPool(0)
	defer pool.Close()
	const n = 2000
	m, err := metric.NewResidual(ctx, points(n), n, 2, metric.ResidualConfig{
		Lengthscale: []float64{0.1}, Inducing: 128, Seed: 1, Pool: pool})
	if err != nil {
		panic(err)
	}
	nb, _, err := tree.AllKNNSearch(ctx, m, tree.KNNOptions{K: 4, Predecessor: true, Pool: pool}, tree.SearchAuto, tree.Options{Pool: pool})
	if err != nil {
		panic(err)
	}
	want, _ := tree.BruteAllKNN(ctx, m, tree.KNNOptions{K: 4, Predecessor: true, Pool: pool})
	ids, _ := nb.Row(2)
	fmt.Println("point 2:", ids)
	fmt.Println("same as brute force:", nb.Equal(want))
	// Output:
	// point 2: [0 1 -1 -1]
	// same as brute force: true
}

// Build a tree once, query it for new points, and grow it.
func ExampleTree_Insert() {
	ctx := context.Background()
	x := points(3000)
	// The Euclidean metric over the first 2000 points, then over all 3000:
	// the first points are the same, so the tree can grow.
	m1, _ := metric.NewEuclidean(x[:2*2000], 2000, 2)
	m2, _ := metric.NewEuclidean(x, 3000, 2)
	t, err := tree.Build(ctx, m1, tree.Options{})
	if err != nil {
		panic(err)
	}
	if err := t.Insert(ctx, m2, tree.Options{}); err != nil {
		panic(err)
	}
	fmt.Println("points:", t.N(), "violations:", len(t.Check()))
	qs, _ := m2.Embed(ctx, []float64{0.5, 0.5}, 1)
	nb, _, _ := t.KNN(ctx, qs, tree.KNNOptions{K: 3})
	want, _ := tree.BruteKNN(ctx, m2, qs, tree.KNNOptions{K: 3})
	fmt.Println("same as brute force:", nb.Equal(want))
	// Output:
	// points: 3000 violations: 0
	// same as brute force: true
}

// All points' nearest neighbours with the points stored along a Morton
// curve (near in space, near in memory): the metric built in that order,
// ties by the given order, the answer turned back, the same bits as the
// given order's.
func ExampleMortonOrder() {
	ctx := context.Background()
	pool := streamer.NewPool(0)
	defer pool.Close()
	const n = 2000
	x := points(n)
	cfg := metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 128, Seed: 1, Pool: pool}
	m, err := metric.NewResidual(ctx, x, n, 2, cfg)
	if err != nil {
		panic(err)
	}
	want, _ := tree.BruteAllKNN(ctx, m, tree.KNNOptions{K: 4, Pool: pool})
	order := tree.MortonOrder(&metric.Set{N: n, D: 2, X: x}, pool)
	cfg.Order = order // point i of the metric is point order[i]
	stored, err := metric.NewResidual(ctx, x, n, 2, cfg)
	if err != nil {
		panic(err)
	}
	nb, _, err := tree.AllKNNSearch(ctx, stored, tree.KNNOptions{K: 4, Rank: order, Pool: pool}, tree.SearchTree, tree.Options{Pool: pool})
	if err != nil {
		panic(err)
	}
	nb.Unorder(order, true)
	fmt.Println(nb.Equal(want))
	// Output: true
}

// The predecessor (Vecchia) job with the points stored by index band and
// along the Morton curve within each band: the tree is built with the
// given order as its Rank, so that its predecessors are the given order's,
// and the answer turned back is the given order's, bit for bit.
func ExampleBandOrder() {
	ctx := context.Background()
	pool := streamer.NewPool(0)
	defer pool.Close()
	const n = 2000
	x := points(n)
	cfg := metric.ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 128, Seed: 1, Pool: pool}
	m, err := metric.NewResidual(ctx, x, n, 2, cfg)
	if err != nil {
		panic(err)
	}
	want, _ := tree.BruteAllKNN(ctx, m, tree.KNNOptions{K: 4, Predecessor: true, Pool: pool})
	order := tree.BandOrder(&metric.Set{N: n, D: 2, X: x}, pool)
	cfg.Order = order
	stored, err := metric.NewResidual(ctx, x, n, 2, cfg)
	if err != nil {
		panic(err)
	}
	opt := tree.KNNOptions{K: 4, Predecessor: true, Rank: order, Pool: pool}
	nb, _, err := tree.AllKNNSearch(ctx, stored, opt, tree.SearchTree, tree.Options{Pool: pool}) // builds with Options.Rank = order
	if err != nil {
		panic(err)
	}
	nb.Unorder(order, true)
	fmt.Println(nb.Equal(want))
	// Output: true
}

// The max-min ordering of five points on a line, with the second
// coordinate (all zero) scaled: the middle point first, then the ends,
// then the points between.
func ExampleOrderMaxMinCoords() {
	x := []float64{0, 0, 1, 0, 2, 0, 3, 0, 4, 0}
	order, rep, err := tree.OrderMaxMinCoords(context.Background(), x, 5, 2, []float64{1, 4}, tree.KNNOptions{Workers: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println(order, rep.Method == tree.SearchKD)
	// Output: [2 0 4 1 3] true
}
