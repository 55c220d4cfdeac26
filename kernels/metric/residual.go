package metric

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/pcct/pcct/internal/hugemem"
	"github.com/pcct/pcct/kernels"
)

// Kernel is a covariance function.
type Kernel int

const (
	RBF      Kernel = iota // s2 exp(-r2/2)
	Matern52               // s2 (1 + a + a²/3) exp(-a), a = sqrt(5 r2)
)

func (k Kernel) String() string {
	switch k {
	case RBF:
		return "rbf"
	case Matern52:
		return "matern52"
	}
	return fmt.Sprintf("Kernel(%d)", int(k))
}

// ParseKernel accepts "rbf" and "matern52" (also "matern", "matern5/2").
func ParseKernel(s string) (Kernel, error) {
	switch s {
	case "rbf", "RBF", "se":
		return RBF, nil
	case "matern52", "matern", "matern5/2", "Matern52":
		return Matern52, nil
	}
	return 0, fmt.Errorf("unknown kernel %q (want rbf or matern52)", s)
}

// InducingMethod says how the inducing points are chosen.
type InducingMethod int

const (
	// InducingRandom draws m distinct data points uniformly with the seed.
	InducingRandom InducingMethod = iota
	// InducingKMeansPP uses k-means++ seeding followed by Lloyd iterations
	// (GPBoost's default); the centres need not be data points.
	InducingKMeansPP
	// InducingExplicit uses ResidualConfig.InducingPoints as given.
	InducingExplicit
)

// DefaultInducing is the default inducing-point count m (capped at n).
const DefaultInducing = 512

// ResidualConfig parameterises the residual-correlation metric. Zero values
// select the defaults noted on each field.
type ResidualConfig struct {
	Kernel      Kernel
	Variance    float64   // s2 > 0; default 1
	Lengthscale []float64 // one value, or one per dimension, each > 0; default 1
	// Inducing is the inducing-point count m: 0 means DefaultInducing capped
	// at n; an explicit value larger than n is an error.
	Inducing int
	Method   InducingMethod
	// InducingPoints are explicit inducing coordinates (m x d row-major,
	// unscaled) for InducingExplicit.
	InducingPoints []float64
	// Jitter is added to the diagonal of K_UU; default 1e-6 * s2. If the
	// Cholesky factorisation fails it is multiplied by 10, at most
	// MaxJitterTries times.
	Jitter float64
	// Floor is the lower bound on the residual variance p; default 1e-9 x
	// the variance, so that the distances do not depend on the variance
	// (rho is a correlation: scaling s2 scales K, V·V and p alike).
	Floor float64
	Seed  uint64
	// Float32 stores V in float32 and computes its dot products in float32.
	// The construction refuses (returns an error) when the worst-case error
	// bound of rho, m eps32 max|V|² / min p, exceeds 1e-3.
	Float32 bool
	// Pool runs the construction of V (and of query sets' rows in Embed);
	// nil means GOMAXPROCS goroutines. Pass the *streamer.Pool the search
	// runs on, so that one worker count governs the whole job.
	Pool Runner
	// Order, when not nil, stores the points in another order: the
	// metric's point i is x's point Order[i] (a permutation of 0..n-1).
	// The inducing points are chosen on x as given, so the result is
	// Reorder(NewResidual(x), Order) bit for bit, without a second V.
	Order []int32
}

// MaxJitterTries bounds the Cholesky retries with growing jitter.
const MaxJitterTries = 6

// Float32MaxBound is the largest error bound on rho that float32 storage
// accepts.
const Float32MaxBound = 1e-3

// Residual is the residual-correlation metric
//
//	rho_ij = (K(x_i, x_j) - V_i·V_j) / sqrt(p_i p_j),   d(i, j) = sqrt(1 - |rho_ij|),
//
// with V = (L⁻¹ K(U, X))ᵀ, L Lᵀ = K_UU + jitter I, p_i = max(s2 - |V_i|², floor)
// and d(i, i) = 0. It is a pseudometric (SPEC.md section 2).
//
// Rounding: K and V_i·V_j are O(s2) while p can be as small as the floor, so
// rho carries an absolute error of about δ = 4 (m + d + 2) eps (s2 + max|V|²)
// / min p, and d = sqrt(1 - |rho|) up to sqrt(δ) near 0. The triangle
// inequality therefore holds up to 3 sqrt(δ); TriangleSlack returns that
// bound for this metric's data.
type Residual struct {
	cfg      ResidualConfig
	kernel   Kernel
	s2       float64
	scale    []float64 // lengthscale per dimension
	d, m     int
	u        []float64 // m x d scaled inducing coordinates
	ut       []float64 // d x m
	linv     []float64 // m x m, L⁻¹ (lower triangular), row-major
	jitter   float64   // the jitter that was used
	inducing []int     // data indices of the inducing points (random method)
	data     *Set
	bound32  float64
	screen   bool      // Embed adds the screening copy (EnableScreening)
	heavy    float64   // screening weight above which a point is heavy
	centre   []float64 // the data's bounding-box midpoint (scaled): the fused screening row's origin
}

