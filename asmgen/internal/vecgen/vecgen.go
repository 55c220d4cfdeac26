// Package vecgen holds the pieces that the avo generators under asmgen/ share:
// an ISA description parameterised by vector width, tail masks, constant
// tables, lane reductions and a vectorised exp.
package vecgen

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// ISA describes one instruction set a kernel is emitted for.
type ISA struct {
	Name   string // suffix of the emitted functions: "AVX512" or "AVX2"
	Bytes  int    // vector width in bytes: 64 (zmm) or 32 (ymm)
	AVX512 bool
}

// Both ISAs, widest first.
var (
	AVX512 = ISA{Name: "AVX512", Bytes: 64, AVX512: true}
	AVX2   = ISA{Name: "AVX2", Bytes: 32}
	All    = []ISA{AVX512, AVX2}
)

// Vec allocates one vector register of the ISA's width. AVX2 kernels must keep
// at most 16 vector registers live: the VEX encoding cannot name Y16-Y31, and a
// test in kernels/ checks the generated files for that.
func (s ISA) Vec() VecVirtual {
	if s.AVX512 {
		return ZMM()
	}
	return YMM()
}

// Lanes returns how many elements of es bytes one vector holds.
func (s ISA) Lanes(es int) int { return s.Bytes / es }

// Tail is a mask selecting the first rem lanes of a vector: an opmask register
// on AVX-512, a vector of all-ones lanes on AVX2.
type Tail struct {
	isa ISA
	k   OpmaskVirtual
	v   VecVirtual
	es  int
}

var tailTables = map[string]Mem{}

// tailTable returns the mask table: on AVX-512 uint16 words (1<<i)-1 for
// i = 0..16; on AVX2 32 bytes of ones followed by 32 zero bytes, so that the
// 32 bytes at offset 32-rem*es select rem lanes of es bytes.
func (s ISA) tailTable() Mem {
	if m, ok := tailTables[s.Name]; ok {
		return m
	}
	var m Mem
	if s.AVX512 {
		m = GLOBL("tailmask"+s.Name, RODATA|NOPTR)
		for i := 0; i <= 16; i++ {
			DATA(2*i, U16(uint16(1<<i-1)))
		}
	} else {
		m = GLOBL("tailmask"+s.Name, RODATA|NOPTR)
		for i := 0; i < 8; i++ {
			v := uint64(0)
			if i < 4 {
				v = math.MaxUint64
			}
			DATA(8*i, U64(v))
		}
	}
	tailTables[s.Name] = m
	return m
}

// TailTableMem returns the tail mask table (see tailTable) for kernels that
// index it themselves.
func (s ISA) TailTableMem() Mem { return s.tailTable() }

// TailMask builds a mask for the first rem lanes (1 <= rem < Lanes(es)); rem
// is left unchanged.
func (s ISA) TailMask(rem Register, es int) Tail {
	tbl := s.tailTable()
	base := GP64()
	LEAQ(tbl, base)
	t := Tail{isa: s, es: es}
	if s.AVX512 {
		t.k = K()
		KMOVW(Mem{Base: base, Index: rem, Scale: 2}, t.k)
		return t
	}
	neg := GP64()
	MOVQ(rem, neg)
	NEGQ(neg)
	t.v = YMM()
	VMOVDQU(Mem{Base: base, Index: neg, Scale: uint8(es), Disp: 32}, t.v)
	return t
}

// Load loads the masked lanes of m into dst and zeroes the others; the
// lanes outside the mask are not read.
func (t Tail) Load(m Mem, dst VecVirtual) {
	switch {
	case t.isa.AVX512 && t.es == 8:
		VMOVUPD_Z(m, t.k, dst)
	case t.isa.AVX512:
		VMOVUPS_Z(m, t.k, dst)
	case t.es == 8:
		VMASKMOVPD(m, t.v, dst)
	default:
		VMASKMOVPS(m, t.v, dst)
	}
}

// Store writes the masked lanes of src to m and leaves the rest of m alone.
func (t Tail) Store(src VecVirtual, m Mem) {
	switch {
	case t.isa.AVX512 && t.es == 8:
		VMOVUPD(src, t.k, m)
	case t.isa.AVX512:
		VMOVUPS(src, t.k, m)
	case t.es == 8:
		VMASKMOVPD(src, t.v, m)
	default:
		VMASKMOVPS(src, t.v, m)
	}
}

