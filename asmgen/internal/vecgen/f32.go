package vecgen

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// ConstsF32 emits a table of float32 constants, each repeated across one
// vector, and returns one memory operand per constant.
func (s ISA) ConstsF32(name string, vals ...float32) []Mem {
	return s.tableES(name, len(vals), 4, func(i int) Constant { return F32(vals[i]) })
}

// ConstsU32 is ConstsF32 for 32-bit patterns (integers, masks).
func (s ISA) ConstsU32(name string, vals ...uint32) []Mem {
	return s.tableES(name, len(vals), 4, func(i int) Constant { return U32(vals[i]) })
}

// Exp32Doc describes Exp32; generators copy it into their docs.
const Exp32Doc = "exp in float32 for x <= 0: clamp to [-87, 0], n = round(x log2 e), " +
	"Cody-Waite reduction r = x - n ln2 (two float32 parts), degree-7 Taylor " +
	"polynomial by Horner with FMA, then scaling by 2^n (VSCALEFPS on AVX-512, " +
	"an exponent-built factor on AVX2)"

// Exp32Coeffs are Exp32's constants in table order: the clamp, log2 e,
// ln2 in two parts (the high one with 9 significant bits, so n ln2hi is
// exact for |n| < 2^15) and the Taylor coefficients 1/k!, k = 7 down to 0.
// The generic twin in package kernels uses the same values.
var Exp32Coeffs = []float32{-87, 0, math.Log2E, 0.693359375, -2.12194440e-4,
	1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1}

// Exp32Consts emits the constant table used by Exp32.
func (s ISA) Exp32Consts() []Mem {
	c := s.ConstsF32("exp32const", Exp32Coeffs...)
	if !s.AVX512 {
		c = append(c, s.ConstsU32("exp32bias", 127)...)
	}
	return c
}

// Exp32 replaces every float32 lane of each x (x <= 0, not NaN) by
// exp(x), emitting each step for all of xs before the next so that their
// dependency chains overlap. It uses two temporary vectors per x.
func (s ISA) Exp32(c []Mem, xs ...VecVirtual) {
	lo, hi, log2e, ln2hi, ln2lo := c[0], c[1], c[2], c[3], c[4]
	poly := c[5:13]
	n, r := make([]VecVirtual, len(xs)), make([]VecVirtual, len(xs))
	for i := range xs {
		n[i], r[i] = s.Vec(), s.Vec()
	}
	each := Interleaved(xs)
	each(func(i int, x VecVirtual) { VMAXPS(lo, x, x) })
	each(func(i int, x VecVirtual) { VMINPS(hi, x, x) })
	each(func(i int, x VecVirtual) { VMULPS(log2e, x, n[i]) })
	each(func(i int, x VecVirtual) {
		if s.AVX512 {
			VRNDSCALEPS(U8(0), n[i], n[i])
		} else {
			VROUNDPS(U8(0), n[i], n[i])
		}
	})
	each(func(i int, x VecVirtual) { VMOVAPS(x, r[i]) })
	each(func(i int, x VecVirtual) { VFNMADD231PS(ln2hi, n[i], r[i]) })
	each(func(i int, x VecVirtual) { VFNMADD231PS(ln2lo, n[i], r[i]) })
	each(func(i int, x VecVirtual) { VMOVUPS(poly[0], x) })
	for _, ck := range poly[1:] {
		each(func(i int, x VecVirtual) { VFMADD213PS(ck, r[i], x) })
	}
	if s.AVX512 {
		each(func(i int, x VecVirtual) { VSCALEFPS(n[i], x, x) })
		return
	}
	// n >= -126 after the clamp: 2^n is a normal float32.
	each(func(i int, x VecVirtual) { VCVTPS2DQ(n[i], n[i]) })
	each(func(i int, x VecVirtual) { VPADDD(c[13], n[i], n[i]) })
	each(func(i int, x VecVirtual) { VPSLLD(U8(23), n[i], n[i]) })
	each(func(i int, x VecVirtual) { VMULPS(n[i], x, x) })
}
