package kernels

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
)

// Differential fuzzing: every available implementation must agree with the
// generic twin on the same input.

// byteVal maps a byte to a small float, NaN or an infinity, so that sums
// cannot overflow and reassociation cannot change which outputs are special.
func byteVal(b byte) float64 {
	switch b {
	case 255:
		return math.NaN()
	case 254:
		return math.Inf(1)
	case 253:
		return math.Inf(-1)
	}
	return (float64(b) - 126) / 16
}

// FuzzDotTile also checks DotTileRows against DotTile on copied rows.
func FuzzDotTile(f *testing.F) {
	f.Add(uint8(3), uint8(5), []byte("the quick brown fox jumps over the lazy dog, again and again and again"))
	f.Add(uint8(4), uint8(6), []byte{1, 2, 3, 255, 4, 5, 6, 7, 8, 9, 10, 254, 12, 13, 14, 15, 16, 17, 18})
	f.Fuzz(func(t *testing.T, q8, c8 uint8, data []byte) {
		q, c := int(q8%9)+1, int(c8%13)+1
		m := len(data) / (q + c)
		a := make([]float64, q*m)
		b := make([]float64, c*m)
		for i := range a {
			a[i] = byteVal(data[i])
		}
		for i := range b {
			b[i] = byteVal(data[q*m+i])
		}
		want := make([]float64, q*c)
		withImpl(t, ImplGeneric, func() { DotTile(want, c, a, m, b, m, q, c, m) })
		// Rows of b picked by id (repeats allowed), and the same rows copied.
		rows := make([]int32, c)
		picked := make([]float64, c*m)
		for j := range rows {
			if len(data) > 0 {
				rows[j] = int32(int(data[j%len(data)]) % c)
			}
			copy(picked[j*m:(j+1)*m], b[int(rows[j])*m:int(rows[j]+1)*m])
		}
		for _, impl := range List() {
			got := make([]float64, q*c)
			withImpl(t, impl, func() { DotTile(got, c, a, m, b, m, q, c, m) })
			for i := range got {
				special, ok := sameSpecial(got[i], want[i])
				if !ok || (!special && math.Abs(got[i]-want[i]) > 1e-12*float64(m+1)*256) {
					t.Fatalf("%s q=%d c=%d m=%d: g[%d] = %v, generic %v", impl, q, c, m, i, got[i], want[i])
				}
			}
			// DotTileRows equals DotTile on the copied rows, bit for bit.
			byRows, onCopy := make([]float64, q*c), make([]float64, q*c)
			withImpl(t, impl, func() {
				DotTileRows(byRows, c, a, m, b, m, rows, q, m)
				DotTile(onCopy, c, a, m, picked, m, q, c, m)
			})
			for i := range byRows {
				if math.Float64bits(byRows[i]) != math.Float64bits(onCopy[i]) && !(math.IsNaN(byRows[i]) && math.IsNaN(onCopy[i])) {
					t.Fatalf("%s q=%d c=%d m=%d rows %v: g[%d] = %v by rows, %v on a copy", impl, q, c, m, rows, i, byRows[i], onCopy[i])
				}
			}
		}
	})
}

