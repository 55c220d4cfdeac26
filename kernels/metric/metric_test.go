package metric

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func randPoints(n, d int, seed uint64, scale float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = scale * r.Float64()
	}
	return x
}

// refKernel is the kernel written out directly.
func refKernel(kind Kernel, s2 float64, a, b, l []float64) float64 {
	var r2 float64
	for k := range a {
		t := (a[k] - b[k]) / l[k]
		r2 += t * t
	}
	if kind == Matern52 {
		t := math.Sqrt(5 * r2)
		return s2 * (1 + t + t*t/3) * math.Exp(-t)
	}
	return s2 * math.Exp(-r2/2)
}

// TestResidualAgainstReference rebuilds V and p with gonum's Cholesky and a
// triangular solve per point, for both kernels and per-dimension
// lengthscales.
func TestResidualAgainstReference(t *testing.T) {
	const n, d, m = 60, 3, 17
	x := randPoints(n, d, 1, 1)
	l := []float64{0.3, 0.5, 0.8}
	for _, kind := range []Kernel{RBF, Matern52} {
		r, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Kernel: kind, Variance: 1.5, Lengthscale: l, Inducing: m, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		idx := r.InducingIndices()
		kuu := mat.NewSymDense(m, nil)
		for a := 0; a < m; a++ {
			for b := 0; b < m; b++ {
				v := refKernel(kind, 1.5, x[idx[a]*d:idx[a]*d+d], x[idx[b]*d:idx[b]*d+d], l)
				if a == b {
					v += 1e-6 * 1.5
				}
				kuu.SetSym(a, b, v)
			}
		}
		var ch mat.Cholesky
		if !ch.Factorize(kuu) {
			t.Fatal("reference Cholesky failed")
		}
		var L mat.TriDense
		ch.LTo(&L)
		data := r.Data()
		for i := 0; i < n; i++ {
			k := mat.NewVecDense(m, nil)
			for a := 0; a < m; a++ {
				k.SetVec(a, refKernel(kind, 1.5, x[i*d:i*d+d], x[idx[a]*d:idx[a]*d+d], l))
			}
			var v mat.VecDense
			if err := v.SolveVec(&L, k); err != nil {
				t.Fatal(err)
			}
			ss := 0.0
			for a := 0; a < m; a++ {
				if got := data.V[i*m+a]; !(math.Abs(got-v.AtVec(a)) <= 1e-9*(1+math.Abs(v.AtVec(a)))) {
					t.Fatalf("%v: V[%d][%d] = %g, reference %g", kind, i, a, got, v.AtVec(a))
				}
				ss += v.AtVec(a) * v.AtVec(a)
			}
			p := max(1.5-ss, 1e-9)
			if !(math.Abs(data.P[i]-p) <= 1e-9*1.5) {
				t.Fatalf("%v: p[%d] = %g, reference %g", kind, i, data.P[i], p)
			}
		}
	}
}

