package tree

import (
	"cmp"
	"context"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcct/pcct/kernels/metric"
	"github.com/pcct/pcct/streamer"
)

// TestRadixOrder checks the radix sort against a stable comparison sort:
// codes of every width (one digit, digits shared by all, all 64 bits),
// many equal codes, and the sizes 0 and 1.
func TestRadixOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pool := streamer.NewPool(3)
	defer pool.Close()
	for _, n := range []int{0, 1, 2, 7, 1000, 5000, 3*partSize + 17} {
		for _, mask := range []uint64{0, 1, 0x7ff, 0xfff000, 1<<62 - 1, ^uint64(0)} {
			codes := make([]uint64, n)
			for i := range codes {
				codes[i] = rng.Uint64() & mask
				if i%5 == 0 && i > 0 {
					codes[i] = codes[rng.IntN(i)] // repeats
				}
			}
			want := make([]int32, n)
			for i := range want {
				want[i] = int32(i)
			}
			slices.SortStableFunc(want, func(a, b int32) int { return cmp.Compare(codes[a], codes[b]) })
			got, sorted := radixOrder(codes, pool, nil)
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d mask=%x: order differs", n, mask)
			}
			for p, id := range got {
				if sorted[p] != codes[id] {
					t.Fatalf("n=%d mask=%x: code at %d is %x, want %x", n, mask, p, sorted[p], codes[id])
				}
			}
		}
	}
}

// TestByBand checks the band order against a stable sort by bit length,
// and with sub-bands by bit length and the next bits.
func TestByBand(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	order := rng.Perm(3000)
	ids := make([]int32, len(order))
	for i, v := range order {
		ids[i] = int32(v)
	}
	want := slices.Clone(ids)
	slices.SortStableFunc(want, func(a, b int32) int { return bits.Len32(uint32(a)) - bits.Len32(uint32(b)) })
	if got := byBand(ids, idKey, 0); !slices.Equal(got, want) {
		t.Fatal("band order differs from a stable sort by bit length")
	}
	// With sub-bands: by bit length, then by the next two bits.
	slices.SortStableFunc(want, func(a, b int32) int { return subBandOf(a, 2) - subBandOf(b, 2) })
	if got := byBand(ids, idKey, 2); !slices.Equal(got, want) {
		t.Fatal("sub-band order differs from a stable sort by bit length and the next two bits")
	}
}

// TestFlatSubBands: a predecessor job on a flat tree (structureless data:
// d = 8, lengthscale 1) takes its groups in sub-band order and answers as
// brute force; a structured tree (d = 2, lengthscale 0.1) is not flat and
// keeps whole bands (its groups' keys go back to lower sub-bands).
func TestFlatSubBands(t *testing.T) {
	for _, c := range []struct {
		d    int
		ls   float64
		flat bool
	}{{8, 1, true}, {2, 0.1, false}} {
		const n = 3000
		m, err := metric.NewResidual(context.Background(), uniformPoints(n, c.d, 11), n, c.d, metric.ResidualConfig{Lengthscale: []float64{c.ls}, Inducing: 64, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		tr := buildOrFail(t, m, Options{Workers: 2})
		if tr.flat() != c.flat {
			t.Fatalf("d = %d: flat %v, want %v", c.d, tr.flat(), c.flat)
		}
		// The groups, in order, follow the bands: their keys' bands never
		// go down, and on the flat tree neither do their sub-bands.
		opt := allOptions(KNNOptions{K: 8, Predecessor: true, Workers: 2})
		band, sub, down := 0, 0, 0
		for _, g := range tr.allGroups(opt, nil) {
			for _, k := range g.keys {
				if b := subBandOf(k, 0); b < band {
					t.Fatalf("d = %d: key %d goes back to band %d after band %d", c.d, k, b, band)
				} else {
					band = b
				}
				if b := subBandOf(k, subBands); b < sub {
					down++
				} else {
					sub = b
				}
			}
		}
		if c.flat != (down == 0) {
			t.Fatalf("d = %d: keys go back to a lower sub-band %d times", c.d, down)
		}
		want, err := BruteAllKNN(context.Background(), m, opt)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := tr.AllKNN(context.Background(), opt)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("d = %d: %s", c.d, firstDiff(got, want))
		}
	}
}

// subBandOf is byBand's band of key k with sub-bands sub, written out
// again as the tests' reference.
func subBandOf(k int32, sub int) int {
	l := bits.Len32(uint32(k))
	if l-1 < sub {
		return l << sub
	}
	return l<<sub | int(k>>(l-1-sub))&(1<<sub-1)
}