// Consts emits a table of float64 constants, each repeated across one vector
// of the ISA, and returns one memory operand per constant, for use as the
// memory source of arithmetic instructions.
func (s ISA) Consts(name string, vals ...float64) []Mem {
	return s.table(name, len(vals), func(i int) Constant { return F64(vals[i]) })
}

// ConstsU64 is Consts for 64-bit patterns (integers, masks).
func (s ISA) ConstsU64(name string, vals ...uint64) []Mem {
	return s.table(name, len(vals), func(i int) Constant { return U64(vals[i]) })
}

var constCache = map[string][]Mem{}

// table emits n 8-byte constants, each repeated across one vector, once per
// name and ISA.
func (s ISA) table(name string, n int, val func(int) Constant) []Mem {
	return s.tableES(name, n, 8, val)
}

// tableES is table for constants of es bytes.
func (s ISA) tableES(name string, n, es int, val func(int) Constant) []Mem {
	if c, ok := constCache[name+s.Name]; ok {
		return c
	}
	m := GLOBL(name+s.Name, RODATA|NOPTR)
	out := make([]Mem, n)
	for i := range out {
		for l := 0; l < s.Lanes(es); l++ {
			DATA(s.Bytes*i+es*l, val(i))
		}
		out[i] = m.Offset(s.Bytes * i)
	}
	constCache[name+s.Name] = out
	return out
}

// ParamAddr is the stack address of a scalar argument of the current
// function.
func ParamAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// LoadVec loads a full vector; es selects PD (8) or PS (4) moves.
func LoadVec(m Mem, dst VecVirtual, es int) {
	if es == 8 {
		VMOVUPD(m, dst)
	} else {
		VMOVUPS(m, dst)
	}
}

// Zero clears a vector register.
func Zero(v VecVirtual) { VXORPS(v, v, v) }

// FMA computes acc += a*b, with b a register or memory operand.
func FMA(b Op, a, acc VecVirtual, es int) {
	if es == 8 {
		VFMADD231PD(b, a, acc)
	} else {
		VFMADD231PS(b, a, acc)
	}
}

// Reduce sums the lanes of v into its low scalar lane (v is clobbered and
// the result is v.AsX()). tmp must be a vector of the same width. The order
// of the additions is the one ReduceStoreRow uses, so that a dot product
// rounds the same whichever kernel and tile position computes it: float64
// adds neighbouring lanes first, float32 the lanes 0+2 and 1+3 of each
// 128-bit block and then those two; both then fold the 128-bit blocks
// (0+2, 1+3, then the two).
func (s ISA) Reduce(v, tmp VecVirtual, es int) {
	if es == 8 {
		VPERMILPD(U8(0x55), v, tmp) // swap the lanes of each 128-bit block
		VADDPD(tmp, v, v)
	} else {
		VUNPCKHPD(v, v, tmp)
		VADDPS(tmp, v, v)
		VMOVSHDUP(v, tmp)
		VADDPS(tmp, v, v)
	}
	s.fold(v, es)
}

func add(a, b, dst Op, es int) {
	if es == 8 {
		VADDPD(a, b, dst)
	} else {
		VADDPS(a, b, dst)
	}
}

// Interleaved returns a function that emits a step for each of xs in
// turn (f gets each vector and its index): a computation written as such
// steps has the vectors' dependency chains side by side, so that they
// overlap instead of waiting on each other.
func Interleaved(xs []VecVirtual) func(f func(i int, x VecVirtual)) {
	return func(f func(i int, x VecVirtual)) {
		for i, x := range xs {
			f(i, x)
		}
	}
}

// ExpDoc describes the accuracy of Exp; generators copy it into their docs.
const ExpDoc = "exp: clamp to [-746, 710], n = round(x log2 e), Cody-Waite reduction " +
	"r = x - n ln2 (|r| <= ln2/2), degree-13 Taylor polynomial by Horner with FMA, " +
	"then scaling by 2^n (VSCALEFPD on AVX-512, two exponent-built factors on AVX2)"

