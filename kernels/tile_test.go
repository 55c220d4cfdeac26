package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest"
)

// tileSizes covers every length up to four AVX-512 vectors (eight AVX2
// ones, euclidHitsRow's block) + 3, and some large ones.
func tileSizes() []int {
	var s []int
	for n := 0; n <= 4*8+3; n++ {
		s = append(s, n)
	}
	return append(s, 64, 100, 257, 1000)
}

func ulpDiff(got, want float64) float64 {
	if got == want {
		return 0
	}
	return math.Abs(got-want) / math.Abs(want) / 0x1p-52
}

// TestExpAccuracy measures the vectorised exp through the RBF row with one
// coordinate: a = 0, bt = t gives x = -round(t*t)/2 exactly, which Go can
// reproduce, so the row's output is exp(x) for known x.
func TestExpAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n = 20000
	bt := make([]float64, n)
	for j := range bt {
		switch j {
		case 0:
			bt[j] = 0
		case 1:
			bt[j] = math.Sqrt(2 * 708.4)
		case 2:
			bt[j] = math.Sqrt(2 * 744.4)
		case 3:
			bt[j] = math.Sqrt(2 * 800)
		case 4:
			bt[j] = math.Inf(1)
		default:
			bt[j] = math.Sqrt(2 * 745 * r.Float64() * r.Float64())
		}
	}
	forEachImpl(t, func(t *testing.T) {
		out := make([]float64, n)
		RBFTile(out, n, []float64{0}, 1, bt, n, 1, n, 1, 1)
		worst := 0.0
		for j, got := range out {
			x := -0.5 * (bt[j] * bt[j])
			want := math.Exp(x)
			if want < 0x1p-1022 {
				if !(math.Abs(got-want) <= 0x1p-1073) {
					t.Fatalf("exp(%g) = %g, want %g (subnormal range)", x, got, want)
				}
				continue
			}
			worst = max(worst, ulpDiff(got, want))
		}
		if worst > ExpMaxULP {
			t.Fatalf("exp max error %.3f ulp > %d", worst, ExpMaxULP)
		}
		t.Logf("exp max error %.3f ulp over [-745, 0]", worst)
	})
}

type coordCase struct {
	q, c, d, lda, ldbt int
	a, bt              []float64
}

func newCoordCase(r *rand.Rand, t *testing.T, q, c, d int) coordCase {
	cc := coordCase{q: q, c: c, d: d, lda: d + r.IntN(2), ldbt: c + r.IntN(3)}
	cc.a = randSlice(r, q*cc.lda+1, -2, 2)[1:] // unaligned start
	if d > 0 {
		cc.bt = kerneltest.Guarded(t, (d-1)*cc.ldbt+c)
		for i := range cc.bt {
			cc.bt[i] = -2 + 4*r.Float64()
		}
	}
	return cc
}

// runTile computes a tile with a guard band between rows and around it, and
// checks the guards.
func runTile(t *testing.T, cc coordCase, f func(out []float64, ldo int)) []float64 {
	ldo := cc.c + 3
	buf := make([]float64, 4+cc.q*ldo+4)
	kerneltest.Fill(buf, kerneltest.GuardVal)
	out := buf[4 : 4+cc.q*ldo]
	f(out, ldo)
	for i := 0; i < cc.q; i++ {
		for j := cc.c; j < ldo; j++ {
			if math.Float64bits(out[i*ldo+j]) != math.Float64bits(kerneltest.GuardVal) {
				t.Fatalf("q=%d c=%d d=%d: guard between rows overwritten", cc.q, cc.c, cc.d)
			}
		}
	}
	kerneltest.CheckGuards(t, buf, 4, 4+cc.q*ldo, "tile")
	res := make([]float64, cc.q*cc.c)
	for i := 0; i < cc.q; i++ {
		copy(res[i*cc.c:], out[i*ldo:i*ldo+cc.c])
	}
	return res
}

