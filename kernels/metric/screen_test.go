package metric

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pcct/pcct/internal/kerneltest/every"
)

// screenCase is a metric over adversarial data for the screening bound.
type screenCase struct {
	name string
	x    []float64
	n, d int
	cfg  ResidualConfig
}

func screenCases() []screenCase {
	r := rand.New(rand.NewPCG(11, 12))
	uni := func(n, d int, scale float64) []float64 {
		x := make([]float64, n*d)
		for i := range x {
			x[i] = scale * r.Float64()
		}
		return x
	}
	near := uni(300, 3, 1)
	for i := 1; i < 300; i += 2 { // near-duplicates: pairs 1e-9 apart
		for k := range 3 {
			near[i*3+k] = near[(i-1)*3+k] + 1e-9*r.Float64()
		}
	}
	atU := uni(300, 2, 1) // every third point on an inducing point: p at the floor
	u := make([]float64, 0, 2*60)
	for i := 0; i < 180; i += 3 {
		u = append(u, atU[i*2], atU[i*2+1])
	}
	far := uni(400, 3, 1) // far from the origin, near-duplicate pairs: the float32 kernel's worst
	for i := range far {
		far[i] = 1e4 + far[i]
		if i >= 3 && i%6 < 3 {
			far[i] = far[i-3] + 1e-7*r.Float64()
		}
	}
	return []screenCase{
		{"far-offset", far, 400, 3, ResidualConfig{Lengthscale: []float64{0.05}, Inducing: 150, Seed: 6}},
		{"d8-ls1-m128", uni(1500, 8, 1), 1500, 8, ResidualConfig{Lengthscale: []float64{1}, Inducing: 128, Seed: 1}},
		{"d2-ls0.1-m100", uni(600, 2, 1), 600, 2, ResidualConfig{Lengthscale: []float64{0.1}, Inducing: 100, Seed: 2}},
		{"near-duplicates", near, 300, 3, ResidualConfig{Lengthscale: []float64{0.3}, Inducing: 50, Seed: 3}},
		{"p-at-floor", atU, 300, 2, ResidualConfig{Lengthscale: []float64{0.2}, Method: InducingExplicit, InducingPoints: u, Jitter: 1e-12}},
		{"huge-variance-matern", uni(400, 3, 1), 400, 3, ResidualConfig{Kernel: Matern52, Variance: 1e12, Lengthscale: []float64{0.5, 1, 2}, Inducing: 200, Seed: 4}},
		{"odd-m", uni(300, 4, 1), 300, 4, ResidualConfig{Lengthscale: []float64{0.7}, Inducing: 37, Seed: 5}},
	}
}

