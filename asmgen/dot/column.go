package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/pcct/pcct/asmgen/internal/vecgen"
)

// One A row against many B rows. A packed panel holds 8 A rows per
// vector, so a single query fills one lane of eight and its tile runs at
// an eighth of the panel's rate, which walks that meet the tree one query
// at a time pay (55 ns a distance at m = 256 from L2, against 7 for 8
// queries). The column kernels put B rows in the lanes instead: each
// round of 8 steps k loads 8 elements of 8 B rows, transposes them (lane
// j of vector s: row j's element k+s) and adds vector s times a[k+s],
// broadcast, to the group's accumulator, s in order. Each lane is still
// one output summed over k in order with one FMA per term, so the bits
// are the packed kernels'. One group is one chain of dependent FMAs;
// four groups (32 B rows) keep the FMA units busy, and the transposes'
// shuffles bound the rate.

// columnGroups are the kernels' widths, in groups of 8 B rows.
var columnGroups = []int{4, 2}

// columnKernel writes the kernel of one A row against 8V B rows picked by
// id, storing out[j] for j < cols <= 8V; all 8V ids must name readable
// rows.
func columnKernel(isa vecgen.ISA, V int) {
	const es, lanes = 8, 8
	R := V * lanes
	name := fmt.Sprintf("dotF64C%dRows%s", R, isa.Name)
	TEXT(name, NOSPLIT, "func(a *float64, m int, b *float64, ldb int, ids *int32, out *float64, cols int)")
	Doc(fmt.Sprintf("%s computes out[j] = sum_k a[k] * b[ids[j]*ldb+k] for j < cols <= %d and k < m, adding the terms in order of k with one FMA each, as the packed kernels do. %d B rows must be readable.", name, R, R))

	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(3), ldb)
	ids := Load(Param("ids"), GP64())
	Comment("The rows' addresses, kept on the stack: too many for registers.")
	bases := AllocLocal(8 * R)
	for j := 0; j < R; j++ {
		t := GP64()
		MOVLQSX(Mem{Base: ids, Disp: 4 * j}, t)
		IMULQ(ldb, t)
		ADDQ(b, t)
		MOVQ(t, bases.Offset(8*j))
	}
	m := Load(Param("m"), GP64())
	n, off := GP64(), GP64()
	MOVQ(m, n)
	SHRQ(U8(3), n)
	XORQ(off, off)
	acc := make([]VecVirtual, V)
	for g := range acc {
		acc[g] = ZMM()
		vecgen.Zero(acc[g])
	}
	// group loads 8 elements of the 8 rows of group g at off (load picks
	// whole or masked loads) and returns them transposed: vector s holds
	// element s of each row.
	group := func(g int, load func(Mem, VecVirtual)) []VecVirtual {
		c := make([]VecVirtual, lanes)
		for i := range c {
			t := GP64()
			MOVQ(bases.Offset(8*(lanes*g+i)), t)
			c[i] = ZMM()
			load(Mem{Base: t, Index: off, Scale: 1}, c[i])
		}
		return transpose8x8(c)
	}

	Comment("Rounds of 8 steps k: each group's 8 rows transposed, then 8 FMAs in order of k.")
	TESTQ(n, n)
	JZ(LabelRef("tail"))
	Label("loop")
	for g := range acc {
		for s, v := range group(g, func(e Mem, dst VecVirtual) { VMOVUPD(e, dst) }) {
			VFMADD231PD_BCST(Mem{Base: a, Disp: s * es}, v, acc[g])
		}
	}
	ADDQ(U8(lanes*es), a)
	ADDQ(U8(lanes*es), off)
	DECQ(n)
	JNZ(LabelRef("loop"))

	Comment("The last m mod 8 steps: masked loads (nothing past row ends read), then only those FMAs.")
	Label("tail")
	rem, t := tailSteps(isa, m, es, "store")
	for g := range acc {
		next := fmt.Sprintf("tail%d", g+1)
		for s, v := range group(g, t.Load) {
			if s > 0 {
				CMPQ(rem, U8(s))
				JLE(LabelRef(next))
			}
			VFMADD231PD_BCST(Mem{Base: a, Disp: s * es}, v, acc[g])
		}
		Label(next)
	}

	Label("store")
	Comment("Whole groups unmasked, the last one masked to cols.")
	out := Load(Param("out"), GP64())
	cols := Load(Param("cols"), GP64())
	for g := range acc {
		partial := fmt.Sprintf("partial%d", g)
		CMPQ(cols, U8(lanes*(g+1)))
		JL(LabelRef(partial))
		VMOVUPD(acc[g], Mem{Base: out, Disp: 64 * g})
	}
	JMP(LabelRef("done"))
	for g := range acc {
		Label(fmt.Sprintf("partial%d", g))
		left := GP64()
		MOVQ(cols, left)
		SUBQ(U8(lanes*g), left)
		JLE(LabelRef("done"))
		isa.TailMask(left, es).Store(acc[g], Mem{Base: out, Disp: 64 * g})
		JMP(LabelRef("done"))
	}
	Label("done")
	VZEROUPPER()
	RET()
}