func TestCoordTiles(t *testing.T) {
	type tileFn struct {
		name string
		run  func(cc coordCase, out []float64, ldo int)
		tol  func(r2 float64, d int) float64 // relative, in eps
	}
	fns := []tileFn{
		{"rbf", func(cc coordCase, out []float64, ldo int) {
			RBFTile(out, ldo, cc.a, cc.lda, cc.bt, cc.ldbt, cc.q, cc.c, cc.d, 1.7)
		}, func(r2 float64, d int) float64 { return r2/2*float64(d+2) + 6 }},
		{"matern52", func(cc coordCase, out []float64, ldo int) {
			MaternTile(out, ldo, cc.a, cc.lda, cc.bt, cc.ldbt, cc.q, cc.c, cc.d, 0.6)
		}, func(r2 float64, d int) float64 { return (math.Sqrt(5*r2)+1)*float64(d+2) + 6 }},
		{"euclid", func(cc coordCase, out []float64, ldo int) {
			EuclidTile(out, ldo, cc.a, cc.lda, cc.bt, cc.ldbt, cc.q, cc.c, cc.d)
		}, func(r2 float64, d int) float64 { return float64(d + 2) }},
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, fn := range fns {
		t.Run(fn.name, func(t *testing.T) {
			for _, d := range []int{0, 1, 2, 3, 8, 17} {
				for _, c := range tileSizes() {
					q := 1 + r.IntN(3)
					cc := newCoordCase(r, t, q, c, d)
					var want []float64
					withImpl(t, ImplGeneric, func() { want = runTile(t, cc, func(o []float64, l int) { fn.run(cc, o, l) }) })
					forEachImpl(t, func(t *testing.T) {
						got := runTile(t, cc, func(o []float64, l int) { fn.run(cc, o, l) })
						for i := 0; i < q; i++ {
							for j := 0; j < c; j++ {
								r2 := sqdistGeneric(cc.a[i*cc.lda:i*cc.lda+d], cc.bt, cc.ldbt, j)
								g, w := got[i*c+j], want[i*c+j]
								// Finite inputs: NaN means an entry never written.
								if tol := fn.tol(r2, d) * 0x1p-52 * math.Abs(w); !(math.Abs(g-w) <= tol+1e-300) {
									t.Fatalf("d=%d c=%d [%d][%d]: %v, generic %v (r2 %g)", d, c, i, j, g, w, r2)
								}
							}
						}
					})
				}
			}
		})
	}
}

func TestCoordTilesSpecial(t *testing.T) {
	// NaN, +-Inf and subnormal coordinates: every implementation agrees with
	// the generic twin on NaN and infinities.
	const c, d = 19, 3
	bt := make([]float64, d*c)
	r := rand.New(rand.NewPCG(11, 12))
	for i := range bt {
		bt[i] = r.Float64()
	}
	bt[0*c+2] = math.NaN()
	bt[1*c+5] = math.Inf(1)
	bt[2*c+7] = math.Inf(-1)
	bt[0*c+11] = 0x1p-1070
	a := []float64{0.5, 0x1p-1060, -0.25}
	rows := map[string]func(out []float64){
		"rbf":    func(out []float64) { RBFTile(out, c, a, d, bt, c, 1, c, d, 1) },
		"matern": func(out []float64) { MaternTile(out, c, a, d, bt, c, 1, c, d, 1) },
		"euclid": func(out []float64) { EuclidTile(out, c, a, d, bt, c, 1, c, d) },
	}
	for name, f := range rows {
		want := make([]float64, c)
		withImpl(t, ImplGeneric, func() { f(want) })
		forEachImpl(t, func(t *testing.T) {
			got := make([]float64, c)
			f(got)
			for j := range got {
				special, ok := sameSpecial(got[j], want[j])
				if !ok || (!special && math.Abs(got[j]-want[j]) > 1e-14*math.Abs(want[j])) {
					t.Fatalf("%s[%d] = %v, generic %v", name, j, got[j], want[j])
				}
			}
		})
	}
}

func TestEuclidRowRadius(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, c := range tileSizes() {
		d := 1 + r.IntN(4)
		cc := newCoordCase(r, t, 1, c, d)
		if c > 3 {
			cc.bt[1] = math.NaN()
		}
		forEachImpl(t, func(t *testing.T) {
			for _, rad := range []float64{-1, 0, 1, 2.5, math.Inf(1)} {
				out := make([]float64, c)
				idx := make([]int32, c+8)
				fill32(idx, -7)
				hits := EuclidRow(out, cc.a[:d], cc.bt, cc.ldbt, c, rad, idx)
				var want []int32
				for j, v := range out {
					if v <= rad {
						want = append(want, int32(j))
					}
				}
				if !slices.Equal(idx[:hits], want) {
					t.Fatalf("c=%d r=%g: hits %v, want %v", c, rad, idx[:hits], want)
				}
				for _, v := range idx[hits:] {
					if v != -7 {
						t.Fatalf("c=%d r=%g: wrote past the hits: %v", c, rad, idx)
					}
				}
			}
		})
	}
}

func fill32(s []int32, v int32) {
	for i := range s {
		s[i] = v
	}
}

// residualInputs makes a row of plausible residual inputs: k near g so that
// rho spans [-1, 1] and beyond.
func residualInputs(r *rand.Rand, n int) (k, g, sc []float64) {
	k, g, sc = make([]float64, n), make([]float64, n), make([]float64, n)
	for j := range k {
		g[j] = r.Float64()
		k[j] = g[j] + (r.Float64()-0.5)*2e-6
		sc[j] = 1 / math.Sqrt(1e-6*(0.5+r.Float64()))
	}
	return
}

func TestResidualRow(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range tileSizes() {
		k, g, sc := residualInputs(r, n)
		if n > 5 {
			k[3], g[4], sc[5] = math.NaN(), math.Inf(1), math.Inf(1)
		}
		sq := 1 / math.Sqrt(1e-6)
		for _, rad := range []float64{-1, 0, 0.5, 0.9, math.Inf(1)} {
			want := make([]float64, n)
			wantIdx := make([]int32, n)
			var wantHits int
			withImpl(t, ImplGeneric, func() { wantHits = ResidualRow(want, k, g, sc, sq, rad, wantIdx) })
			forEachImpl(t, func(t *testing.T) {
				buf := make([]float64, n+2)
				kerneltest.Fill(buf, kerneltest.GuardVal)
				got := buf[1 : n+1]
				idx := make([]int32, n)
				hits := ResidualRow(got, k, g, sc, sq, rad, idx)
				kerneltest.CheckGuards(t, buf, 1, n+1, "residual")
				for j := range got {
					if math.Float64bits(got[j]) != math.Float64bits(want[j]) && !(math.IsNaN(got[j]) && math.IsNaN(want[j])) {
						t.Fatalf("n=%d: d[%d] = %v, generic %v (must be bit-identical)", n, j, got[j], want[j])
					}
				}
				if !slices.Equal(idx[:hits], wantIdx[:wantHits]) {
					t.Fatalf("n=%d r=%g: hits %v, generic %v", n, rad, idx[:hits], wantIdx[:wantHits])
				}
			})
		}
	}
}

func TestResidualRowAliasing(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	n := 37
	k, g, sc := residualInputs(r, n)
	want := make([]float64, n)
	withImpl(t, ImplGeneric, func() { ResidualRow(want, k, g, sc, 1e3, -1, nil) })
	forEachImpl(t, func(t *testing.T) {
		for _, which := range []string{"k", "g"} {
			kk, gg := slices.Clone(k), slices.Clone(g)
			dst := kk
			if which == "g" {
				dst = gg
			}
			ResidualRow(dst, kk, gg, sc, 1e3, -1, nil)
			if !slices.Equal(dst, want) {
				t.Fatalf("dst aliasing %s: got %v want %v", which, dst, want)
			}
		}
	})
}

func TestResidualTileSelf(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	q, c := 3, 10
	k, g, sc := residualInputs(r, q*c)
	sq := []float64{1e3, 1e3, 1e3}
	dst := make([]float64, q*c)
	ResidualTile(dst, c, k, c, g, c, sq, sc[:c], q, c, []int{4, -1, 9})
	if dst[0*c+4] != 0 || dst[2*c+9] != 0 {
		t.Fatalf("self distances not zero: %v %v", dst[4], dst[2*c+9])
	}
	for j := 0; j < c; j++ {
		if v := dst[1*c+j]; v < 0 || v > 1 {
			t.Fatalf("distance %v out of [0, 1]", v)
		}
	}
}

func TestKBest(t *testing.T) {
	b := NewKBest(1, 3)
	for _, p := range []struct {
		j int32
		d float64
	}{{5, 0.5}, {2, 0.5}, {9, 0.1}, {7, math.NaN()}, {1, 0.7}, {3, 0.5}, {0, 0.5}} {
		b.Push(0, p.j, p.d)
	}
	idx, dist := b.Row(0)
	if !slices.Equal(idx, []int32{9, 0, 2}) || !slices.Equal(dist, []float64{0.1, 0.5, 0.5}) {
		t.Fatalf("KBest row = %v %v, want [9 0 2] [0.1 0.5 0.5]", idx, dist)
	}
	e := NewKBest(2, 2)
	e.Push(1, 4, 0.3)
	if idx, dist := e.Row(1); idx[0] != 4 || idx[1] != -1 || !math.IsInf(dist[1], 1) {
		t.Fatalf("padding: %v %v", idx, dist)
	}
	// An unset KBest, each row emptied before use, behaves as NewKBest's.
	u := NewKBestUnset(2, 2)
	u.ResetRow(1)
	u.Push(1, 4, 0.3)
	if idx, dist := u.Row(1); !slices.Equal(idx, []int32{4, -1}) || !math.IsInf(dist[1], 1) {
		t.Fatalf("unset, row reset: %v %v", idx, dist)
	}
	if idx, dist := u.Row(0); !slices.Equal(idx, []int32{0, 0}) || dist[0] != 0 {
		t.Fatalf("unset row before its reset: %v %v, want zeros", idx, dist)
	}
}

// TestRowKNN checks the k-nearest variants against a sort of the full row,
// ties to the lower index, for both metrics.
func TestRowKNN(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 5, 9, 33, 300} {
		k, g, sc := residualInputs(r, n)
		for j := 0; j < n; j += 4 { // ties
			k[j], g[j], sc[j] = k[0], g[0], sc[0]
		}
		const d = 2
		bt := randSlice(r, d*n, 0, 1)
		for j := 1; j < n; j += 3 { // duplicate points
			bt[j], bt[n+j] = bt[0], bt[n]
		}
		a := []float64{0.3, 0.6}
		forEachImpl(t, func(t *testing.T) {
			for _, kk := range []int{1, 4, 8} {
				check := func(name string, dist []float64, best *KBest) {
					order := make([]int, n)
					for j := range order {
						order[j] = j
					}
					slices.SortStableFunc(order, func(x, y int) int {
						if dist[x] < dist[y] {
							return -1
						} else if dist[x] > dist[y] {
							return 1
						}
						return 0
					})
					idx, bd := best.Row(0)
					for p := 0; p < kk; p++ {
						if p >= n {
							if idx[p] != -1 {
								t.Fatalf("%s n=%d k=%d: slot %d = %d, want -1", name, n, kk, p, idx[p])
							}
							continue
						}
						if int(idx[p])-100 != order[p] || bd[p] != dist[order[p]] {
							t.Fatalf("%s n=%d k=%d: got %v %v, want order %v", name, n, kk, idx, bd, order[:min(n, kk)])
						}
					}
				}
				best := NewKBest(1, kk)
				dst := make([]float64, n)
				ResidualRowKNN(best, 0, dst, k, g, sc, 1e3, nil, 100, make([]int32, n))
				check("residual", dst, best)
				best = NewKBest(1, kk)
				out := make([]float64, n)
				ids := make([]int32, n)
				for j := range ids {
					ids[j] = int32(100 + j)
				}
				EuclidRowKNN(best, 0, out, a, bt, n, ids, 0, make([]int32, n))
				check("euclid", out, best)
			}
		})
	}
}

