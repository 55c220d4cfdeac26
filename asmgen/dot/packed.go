package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/pcct/pcct/asmgen/internal/vecgen"
)

// The AVX-512 float64 tile uses outer-product kernels instead of the dot
// product blocks: A is packed once into k-major panels of R rows (R/8
// vectors per k), and each step k broadcasts one element of each of 8 B
// rows, read in place, against those vectors: R*8 FMA lanes for R/8 + 8
// loads, where a 4x6 dot block needs 10 full-vector loads for 24x8 lanes.
// Every lane of an accumulator is one output, summed over k in order with
// one FMA per term, so a product rounds the same in every panel height,
// position and kernel.

// packedHeights are the panel heights, in vectors of 8 rows: 24 rows for the
// bulk of A, 16 and 8 for what is left.
var packedHeights = []int{3, 2, 1}

// packedKernel writes the kernel of a panel of V vectors (8V rows) against
// 8 B rows, storing rows i < nrows and columns j < cols of the block. With
// rows, the B rows are picked by id and the kernel fetches the next call's
// rows (ids next) while it reads its own (see fetchNext).
func packedKernel(isa vecgen.ISA, V int, rows bool) {
	const es, lanes = 8, 8
	R := V * lanes
	name := fmt.Sprintf("dotF64P%d%s", R, isa.Name)
	desc := "b[j*ldb+k]"
	if rows {
		name = fmt.Sprintf("dotF64P%dRows%s", R, isa.Name)
		desc = "b[ids[j]*ldb+k]"
		TEXT(name, NOSPLIT, "func(ap *float64, m int, b *float64, ldb int, ids *int32, next *int32, out *float64, ldo int, nrows int, cols int)")
	} else {
		TEXT(name, NOSPLIT, "func(ap *float64, m int, b *float64, ldb int, out *float64, ldo int, nrows int, cols int)")
	}
	extra := ""
	if rows {
		extra = " It fetches the rows b[next[j]*ldb:] into the cache as it goes, for the call after it."
	}
	Doc(fmt.Sprintf("%s computes out[i*ldo+j] = sum_k ap[k*%d+i] * %s for i < nrows <= %d, j < cols <= 8 and k < m, adding the terms in order of k with one FMA each. Eight B rows must be readable.%s", name, R, desc, R, extra))

	ap := Load(Param("ap"), GP64())
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(3), ldb)
	var rowB func(j int) Mem
	var bases []Register
	if rows {
		bases = rowBasesByID(b, ldb, 8)
		rowB = func(j int) Mem { return Mem{Base: bases[j]} }
	} else {
		bases, rowB = eightRows(b, ldb)
	}
	n := Load(Param("m"), GP64())

	acc := zeroedAccs(V, 8, ZMM)

	// step adds the terms of one k, s steps past the bases: the panel's
	// column (R*es bytes a step) against one element of each B row.
	step := func(s int) {
		av := make([]VecVirtual, V)
		for v := range av {
			av[v] = ZMM()
			VMOVUPD(Mem{Base: ap, Disp: s*R*es + 64*v}, av[v])
		}
		for j := 0; j < 8; j++ {
			bt := ZMM()
			e := rowB(j)
			e.Disp += s * es
			VBROADCASTSD(e, bt)
			for v := 0; v < V; v++ {
				VFMADD231PD(av[v], bt, acc[v][j])
			}
		}
	}
	advance := func(steps int) {
		ADDQ(U32(steps*R*es), ap)
		for _, base := range bases {
			ADDQ(U8(steps*es), base)
		}
	}
	if rows {
		fetchNext(b, ldb, n, step, advance)
	}
	Comment("One k per step: the panel's column k against element k of each B row.")
	TESTQ(n, n)
	JZ(LabelRef("store"))
	Label("loop")
	step(0)
	advance(1)
	DECQ(n)
	JNZ(LabelRef("loop"))

	Label("store")
	storeTransposed(isa, acc)
	VZEROUPPER()
	RET()
}

