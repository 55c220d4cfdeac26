// Command tile generates the coordinate-tile kernels of package kernels:
// one output row of squared-distance based values (RBF kernel, Matern 5/2
// kernel, Euclidean distance with a fused radius test) against candidates
// stored transposed, for AVX-512 and AVX2+FMA.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/pcct/pcct/asmgen/internal/vecgen"
)

// unroll is how many vectors of columns one pass of the coordinate loop
// covers (see rowGen.unroll for the exception).
const unroll = 4

type kind int

const (
	rbf kind = iota
	matern
	euclid
	euclidHits // euclid, taking the square root only of vectors a prefilter passes
)

func main() {
	ConstraintExpr("!purego")
	for _, isa := range vecgen.All {
		row(isa, rbf)
		row(isa, matern)
		row(isa, euclid)
		row(isa, euclidHits)
		box(isa)
	}
	Generate()
}

// rowGen writes one row kernel: its registers and constants, shared by
// the steps that emit the blocks of unroll vectors, single vectors and the
// masked tail.
type rowGen struct {
	isa                  vecgen.ISA
	k                    kind
	a, bt, ld, d, n, out Register
	exp                  []Mem
	half, five, third    Mem
	one                  Mem
	s2, rv               VecVirtual
	tv                   VecVirtual // euclidHits: the prefilter's bound on r2
	comp                 *vecgen.Compactor
	// unroll is the number of vectors per block: the package's unroll,
	// or 8 for euclidHits on AVX2, whose 16 registers hold 8 accumulators
	// and whose four FMA chains of d steps would otherwise leave the FMA
	// units waiting on their latency (the k-d tree's leaf scan, d = 8, 100
	// columns: 149.8 -> 129.1 ns). A lane's operations are the same.
	unroll int
}

func row(isa vecgen.ISA, k kind) {
	declareRow(isa, k)
	g := &rowGen{isa: isa, k: k, unroll: unroll}
	if k == euclidHits && !isa.AVX512 {
		g.unroll = 8
	}
	g.a = Load(Param("a"), GP64())
	g.bt = Load(Param("bt"), GP64())
	g.ld = Load(Param("ldbt"), GP64())
	SHLQ(U8(3), g.ld)
	g.d = Load(Param("d"), GP64())
	g.n = Load(Param("n"), GP64())
	g.out = Load(Param("out"), GP64())
	if k == rbf || k == matern {
		g.exp = isa.ExpConsts()
	}
	consts := isa.Consts("tileconst", -0.5, 5, 1.0/3, 1)
	g.half, g.five, g.third, g.one = consts[0], consts[1], consts[2], consts[3]
	if k == euclid || k == euclidHits {
		g.rv = isa.Vec()
		VBROADCASTSD(vecgen.ParamAddr("r"), g.rv)
		if k == euclidHits {
			g.tv = isa.Vec()
			VBROADCASTSD(vecgen.ParamAddr("r2"), g.tv)
		}
		g.comp = isa.NewCompactor(Load(Param("idx"), GP64()), GP64())
	} else {
		g.s2 = isa.Vec()
		VBROADCASTSD(vecgen.ParamAddr("s2"), g.s2)
	}
	g.blocks()
	g.singles()
	g.tail()
	Label("done")
	VZEROUPPER()
	if g.comp != nil {
		Store(g.comp.Count(), ReturnIndex(0))
	}
	RET()
}

