// Command screen generates the fused float32 screening rows of package
// kernels: RBF or Matern 5/2 kernel values from float32 coordinates, the
// residual correlation against float32 dot products and 1 - |rho|, with a
// threshold test, for AVX-512 and AVX2+FMA.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/pcct/pcct/asmgen/internal/vecgen"
)

// unroll is how many vectors of columns one pass of the coordinate loop
// covers.
const unroll = 4

// ngtUQ is the VCMPPS predicate "not greater than, unordered": a NaN lane
// passes the threshold test, so it is never dropped.
const ngtUQ = 0x1A

func main() {
	ConstraintExpr("!purego")
	for _, isa := range vecgen.All {
		row(isa, false)
		row(isa, true)
	}
	Generate()
}

// rowGen holds one kernel's registers and constants.
type rowGen struct {
	isa                       vecgen.ISA
	matern                    bool
	bt, g, sc, c1, tc, n, out Register
	exp                       []Mem
	half, one, abs            Mem
	five, third, sign         Mem
	s2, sq, wq, r1, t0        VecVirtual
	comp                      *vecgen.Compactor
}

func row(isa vecgen.ISA, matern bool) {
	name, kv := "screenRBF32"+isa.Name, "K = s2*exp(-r2/2)"
	if matern {
		name, kv = "screenMatern32"+isa.Name, "K = (exp(-t)*((t*(1/3)+1)*t+1))*s2 with t = sqrt(r2*5)"
	}
	TEXT(name, NOSPLIT, "func(out *float32, x *float32, bt *float32, ldbytes int, d int, gram *float32, sc *float32, c1 *float32, tc *float32, n int, s2 float32, sq float32, wq float32, r1 float32, t0 float32, idx *int32) int")
	Doc(name+" computes, for j < n, r2 = sum_k (bt[k*ldbt+j]-x[k])^2 (FMA chain over k;",
		"ldbytes = 4 ldbt), "+kv+", rho = (K-gram[j])*(sc[j]*sq) and",
		"out[j] = 1-|rho|, and appends to idx every j with !(out[j] > t), t = max(t0, tc[j]) +",
		"wq*c1[j] + r1*sc[j] (FMA steps in that order); it returns their count.", vecgen.Exp32Doc+".")
	g := &rowGen{isa: isa, matern: matern}
	g.out = Load(Param("out"), GP64())
	g.bt = Load(Param("bt"), GP64())
	g.g = Load(Param("gram"), GP64())
	g.sc = Load(Param("sc"), GP64())
	g.c1 = Load(Param("c1"), GP64())
	g.tc = Load(Param("tc"), GP64())
	g.n = Load(Param("n"), GP64())
	g.exp = isa.Exp32Consts()
	c := isa.ConstsF32("screenconst", -0.5, 1, 5, 1.0/3)
	g.half, g.one, g.five, g.third = c[0], c[1], c[2], c[3]
	masks := isa.ConstsU32("screenmask", 0x7fffffff, 0x80000000)
	g.abs, g.sign = masks[0], masks[1]
	g.s2, g.sq, g.wq, g.r1, g.t0 = isa.Vec(), isa.Vec(), isa.Vec(), isa.Vec(), isa.Vec()
	VBROADCASTSS(vecgen.ParamAddr("s2"), g.s2)
	VBROADCASTSS(vecgen.ParamAddr("sq"), g.sq)
	VBROADCASTSS(vecgen.ParamAddr("wq"), g.wq)
	VBROADCASTSS(vecgen.ParamAddr("r1"), g.r1)
	VBROADCASTSS(vecgen.ParamAddr("t0"), g.t0)
	g.comp = isa.NewCompactorPS(Load(Param("idx"), GP64()), GP64(), ngtUQ)
	g.blocks()
	g.singles()
	g.tail()
	Label("done")
	VZEROUPPER()
	Store(g.comp.Count(), ReturnIndex(0))
	RET()
}

// sqdist accumulates r2 for len(acc) vectors of columns starting at bt;
// tail, if set, masks the loads of a single vector. x, d and the leading
// dimension are read from the arguments each time: general registers are
// short.
func (g *rowGen) sqdist(acc []VecVirtual, tail *vecgen.Tail, label string) {
	for _, v := range acc {
		vecgen.Zero(v)
	}
	xp, bp, kk := GP64(), GP64(), GP64()
	Load(Param("x"), xp)
	MOVQ(g.bt, bp)
	Load(Param("d"), kk)
	TESTQ(kk, kk)
	JZ(LabelRef(label + "_done"))
	Label(label)
	xk := g.isa.Vec()
	VBROADCASTSS(Mem{Base: xp}, xk)
	for u, v := range acc {
		t := g.isa.Vec()
		if tail != nil {
			tail.Load(Mem{Base: bp}, t)
			VSUBPS(xk, t, t)
		} else {
			VMOVUPS(Mem{Base: bp, Disp: u * g.isa.Bytes}, t)
			VSUBPS(xk, t, t)
		}
		VFMADD231PS(t, t, v)
	}
	ADDQ(U8(4), xp)
	ADDQ(vecgen.ParamAddr("ldbytes"), bp)
	DECQ(kk)
	JNZ(LabelRef(label))
	Label(label + "_done")
}