// ExpConsts emits the constant table used by Exp.
func (s ISA) ExpConsts() []Mem {
	vals := []float64{
		-746, 710, math.Log2E,
		6.93147180369123816490e-01, // ln2 hi (fdlibm): low 32 bits zero
		1.90821492927058770002e-10, // ln2 lo
	}
	// Taylor coefficients 1/k! for k = 13 down to 0.
	for k := 13; k >= 0; k-- {
		f := 1.0
		for i := 2; i <= k; i++ {
			f *= float64(i)
		}
		vals = append(vals, 1/f)
	}
	c := s.Consts("expconst", vals...)
	if !s.AVX512 {
		c = append(c, s.ConstsU64("expbias", 1023)...)
	}
	return c
}

// Exp replaces every lane of each x (float64) by exp(x); NaN stays NaN,
// -Inf gives 0 and +Inf gives +Inf. It emits each step for all of xs
// before the next, so that their dependency chains (the Horner chain
// alone is 13 FMAs) overlap; every lane goes through the same operations
// whatever the number of vectors, so its bits do not depend on it. It
// uses two temporary vectors per x and two shared ones.
func (s ISA) Exp(c []Mem, xs ...VecVirtual) {
	lo, hi, log2e, ln2hi, ln2lo := c[0], c[1], c[2], c[3], c[4]
	poly := c[5:19]
	n, r := make([]VecVirtual, len(xs)), make([]VecVirtual, len(xs))
	for i := range xs {
		n[i], r[i] = s.Vec(), s.Vec()
	}
	each := Interleaved(xs)
	// Clamp with x as the first (NaN-returning) operand so NaN survives.
	vlo, vhi := s.Vec(), s.Vec()
	VMOVUPD(lo, vlo)
	VMOVUPD(hi, vhi)
	each(func(i int, x VecVirtual) { VMAXPD(x, vlo, x) })
	each(func(i int, x VecVirtual) { VMINPD(x, vhi, x) })
	each(func(i int, x VecVirtual) { VMULPD(log2e, x, n[i]) })
	each(func(i int, x VecVirtual) {
		if s.AVX512 {
			VRNDSCALEPD(U8(0), n[i], n[i])
		} else {
			VROUNDPD(U8(0), n[i], n[i])
		}
	})
	each(func(i int, x VecVirtual) { VMOVAPD(x, r[i]) })
	each(func(i int, x VecVirtual) { VFNMADD231PD(ln2hi, n[i], r[i]) })
	each(func(i int, x VecVirtual) { VFNMADD231PD(ln2lo, n[i], r[i]) })
	each(func(i int, x VecVirtual) { VMOVUPD(poly[0], x) })
	for _, ck := range poly[1:] {
		each(func(i int, x VecVirtual) { VFMADD213PD(ck, r[i], x) })
	}
	if s.AVX512 {
		each(func(i int, x VecVirtual) { VSCALEFPD(n[i], x, x) })
		return
	}
	bias := c[19]
	// 2^n = 2^n1 * 2^n2 with n1 = n>>1 and n2 = n-n1, each a normal double
	// for n in [-1077, 1025], so that results in the subnormal range round
	// once more but are not flushed.
	each(func(i int, x VecVirtual) {
		nn, rr := n[i], r[i]
		n32 := XMM()
		VCVTPD2DQY(nn, n32)
		h32 := XMM()
		VPSRAD(U8(1), n32, h32)
		VPSUBD(h32, n32, n32)
		VPMOVSXDQ(n32, nn)
		VPMOVSXDQ(h32, rr)
		VPADDQ(bias, nn, nn)
		VPADDQ(bias, rr, rr)
		VPSLLQ(U8(52), nn, nn)
		VPSLLQ(U8(52), rr, rr)
		VMULPD(nn, x, x)
		VMULPD(rr, x, x)
	})
}

// Compactor appends the column indices of lanes that pass a comparison to an
// int32 list, in ascending order, without writing past the hits.
type Compactor struct {
	isa   ISA
	es    int        // element size: 8 (float64 lanes) or 4 (float32)
	pred  uint8      // the comparison's VCMPPD/VCMPPS predicate, d against r
	idx   Register   // output pointer, advanced past each hit
	count Register   // hits so far
	lane  VecVirtual // AVX-512: int32 column indices of the current vector
	step  Mem        // AVX-512: int32 lanes, each the vector length
	col   GPVirtual  // AVX2: column index of lane 0 of the current vector
	tbl   GPVirtual  // AVX-512: tail mask table
}

