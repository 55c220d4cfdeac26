package metric

import (
	"fmt"
	"testing"
)

// TestGathers checks gatherRows and gatherCols on each of their paths (a
// range, ids with repeats, every width they special-case and the general
// one) against the definition.
func TestGathers(t *testing.T) {
	const n = 37
	for _, w := range []int{1, 2, 3, 7, 8, 9} {
		src := make([]float64, n*w)
		for i := range src {
			src[i] = float64(i) + 0.5
		}
		for _, b := range []Block{Range(0, 0), Range(5, 17), List([]int32{36, 0, 4, 4, 19}), List(nil)} {
			t.Run(fmt.Sprintf("w=%d/%v", w, b), func(t *testing.T) {
				c := b.Len()
				rows := gatherRows(make([]float64, c*w+3), src, w, b)
				cols := gatherCols(make([]float64, c*w+3), src, w, b)
				if len(rows) != c*w || len(cols) != c*w {
					t.Fatalf("lengths %d, %d, want %d", len(rows), len(cols), c*w)
				}
				for j := range c {
					for k := range w {
						want := src[b.At(j)*w+k]
						if rows[j*w+k] != want || cols[k*c+j] != want {
							t.Fatalf("row %d col %d: gatherRows %v, gatherCols %v, want %v", j, k, rows[j*w+k], cols[k*c+j], want)
						}
					}
				}
			})
		}
	}
}