// TestMetricProperties: d(i,i) = 0, symmetry, 0 <= d <= 1 and the triangle
// inequality within TriangleSlack on many random triples, for both kernels,
// on uniform, clustered and duplicated data.
func TestMetricProperties(t *testing.T) {
	type dataset struct {
		name string
		n, d int
		x    []float64
		l    float64
	}
	clustered := randPoints(300, 2, 5, 0.05)
	for i := 0; i < 300; i += 10 { // exact duplicates
		copy(clustered[(i+1)*2:(i+2)*2], clustered[i*2:(i+1)*2])
	}
	sets := []dataset{
		{"uniform-d8", 300, 8, randPoints(300, 8, 4, 1), 1},
		{"uniform-d2-l0.1", 300, 2, randPoints(300, 2, 6, 1), 0.1},
		{"clustered-dups", 300, 2, clustered, 0.1},
	}
	for _, ds := range sets {
		for _, kind := range []Kernel{RBF, Matern52} {
			r, err := NewResidual(context.Background(), ds.x, ds.n, ds.d, ResidualConfig{Kernel: kind, Lengthscale: []float64{ds.l}, Inducing: 64, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			slack := r.TriangleSlack()
			if slack > 0.05 {
				t.Fatalf("%s/%v: triangle slack %g is too large to test anything", ds.name, kind, slack)
			}
			n := ds.n
			D := make([]float64, n*n)
			r.Tile(NewWorkspace(), D, n, r.Data(), Range(0, n), r.Data(), Range(0, n))
			for i := 0; i < n; i++ {
				if D[i*n+i] != 0 {
					t.Fatalf("%s/%v: d(%d,%d) = %g", ds.name, kind, i, i, D[i*n+i])
				}
				for j := 0; j < n; j++ {
					v := D[i*n+j]
					if !(v >= 0 && v <= 1) {
						t.Fatalf("%s/%v: d(%d,%d) = %g outside [0,1]", ds.name, kind, i, j, v)
					}
					if v != D[j*n+i] { // exactly symmetric

						t.Fatalf("%s/%v: d(%d,%d) = %g but d(%d,%d) = %g", ds.name, kind, i, j, v, j, i, D[j*n+i])
					}
				}
			}
			rr := rand.New(rand.NewPCG(9, 9))
			worst := 0.0
			for range 200000 {
				a, b, c := rr.IntN(n), rr.IntN(n), rr.IntN(n)
				worst = max(worst, D[a*n+c]-D[a*n+b]-D[b*n+c])
			}
			if worst > slack {
				t.Fatalf("%s/%v: triangle inequality violated by %g > slack %g", ds.name, kind, worst, slack)
			}
			t.Logf("%s/%v: worst triangle violation %.3g, slack %.3g", ds.name, kind, worst, slack)
		}
	}
}

func TestTileMatchesDist(t *testing.T) {
	const n, d = 40, 3
	x := randPoints(n, d, 8, 1)
	res, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Inducing: 10, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	euc, err := NewEuclidean(x, n, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Metric{res, euc} {
		ids := []int32{5, 0, 39, 5, 17}
		tile := make([]float64, len(ids)*n)
		m.Tile(NewWorkspace(), tile, n, m.Data(), List(ids), m.Data(), Range(0, n))
		tile2 := make([]float64, n*len(ids))
		m.Tile(NewWorkspace(), tile2, len(ids), m.Data(), Range(0, n), m.Data(), List(ids))
		for a, i := range ids {
			for j := 0; j < n; j++ {
				want := m.Dist(int(i), j)
				if tile[a*n+j] != want || tile2[j*len(ids)+a] != m.Dist(j, int(i)) {
					t.Fatalf("%s: gathered tile (%d,%d) = %v / %v, Dist %v", m.Name(), i, j, tile[a*n+j], tile2[j*len(ids)+a], want)
				}
			}
		}
		// A packed copy of some points gives the same distances, and knows
		// its own points (distance exactly 0).
		packed := Pack(m.Data(), List(ids))
		tile3 := make([]float64, len(ids)*n)
		m.Tile(NewWorkspace(), tile3, n, packed, Range(0, len(ids)), m.Data(), Range(0, n))
		for a := range ids {
			for j := 0; j < n; j++ {
				if tile3[a*n+j] != tile[a*n+j] {
					t.Fatalf("%s: packed tile (%d,%d) = %v, unpacked %v", m.Name(), ids[a], j, tile3[a*n+j], tile[a*n+j])
				}
			}
		}
		if m.Name() == "euclidean" {
			if got, want := m.Dist(3, 7), math.Sqrt(sq(x[9]-x[21])+sq(x[10]-x[22])+sq(x[11]-x[23])); !(math.Abs(got-want) <= 1e-15) {
				t.Fatalf("euclidean Dist = %v, want %v", got, want)
			}
		}
	}
}

func sq(v float64) float64 { return v * v }

func TestDeterminism(t *testing.T) {
	const n, d = 700, 4
	x := randPoints(n, d, 11, 1)
	for _, method := range []InducingMethod{InducingRandom, InducingKMeansPP} {
		a, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Inducing: 50, Seed: 5, Method: method, Pool: goRunner{1}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Inducing: 50, Seed: 5, Method: method, Pool: goRunner{4}})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range a.Data().V {
			if b.Data().V[i] != v {
				t.Fatalf("method %d: V differs between 1 and 4 workers at %d", method, i)
			}
		}
		c, _ := NewResidual(context.Background(), x, n, d, ResidualConfig{Inducing: 50, Seed: 6, Method: method})
		same := true
		for i, v := range a.Data().V {
			same = same && c.Data().V[i] == v
		}
		if same {
			t.Fatalf("method %d: a different seed gave the same V", method)
		}
	}
}

// TestKMeans: on well-separated clusters, kmeans puts one centre on each
// cluster's mean (its seeding picks each next centre far from the others,
// its Lloyd steps move it to the mean); the points' assignment is to the
// nearest centre.
func TestKMeans(t *testing.T) {
	const per, d, m = 200, 2, 5
	n := per * m
	x := randPoints(n, d, 21, 0.01) // offsets within 0.01
	means := make([]float64, m*d)
	for a := range m {
		for k := range d {
			centre := 10 * float64(a*(k+1)%7) // far apart: 10 or more
			means[a*d+k] = centre
			for i := a * per; i < (a+1)*per; i++ {
				x[i*d+k] += centre
			}
		}
	}
	for a := range m {
		for k := range d {
			var s float64
			for i := a * per; i < (a+1)*per; i++ {
				s += x[i*d+k] - means[a*d+k]
			}
			means[a*d+k] += s / per
		}
	}
	c := kmeans(x, n, d, m, 3)
	taken := make([]bool, m)
	for b := range m {
		found := false
		for a := range m {
			if !taken[a] && math.Hypot(c[b*d]-means[a*d], c[b*d+1]-means[a*d+1]) < 1e-9 {
				taken[a], found = true, true
				break
			}
		}
		if !found {
			t.Fatalf("centre %d at %v is on no cluster's mean (means %v)", b, c[b*d:(b+1)*d], means)
		}
	}
	assign := make([]int, n)
	nearestCentres(assign, x, n, d, c, m)
	for i, a := range assign {
		if i%per == 0 {
			continue
		}
		if assign[i-1] != a {
			t.Fatalf("points %d and %d of one cluster went to centres %d and %d", i-1, i, assign[i-1], a)
		}
	}
}

func TestExplicitInducing(t *testing.T) {
	const n, d = 100, 2
	x := randPoints(n, d, 12, 1)
	u := randPoints(9, d, 13, 1)
	r, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Method: InducingExplicit, InducingPoints: u, Lengthscale: []float64{0.5, 0.7}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Inducing() != 9 {
		t.Fatalf("m = %d, want 9", r.Inducing())
	}
	us, _ := r.LowRank()
	if !(math.Abs(us[1]-u[1]/0.7) <= 1e-15) {
		t.Fatalf("inducing coordinates not scaled: %v", us[:2])
	}
}

func TestFloat32(t *testing.T) {
	const n, d = 200, 2
	x := randPoints(n, d, 14, 1)
	// Smooth kernel, many points: p is tiny, the float32 bound is huge.
	_, err := NewResidual(context.Background(), x, n, d, ResidualConfig{Inducing: 50, Float32: true})
	if !errors.Is(err, ErrFloat32Refused) || !strings.Contains(err.Error(), "float32 storage refused") {
		t.Fatalf("float32 with tiny p: err = %v, want a refusal", err)
	}
	// Inducing points away from the data leave most variance residual:
	// accepted.
	u := randPoints(20, d, 15, 1)
	for i := range u {
		u[i] += 1.5
	}
	cfg := ResidualConfig{Method: InducingExplicit, InducingPoints: u, Lengthscale: []float64{0.5}, Float32: true}
	r32, err := NewResidual(context.Background(), x, n, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Float32 = false
	r64, _ := NewResidual(context.Background(), x, n, d, cfg)
	bound := r32.Float32Bound()
	if bound <= 0 || bound > Float32MaxBound {
		t.Fatalf("bound = %g", bound)
	}
	for i := 0; i < n; i += 7 {
		for j := 0; j < n; j += 3 {
			a, b := r32.Dist(i, j), r64.Dist(i, j)
			// |Δd| <= |Δrho| / (2 d) away from 0, sqrt(|Δrho|) near it.
			if !(math.Abs(a-b) <= math.Sqrt(bound)+1e-12) {
				t.Fatalf("float32 d(%d,%d) = %g, float64 %g, bound %g", i, j, a, b, bound)
			}
		}
	}
	// Candidates picked by id (read in place) give the values of the
	// range tiles, bit for bit, in float32 as in float64.
	ids := []int32{199, 3, 3, 50, 0, 120, 7}
	for _, r := range []*Residual{r32, r64} {
		got := make([]float64, 5*len(ids))
		r.Tile(NewWorkspace(), got, len(ids), r.Data(), Range(10, 15), r.Data(), List(ids))
		for i := 0; i < 5; i++ {
			for j, id := range ids {
				if want := r.Dist(10+i, int(id)); got[i*len(ids)+j] != want {
					t.Fatalf("float32=%v: listed d(%d,%d) = %v, want %v", r.Float32Bound() > 0, 10+i, id, got[i*len(ids)+j], want)
				}
			}
		}
	}
}

func TestBadInputs(t *testing.T) {
	x := randPoints(10, 2, 1, 1)
	nan := randPoints(10, 2, 1, 1)
	nan[7] = math.NaN()
	inf := randPoints(10, 2, 1, 1)
	inf[4] = math.Inf(-1)
	dupU := []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}
	cases := []struct {
		name string
		x    []float64
		n, d int
		cfg  ResidualConfig
		want string
		is   error // the sentinel the error must match (nil: a *CholeskyError)
	}{
		{"nan", nan, 10, 2, ResidualConfig{}, "point 3, coordinate 1 is NaN", ErrBadInput},
		{"inf", inf, 10, 2, ResidualConfig{}, "point 2, coordinate 0 is -Inf", ErrBadInput},
		{"shape", x[:19], 10, 2, ResidualConfig{}, "want n x d", ErrBadInput},
		{"empty", nil, 0, 2, ResidualConfig{}, "no points", ErrBadInput},
		{"variance", x, 10, 2, ResidualConfig{Variance: -1}, "variance must be positive", ErrBadInput},
		{"lengthscale", x, 10, 2, ResidualConfig{Lengthscale: []float64{1, 0}}, "lengthscale of dimension 1 must be positive", ErrBadInput},
		{"lengthscales", x, 10, 2, ResidualConfig{Lengthscale: []float64{1, 2, 3}}, "3 lengthscales for 2 dimensions", ErrBadInput},
		{"inducing>n", x, 10, 2, ResidualConfig{Inducing: 11}, "larger than the number of points", ErrBadInput},
		{"singular", x, 10, 2, ResidualConfig{Method: InducingExplicit, InducingPoints: dupU, Jitter: 1e-300}, "Cholesky factorisation", nil},
		{"explicit-shape", x, 10, 2, ResidualConfig{Method: InducingExplicit, InducingPoints: []float64{1, 2, 3}}, "whole number", ErrBadInput},
	}
	for _, c := range cases {
		_, err := NewResidual(context.Background(), c.x, c.n, c.d, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
		var ce *CholeskyError
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: err = %v does not match %v", c.name, err, c.is)
		}
		if c.is == nil && (!errors.As(err, &ce) || ce.Tries != MaxJitterTries || !(ce.Jitter > 0) || ce.M != 3) {
			t.Errorf("%s: err = %#v, want a *CholeskyError with the last jitter", c.name, err)
		}
		if c.is == ErrBadInput && errors.Is(err, ErrIncompatible) {
			t.Errorf("%s: bad input also matches ErrIncompatible", c.name)
		}
	}
	if _, err := NewEuclidean(nan, 10, 2); !errors.Is(err, ErrBadInput) {
		t.Errorf("Euclidean on NaN: err = %v, want ErrBadInput", err)
	}
	// Duplicate points are legal; default m is capped at n.
	dup := append(append([]float64{}, x...), x...)
	r, err := NewResidual(context.Background(), dup, 20, 2, ResidualConfig{})
	if err != nil {
		t.Fatalf("duplicates: %v", err)
	}
	if r.Inducing() != 20 {
		t.Fatalf("default m = %d for n = 20, want 20", r.Inducing())
	}
}

// TestTileSelfZero: a point's distance to itself is exactly 0 however the
// pair is addressed (id lists with repeats, packed sets), and every other
// entry equals the same pair's entry in the full tile.
func TestTileSelfZero(t *testing.T) {
	const n, d = 120, 3
	r, err := NewResidual(context.Background(), randPoints(n, d, 11, 1), n, d, ResidualConfig{Inducing: 32, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEuclidean(randPoints(n, d, 12, 1), n, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Metric{r, e} {
		full := make([]float64, n*n)
		m.Tile(NewWorkspace(), full, n, m.Data(), Range(0, n), m.Data(), Range(0, n))
		qids := []int32{5, 7, 5, 119, 0, 60}
		cids := []int32{7, 8, 5, 5, 0, 119, 33, 60, 7}
		packed := Pack(m.Data(), List([]int32{60, 5, 7, 119}))
		cases := []struct {
			name   string
			qs, cs *Set
			q, c   Block
			qid    func(i int) int32
			cid    func(j int) int32
		}{
			{"lists", m.Data(), m.Data(), List(qids), List(cids), func(i int) int32 { return qids[i] }, func(j int) int32 { return cids[j] }},
			{"packed candidates", m.Data(), packed, List(qids), Range(0, 4), func(i int) int32 { return qids[i] }, func(j int) int32 { return []int32{60, 5, 7, 119}[j] }},
			{"packed both", packed, packed, List([]int32{3, 1, 1}), Range(0, 4), func(i int) int32 { return []int32{119, 5, 5}[i] }, func(j int) int32 { return []int32{60, 5, 7, 119}[j] }},
		}
		for _, tc := range cases {
			nq, nc := tc.q.Len(), tc.c.Len()
			got := make([]float64, nq*nc)
			m.Tile(NewWorkspace(), got, nc, tc.qs, tc.q, tc.cs, tc.c)
			for i := 0; i < nq; i++ {
				for j := 0; j < nc; j++ {
					a, b := tc.qid(i), tc.cid(j)
					want := full[int(a)*n+int(b)]
					if a == b {
						want = 0
					}
					if got[i*nc+j] != want {
						t.Fatalf("%s %s (%d,%d) ids %d,%d: %v, want %v", m.Name(), tc.name, i, j, a, b, got[i*nc+j], want)
					}
				}
			}
		}
	}
}
