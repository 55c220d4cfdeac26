package tree

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// TestRangeAgainstScan: range answers equal a scan of every pair, for the
// data as queries and for a query set, at several radii.
func TestRangeAgainstScan(t *testing.T) {
	const n, d = 400, 2
	for _, m := range testMetrics(t, n, d) {
		tr := buildOrFail(t, m, Options{})
		qset, _ := m.Embed(context.Background(), uniformPoints(30, d, 8), 30)
		for _, qs := range []*metric.Set{m.Data(), qset} {
			tile := make([]float64, qs.N*n)
			m.Tile(metric.NewWorkspace(), tile, n, qs, metric.Range(0, qs.N), m.Data(), metric.Range(0, n))
			for _, r := range []float64{0, 0.05, 0.3, 0.8, 2} {
				got, _, err := tr.Range(context.Background(), qs, r, KNNOptions{Workers: 3})
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < qs.N; i++ {
					k := got.Offsets[i]
					for j := 0; j < n; j++ {
						if !(tile[i*n+j] <= r) {
							continue
						}
						if k >= got.Offsets[i+1] || got.IDs[k] != int32(j) || math.Float64bits(got.Dist[k]) != math.Float64bits(tile[i*n+j]) {
							t.Fatalf("%s r=%v query %d: member %d wrong or missing (want %d at %v)", m.Name(), r, i, k, j, tile[i*n+j])
						}
						k++
					}
					if k != got.Offsets[i+1] {
						t.Fatalf("%s r=%v query %d: %d members, want %d", m.Name(), r, i, got.Offsets[i+1]-got.Offsets[i], k-got.Offsets[i])
					}
				}
			}
		}
		if _, _, err := tr.Range(context.Background(), m.Data(), math.NaN(), KNNOptions{}); !errors.Is(err, metric.ErrBadInput) {
			t.Fatalf("NaN radius: %v", err)
		}
	}
}
