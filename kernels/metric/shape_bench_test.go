package metric

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkTileShapes measures residual tiles of the shapes the tree runs:
// q query rows against c candidates picked at random by id (or a
// contiguous range) from n = 32768 points, m = 512.
func BenchmarkTileShapes(b *testing.B) {
	const n, d = 32768, 2
	x := randPoints(n, d, 1, 1)
	r, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 512, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, q := range []int{8, 16, 32, 64} {
		for _, c := range []int{32, 128, 512} {
			for _, mode := range []string{"ids", "range"} {
				b.Run(fmt.Sprintf("q=%d/c=%d/%s", q, c, mode), func(b *testing.B) {
					w := NewWorkspace()
					out := make([]float64, q*c)
					qs := Pack(r.Data(), Range(100, 100+q))
					var blocks []Block
					for range 64 {
						if mode == "range" {
							lo := rng.IntN(n - c)
							blocks = append(blocks, Range(lo, lo+c))
							continue
						}
						ids := make([]int32, c)
						for j := range ids {
							ids[j] = int32(rng.IntN(n))
						}
						blocks = append(blocks, List(ids))
					}
					k := 0
					for b.Loop() {
						r.Tile(w, out, c, qs, Range(0, q), r.Data(), blocks[k%64])
						k++
					}
					b.ReportMetric(float64(q*c)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mdist/s")
				})
			}
		}
	}
}