// TestScreenBound: for every pair, under every implementation, the
// screening lower bound never exceeds the square of the float64 distance,
// including pairs of a query set with the data and tiles by id; and it is
// tight where the data is structureless (d = 8).
func TestScreenBound(t *testing.T) {
	every.Impl(t, func(t *testing.T) {
		for _, c := range screenCases() {
			m, err := NewResidual(context.Background(), c.x, c.n, c.d, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.EnableScreening(); err != nil {
				t.Fatal(err)
			}
			qs, err := m.Embed(context.Background(), c.x[:50*c.d], 50)
			if err != nil {
				t.Fatal(err)
			}
			n := c.n
			ids := make([]int32, 0, n/2)
			for j := n - 1; j >= 0; j -= 2 {
				ids = append(ids, int32(j))
			}
			w := NewWorkspace()
			for _, tc := range []struct {
				what   string
				qs     *Set
				q, blk Block
			}{
				{"data x data", m.Data(), Range(0, n), Range(0, n)},
				{"queries x data by id", qs, Range(0, 50), List(ids)},
				{"data by id x data", m.Data(), List(ids[:40]), Range(3, n)},
			} {
				nq, nc := tc.q.Len(), tc.blk.Len()
				d64 := make([]float64, nq*nc)
				lo2 := make([]float64, nq*nc)
				m.Tile(w, d64, nc, tc.qs, tc.q, m.Data(), tc.blk)
				m.ScreenTile(w, lo2, nc, tc.qs, tc.q, m.Data(), tc.blk)
				gap, decided := 0.0, 0
				for k := range d64 {
					if lo2[k] > d64[k]*d64[k] || math.IsNaN(lo2[k]) {
						t.Fatalf("%s %s: pair %d: lower bound %v above d64² = %v", c.name, tc.what, k, lo2[k], d64[k]*d64[k])
					}
					gap += d64[k]*d64[k] - lo2[k]
					if d64[k] > 0.8 && lo2[k] > 0.8*0.8 {
						decided++
					}
				}
				if c.name == "d8-ls1-m128" && tc.what == "data x data" {
					far := 0
					for _, v := range d64 {
						if v > 0.8 {
							far++
						}
					}
					// Against k-th distances near 0.8, nearly every far
					// pair is decided in float32.
					if float64(decided) < 0.97*float64(far) {
						t.Fatalf("%s: %d of %d pairs beyond 0.8 decided (mean gap %.3g)", c.name, decided, far, gap/float64(len(d64)))
					}
				}
			}
		}
	})
}

// TestScreenRefusals: a float32-stored metric cannot screen; sets without
// the copy cannot be screened; a query set gets its copy (AddScreening,
// ScreenSampleOf's rows: Embed's bits) only from its own metric, after
// EnableScreening; Pack and Reorder keep it.
func TestScreenRefusals(t *testing.T) {
	x := make([]float64, 40)
	for i := range x {
		x[i] = float64(i%7) * 0.13
	}
	u := []float64{0, 0, 0.5, 0.5}
	f32, err := NewResidual(context.Background(), x, 20, 2, ResidualConfig{Float32: true, Method: InducingExplicit, InducingPoints: u, Lengthscale: []float64{3}})
	if err != nil {
		t.Fatal(err) // the float32 bound accepts these points
	}
	if f32.EnableScreening() == nil {
		t.Fatal("float32 metric accepted screening")
	}
	m, _ := NewResidual(context.Background(), x, 20, 2, ResidualConfig{Lengthscale: []float64{0.5}, Inducing: 5})
	plain := m.Data()
	if m.CanScreen(plain, plain) {
		t.Fatal("screening without the copy")
	}
	early, _ := m.Embed(context.Background(), x[:6], 3)
	if err := m.AddScreening(early); !errors.Is(err, ErrBadInput) {
		t.Fatalf("a query set screened before the metric: %v", err)
	}
	other, _ := NewResidual(context.Background(), x, 20, 2, ResidualConfig{Lengthscale: []float64{0.5}, Inducing: 4})
	alien, _ := other.Embed(context.Background(), x[:6], 3)
	if _, err := m.ScreenSampleOf(alien, []int32{0}); err == nil {
		t.Fatal("a sample of another metric's query set")
	}
	sample, err := m.ScreenSampleOf(early, []int32{2, 0})
	if err != nil || sample.N != 2 || len(sample.S32) != 2*5 || sample.V != nil {
		t.Fatalf("query sample: %v", err)
	}
	m.EnableScreening()
	if err := m.AddScreening(alien); err == nil {
		t.Fatal("another metric's query set screened")
	}
	if err := m.AddScreening(early); err != nil || !m.CanScreen(early, m.Data()) {
		t.Fatalf("AddScreening: %v", err)
	}
	late, _ := m.Embed(context.Background(), x[:6], 3)
	for i := range late.S32 {
		if late.S32[i] != early.S32[i] {
			t.Fatal("AddScreening's copy differs from Embed's")
		}
	}
	for i := range 2 { // the sample's rows are the set's
		for k := range 5 {
			if sample.S32[i*5+k] != early.S32[[]int{2, 0}[i]*5+k] {
				t.Fatal("ScreenSampleOf's rows differ from the set's copy")
			}
		}
	}
	if !m.CanScreen(m.Data(), Pack(m.Data(), List([]int32{3, 1}))) {
		t.Fatal("Pack lost the screening copy")
	}
	o, _ := Reorder(context.Background(), m, []int32{1, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, nil)
	if !o.(*Residual).CanScreen(o.Data(), o.Data()) {
		t.Fatal("Reorder lost the screening copy")
	}
}

// TestScreenRows: every candidate within a row's threshold is a hit, and
// every hit's bounds hold the float64 distance, under every
// implementation, for ranges and ids, with the queries' own points in the
// tile and infinite thresholds; through the fused float32 row and through
// the float64 kernel tile (the path of sets without Fused32).
func TestScreenRows(t *testing.T) {
	every.Impl(t, func(t *testing.T) {
		for _, c := range screenCases() {
			m, err := NewResidual(context.Background(), c.x, c.n, c.d, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			m.EnableScreening()
			if m.data.F32 == nil {
				t.Fatalf("%s: no fused inputs after EnableScreening", c.name)
			}
			fused := m.data.F32
			if (fused.rec != nil) != (c.d <= recDims) || (fused.rec != nil && len(fused.rec) != c.n) {
				t.Fatalf("%s: %d records in %d dimensions", c.name, len(fused.rec), c.d)
			}
			plain := *fused // the fused row gathering from its arrays
			plain.rec = nil
			for _, f := range []*Fused32{fused, nil} { // the fused row, then the float64 kernel tile
				m.data.F32 = f
				n := c.n
				ids := make([]int32, 0, n/3)
				for j := n - 1; j >= 0; j -= 3 {
					ids = append(ids, int32(j))
				}
				w := NewWorkspace()
				for _, blk := range []Block{Range(0, n), List(ids)} {
					q := Range(n/2, n/2+40)
					nq, nc := q.Len(), blk.Len()
					d64 := make([]float64, nq*nc)
					m.Tile(w, d64, nc, m.Data(), q, m.Data(), blk)
					kth2 := make([]float64, nq)
					for i := range kth2 {
						row := append([]float64(nil), d64[i*nc:(i+1)*nc]...)
						slices.Sort(row)
						kth2[i] = row[min(len(row)-1, 1+i%12)] * row[min(len(row)-1, 1+i%12)]
						if i%7 == 0 {
							kth2[i] = math.Inf(1)
						}
					}
					var h ScreenHits
					m.ScreenRows(w, m.Data(), q, m.Data(), blk, kth2, nil, &h)
					checkHits(t, c.name+" rows", h, d64, blk, kth2, nil)
					if f != nil {
						// Candidates gathered from the records and from the
						// arrays: the same hits, bit for bit.
						m.data.F32 = &plain
						var hp ScreenHits
						m.ScreenRows(w, m.Data(), q, m.Data(), blk, kth2, nil, &hp)
						m.data.F32 = f
						if !sameHits(h, hp) {
							t.Fatalf("%s: the records' hits differ from the arrays' (%d and %d hits)", c.name, h.Len(), hp.Len())
						}
					}
					// Both sides: every pair within its row's or its column's
					// threshold.
					ckth2 := make([]float64, nc)
					for j := range ckth2 {
						ckth2[j] = d64[(j%nq)*nc+j] * d64[(j%nq)*nc+j] * 1.2
						if j%5 == 0 {
							ckth2[j] = math.Inf(1)
						}
					}
					var hb ScreenHits
					m.ScreenBoth(w, m.Data(), q, m.Data(), blk, kth2, ckth2, &hb)
					checkHits(t, c.name+" both", hb, d64, blk, kth2, ckth2)
				}
			}
		}
	})
}

func TestUp32(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		x := math.Ldexp(r.Float64(), r.IntN(300)-200)
		if f := up32(x); !(float64(f) >= x) {
			t.Fatalf("up32(%g) = %g, below", x, f)
		}
	}
	for _, x := range []float64{0, 0x1p-149, 0x1p-160, 1, math.MaxFloat32, math.Inf(1)} {
		if f := up32(x); !(float64(f) >= x) {
			t.Fatalf("up32(%g) = %g, below", x, f)
		}
	}
}

// checkHits fails the test unless every pair of the tile (float64
// distances d64, rows by the columns blk) within sqrt(kth2[i]) of its row,
// or sqrt(ckth2[j]) of its column when ckth2 is not nil, is a hit of h,
// and every hit's bounds hold its float64 distance.
func checkHits(t *testing.T, name string, h ScreenHits, d64 []float64, blk Block, kth2, ckth2 []float64) {
	t.Helper()
	nq, nc := len(kth2), blk.Len()
	got := map[[2]int32]int{}
	for x := range h.Cand {
		got[[2]int32{h.Query[x], h.Cand[x]}] = x
	}
	for i := range nq {
		for j := range nc {
			dd := d64[i*nc+j] * d64[i*nc+j]
			x, ok := got[[2]int32{int32(i), int32(blk.At(j))}]
			if (dd <= kth2[i] || ckth2 != nil && dd <= ckth2[j]) && !ok {
				t.Fatalf("%s: row %d candidate %d at d64² %v within its bound dropped", name, i, blk.At(j), dd)
			}
			if ok && (h.Lo2[x] > dd || h.Hi2[x] < dd) {
				t.Fatalf("%s: row %d candidate %d: d64² %v outside [%v, %v]", name, i, blk.At(j), dd, h.Lo2[x], h.Hi2[x])
			}
		}
	}
}

// TestFused32Applies: the fused row's inputs exist after EnableScreening
// for both kernels, follow the points through Pack, and are left out (the
// float64 kernel tile then screens) for a variance or a spread of the
// coordinates beyond fusedLimit.
func TestFused32Applies(t *testing.T) {
	x := []float64{0, 0, 1, 0, 0, 1, 1, 1, 0.5, 0.5, 0.2, 0.7}
	for _, tc := range []struct {
		name string
		x    []float64
		cfg  ResidualConfig
		want bool
	}{
		{"rbf", x, ResidualConfig{Inducing: 3, Seed: 1}, true},
		{"matern", x, ResidualConfig{Kernel: Matern52, Inducing: 3, Seed: 1}, true},
		{"variance 1e16", x, ResidualConfig{Variance: 1e16, Inducing: 3, Seed: 1}, false},
		{"spread 1e16", append(slices.Clone(x), 1e16, 1e16), ResidualConfig{Inducing: 3, Seed: 1}, false},
	} {
		n := len(tc.x) / 2
		m, err := NewResidual(context.Background(), tc.x, n, 2, tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := m.EnableScreening(); err != nil {
			t.Fatal(err)
		}
		if got := m.Data().F32 != nil; got != tc.want {
			t.Fatalf("%s: fused inputs %v, want %v", tc.name, got, tc.want)
		}
		if !tc.want {
			continue
		}
		p := Pack(m.Data(), List([]int32{3, 1}))
		f := m.Data().F32
		for k := range 2 {
			if p.F32.XT[k*2] != f.XT[k*n+3] || p.F32.XT[k*2+1] != f.XT[k*n+1] {
				t.Fatalf("%s: packed coordinates %v, from %v", tc.name, p.F32.XT, f.XT)
			}
		}
		if p.F32.Norm[0] != f.Norm[3] || p.F32.ISP[1] != f.ISP[1] || p.F32.SW[0] != f.SW[3] {
			t.Fatalf("%s: packed norms or weights differ", tc.name)
		}
	}
}

// sameHits reports whether a and b hold the same hits, bit for bit.
func sameHits(a, b ScreenHits) bool {
	same := func(x, y []float64) bool {
		return slices.EqualFunc(x, y, func(p, q float64) bool { return math.Float64bits(p) == math.Float64bits(q) })
	}
	return slices.Equal(a.Query, b.Query) && slices.Equal(a.Cand, b.Cand) && slices.Equal(a.Col, b.Col) && same(a.Lo2, b.Lo2) && same(a.Hi2, b.Hi2)
}
