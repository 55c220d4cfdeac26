// Command residual generates the residual-correlation distance row of
// package kernels, fused with a radius test, and the float32-to-float64
// widening of screened dot products, for AVX-512 and AVX2+FMA.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/pcct/pcct/asmgen/internal/vecgen"
)

func main() {
	ConstraintExpr("!purego")
	for _, isa := range vecgen.All {
		row(isa)
		widen(isa)
	}
	Generate()
}

func row(isa vecgen.ISA) {
	lanes := isa.Lanes(8)
	name := "residualRow" + isa.Name
	TEXT(name, NOSPLIT, "func(dst *float64, k *float64, gram *float64, sc *float64, n int, sq float64, r float64, idx *int32) int")
	Doc(name+" computes dst[j] = sqrt(1 - min(|(k[j]-gram[j])*(sc[j]*sq)|, 1)) for j < n,",
		"in that order of operations (no FMA), and appends to idx every j with dst[j] <= r;",
		"it returns their count.")
	dst := Load(Param("dst"), GP64())
	kp := Load(Param("k"), GP64())
	gp := Load(Param("gram"), GP64())
	sc := Load(Param("sc"), GP64())
	n := Load(Param("n"), GP64())
	sq, rv := isa.Vec(), isa.Vec()
	VBROADCASTSD(vecgen.ParamAddr("sq"), sq)
	VBROADCASTSD(vecgen.ParamAddr("r"), rv)
	c := isa.ConstsU64("resconst", 0x7fffffffffffffff)
	abs := c[0]
	one := isa.Vec()
	VBROADCASTSD(isa.Consts("resone", 1)[0], one)
	comp := isa.NewCompactor(Load(Param("idx"), GP64()), GP64())

	// dist computes one vector of distances from v = k - g at offset 0 of
	// sc (already loaded into sv).
	dist := func(v, sv VecVirtual) {
		VMULPD(sq, sv, sv) // sc[j]*sq first: the product is symmetric in the two points
		VMULPD(sv, v, v)
		VANDPD(abs, v, v)
		VMINPD(v, one, v) // v first: a NaN in v is returned
		VSUBPD(v, one, v)
		VSQRTPD(v, v)
	}

	Comment("Two vectors per step.")
	Label("pair")
	CMPQ(n, U32(2*lanes))
	JL(LabelRef("single"))
	for u := 0; u < 2; u++ {
		v, sv := isa.Vec(), isa.Vec()
		VMOVUPD(Mem{Base: kp, Disp: u * isa.Bytes}, v)
		VSUBPD(Mem{Base: gp, Disp: u * isa.Bytes}, v, v)
		VMOVUPD(Mem{Base: sc, Disp: u * isa.Bytes}, sv)
		dist(v, sv)
		VMOVUPD(v, Mem{Base: dst, Disp: u * isa.Bytes})
		comp.Emit(v, rv, nil, []string{"pairhit0", "pairhit1"}[u])
	}
	for _, p := range []Register{dst, kp, gp, sc} {
		ADDQ(U32(2*isa.Bytes), p)
	}
	SUBQ(U32(2*lanes), n)
	JMP(LabelRef("pair"))

	Label("single")
	CMPQ(n, U32(lanes))
	JL(LabelRef("tail"))
	v, sv := isa.Vec(), isa.Vec()
	VMOVUPD(Mem{Base: kp}, v)
	VSUBPD(Mem{Base: gp}, v, v)
	VMOVUPD(Mem{Base: sc}, sv)
	dist(v, sv)
	VMOVUPD(v, Mem{Base: dst})
	comp.Emit(v, rv, nil, "singlehit")
	for _, p := range []Register{dst, kp, gp, sc} {
		ADDQ(U32(isa.Bytes), p)
	}
	SUBQ(U32(lanes), n)

	Comment("Tail through a mask.")
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	tail := isa.TailMask(n, 8)
	v, gv, sv := isa.Vec(), isa.Vec(), isa.Vec()
	tail.Load(Mem{Base: kp}, v)
	tail.Load(Mem{Base: gp}, gv)
	VSUBPD(gv, v, v)
	tail.Load(Mem{Base: sc}, sv)
	dist(v, sv)
	tail.Store(v, Mem{Base: dst})
	comp.Emit(v, rv, &tail, "tailhit")

	Label("done")
	VZEROUPPER()
	Store(comp.Count(), ReturnIndex(0))
	RET()
}

// widen writes the conversion of float32 values to float64, one vector of
// doubles per step (n a multiple of the vector's lanes; Widen does the
// rest).
func widen(isa vecgen.ISA) {
	lanes := isa.Lanes(8)
	name := "widenF32" + isa.Name
	TEXT(name, NOSPLIT, "func(dst *float64, src *float32, n int)")
	Doc(name + " sets dst[j] = float64(src[j]) for j < n, a multiple of the vector's doubles.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	Label("loop")
	CMPQ(n, U32(lanes))
	JL(LabelRef("done"))
	v := isa.Vec()
	VCVTPS2PD(Mem{Base: src}, v)
	VMOVUPD(v, Mem{Base: dst})
	ADDQ(U32(4*lanes), src)
	ADDQ(U32(8*lanes), dst)
	SUBQ(U32(lanes), n)
	JMP(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}