// NewResidual builds the metric on n points x (n x d row-major). Invalid
// arguments give an error matching ErrBadInput, a failed factorisation a
// *CholeskyError, refused float32 storage ErrFloat32Refused; when ctx is
// done the construction stops within one block of 256 rows and returns
// ctx.Err().
func NewResidual(ctx context.Context, x []float64, n, d int, cfg ResidualConfig) (*Residual, error) {
	if err := checkPoints(x, n, d); err != nil {
		return nil, err
	}
	r := &Residual{cfg: cfg, kernel: cfg.Kernel, d: d}
	if err := r.setParams(n); err != nil {
		return nil, err
	}
	xs := hugemem.Make[float64](n * d)
	for i, v := range x {
		xs[i] = v / r.scale[i%d]
	}
	if err := r.chooseInducing(xs, n); err != nil {
		return nil, err
	}
	if cfg.Order != nil {
		var err error
		if xs, err = r.reorderRows(xs, n); err != nil {
			return nil, err
		}
	}
	if err := r.factor(); err != nil {
		return nil, err
	}
	s, err := r.embedScaled(ctx, xs, n)
	if err != nil {
		return nil, err
	}
	r.data = s
	r.centre = centreOf(xs, n, d)
	return r, nil
}

func (r *Residual) setParams(n int) error {
	c := &r.cfg
	if c.Kernel != RBF && c.Kernel != Matern52 {
		return badInput("unknown kernel %v", c.Kernel)
	}
	r.s2 = c.Variance
	if r.s2 == 0 {
		r.s2 = 1
	}
	if !(r.s2 > 0) || math.IsInf(r.s2, 0) {
		return badInput("variance must be positive and finite, got %v", c.Variance)
	}
	switch len(c.Lengthscale) {
	case 0:
		r.scale = slices.Repeat([]float64{1}, r.d)
	case 1:
		r.scale = slices.Repeat([]float64{c.Lengthscale[0]}, r.d)
	case r.d:
		r.scale = slices.Clone(c.Lengthscale)
	default:
		return badInput("got %d lengthscales for %d dimensions: give one, or one per dimension", len(c.Lengthscale), r.d)
	}
	for k, l := range r.scale {
		if !(l > 0) || math.IsInf(l, 0) {
			return badInput("lengthscale of dimension %d must be positive and finite, got %v", k, l)
		}
	}
	switch {
	case c.Method == InducingExplicit:
		if len(c.InducingPoints) == 0 || len(c.InducingPoints)%r.d != 0 {
			return badInput("explicit inducing points: %d values is not a whole number of %d-dimensional points", len(c.InducingPoints), r.d)
		}
		r.m = len(c.InducingPoints) / r.d
		if c.Inducing != 0 && c.Inducing != r.m {
			return badInput("inducing count %d does not match the %d explicit inducing points", c.Inducing, r.m)
		}
	case c.Inducing < 0:
		return badInput("inducing count must be positive, got %d", c.Inducing)
	case c.Inducing > n:
		return badInput("inducing count %d is larger than the number of points %d", c.Inducing, n)
	case c.Inducing == 0:
		r.m = min(DefaultInducing, n)
	default:
		r.m = c.Inducing
	}
	if c.Method != InducingRandom && c.Method != InducingKMeansPP && c.Method != InducingExplicit {
		return badInput("unknown inducing method %d", c.Method)
	}
	r.jitter = c.Jitter
	if r.jitter == 0 {
		r.jitter = 1e-6 * r.s2
	}
	if !(r.jitter > 0) {
		return badInput("jitter must be positive, got %v", c.Jitter)
	}
	if c.Floor == 0 {
		c.Floor = 1e-9 * r.s2
	}
	if !(c.Floor > 0) {
		return badInput("variance floor must be positive, got %v", c.Floor)
	}
	return nil
}

