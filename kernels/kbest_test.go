package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// kbestCand is a candidate offered to a KBest row.
type kbestCand struct {
	j int32
	d float64
}

// sortCands sorts candidates as a KBest row orders them: by distance,
// then by key of the index.
func sortCands(cs []kbestCand, key func(j int32) int) {
	slices.SortFunc(cs, func(a, b kbestCand) int {
		if a.d != b.d {
			if a.d < b.d {
				return -1
			}
			return 1
		}
		return key(a.j) - key(b.j)
	})
}

// checkRow checks that row 0 of b holds the first k of the sorted
// candidates want, then padding.
func checkRow(t *testing.T, b *KBest, want []kbestCand, what string) {
	t.Helper()
	idx, dist := b.Row(0)
	for p := range b.K {
		w := kbestCand{-1, math.Inf(1)}
		if p < len(want) {
			w = want[p]
		}
		if idx[p] != w.j || dist[p] != w.d {
			t.Fatalf("%s: slot %d = (%d, %v), want (%d, %v)", what, p, idx[p], dist[p], w.j, w.d)
		}
	}
}

// TestKBestPushOrder: rows of every width, fed random candidates with
// many ties (in distance, with indices in any order), hold the k smallest
// by (distance, index), or by (distance, Rank) with a Rank, as a sort of
// all of them says.
func TestKBestPushOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, k := range []int{1, 2, 7, 30, 31, 32, 33, 64, 150, 300} {
		for _, n := range []int{k / 2, k, 3 * k, 2000} {
			cs := make([]kbestCand, n)
			for x, j := range r.Perm(4 * n)[:n] { // one distance per index, as in a search
				cs[x] = kbestCand{int32(j), float64(r.IntN(n/3+1)) / 8}
			}
			for _, ranked := range []bool{false, true} {
				b := NewKBest(1, k)
				key := func(j int32) int { return int(j) }
				if ranked { // ties by a permutation of the indices
					b.Rank = make([]int32, 4*n)
					for j, p := range r.Perm(4 * n) {
						b.Rank[j] = int32(p)
					}
					key = func(j int32) int { return int(b.Rank[j]) }
				}
				for _, c := range cs {
					b.Push(0, c.j, c.d)
				}
				want := slices.Clone(cs)
				sortCands(want, key)
				checkRow(t, b, want, fmt.Sprintf("k = %d, %d candidates, ranked %v", k, n, ranked))
			}
		}
	}
}

// BenchmarkKBestPush times Push alone on rows of k: each row replays the
// candidates that went in when 1,500 random ones were offered as the walk
// offers them (only those within the row's current worst).
func BenchmarkKBestPush(b *testing.B) {
	r := rand.New(rand.NewPCG(43, 44))
	const rows, per = 64, 1500
	for _, k := range []int{8, 30, 64, 150, 300} {
		type push struct {
			j int32
			d float64
		}
		streams := make([][]push, rows)
		ref := NewKBest(1, k)
		for row := range streams {
			ref.ResetRow(0)
			for x := range per {
				if d := r.Float64(); d <= ref.Worst(0) {
					ref.Push(0, int32(x), d)
					streams[row] = append(streams[row], push{int32(x), d})
				}
			}
		}
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			best := NewKBest(1, k)
			pushes := 0
			for i := 0; b.Loop(); i++ {
				best.ResetRow(0)
				for _, p := range streams[i%rows] {
					best.Push(0, p.j, p.d)
				}
				pushes += len(streams[i%rows])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pushes), "ns/push")
		})
	}
}