func BenchmarkResidualRow(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	benchImpls(b, func(b *testing.B) {
		for _, n := range []int{256, 4096} {
			k, g, sc := residualInputs(r, n)
			dst := make([]float64, n)
			idx := make([]int32, n)
			b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
				for b.Loop() {
					ResidualRow(dst, k, g, sc, 1e3, 0.5, idx)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "dist/s")
			})
		}
	})
}

func BenchmarkRBFTile(b *testing.B) { benchCoordTile(b, RBFTile) }

func BenchmarkMaternTile(b *testing.B) { benchCoordTile(b, MaternTile) }

// benchCoordTile times a kernel tile (RBFTile, MaternTile) of 64 queries
// against 512 candidates in 2 and 8 dimensions.
func benchCoordTile(b *testing.B, tile func(out []float64, ldo int, a []float64, lda int, bt []float64, ldbt int, q, c, d int, s2 float64)) {
	r := rand.New(rand.NewPCG(1, 1))
	benchImpls(b, func(b *testing.B) {
		for _, d := range []int{2, 8} {
			q, c := 64, 512
			a := randSlice(r, q*d, 0, 1)
			bt := randSlice(r, d*c, 0, 1)
			out := mapped[float64](q * c)
			b.Run(fmt.Sprintf("q=%d/c=%d/d=%d", q, c, d), func(b *testing.B) {
				for b.Loop() {
					tile(out, c, a, d, bt, c, q, c, d, 1)
				}
				b.ReportMetric(float64(q*c)*float64(b.N)/b.Elapsed().Seconds(), "dist/s")
			})
		}
	})
}

