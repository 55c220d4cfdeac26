// Command dot generates the register-blocked dot-product tile kernels
// (G = A Bᵀ) of package kernels for AVX-512 and AVX2+FMA, in float64 and
// float32: dot-product blocks (main.go), and for AVX-512 float64
// outer-product kernels on packed panels of A (packed.go) and kernels of
// one A row against many B rows (column.go).
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/pcct/pcct/asmgen/internal/vecgen"
)

func main() {
	ConstraintExpr("!purego")
	for _, isa := range vecgen.All {
		R, C := blocking(isa)
		for _, es := range []int{8, 4} {
			if isa.AVX512 && es == 8 {
				// Outer-product kernels on packed panels (packed.go).
				for _, v := range packedHeights {
					packedKernel(isa, v, false)
					packedKernel(isa, v, true)
				}
				packKernel(isa)
				for _, v := range columnGroups {
					columnKernel(isa, v)
				}
				continue
			}
			heights := rowHeights(isa, R)
			for _, w := range []int{C, 1} {
				for _, r := range heights {
					kernel(isa, es, r, w, false)
				}
			}
			// Gathered B rows for whole groups; single columns use the
			// strided kernels.
			for _, r := range heights {
				kernel(isa, es, r, C, true)
			}
			if !isa.AVX512 {
				fetchKernel(isa, es, R, C)
			}
			// Narrower blocks for the columns left over when a panel's
			// width is not a multiple of C: one pass over A for up to C-1
			// columns instead of one per column.
			for _, w := range edgeWidths(C) {
				for _, r := range heights {
					kernel(isa, es, r, w, false)
					kernel(isa, es, r, w, true)
				}
			}
		}
	}
	Generate()
}

// blocking returns the register block: R rows of A times C rows of B, with
// R*C accumulators, R A-vectors and one B-vector live in the inner loop
// (29 of 32 zmm; 16 of 16 ymm).
func blocking(isa vecgen.ISA) (R, C int) {
	if isa.AVX512 {
		return 4, 6
	}
	return 3, 4
}

// rowHeights returns the block heights: R, the pair of rows R-1 = 2 on
// AVX2 (the two rows a strip of 3 leaves, as in a tile of 8 or 32 rows: a
// single row's 4 accumulators wait on the FMA latency, at about half the
// pair's rate, and two single rows read their B rows twice), and 1.
func rowHeights(isa vecgen.ISA, R int) []int {
	if isa.AVX512 {
		return []int{R, 1}
	}
	return []int{R, 2, 1}
}

// edgeWidths returns the even block widths below C (the reduction stores
// accumulators in pairs) that, with width 1, cover any leftover: 4 and 2
// for C = 6, 2 for C = 4.
func edgeWidths(C int) []int {
	var ws []int
	for w := C - 2; w >= 2; w -= 2 {
		ws = append(ws, w)
	}
	return ws
}

// kernel writes one R x C block kernel. With rows, B row j is b +
// ids[j]*ldb (B rows gathered by id, read in place) instead of b + j*ldb;
// the arithmetic is the same, so results are bit-identical to the strided
// kernel on copied rows.
func kernel(isa vecgen.ISA, es, R, C int, rows bool) {
	declare(isa, es, R, C, rows)
	ad := address(es, R, C, rows)
	m, n := stepCount(isa, es)
	acc := zeroedAccs(R, C, isa.Vec)
	mainLoop(isa, es, ad, acc, n)
	tail(isa, es, ad, acc, m)
	reduceStore(isa, es, ad.shift, acc)
	VZEROUPPER()
	RET()
}

// declare writes the kernel's TEXT line and doc comment.
func declare(isa vecgen.ISA, es, R, C int, rows bool) {
	typ, prec := typeName(es), precName(es)
	name := fmt.Sprintf("dot%s%dx%d%s", prec, R, C, isa.Name)
	if rows {
		name = fmt.Sprintf("dot%s%dx%dRows%s", prec, R, C, isa.Name)
		TEXT(name, NOSPLIT, fmt.Sprintf("func(a *%[1]s, lda int, b *%[1]s, ldb int, ids *int32, m int, out *%[1]s, ldo int)", typ))
		Doc(fmt.Sprintf("%s computes the %dx%d block out[i*ldo+j] = sum_k a[i*lda+k]*b[ids[j]*ldb+k], k < m (strides in elements).", name, R, C))
	} else {
		TEXT(name, NOSPLIT, fmt.Sprintf("func(a *%[1]s, lda int, b *%[1]s, ldb int, m int, out *%[1]s, ldo int)", typ))
		Doc(fmt.Sprintf("%s computes the %dx%d block out[i*ldo+j] = sum_k a[i*lda+k]*b[j*ldb+k], k < m (strides in elements).", name, R, C))
	}
}

// addressing holds a block kernel's row addresses: A rows from a with
// stride lda (and 3 lda), B rows from their bases, advanced together.
type addressing struct {
	shift      U8 // log2 of the element size
	a          Register
	bases      []Register
	rowA, rowB func(i int) Mem
	R, C       int
	b, ldb     Register // B's pointer and stride in bytes (the fetching kernel's next rows)
}