func (r *Residual) chooseInducing(xs []float64, n int) error {
	d, m := r.d, r.m
	r.u = make([]float64, m*d)
	switch r.cfg.Method {
	case InducingRandom:
		r.inducing = sampleDistinct(n, m, r.cfg.Seed)
		for a, i := range r.inducing {
			copy(r.u[a*d:(a+1)*d], xs[i*d:(i+1)*d])
		}
	case InducingKMeansPP:
		copy(r.u, kmeans(xs, n, d, m, r.cfg.Seed))
	case InducingExplicit:
		if err := checkPoints(r.cfg.InducingPoints, m, d); err != nil {
			return badInput("explicit inducing points: %v", err)
		}
		for i, v := range r.cfg.InducingPoints {
			r.u[i] = v / r.scale[i%d]
		}
	}
	r.ut = transpose(r.u, m, d)
	return nil
}

// reorderRows returns the scaled coordinates xs in the order of the
// configuration's Order, and renumbers the random inducing points' data
// indices to match.
func (r *Residual) reorderRows(xs []float64, n int) ([]float64, error) {
	inv, err := InversePerm(r.cfg.Order, n)
	if err != nil {
		return nil, err
	}
	d := r.d
	out := hugemem.Make[float64](n * d)
	for i, p := range r.cfg.Order {
		copy(out[i*d:(i+1)*d], xs[int(p)*d:int(p+1)*d])
	}
	for k, i := range r.inducing {
		r.inducing[k] = int(inv[i])
	}
	return out, nil
}

// InversePerm returns the inverse of perm, or an error matching
// ErrBadInput that names the first entry making it not a permutation of
// 0..n-1 (the orders of Reorder, ResidualConfig.Order and the searches'
// ranks).
func InversePerm(perm []int32, n int) ([]int32, error) {
	if len(perm) != n {
		return nil, badInput("order: %d indices for %d points", len(perm), n)
	}
	inv := make([]int32, n)
	for i := range inv {
		inv[i] = -1
	}
	for i, p := range perm {
		if p < 0 || int(p) >= n || inv[p] >= 0 {
			return nil, badInput("order: index %d at position %d: not a permutation of 0..%d", p, i, n-1)
		}
		inv[p] = int32(i)
	}
	return inv, nil
}

// kernelTile evaluates the metric's kernel on scaled coordinates.
func (r *Residual) kernelTile(out []float64, ldo int, a []float64, lda int, bt []float64, ldbt int, q, c int) {
	if r.kernel == Matern52 {
		kernels.MaternTile(out, ldo, a, lda, bt, ldbt, q, c, r.d, r.s2)
	} else {
		kernels.RBFTile(out, ldo, a, lda, bt, ldbt, q, c, r.d, r.s2)
	}
}

// factor computes L⁻¹ from K_UU + jitter I, growing the jitter tenfold on
// failure at most MaxJitterTries times.
func (r *Residual) factor() error {
	m := r.m
	kuu := make([]float64, m*m)
	r.kernelTile(kuu, m, r.u, r.d, r.ut, m, m, m)
	// Symmetrise (the tile is symmetric up to rounding) for gonum.
	for i := 0; i < m; i++ {
		for j := 0; j < i; j++ {
			v := 0.5 * (kuu[i*m+j] + kuu[j*m+i])
			kuu[i*m+j], kuu[j*m+i] = v, v
		}
	}
	jitter := r.jitter
	for try := 0; try < MaxJitterTries; try++ {
		a := slices.Clone(kuu)
		for i := 0; i < m; i++ {
			a[i*m+i] += jitter
		}
		var ch mat.Cholesky
		if ch.Factorize(mat.NewSymDense(m, a)) {
			var l, linv mat.TriDense
			ch.LTo(&l)
			if err := linv.InverseTri(&l); err == nil || !isSingular(err) {
				r.linv = make([]float64, m*m)
				for i := 0; i < m; i++ {
					for j := 0; j <= i; j++ {
						r.linv[i*m+j] = linv.At(i, j)
					}
				}
				r.jitter = jitter
				return nil
			}
		}
		jitter *= 10
	}
	return &CholeskyError{M: m, Jitter: jitter / 10, Tries: MaxJitterTries}
}