// fetchNext writes the loop of rounds of 8 steps k (step(s) writes the
// s-th of a round, advance(8) moves past them), leaving in n the m mod 8
// steps left, and in each round fetches one cache line of each of the 8 B
// rows that the next call reads (ids at the parameter next; b and ldb in
// bytes): step s of round r fetches line r of next row s. Each line of the next rows is asked for
// once, spread over this call's steps, so they come from memory while this
// call's rows are multiplied: B rows picked by id are scattered over V,
// and without this the kernel waits on them (16-row panels against rows
// spread over 2 GB: 14-16 GFLOP/s, 16-18 with it; 20-24 from L3, 23-31).
func fetchNext(b, ldb, n Register, step, advance func(int)) {
	Comment("The addresses of the next call's rows, then rounds of 8 steps, each step fetching a line of one of them.")
	next := AllocLocal(8 * 8)
	ids := Load(Param("next"), GP64())
	for j := 0; j < 8; j++ {
		t := GP64()
		MOVLQSX(Mem{Base: ids, Disp: 4 * j}, t)
		IMULQ(ldb, t)
		ADDQ(b, t)
		MOVQ(t, next.Offset(8*j))
	}
	off, t, rounds := GP64(), GP64(), GP64()
	XORQ(off, off)
	MOVQ(n, rounds)
	SHRQ(U8(3), rounds)
	ANDQ(U8(7), n)
	TESTQ(rounds, rounds)
	JZ(LabelRef("rounds_done"))
	Label("round")
	for s := 0; s < 8; s++ {
		MOVQ(next.Offset(8*s), t)
		PREFETCHT0(Mem{Base: t, Index: off, Scale: 1})
		step(s)
	}
	advance(8)
	ADDQ(U8(64), off)
	DECQ(rounds)
	JNZ(LabelRef("round"))
	Label("rounds_done")
}

// storeTransposed stores the accumulators acc[v][j] (lane i: row 8v+i,
// column j) as rows i < nrows and columns j < cols of out (the parameters
// out, ldo, nrows and cols).
func storeTransposed(isa vecgen.ISA, acc [][]VecVirtual) {
	const es = 8
	Comment("Transpose each 8x8 block of accumulators (column j of eight rows) into rows and store them.")
	out := Load(Param("out"), GP64())
	ldo := Load(Param("ldo"), GP64())
	SHLQ(U8(3), ldo)
	nrows := Load(Param("nrows"), GP64())
	cols := Load(Param("cols"), GP64())
	mask := isa.TailMask(cols, es)
	for v := range acc {
		rowsOut := transpose8x8(acc[v])
		for i, r := range rowsOut {
			CMPQ(nrows, U32(8*v+i))
			JLE(LabelRef("done"))
			// Whole rows unmasked: masked stores are slower on some
			// processors, and all but the last group of B rows are whole.
			partial, next := fmt.Sprintf("partial%d", 8*v+i), fmt.Sprintf("next%d", 8*v+i)
			CMPQ(cols, U8(8))
			JNE(LabelRef(partial))
			VMOVUPD(r, Mem{Base: out})
			JMP(LabelRef(next))
			Label(partial)
			mask.Store(r, Mem{Base: out})
			Label(next)
			ADDQ(ldo, out)
		}
	}
	Label("done")
}

// transpose8x8 returns the rows of the 8x8 float64 matrix whose columns are
// c[0..7] (row i = lane i of every column), in 24 shuffles.
func transpose8x8(c []VecVirtual) []VecVirtual {
	// Pairs of columns interleaved within 128-bit blocks:
	// t[2p] = [c2p[0] c2p+1[0] | c2p[2] c2p+1[2] | ...], t[2p+1] the odd lanes.
	t := make([]VecVirtual, 8)
	for p := 0; p < 4; p++ {
		t[2*p], t[2*p+1] = ZMM(), ZMM()
		VUNPCKLPD(c[2*p+1], c[2*p], t[2*p])
		VUNPCKHPD(c[2*p+1], c[2*p], t[2*p+1])
	}
	// 128-bit blocks of two pairs: u holds lanes {0,4}, {2,6}, {1,5}, {3,7}
	// of columns 0-3, then of columns 4-7.
	u := make([]VecVirtual, 8)
	for h := 0; h < 2; h++ {
		x, y := t[4*h:], u[4*h:]
		for s := 0; s < 2; s++ {
			y[2*s], y[2*s+1] = ZMM(), ZMM()
			VSHUFF64X2(U8(0x88), x[s+2], x[s], y[2*s])   // blocks 0, 2 of each
			VSHUFF64X2(U8(0xdd), x[s+2], x[s], y[2*s+1]) // blocks 1, 3 of each
		}
	}
	// Row i from the two halves holding lane i.
	src := [8][3]int{{0, 4, 0x88}, {2, 6, 0x88}, {1, 5, 0x88}, {3, 7, 0x88}, {0, 4, 0xdd}, {2, 6, 0xdd}, {1, 5, 0xdd}, {3, 7, 0xdd}}
	r := make([]VecVirtual, 8)
	for i, s := range src {
		r[i] = ZMM()
		VSHUFF64X2(U8(s[2]), u[s[1]], u[s[0]], r[i])
	}
	return r
}

