package tree

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
)

// naiveMaxMin is the max-min ordering by definition: O(n²) distances.
func naiveMaxMin(m metric.Metric, first int) []int32 {
	n := m.Data().N
	all := make([]float64, n*n)
	m.Tile(metric.NewWorkspace(), all, n, m.Data(), metric.Range(0, n), m.Data(), metric.Range(0, n))
	mind := make([]float64, n)
	chosen := make([]bool, n)
	for i := range mind {
		mind[i] = math.Inf(1)
	}
	order := []int32{}
	p := first
	for len(order) < n {
		order, chosen[p] = append(order, int32(p)), true
		for i := range n {
			mind[i] = min(mind[i], all[p*n+i])
		}
		p = -1
		for i := range n {
			if !chosen[i] && (p < 0 || mind[i] > mind[p]) {
				p = i
			}
		}
	}
	return order
}

// TestMaxMinOrder: the tree's max-min ordering equals the definition's on
// every data set and metric (duplicates and all-equal points included).
func TestMaxMinOrder(t *testing.T) {
	for _, c := range treeCases(t, 150, 2) {
		tr := buildOrFail(t, c.m, Options{})
		for _, first := range []int{0, 77} {
			got, err := tr.MaxMinOrder(context.Background(), first)
			if err != nil {
				t.Fatal(err)
			}
			if want := naiveMaxMin(c.m, first); !slices.Equal(got, want) {
				t.Fatalf("%s, first %d: order %v..., want %v...", c.name, first, got[:10], want[:10])
			}
		}
	}
	tr := buildOrFail(t, treeCases(t, 10, 2)[0].m, Options{})
	if _, err := tr.MaxMinOrder(context.Background(), 10); err == nil {
		t.Fatal("first point out of range accepted")
	}
}