// address loads the A and B pointers and strides and sets up the row
// addressing: B rows from a base every three rows (index scales are 1, 2, 4
// or 8), or, gathered, each from its own base.
func address(es, R, C int, rows bool) addressing {
	ad := addressing{shift: U8(3), R: R, C: C}
	if es == 4 {
		ad.shift = U8(2)
	}
	a := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	SHLQ(ad.shift, lda)
	var lda3 GPVirtual
	if R > 3 {
		lda3 = GP64()
		LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
	}
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(ad.shift, ldb)
	ad.b, ad.ldb = b, ldb
	if rows {
		ad.bases = rowBasesByID(b, ldb, C)
	} else {
		ad.bases = append(ad.bases, b)
		for j := 3; j < C; j += 3 {
			bj := GP64()
			LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, bj)
			ADDQ(ad.bases[len(ad.bases)-1], bj)
			ad.bases = append(ad.bases, bj)
		}
	}
	ad.a = a
	ad.rowA = func(i int) Mem {
		switch i {
		case 0:
			return Mem{Base: a}
		case 3:
			return Mem{Base: a, Index: lda3, Scale: 1}
		}
		return Mem{Base: a, Index: lda, Scale: uint8(i)}
	}
	ad.rowB = func(j int) Mem {
		if rows {
			return Mem{Base: ad.bases[j]}
		}
		base := ad.bases[j/3]
		if j%3 == 0 {
			return Mem{Base: base}
		}
		return Mem{Base: base, Index: ldb, Scale: uint8(j % 3)}
	}
	return ad
}

// mainLoop runs n steps of one vector of every row.
func mainLoop(isa vecgen.ISA, es int, ad addressing, acc [][]VecVirtual, n Register) {
	Comment("Main loop: one vector of every row per step.")
	TESTQ(n, n)
	JZ(LabelRef("tail"))
	Label("loop")
	step(isa, es, ad, acc)
	DECQ(n)
	JNZ(LabelRef("loop"))
}

// stepCount loads the parameter m and returns it with the number of whole
// vectors in m elements (the main loop's steps).
func stepCount(isa vecgen.ISA, es int) (m, n Register) {
	m = Load(Param("m"), GP64())
	n = GP64()
	MOVQ(m, n)
	log := 0
	for 1<<log < isa.Lanes(es) {
		log++
	}
	SHRQ(U8(log), n)
	return m, n
}

// step writes one step of the main loop: one vector of every row, the
// addresses advanced past it.
func step(isa vecgen.ISA, es int, ad addressing, acc [][]VecVirtual) {
	ar := make([]VecVirtual, ad.R)
	for i := range ar {
		ar[i] = isa.Vec()
		vecgen.LoadVec(ad.rowA(i), ar[i], es)
	}
	for j := 0; j < ad.C; j++ {
		bt := isa.Vec()
		vecgen.LoadVec(ad.rowB(j), bt, es)
		for i := 0; i < ad.R; i++ {
			vecgen.FMA(bt, ar[i], acc[i][j], es)
		}
	}
	ADDQ(U32(isa.Bytes), ad.a)
	for _, base := range ad.bases {
		ADDQ(U32(isa.Bytes), base)
	}
}

// tail adds the last m mod lanes elements through a mask.
func tail(isa vecgen.ISA, es int, ad addressing, acc [][]VecVirtual, m Register) {
	Comment("Tail: the last m mod lanes elements through a mask.")
	Label("tail")
	rem := GP64()
	MOVQ(m, rem)
	ANDQ(U32(isa.Lanes(es)-1), rem)
	JZ(LabelRef("reduce"))
	t := isa.TailMask(rem, es)
	for i := 0; i < ad.R; i++ {
		at := isa.Vec()
		t.Load(ad.rowA(i), at)
		for j := 0; j < ad.C; j++ {
			bt := isa.Vec()
			t.Load(ad.rowB(j), bt)
			vecgen.FMA(bt, at, acc[i][j], es)
		}
	}
}

// reduceStore sums the lanes of every accumulator and stores the block.
func reduceStore(isa vecgen.ISA, es int, shift U8, acc [][]VecVirtual) {
	Comment("Sum the lanes of every accumulator and store it.")
	Label("reduce")
	g := Load(Param("out"), GP64())
	ldg := Load(Param("ldo"), GP64())
	SHLQ(shift, ldg)
	R, C := len(acc), len(acc[0])
	for i := 0; i < R; i++ {
		if C%2 == 0 {
			isa.ReduceStoreRow(acc[i], Mem{Base: g}, es)
		}
		for j := 0; j < C && C%2 != 0; j++ {
			tmp := isa.Vec()
			isa.Reduce(acc[i][j], tmp, es)
			if es == 8 {
				VMOVSD(acc[i][j].AsX(), Mem{Base: g, Disp: j * es})
			} else {
				VMOVSS(acc[i][j].AsX(), Mem{Base: g, Disp: j * es})
			}
		}
		if i < R-1 {
			ADDQ(ldg, g)
		}
	}
}

// rowBasesByID loads the ids parameter and returns one base register per B
// row, b + ids[j]*ldb for j < n (ldb in bytes): the addressing of B rows
// gathered by id, read in place, shared by the dot blocks and the packed
// kernels.
func rowBasesByID(b, ldb Register, n int) []Register { return rowBasesOf("ids", b, ldb, n) }

// rowBasesOf is rowBasesByID for the ids at the parameter param.
func rowBasesOf(param string, b, ldb Register, n int) []Register {
	ids := Load(Param(param), GP64())
	bases := make([]Register, 0, n)
	for j := 0; j < n; j++ {
		bj := GP64()
		MOVLQSX(Mem{Base: ids, Disp: 4 * j}, bj)
		IMULQ(ldb, bj)
		ADDQ(b, bj)
		bases = append(bases, bj)
	}
	return bases
}
