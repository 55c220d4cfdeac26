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

// unroll is how many vectors of columns one pass of the coordinate loop covers.
const unroll = 4

type kind int

const (
	rbf kind = iota
	matern
	euclid
)

func main() {
	ConstraintExpr("!purego")
	for _, isa := range vecgen.All {
		row(isa, rbf)
		row(isa, matern)
		row(isa, euclid)
	}
	Generate()
}

func row(isa vecgen.ISA, k kind) {
	lanes := isa.Lanes(8)
	var name string
	switch k {
	case rbf:
		name = "rbfRow" + isa.Name
		TEXT(name, NOSPLIT, "func(a *float64, bt *float64, ldbt int, d int, n int, s2 float64, out *float64)")
		Doc(name+" computes out[j] = s2 * exp(-r2/2), r2 = sum_k (a[k]-bt[k*ldbt+j])^2, j < n.", vecgen.ExpDoc+".")
	case matern:
		name = "maternRow" + isa.Name
		TEXT(name, NOSPLIT, "func(a *float64, bt *float64, ldbt int, d int, n int, s2 float64, out *float64)")
		Doc(name+" computes out[j] = s2 (1 + t + t^2/3) exp(-t), t = sqrt(5 r2), r2 as in rbfRow.", vecgen.ExpDoc+".")
	case euclid:
		name = "euclidRow" + isa.Name
		TEXT(name, NOSPLIT, "func(a *float64, bt *float64, ldbt int, d int, n int, out *float64, r float64, idx *int32) int")
		Doc(name + " computes out[j] = sqrt(r2) and appends to idx every j with out[j] <= r; it returns their count.")
	}

	a := Load(Param("a"), GP64())
	bt := Load(Param("bt"), GP64())
	ld := Load(Param("ldbt"), GP64())
	SHLQ(U8(3), ld)
	d := Load(Param("d"), GP64())
	n := Load(Param("n"), GP64())
	out := Load(Param("out"), GP64())

	var exp []Mem
	if k != euclid {
		exp = isa.ExpConsts()
	}
	consts := isa.Consts("tileconst", -0.5, 5, 1.0/3, 1)
	half, five, third, one := consts[0], consts[1], consts[2], consts[3]
	var s2, rv VecVirtual
	var comp *vecgen.Compactor
	if k == euclid {
		rv = isa.Vec()
		VBROADCASTSD(vecgen.ParamAddr("r"), rv)
		comp = isa.NewCompactor(Load(Param("idx"), GP64()), GP64())
	} else {
		s2 = isa.Vec()
		VBROADCASTSD(vecgen.ParamAddr("s2"), s2)
	}

	// sqdist accumulates r2 for u vectors of columns starting at bt into acc;
	// tail, if set, masks the loads of a single vector.
	sqdist := func(acc []VecVirtual, tail *vecgen.Tail, label string) {
		for _, v := range acc {
			vecgen.Zero(v)
		}
		ap, bp, kk := GP64(), GP64(), GP64()
		MOVQ(a, ap)
		MOVQ(bt, bp)
		MOVQ(d, kk)
		TESTQ(kk, kk)
		JZ(LabelRef(label + "_done"))
		Label(label)
		ak := isa.Vec()
		VBROADCASTSD(Mem{Base: ap}, ak)
		for u, v := range acc {
			t := isa.Vec()
			if tail != nil {
				tail.Load(Mem{Base: bp}, t)
				VSUBPD(t, ak, t)
			} else {
				VSUBPD(Mem{Base: bp, Disp: u * isa.Bytes}, ak, t)
			}
			VFMADD231PD(t, t, v)
		}
		ADDQ(U8(8), ap)
		ADDQ(ld, bp)
		DECQ(kk)
		JNZ(LabelRef(label))
		Label(label + "_done")
	}

	// apply turns r2 into the output value in place.
	apply := func(v VecVirtual) {
		switch k {
		case rbf:
			VMULPD(half, v, v)
			isa.Exp(exp, v)
			VMULPD(s2, v, v)
		case matern:
			t, p := isa.Vec(), isa.Vec()
			VMULPD(five, v, v)
			VSQRTPD(v, t)
			// p = 1 + t + t^2/3 = (t/3 + 1) t + 1
			VMOVUPD(third, p)
			VFMADD213PD(one, t, p)
			VFMADD213PD(one, t, p)
			VXORPD(v, v, v)
			VSUBPD(t, v, v) // v = -t
			isa.Exp(exp, v)
			VMULPD(p, v, v)
			VMULPD(s2, v, v)
		case euclid:
			VSQRTPD(v, v)
		}
	}

	Comment(fmt.Sprintf("Blocks of %d vectors.", unroll))
	Label("block")
	CMPQ(n, U32(unroll*lanes))
	JL(LabelRef("single"))
	acc := make([]VecVirtual, unroll)
	for u := range acc {
		acc[u] = isa.Vec()
	}
	sqdist(acc, nil, "blockdim")
	for u, v := range acc {
		apply(v)
		VMOVUPD(v, Mem{Base: out, Disp: u * isa.Bytes})
		if comp != nil {
			comp.Emit(v, rv, nil, fmt.Sprintf("blockhit%d", u))
		}
	}
	ADDQ(U32(unroll*isa.Bytes), bt)
	ADDQ(U32(unroll*isa.Bytes), out)
	SUBQ(U32(unroll*lanes), n)
	JMP(LabelRef("block"))

	Comment("Single vectors.")
	Label("single")
	CMPQ(n, U32(lanes))
	JL(LabelRef("tail"))
	v := isa.Vec()
	sqdist([]VecVirtual{v}, nil, "singledim")
	apply(v)
	VMOVUPD(v, Mem{Base: out})
	if comp != nil {
		comp.Emit(v, rv, nil, "singlehit")
	}
	ADDQ(U32(isa.Bytes), bt)
	ADDQ(U32(isa.Bytes), out)
	SUBQ(U32(lanes), n)
	JMP(LabelRef("single"))

	Comment("Tail through a mask.")
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	tail := isa.TailMask(n, 8)
	v = isa.Vec()
	sqdist([]VecVirtual{v}, &tail, "taildim")
	apply(v)
	tail.Store(v, Mem{Base: out})
	if comp != nil {
		comp.Emit(v, rv, &tail, "tailhit")
	}

	Label("done")
	VZEROUPPER()
	if comp != nil {
		Store(comp.Count(), ReturnIndex(0))
	}
	RET()
}
