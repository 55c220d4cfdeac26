package tree

import (
	"cmp"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

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

// TestByBand checks the band order against a stable sort by bit length.
func TestByBand(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	order := rng.Perm(3000)
	ids := make([]int32, len(order))
	for i, v := range order {
		ids[i] = int32(v)
	}
	want := slices.Clone(ids)
	slices.SortStableFunc(want, func(a, b int32) int { return bits.Len32(uint32(a)) - bits.Len32(uint32(b)) })
	if got := byBand(ids, idKey); !slices.Equal(got, want) {
		t.Fatal("band order differs from a stable sort by bit length")
	}
}
