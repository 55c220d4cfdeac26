package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"

	"github.com/pcct/pcct/asmgen/internal/vecgen"
)

// fetchKernel writes the AVX2 R x C block on B rows picked by id that also
// fetches part of the next group's C rows (ids at the parameter next) into
// the cache while it multiplies its own: bytes [from, from + 64 lines) of
// each next row. Its main loop runs two steps per pass; each of the first
// `lines` passes reads 64 bytes (one cache line) of each of its own rows
// and asks for one line of every next row, half of them in each step; the
// passes after them only multiply. The drive splits
// a group's fetch over its strips of rows (see dotBlocks.driveLower), so
// that the few misses a strip asks for overlap its arithmetic instead of
// filling the core's miss buffers in one strip. B rows picked by id are
// scattered over V, and each starts a new stream that the hardware
// prefetcher finds late. The arithmetic is kernel's, bit for bit.
func fetchKernel(isa vecgen.ISA, es, R, C int) {
	name := fmt.Sprintf("dot%s%dx%dRowsFetch%s", precName(es), R, C, isa.Name)
	TEXT(name, NOSPLIT, fmt.Sprintf("func(a *%[1]s, lda int, b *%[1]s, ldb int, ids *int32, next *int32, from int, lines int, m int, out *%[1]s, ldo int)", typeName(es)))
	Doc(fmt.Sprintf("%s is dot%s%dx%dRows%s that also fetches bytes [from, from+64*lines) of the rows b[next[j]*ldb:] (j < %d) into the cache, for a call after it.", name, precName(es), R, C, isa.Name, C))
	ad := address(es, R, C, true)
	nb := rowBasesOf("next", ad.b, ad.ldb, C)
	m, n := stepCount(isa, es)
	acc := zeroedAccs(R, C, isa.Vec)

	Comment("Pairs of steps: the first lines of them each fetch a line of every next row.")
	pairs, off, fetch := GP64(), GP64(), GP64()
	MOVQ(n, pairs)
	SHRQ(U8(1), pairs)
	Load(Param("from"), off)
	Load(Param("lines"), fetch)
	CMPQ(fetch, pairs)
	CMOVQGT(pairs, fetch)
	SUBQ(fetch, pairs)
	TESTQ(fetch, fetch)
	JZ(LabelRef("plain"))
	Label("pair")
	for s := 0; s < 2; s++ {
		for j := s * C / 2; j < (s+1)*C/2; j++ {
			PREFETCHT0(Mem{Base: nb[j], Index: off, Scale: 1})
		}
		step(isa, es, ad, acc)
	}
	ADDQ(U8(64), off)
	DECQ(fetch)
	JNZ(LabelRef("pair"))
	Label("plain")
	TESTQ(pairs, pairs)
	JZ(LabelRef("single"))
	Label("plainpair")
	step(isa, es, ad, acc)
	step(isa, es, ad, acc)
	DECQ(pairs)
	JNZ(LabelRef("plainpair"))
	Label("single")
	ANDQ(U8(1), n)
	JZ(LabelRef("tail"))
	step(isa, es, ad, acc)
	tail(isa, es, ad, acc, m)
	reduceStore(isa, es, ad.shift, acc)
	VZEROUPPER()
	RET()
}

// precName and typeName name the precision of elements of es bytes in
// kernel names and Go signatures.
func precName(es int) string {
	if es == 4 {
		return "F32"
	}
	return "F64"
}

func typeName(es int) string {
	if es == 4 {
		return "float32"
	}
	return "float64"
}