func isSingular(err error) bool {
	var c mat.Condition
	return !errors.As(err, &c) || math.IsInf(float64(c), 1)
}

// embedBlock is the number of points whose V rows are built together.
const embedBlock = 256

// embedScaled builds the Set (V, p) of n points with scaled coordinates xs,
// in blocks of embedBlock rows on the configured pool.
func (r *Residual) embedScaled(ctx context.Context, xs []float64, n int) (*Set, error) {
	d, m := r.d, r.m
	// X, XT, ISP and P are read by point id all over in the tiles that pick
	// candidates by id: on huge pages, like V, such reads skip most TLB misses.
	s := &Set{N: n, D: d, M: m, X: xs, XT: transpose(xs, n, d), ISP: hugemem.Make[float64](n), P: hugemem.Make[float64](n)}
	v := hugemem.Make[float64](n * m)
	pool := runnerOr(r.cfg.Pool)
	kxu := make([][]float64, pool.Workers()) // per worker: K(X_block, U)
	blocks := (n + embedBlock - 1) / embedBlock
	err := pool.Each(ctx, blocks, func(w, b int) {
		if kxu[w] == nil {
			kxu[w] = make([]float64, embedBlock*m)
		}
		lo, hi := b*embedBlock, min(n, (b+1)*embedBlock)
		// K(X_block, U), then V_block = K(X_block, U) L⁻ᵀ: row a of L⁻¹
		// against each kernel row is one dot tile.
		r.kernelTile(kxu[w], m, xs[lo*d:], d, r.ut, m, hi-lo, m)
		kernels.DotTileLower(v[lo*m:hi*m], m, kxu[w], m, r.linv, m, hi-lo, m, m)
		for i := lo; i < hi; i++ {
			var ss float64
			for _, x := range v[i*m : (i+1)*m] {
				ss += x * x
			}
			p := max(r.s2-ss, r.cfg.Floor)
			s.P[i] = p
			s.ISP[i] = 1 / math.Sqrt(p)
		}
	})
	if err != nil {
		return nil, err
	}
	if r.cfg.Float32 {
		maxv, minp := 0.0, math.Inf(1)
		s.V32 = hugemem.Make[float32](n * m)
		for i := 0; i < n; i++ {
			var ss float64
			for _, x := range v[i*m : (i+1)*m] {
				ss += x * x
			}
			maxv = max(maxv, ss)
			minp = min(minp, s.P[i])
		}
		bound := float64(m) * 0x1p-24 * maxv / minp
		r.bound32 = max(r.bound32, bound)
		if bound > Float32MaxBound {
			return nil, fmt.Errorf("%w: its error bound on rho, m eps32 max|V|^2 / min p = %d x %.3g x %.3g / %.3g = %.3g, exceeds %g; use float64",
				ErrFloat32Refused, m, 0x1p-24, maxv, minp, bound, Float32MaxBound)
		}
		for i, x := range v {
			s.V32[i] = float32(x)
		}
		return s, nil
	}
	s.V = v
	if r.screen {
		r.addScreening(s, pool)
	}
	return s, nil
}

func (r *Residual) Name() string { return "residual" }
func (r *Residual) Data() *Set   { return r.data }

// Embed builds V and p for n new points (n x d row-major, unscaled), for use
// as queries against the data.
func (r *Residual) Embed(ctx context.Context, x []float64, n int) (*Set, error) {
	if err := checkPoints(x, n, r.d); err != nil {
		return nil, err
	}
	xs := make([]float64, n*r.d)
	for i, v := range x {
		xs[i] = v / r.scale[i%r.d]
	}
	return r.embedScaled(ctx, xs, n)
}

// Inducing returns the number of inducing points m.
func (r *Residual) Inducing() int { return r.m }

// InducingIndices returns the data indices of the inducing points when they
// were drawn from the data (nil otherwise).
func (r *Residual) InducingIndices() []int { return r.inducing }

// Jitter returns the jitter that made K_UU factorisable.
func (r *Residual) Jitter() float64 { return r.jitter }

// Float32Bound returns the error bound on rho of float32 storage (0 for
// float64 storage, and for float32 storage of a V that is all zeros: ask
// Float32 which it is).
func (r *Residual) Float32Bound() float64 { return r.bound32 }

// Float32 reports whether V is stored in float32 (ResidualConfig.Float32).
func (r *Residual) Float32() bool { return r.cfg.Float32 }