// NewCompactor starts a list of float64-lane columns at idx with no hits,
// passing d <= r (ordered: NaN never passes); columns start at 0.
func (s ISA) NewCompactor(idx, count Register) *Compactor {
	return s.newCompactor(idx, count, 8, 0x12)
}

// NewCompactorPS starts a list of float32-lane columns at idx, passing
// the lanes whose comparison pred (a VCMPPS immediate, d against r) holds.
func (s ISA) NewCompactorPS(idx, count Register, pred uint8) *Compactor {
	return s.newCompactor(idx, count, 4, pred)
}

// iotaTables are the compactors' lane-index tables, emitted once per file.
var iotaTables = map[string]Mem{}

func (s ISA) newCompactor(idx, count Register, es int, pred uint8) *Compactor {
	c := &Compactor{isa: s, es: es, pred: pred, idx: idx, count: count}
	XORQ(count, count)
	if s.AVX512 {
		lanes := s.Lanes(es)
		name := "iota32" + s.Name
		if es == 4 {
			name = "iota32x16" + s.Name
		}
		iota, ok := iotaTables[name]
		if !ok {
			iota = GLOBL(name, RODATA|NOPTR)
			for i := 0; i < lanes; i++ {
				DATA(4*i, U32(uint32(i)))
			}
			for i := 0; i < lanes; i++ {
				DATA(4*lanes+4*i, U32(uint32(lanes)))
			}
			iotaTables[name] = iota
		}
		if es == 4 {
			c.lane = ZMM()
			VMOVDQU32(iota, c.lane)
		} else {
			c.lane = YMM()
			VMOVDQU(iota, c.lane)
		}
		c.step = iota.Offset(4 * lanes)
		c.tbl = GP64()
		LEAQ(s.tailTable(), c.tbl)
	} else {
		c.col = GP64()
		XORQ(c.col, c.col)
	}
	return c
}

// Emit compares d against r lane by lane with the compactor's predicate,
// restricted to tail when it is not nil, appends the passing columns, and
// moves on to the next vector's columns. label must be unique within the
// function.
func (c *Compactor) Emit(d, r VecVirtual, tail *Tail, label string) {
	cmp, movmsk := VCMPPD, VMOVMSKPD
	if c.es == 4 {
		cmp, movmsk = VCMPPS, VMOVMSKPS
	}
	if c.isa.AVX512 {
		k := K()
		if tail != nil {
			cmp(U8(c.pred), r, d, tail.k, k)
		} else {
			cmp(U8(c.pred), r, d, k)
		}
		packed := YMM()
		if c.es == 4 {
			KORTESTW(k, k)
			JZ(LabelRef(label))
			packed = ZMM()
		} else {
			KORTESTB(k, k)
			JZ(LabelRef(label))
		}
		VPCOMPRESSD_Z(c.lane, k, packed)
		bits, pop := GP64(), GP64()
		if c.es == 4 {
			KMOVW(k, bits.As32())
		} else {
			KMOVB(k, bits.As32())
		}
		POPCNTL(bits.As32(), pop.As32())
		store := K()
		KMOVW(Mem{Base: c.tbl, Index: pop, Scale: 2}, store)
		VMOVDQU32(packed, store, Mem{Base: c.idx})
		LEAQ(Mem{Base: c.idx, Index: pop, Scale: 4}, c.idx)
		ADDQ(pop, c.count)
		Label(label)
		c.Skip()
		return
	}
	m := YMM()
	cmp(U8(c.pred), r, d, m)
	bits := GP64()
	movmsk(m, bits.As32())
	if tail != nil {
		// Keep only the lanes of the tail: its mask vector has the sign bits.
		tb := GP64()
		movmsk(tail.v, tb.As32())
		ANDQ(tb, bits)
	}
	Label(label + "_next")
	TESTQ(bits, bits)
	JZ(LabelRef(label))
	lane := GP64()
	TZCNTQ(bits, lane)
	ADDQ(c.col, lane)
	MOVL(lane.As32(), Mem{Base: c.idx})
	ADDQ(U8(4), c.idx)
	INCQ(c.count)
	BLSRQ(bits, bits)
	JMP(LabelRef(label + "_next"))
	Label(label)
	c.Skip()
}