// apply turns the r2 of vectors u0, u0+1, ... (vs) into 1 - |rho| and
// returns their thresholds, each step emitted for all of vs before the
// next. Without tail it reads gram, sc and c1 from memory; with it (one
// vector), each through the mask just before its use (AVX2 has 16 vector
// registers).
func (g *rowGen) apply(vs []VecVirtual, u0 int, tail *vecgen.Tail) []VecVirtual {
	each := func(f func(i int, v VecVirtual)) {
		for i, v := range vs {
			f(i, v)
		}
	}
	in := func(p Register, i int) Op {
		if tail == nil {
			return Mem{Base: p, Disp: (u0 + i) * g.isa.Bytes}
		}
		t := g.isa.Vec()
		tail.Load(Mem{Base: p}, t)
		return t
	}
	g.kernel(vs)
	each(func(i int, v VecVirtual) { VMULPS(g.s2, v, v) })
	each(func(i int, v VecVirtual) { VSUBPS(in(g.g, i), v, v) }) // K - g
	s := make([]VecVirtual, len(vs))
	each(func(i int, v VecVirtual) {
		s[i] = g.isa.Vec()
		VMULPS(in(g.sc, i), g.sq, s[i]) // sc[j]*sq
	})
	each(func(i int, v VecVirtual) { VMULPS(s[i], v, v) })
	each(func(i int, v VecVirtual) { VANDPS(g.abs, v, v) })
	each(func(i int, v VecVirtual) { VMOVUPS(g.one, s[i]) })
	each(func(i int, v VecVirtual) { VSUBPS(v, s[i], v) })              // 1 - |rho|
	each(func(i int, v VecVirtual) { VMAXPS(in(g.tc, i), g.t0, s[i]) }) // max(t0, tc[j])
	each(func(i int, v VecVirtual) { VFMADD231PS(in(g.c1, i), g.wq, s[i]) })
	each(func(i int, v VecVirtual) { VFMADD231PS(in(g.sc, i), g.r1, s[i]) })
	return s
}

// kernel turns r2 into the kernel value without s2, for all of vs.
func (g *rowGen) kernel(vs []VecVirtual) {
	each := func(f func(i int, v VecVirtual)) {
		for i, v := range vs {
			f(i, v)
		}
	}
	if !g.matern {
		each(func(i int, v VecVirtual) { VMULPS(g.half, v, v) })
		g.isa.Exp32(g.exp, vs...)
		return
	}
	p := make([]VecVirtual, len(vs))
	each(func(i int, v VecVirtual) { VMULPS(g.five, v, v) })
	each(func(i int, v VecVirtual) { VSQRTPS(v, v) }) // t
	each(func(i int, v VecVirtual) {
		p[i] = g.isa.Vec()
		VMOVUPS(g.third, p[i])
	})
	each(func(i int, v VecVirtual) { VFMADD213PS(g.one, v, p[i]) }) // t/3 + 1
	each(func(i int, v VecVirtual) { VFMADD213PS(g.one, v, p[i]) }) // (t/3 + 1) t + 1
	each(func(i int, v VecVirtual) { VXORPS(g.sign, v, v) })        // -t
	g.isa.Exp32(g.exp, vs...)
	each(func(i int, v VecVirtual) { VMULPS(p[i], v, v) })
}

// advance moves the column pointers on by k vectors.
func (g *rowGen) advance(k int) {
	for _, p := range []Register{g.bt, g.g, g.sc, g.c1, g.tc, g.out} {
		ADDQ(U32(k*g.isa.Bytes), p)
	}
	SUBQ(U32(k*g.isa.Lanes(4)), g.n)
}

// blocks emits the loop over blocks of unroll vectors of columns.
func (g *rowGen) blocks() {
	Comment(fmt.Sprintf("Blocks of %d vectors.", unroll))
	Label("block")
	CMPQ(g.n, U32(unroll*g.isa.Lanes(4)))
	JL(LabelRef("single"))
	acc := make([]VecVirtual, unroll)
	for u := range acc {
		acc[u] = g.isa.Vec()
	}
	g.sqdist(acc, nil, "blockdim")
	// AVX-512 interleaves all the vectors' steps; AVX2, with 16 registers,
	// two at a time.
	group := unroll
	if !g.isa.AVX512 {
		group = 2
	}
	for u0 := 0; u0 < unroll; u0 += group {
		ts := g.apply(acc[u0:u0+group], u0, nil)
		for i, v := range acc[u0 : u0+group] {
			u := u0 + i
			VMOVUPS(v, Mem{Base: g.out, Disp: u * g.isa.Bytes})
			g.comp.Emit(v, ts[i], nil, fmt.Sprintf("blockhit%d", u))
		}
	}
	g.advance(unroll)
	JMP(LabelRef("block"))
}

// singles emits the loop over single vectors of columns.
func (g *rowGen) singles() {
	Comment("Single vectors.")
	Label("single")
	CMPQ(g.n, U32(g.isa.Lanes(4)))
	JL(LabelRef("tail"))
	v := g.isa.Vec()
	g.sqdist([]VecVirtual{v}, nil, "singledim")
	t := g.apply([]VecVirtual{v}, 0, nil)[0]
	VMOVUPS(v, Mem{Base: g.out})
	g.comp.Emit(v, t, nil, "singlehit")
	g.advance(1)
	JMP(LabelRef("single"))
}

// tail emits the last columns, fewer than a vector, through a mask.
func (g *rowGen) tail() {
	Comment("Tail through a mask.")
	Label("tail")
	TESTQ(g.n, g.n)
	JZ(LabelRef("done"))
	tail := g.isa.TailMask(g.n, 4)
	v := g.isa.Vec()
	g.sqdist([]VecVirtual{v}, &tail, "taildim")
	t := g.apply([]VecVirtual{v}, 0, &tail)[0]
	tail.Store(v, Mem{Base: g.out})
	g.comp.Emit(v, t, &tail, "tailhit")
}
