package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"

	"github.com/pcct/pcct/asmgen/internal/vecgen"
)

// fetchKernel writes the AVX2 R x C block on B rows picked by id that also
// fetches the next group's C rows (ids at the parameter next) into the
// cache while it multiplies its own. Its main loop runs two steps per
// pass: a pass reads 64 bytes (one cache line) of each of its own rows
// and asks for the matching line of every next row, half of them in each
// step, so by its end the next rows' first m elements have all been asked
// for, spread over the call. B rows picked by id are scattered over V,
// and each starts a new stream that the hardware prefetcher finds late:
// 16 query rows against 13, 61 and 509 rows of a 512 MiB V, 10.8 -> 12.3
// GFLOP/s (geometric mean; from L2 no change). The arithmetic is kernel's, bit for bit; the drive runs
// it for the first strip of rows of each group (see dotBlocks.fetch).
func fetchKernel(isa vecgen.ISA, es, R, C int) {
	name := fmt.Sprintf("dot%s%dx%dRowsFetch%s", precName(es), R, C, isa.Name)
	TEXT(name, NOSPLIT, fmt.Sprintf("func(a *%[1]s, lda int, b *%[1]s, ldb int, ids *int32, next *int32, m int, out *%[1]s, ldo int)", typeName(es)))
	Doc(fmt.Sprintf("%s is dot%s%dx%dRows%s that also fetches the rows b[next[j]*ldb:] (j < %d) into the cache, for the call after it.", name, precName(es), R, C, isa.Name, C))
	ad := address(es, R, C, true)
	nb := rowBasesOf("next", ad.b, ad.ldb, C)
	m, n := stepCount(isa, es)
	acc := zeroedAccs(R, C, isa.Vec)

	Comment("Pairs of steps, each fetching a line of half of the next rows.")
	pairs, off := GP64(), GP64()
	MOVQ(n, pairs)
	SHRQ(U8(1), pairs)
	XORQ(off, off)
	TESTQ(pairs, pairs)
	JZ(LabelRef("single"))
	Label("pair")
	for s := 0; s < 2; s++ {
		for j := s * C / 2; j < (s+1)*C/2; j++ {
			PREFETCHT0(Mem{Base: nb[j], Index: off, Scale: 1})
		}
		step(isa, es, ad, acc)
	}
	ADDQ(U8(64), off)
	DECQ(pairs)
	JNZ(LabelRef("pair"))
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