func FuzzResidualRow(f *testing.F) {
	f.Add([]byte("residual rows of any length, with whatever bits the fuzzer likes......"), 0.5, 1e3)
	f.Fuzz(func(t *testing.T, data []byte, r, sq float64) {
		vals := make([]float64, len(data)/8)
		for i := range vals {
			vals[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
		n := len(vals) / 3
		k, g, sc := vals[:n], vals[n:2*n], vals[2*n:3*n]
		want := make([]float64, n)
		wantIdx := make([]int32, n)
		var wantHits int
		withImpl(t, ImplGeneric, func() { wantHits = ResidualRow(want, k, g, sc, sq, r, wantIdx) })
		for _, impl := range List() {
			got := make([]float64, n)
			idx := make([]int32, n)
			var hits int
			withImpl(t, impl, func() { hits = ResidualRow(got, k, g, sc, sq, r, idx) })
			for j := range got {
				if math.Float64bits(got[j]) != math.Float64bits(want[j]) && !(math.IsNaN(got[j]) && math.IsNaN(want[j])) {
					t.Fatalf("%s: d[%d] = %v, generic %v", impl, j, got[j], want[j])
				}
			}
			if !slices.Equal(idx[:hits], wantIdx[:wantHits]) {
				t.Fatalf("%s: hits %v, generic %v", impl, idx[:hits], wantIdx[:wantHits])
			}
		}
	})
}

func FuzzCoordTiles(f *testing.F) {
	f.Add(uint8(2), []byte("coordinates for a kernel tile and a euclidean row, any length at all"), 1.0)
	f.Fuzz(func(t *testing.T, d8 uint8, data []byte, r float64) {
		d := int(d8 % 6)
		a := make([]float64, d)
		for i := range a {
			if i < len(data) {
				a[i] = byteVal(data[i])
			}
		}
		rest := data[min(d, len(data)):]
		c := 0
		if d > 0 {
			c = len(rest) / d
		}
		bt := make([]float64, d*c)
		for i := range bt {
			bt[i] = byteVal(rest[i])
		}
		type out struct {
			rbf, mat, euc []float64
			idx           []int32
		}
		run := func() out {
			o := out{make([]float64, c), make([]float64, c), make([]float64, c), make([]int32, c)}
			RBFTile(o.rbf, c, a, d, bt, c, 1, c, d, 1)
			MaternTile(o.mat, c, a, d, bt, c, 1, c, d, 1)
			h := EuclidRow(o.euc, a, bt, c, c, r, o.idx)
			o.idx = o.idx[:h]
			return o
		}
		var want out
		withImpl(t, ImplGeneric, func() { want = run() })
		for _, impl := range List() {
			var got out
			withImpl(t, impl, func() { got = run() })
			for j := 0; j < c; j++ {
				for _, p := range [][2]float64{{got.rbf[j], want.rbf[j]}, {got.mat[j], want.mat[j]}, {got.euc[j], want.euc[j]}} {
					special, ok := sameSpecial(p[0], p[1])
					if !ok || (!special && math.Abs(p[0]-p[1]) > 1e-12*math.Abs(p[1])+1e-300) {
						t.Fatalf("%s d=%d c=%d col %d: %v, generic %v", impl, d, c, j, p[0], p[1])
					}
				}
			}
			// The hit lists follow each implementation's own distances.
			var own []int32
			for j, v := range got.euc {
				if v <= r {
					own = append(own, int32(j))
				}
			}
			if !slices.Equal(got.idx, own) {
				t.Fatalf("%s: hits %v, distances say %v", impl, got.idx, own)
			}
		}
	})
}

// FuzzKBest: KBest fed candidates in any order keeps exactly the k smallest
// (distance, index) pairs, as a sort does; with an even k8, ties go by a
// Rank that reverses the indices.
func FuzzKBest(f *testing.F) {
	f.Add(uint8(3), []byte{5, 1, 5, 2, 9, 0, 5, 7, 1, 1})
	f.Add(uint8(4), []byte{5, 1, 5, 2, 9, 0, 5, 7, 1, 1, 3, 2})
	f.Fuzz(func(t *testing.T, k8 uint8, data []byte) {
		k := int(k8%9) + 1
		var cs []kbestCand
		b := NewKBest(1, k)
		key := func(j int32) int { return int(j) }
		if k8%2 == 0 {
			b.Rank = make([]int32, 256)
			for j := range b.Rank {
				b.Rank[j] = int32(255 - j)
			}
			key = func(j int32) int { return 255 - int(j) }
		}
		for i := 0; i+1 < len(data); i += 2 {
			c := kbestCand{int32(data[i]), float64(data[i+1] % 7)} // many ties
			if data[i+1] == 255 {
				c.d = math.NaN()
			}
			if slices.ContainsFunc(cs, func(x kbestCand) bool { return x.j == c.j }) {
				continue // one distance per index, as in a real search
			}
			cs = append(cs, c)
			b.Push(0, c.j, c.d)
		}
		cs = slices.DeleteFunc(cs, func(c kbestCand) bool { return math.IsNaN(c.d) })
		sortCands(cs, key)
		checkRow(t, b, cs, "fuzzed row")
	})
}