// Skip moves on to the next vector's columns without a comparison: how
// Emit ends, and all it does for a vector known to hold no hit.
func (c *Compactor) Skip() {
	if c.isa.AVX512 {
		VPADDD(c.step, c.lane, c.lane)
		return
	}
	ADDQ(U8(c.isa.Lanes(c.es)), c.col)
}

// AnyLE jumps to label unless some float64 lane of v (of the tail's lanes,
// when tail is not nil) is at most the same lane of bound (ordered: a NaN
// lane never is).
func (s ISA) AnyLE(v, bound VecVirtual, tail *Tail, label string) {
	if s.AVX512 {
		k := K()
		if tail != nil {
			VCMPPD(U8(0x12), bound, v, tail.k, k)
		} else {
			VCMPPD(U8(0x12), bound, v, k)
		}
		KORTESTB(k, k)
		JZ(LabelRef(label))
		return
	}
	m, bits := YMM(), GP64()
	VCMPPD(U8(0x12), bound, v, m)
	if tail != nil {
		VANDPD(tail.v, m, m)
	}
	VMOVMSKPD(m, bits.As32())
	TESTQ(bits, bits)
	JZ(LabelRef(label))
}

// Count returns the register holding the number of hits.
func (c *Compactor) Count() Register { return c.count }

// ReduceStoreRow sums the lanes of each accumulator and stores the sums to
// consecutive elements at m (len(accs) must be even). Accumulators are
// combined in pairs (and, in float32, fours) by unpacking and adding before
// the halves are folded, so each sum costs about three instructions instead
// of a full reduction of its own. The accumulators are clobbered.
func (s ISA) ReduceStoreRow(accs []VecVirtual, m Mem, es int) {
	if len(accs)%2 != 0 {
		panic("ReduceStoreRow: odd number of accumulators")
	}
	off := 0
	rest := accs
	if es == 4 {
		for len(rest) >= 4 {
			a, b, c, d := rest[0], rest[1], rest[2], rest[3]
			s.pairPS(a, b)
			s.pairPS(c, d)
			t := s.Vec()
			VUNPCKLPD(c, a, t)
			VUNPCKHPD(c, a, a)
			VADDPS(t, a, a)
			s.fold(a, es)
			VMOVUPS(a.AsX(), m.Offset(off))
			off += 16
			rest = rest[4:]
		}
	}
	for len(rest) >= 2 {
		a, b := rest[0], rest[1]
		if es == 8 {
			t := s.Vec()
			VUNPCKLPD(b, a, t)
			VUNPCKHPD(b, a, a)
			VADDPD(t, a, a)
			s.fold(a, es)
			VMOVUPD(a.AsX(), m.Offset(off))
			off += 16
		} else {
			s.pairPS(a, b)
			t := s.Vec()
			VUNPCKHPD(a, a, t)
			VADDPS(t, a, a)
			s.fold(a, es)
			VMOVSD(a.AsX(), m.Offset(off))
			off += 8
		}
		rest = rest[2:]
	}
}

// pairPS leaves in a the float32 pair sums of a and b interleaved:
// [a0+a2, b0+b2, a1+a3, b1+b3] in each 128-bit lane.
func (s ISA) pairPS(a, b VecVirtual) {
	t := s.Vec()
	VUNPCKLPS(b, a, t)
	VUNPCKHPS(b, a, a)
	VADDPS(t, a, a)
}

// fold adds the upper halves of v down to its low 128 bits.
func (s ISA) fold(v VecVirtual, es int) {
	t := s.Vec()
	if s.AVX512 {
		VEXTRACTF64X4(U8(1), v, t.AsY())
		add(t.AsY(), v.AsY(), v.AsY(), es)
		VEXTRACTF32X4(U8(1), v.AsY(), t.AsX())
	} else {
		VEXTRACTF128(U8(1), v.AsY(), t.AsX())
	}
	add(t.AsX(), v.AsX(), v.AsX(), es)
}