// declareRow writes the kernel's TEXT line and doc comment.
func declareRow(isa vecgen.ISA, k kind) {
	switch k {
	case rbf:
		name := "rbfRow" + isa.Name
		TEXT(name, NOSPLIT, "func(a *float64, bt *float64, ldbt int, d int, n int, s2 float64, out *float64)")
		Doc(name+" computes out[j] = s2 * exp(-r2/2), r2 = sum_k (a[k]-bt[k*ldbt+j])^2, j < n.", vecgen.ExpDoc+".")
	case matern:
		name := "maternRow" + isa.Name
		TEXT(name, NOSPLIT, "func(a *float64, bt *float64, ldbt int, d int, n int, s2 float64, out *float64)")
		Doc(name+" computes out[j] = s2 (1 + t + t^2/3) exp(-t), t = sqrt(5 r2), r2 as in rbfRow.", vecgen.ExpDoc+".")
	case euclid:
		name := "euclidRow" + isa.Name
		TEXT(name, NOSPLIT, "func(a *float64, bt *float64, ldbt int, d int, n int, out *float64, r float64, idx *int32) int")
		Doc(name + " computes out[j] = sqrt(r2) and appends to idx every j with out[j] <= r; it returns their count.")
	case euclidHits:
		name := "euclidHitsRow" + isa.Name
		TEXT(name, NOSPLIT, "func(a *float64, bt *float64, ldbt int, d int, n int, out *float64, r float64, r2 float64, idx *int32) int")
		Doc(name+" is euclidRow for the hits only: a vector of columns none of whose r2 is at most r2 (the caller's bound, at least the largest r2 whose square root can be at most r) is skipped,",
			"its square roots neither taken nor stored; the others are stored and compared with r as euclidRow does, so out[j] is written for every hit j.")
	}
}

// sqdist accumulates r2 for len(acc) vectors of columns starting at bt into
// acc; tail, if set, masks the loads of a single vector.
func (g *rowGen) sqdist(acc []VecVirtual, tail *vecgen.Tail, label string) {
	for _, v := range acc {
		vecgen.Zero(v)
	}
	ap, bp, kk := GP64(), GP64(), GP64()
	MOVQ(g.a, ap)
	MOVQ(g.bt, bp)
	MOVQ(g.d, kk)
	TESTQ(kk, kk)
	JZ(LabelRef(label + "_done"))
	Label(label)
	ak := g.isa.Vec()
	VBROADCASTSD(Mem{Base: ap}, ak)
	for u, v := range acc {
		t := g.isa.Vec()
		if tail != nil {
			tail.Load(Mem{Base: bp}, t)
			VSUBPD(t, ak, t)
		} else {
			VSUBPD(Mem{Base: bp, Disp: u * g.isa.Bytes}, ak, t)
		}
		VFMADD231PD(t, t, v)
	}
	ADDQ(U8(8), ap)
	ADDQ(g.ld, bp)
	DECQ(kk)
	JNZ(LabelRef(label))
	Label(label + "_done")
}

// apply turns the r2 of each of vs into the output values in place, each
// step emitted for all of them before the next so that their dependency
// chains overlap (on AVX-512, whose 32 registers hold the temporaries of
// unroll vectors; AVX2's 16 hold those of two). A lane's operations, and
// so its bits, are the same either way.
func (g *rowGen) apply(vs ...VecVirtual) {
	if !g.isa.AVX512 && len(vs) > 2 {
		for v0 := 0; v0 < len(vs); v0 += 2 {
			g.apply(vs[v0:min(len(vs), v0+2)]...)
		}
		return
	}
	each := vecgen.Interleaved(vs)
	switch g.k {
	case rbf:
		each(func(_ int, v VecVirtual) { VMULPD(g.half, v, v) })
		g.isa.Exp(g.exp, vs...)
		each(func(_ int, v VecVirtual) { VMULPD(g.s2, v, v) })
	case matern:
		t, p := make([]VecVirtual, len(vs)), make([]VecVirtual, len(vs))
		for i := range vs {
			t[i], p[i] = g.isa.Vec(), g.isa.Vec()
		}
		each(func(_ int, v VecVirtual) { VMULPD(g.five, v, v) })
		each(func(i int, v VecVirtual) { VSQRTPD(v, t[i]) })
		// p = 1 + t + t^2/3 = (t/3 + 1) t + 1
		each(func(i int, _ VecVirtual) { VMOVUPD(g.third, p[i]) })
		each(func(i int, _ VecVirtual) { VFMADD213PD(g.one, t[i], p[i]) })
		each(func(i int, _ VecVirtual) { VFMADD213PD(g.one, t[i], p[i]) })
		each(func(_ int, v VecVirtual) { VXORPD(v, v, v) })
		each(func(i int, v VecVirtual) { VSUBPD(t[i], v, v) }) // v = -t
		g.isa.Exp(g.exp, vs...)
		each(func(i int, v VecVirtual) { VMULPD(p[i], v, v) })
		each(func(_ int, v VecVirtual) { VMULPD(g.s2, v, v) })
	case euclid, euclidHits:
		each(func(_ int, v VecVirtual) { VSQRTPD(v, v) })
	}
}

