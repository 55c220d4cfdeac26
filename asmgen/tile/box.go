package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/pcct/pcct/asmgen/internal/vecgen"
)

// box writes the squared distance from a point to a box: for each
// coordinate k the gap e = max(lo[k]-q[k], 0) + max(q[k]-hi[k], 0), summed
// as e² by FMA into lane k mod 8 of an 8-lane accumulator, the lanes then
// added as (l, l+4), then (l, l+2), then (0, 1). AVX2 keeps the 8 lanes in
// two vectors, so every implementation adds the same terms in the same
// order and rounds alike.
func box(isa vecgen.ISA) {
	name := "boxDist2" + isa.Name
	TEXT(name, NOSPLIT, "func(lo *float64, hi *float64, q *float64, d int) float64")
	Doc(name+" returns sum_k (max(lo[k]-q[k], 0) + max(q[k]-hi[k], 0))^2 for k < d,",
		"in lanes k mod 8 by FMA, the lanes added as (l, l+4), (l, l+2), (0, 1). A NaN gap gives NaN.")
	lo := Load(Param("lo"), GP64())
	hi := Load(Param("hi"), GP64())
	q := Load(Param("q"), GP64())
	d := Load(Param("d"), GP64())
	zero := isa.Vec()
	vecgen.Zero(zero)
	halves := 1
	if !isa.AVX512 {
		halves = 2
	}
	acc := make([]VecVirtual, halves)
	for h := range acc {
		acc[h] = isa.Vec()
		vecgen.Zero(acc[h])
	}
	// gap adds to acc the squared gaps of one vector whose lanes load
	// loads, by FMA.
	gap := func(acc VecVirtual, load func(m Mem, dst VecVirtual), off int) {
		x, b, c := isa.Vec(), isa.Vec(), isa.Vec()
		load(Mem{Base: q, Disp: off}, x)
		load(Mem{Base: lo, Disp: off}, b)
		load(Mem{Base: hi, Disp: off}, c)
		VSUBPD(x, b, b) // lo - q
		VSUBPD(c, x, x) // q - hi
		// max(0, e), returning e when it is NaN (MAXPD returns its second
		// source operand, here e, when either is NaN).
		VMAXPD(b, zero, b)
		VMAXPD(x, zero, x)
		VADDPD(x, b, b)
		VFMADD231PD(b, b, acc)
	}
	Comment("Eight coordinates at a time.")
	Label("loop")
	CMPQ(d, U8(8))
	JL(LabelRef("tail"))
	for h := range acc {
		gap(acc[h], func(m Mem, dst VecVirtual) { VMOVUPD(m, dst) }, h*isa.Bytes)
	}
	ADDQ(U8(64), lo)
	ADDQ(U8(64), hi)
	ADDQ(U8(64), q)
	SUBQ(U8(8), d)
	JMP(LabelRef("loop"))

	Comment("The last 1-7 coordinates through masks (masked lanes load 0: a gap of 0).")
	Label("tail")
	TESTQ(d, d)
	JZ(LabelRef("reduce"))
	if isa.AVX512 {
		tail := isa.TailMask(d, 8)
		gap(acc[0], tail.Load, 0)
	} else {
		// Lanes 0-3 take min(d, 4) coordinates, lanes 4-7 the rest, through
		// the AVX2 mask table (32 bytes of ones, then 32 of zeros).
		tbl, n := GP64(), GP64()
		LEAQ(vecgen.AVX2.TailTableMem(), tbl)
		for h := range acc {
			MOVQ(d, n)
			if h == 1 {
				SUBQ(U8(4), n)
				JLE(LabelRef("reduce"))
			}
			four := GP64()
			MOVQ(U32(4), four)
			CMPQ(n, four)
			CMOVQGT(four, n)
			NEGQ(n)
			mask := YMM()
			VMOVDQU(Mem{Base: tbl, Index: n, Scale: 8, Disp: 32}, mask)
			gap(acc[h], func(m Mem, dst VecVirtual) { VMASKMOVPD(m, mask, dst) }, h*isa.Bytes)
		}
	}

	Comment("Lanes (l, l+4), then (l, l+2), then (0, 1).")
	Label("reduce")
	a := acc[0]
	if isa.AVX512 {
		t := YMM()
		VEXTRACTF64X4(U8(1), a, t)
		VADDPD(t, a.AsY(), a.AsY())
	} else {
		VADDPD(acc[1], a, a)
	}
	t := XMM()
	VEXTRACTF128(U8(1), a.AsY(), t)
	VADDPD(t, a.AsX(), a.AsX())
	VPERMILPD(U8(1), a.AsX(), t)
	VADDSD(t, a.AsX(), a.AsX())
	Store(a.AsX(), ReturnIndex(0))
	VZEROUPPER()
	RET()
}