// BenchmarkResidualTile measures a whole residual distance tile as the
// metric computes it: G = V_q V_cᵀ (DotTile), K (RBFTile) and the distances
// (ResidualTile), m = 512, d = 8.
func BenchmarkResidualTile(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	benchImpls(b, func(b *testing.B) {
		for _, s := range [][2]int{{64, 1024}, {512, 8192}} {
			q, c, m, d := s[0], s[1], 512, 8
			vq, vc := randSlice(r, q*m, -0.05, 0.05), randSlice(r, c*m, -0.05, 0.05)
			xq, xct := randSlice(r, q*d, 0, 1), randSlice(r, d*c, 0, 1)
			sq, sc := randSlice(r, q, 1, 2), randSlice(r, c, 1, 2)
			g, k := mapped[float64](q*c), mapped[float64](q*c)
			b.Run(fmt.Sprintf("q=%d/c=%d/m=%d/d=%d", q, c, m, d), func(b *testing.B) {
				for b.Loop() {
					DotTile(g, c, vq, m, vc, m, q, c, m)
					RBFTile(k, c, xq, d, xct, c, q, c, d, 1)
					ResidualTile(k, c, k, c, g, c, sq, sc, q, c, nil)
				}
				b.ReportMetric(float64(q*c)*float64(b.N)/b.Elapsed().Seconds(), "dist/s")
			})
		}
	})
}

// BenchmarkEuclidRowHits times the k-d tree's leaf scan: one query
// against a leaf of 100 points (blocks, single vectors and a tail) in 2
// and 8 dimensions, at a radius no point passes (the prefilter skips
// every square root, as in most scans of a search) and at +Inf.
func BenchmarkEuclidRowHits(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	benchImpls(b, func(b *testing.B) {
		for _, d := range []int{2, 8} {
			for _, rad := range []float64{0.01, math.Inf(1)} {
				c := 100
				a := randSlice(r, d, 0, 1)
				bt := randSlice(r, d*c, 2, 3)
				out, idx := make([]float64, c), make([]int32, c)
				b.Run(fmt.Sprintf("c=%d/d=%d/r=%g", c, d, rad), func(b *testing.B) {
					for b.Loop() {
						EuclidRowHits(out, a, bt, c, c, rad, idx)
					}
					b.ReportMetric(float64(c)*float64(b.N)/b.Elapsed().Seconds(), "dist/s")
				})
			}
		}
	})
}