// blocks emits the loop over blocks of unroll vectors of columns.
func (g *rowGen) blocks() {
	isa, lanes := g.isa, g.isa.Lanes(8)
	Comment(fmt.Sprintf("Blocks of %d vectors.", g.unroll))
	Label("block")
	CMPQ(g.n, U32(g.unroll*lanes))
	JL(LabelRef("single"))
	acc := make([]VecVirtual, g.unroll)
	for u := range acc {
		acc[u] = isa.Vec()
	}
	g.sqdist(acc, nil, "blockdim")
	if g.comp == nil {
		// RBF and Matern (no radius, no hits): the block's vectors
		// through apply together, then stored.
		g.apply(acc...)
		for u, v := range acc {
			VMOVUPD(v, Mem{Base: g.out, Disp: u * isa.Bytes})
		}
	} else {
		for u, v := range acc {
			g.finish(v, nil, Mem{Base: g.out, Disp: u * isa.Bytes}, fmt.Sprintf("blockhit%d", u))
		}
	}
	ADDQ(U32(g.unroll*isa.Bytes), g.bt)
	ADDQ(U32(g.unroll*isa.Bytes), g.out)
	SUBQ(U32(g.unroll*lanes), g.n)
	JMP(LabelRef("block"))
}

// singles emits the loop over single vectors of columns.
func (g *rowGen) singles() {
	isa, lanes := g.isa, g.isa.Lanes(8)
	Comment("Single vectors.")
	Label("single")
	CMPQ(g.n, U32(lanes))
	JL(LabelRef("tail"))
	v := isa.Vec()
	g.sqdist([]VecVirtual{v}, nil, "singledim")
	g.finish(v, nil, Mem{Base: g.out}, "singlehit")
	ADDQ(U32(isa.Bytes), g.bt)
	ADDQ(U32(isa.Bytes), g.out)
	SUBQ(U32(lanes), g.n)
	JMP(LabelRef("single"))
}

// tail emits the last columns, fewer than a vector, through a mask.
func (g *rowGen) tail() {
	Comment("Tail through a mask.")
	Label("tail")
	TESTQ(g.n, g.n)
	JZ(LabelRef("done"))
	tail := g.isa.TailMask(g.n, 8)
	v := g.isa.Vec()
	g.sqdist([]VecVirtual{v}, &tail, "taildim")
	g.finish(v, &tail, Mem{Base: g.out}, "tailhit")
}

// finish turns the r2 of one vector of columns into the output values,
// stores them at out (through tail when it is not nil) and, with a radius,
// appends the hits. euclidHits first tests r2 against the prefilter's
// bound and skips the vector, square roots and store included, when no
// lane passes. label must be unique within the function.
func (g *rowGen) finish(v VecVirtual, tail *vecgen.Tail, out Mem, label string) {
	if g.k == euclidHits {
		g.isa.AnyLE(v, g.tv, tail, label+"_skip")
	}
	g.apply(v)
	if tail != nil {
		tail.Store(v, out)
	} else {
		VMOVUPD(v, out)
	}
	if g.comp == nil {
		return
	}
	g.comp.Emit(v, g.rv, tail, label)
	if g.k == euclidHits {
		JMP(LabelRef(label + "_end"))
		Label(label + "_skip")
		g.comp.Skip()
		Label(label + "_end")
	}
}