// packKernel writes the kernel that packs 8 rows of A into a panel:
// dst[k*ldd+i] = src[i*lds+k] for i < 8, k < m, through 8x8 transposes.
func packKernel(isa vecgen.ISA) {
	const es, lanes = 8, 8
	name := "packF64T8" + isa.Name
	TEXT(name, NOSPLIT, "func(dst *float64, ldd int, src *float64, lds int, m int)")
	Doc(name + " packs 8 rows into a k-major panel: dst[k*ldd+i] = src[i*lds+k] for i < 8 and k < m (strides in elements).")
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	SHLQ(U8(3), ldd)
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	SHLQ(U8(3), lds)
	bases, row := eightRows(src, lds)
	m := Load(Param("m"), GP64())
	n := GP64()
	MOVQ(m, n)
	SHRQ(U8(3), n)

	Comment("Eight columns of the eight rows per step.")
	TESTQ(n, n)
	JZ(LabelRef("tail"))
	Label("loop")
	c := make([]VecVirtual, 8)
	for i := range c {
		c[i] = ZMM()
		VMOVUPD(row(i), c[i])
	}
	// Row i of the block as loaded is column i of the panel; transposing
	// gives the panel's rows k..k+7.
	for _, r := range transpose8x8(c) {
		VMOVUPD(r, Mem{Base: dst})
		ADDQ(ldd, dst)
	}
	for _, base := range bases {
		ADDQ(U8(lanes*es), base)
	}
	DECQ(n)
	JNZ(LabelRef("loop"))

	Comment("The last m mod 8 columns: masked loads, then as many panel rows.")
	Label("tail")
	rem, t := tailSteps(isa, m, es, "done")
	for i := range c {
		c[i] = ZMM()
		t.Load(row(i), c[i])
	}
	for k, r := range transpose8x8(c) {
		if k > 0 {
			CMPQ(rem, U8(k))
			JLE(LabelRef("done"))
		}
		VMOVUPD(r, Mem{Base: dst})
		ADDQ(ldd, dst)
	}
	Label("done")
	VZEROUPPER()
	RET()
}

// tailSteps leaves in a new register the m mod 8 steps k that follow the
// rounds of 8, jumping to skip when there are none, and returns it with
// the mask of that many lanes.
func tailSteps(isa vecgen.ISA, m Register, es int, skip string) (Register, vecgen.Tail) {
	rem := GP64()
	MOVQ(m, rem)
	ANDQ(U8(7), rem)
	JZ(LabelRef(skip))
	return rem, isa.TailMask(rem, es)
}

// eightRows addresses 8 rows ld bytes apart from base: rows 0-3 from base,
// rows 4-7 from a second base 4 ld further (index scales 1, 2 and a
// register holding 3 ld). It returns the bases, to be advanced together,
// and the address of row i.
func eightRows(base, ld Register) ([]Register, func(i int) Mem) {
	ld3 := GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	base4 := GP64()
	LEAQ(Mem{Base: base, Index: ld, Scale: 4}, base4)
	bases := []Register{base, base4}
	return bases, func(i int) Mem {
		b := bases[i/4]
		switch i % 4 {
		case 0:
			return Mem{Base: b}
		case 3:
			return Mem{Base: b, Index: ld3, Scale: 1}
		}
		return Mem{Base: b, Index: ld, Scale: uint8(i % 4)}
	}
}

// zeroedAccs allocates rows x cols accumulators from vec and clears them.
func zeroedAccs(rows, cols int, vec func() VecVirtual) [][]VecVirtual {
	acc := make([][]VecVirtual, rows)
	for i := range acc {
		acc[i] = make([]VecVirtual, cols)
		for j := range acc[i] {
			acc[i][j] = vec()
			vecgen.Zero(acc[i][j])
		}
	}
	return acc
}