// LowRank returns the scaled inducing coordinates (m x d) and L⁻¹ (m x m).
func (r *Residual) LowRank() (u, linv []float64) { return r.u, r.linv }

// TriangleSlack returns the bound 3 sqrt(δ) by which computed distances may
// violate the triangle inequality (see the type's comment).
func (r *Residual) TriangleSlack() float64 {
	s := r.data
	maxv, minp := 0.0, math.Inf(1)
	for i := 0; i < s.N; i++ {
		maxv = max(maxv, r.s2-s.P[i])
		minp = min(minp, s.P[i])
	}
	eps := 0x1p-53
	if s.V32 != nil {
		eps = 0x1p-24
	}
	delta := 4 * float64(r.m+r.d+2) * eps * (r.s2 + max(maxv, 0)) / minp
	return 3 * math.Sqrt(delta)
}

// Tile computes residual distances: G = V_q V_cᵀ, K from the coordinates,
// then kernels.ResidualTile.
func (r *Residual) Tile(w *Workspace, dst []float64, ldd int, qs *Set, q Block, cs *Set, c Block) {
	sq, sc := r.parts(w, qs, q, cs, c)
	if sq == nil {
		return
	}
	kernels.ResidualTile(dst, ldd, w.k, c.Len(), w.g, c.Len(), sq, sc, q.Len(), c.Len(), nil)
	zeroSelf(w, dst, ldd, qs, q, cs, c)
}

// parts computes the kernel tile into w.k and the dot tile into w.g (both
// q.Len() x c.Len()) and returns the queries' and candidates' 1/sqrt(p);
// nil when the tile is empty.
func (r *Residual) parts(w *Workspace, qs *Set, q Block, cs *Set, c Block) (sq, sc []float64) {
	q.check(qs.N, "query")
	c.check(cs.N, "candidate")
	nq, nc, m := q.Len(), c.Len(), r.m
	if nq == 0 || nc == 0 {
		return nil, nil
	}
	w.g = grow(w.g, nq*nc)
	if qs.V32 != nil {
		r.dot32(w, qs.V32, q, cs.V32, c)
		kernels.Widen(w.g, w.g32[:nq*nc])
	} else {
		// Candidates picked by id are read in place (DotTileRows); the
		// queries, fewer, are gathered when picked by id.
		vq := rowsOf(&w.vq, qs.V, m, q)
		if c.IDs != nil {
			kernels.DotTileRows(w.g, nc, vq, m, cs.V, m, c.IDs, nq, m)
		} else {
			kernels.DotTile(w.g, nc, vq, m, cs.V[c.Lo*m:], m, nq, nc, m)
		}
	}
	return r.kernelScales(w, qs, q, cs, c)
}

// dot32 computes the float32 dot tile of the rows q of vq (the queries'
// float32 V) and c of vc into w.g32 (q.Len() x c.Len()).
func (r *Residual) dot32(w *Workspace, vq []float32, q Block, vc []float32, c Block) {
	nq, nc, m := q.Len(), c.Len(), r.m
	w.g32 = grow(w.g32, nq*nc)
	a := rowsOf(&w.vq32, vq, m, q)
	if c.IDs != nil {
		kernels.DotTile32Rows(w.g32, nc, a, m, vc, m, c.IDs, nq, m)
	} else {
		kernels.DotTile32(w.g32, nc, a, m, vc[c.Lo*m:], m, nq, nc, m)
	}
}

// kernelScales computes the kernel tile into w.k and returns the queries'
// and candidates' 1/sqrt(p).
func (r *Residual) kernelScales(w *Workspace, qs *Set, q Block, cs *Set, c Block) (sq, sc []float64) {
	nq, nc, d := q.Len(), c.Len(), r.d
	w.k = grow(w.k, nq*nc)
	xq := rowsOf(&w.xq, qs.X, d, q)
	xct, ldc := colsOf(&w.xct, cs, c)
	r.kernelTile(w.k, nc, xq, d, xct, ldc, nq, nc)
	return rowsOf(&w.isp, qs.ISP, 1, q), rowsOf(&w.iscp, cs.ISP, 1, c)
}

// Dist returns d(i, j) for data points, through the tile code.
func (r *Residual) Dist(i, j int) float64 {
	var out [1]float64
	r.Tile(NewWorkspace(), out[:], 1, r.data, Range(i, i+1), r.data, Range(j, j+1))
	return out[0]
}
