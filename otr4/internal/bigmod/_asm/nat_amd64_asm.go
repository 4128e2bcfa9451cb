// Copyright 2023 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// This is Go 1.26's crypto/internal/fips140/bigmod/_asm/nat_amd64_asm.go
// (filippo.io/bigmod v0.1.0 ships the generated nat_amd64.s but not its
// generator), changed for otrchat only in the package path and in asking
// for a 3072-bit routine as well, for OTRv4's RFC 3526 group. The 1024, 1536
// and 2048-bit routines it emits are identical to upstream's.
//
// Regenerate with: cd otr4/internal/bigmod/_asm && go generate

// Command nat_amd64_asm generates nat_amd64.s with avo.
package main

import (
	"strconv"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

//go:generate go run . -out ../nat_amd64.s -pkg bigmod

func main() {
	Package("github.com/otrchat/otrchat/otr4/internal/bigmod")
	ConstraintExpr("!purego")

	addMulVVW(1024)
	addMulVVW(1536)
	addMulVVW(2048)
	addMulVVW(3072)
	addMulVVWn() // otrchat: for the 3072-bit squaring

	Generate()
}

// addMulVVWn is addMulVVW over a length n known only at run time (n >= 0),
// for the triangle of products in a dedicated squaring. The ADX path runs
// the same two carry chains as the unrolled routines over blocks of four
// limbs, folds both flags into the carry word after each block (the sum
// x*y + z + c of one limb always fits in two words, so this cannot
// overflow), and finishes the last n mod 4 limbs one at a time.
func addMulVVWn() {
	Implement("addMulVVWn")

	CMPB(Mem{Symbol: Symbol{Name: "·supportADX"}, Base: StaticBase}, Imm(1))
	JEQ(LabelRef("adx"))

	z := Load(Param("z"), GP64())
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())

	carry := GP64()
	XORQ(carry, carry) // zero out carry
	TESTQ(n, n)
	JZ(LabelRef("done"))

	Label("loop")
	hi, lo := RDX, RAX // implicit MULQ inputs and outputs
	MOVQ(Mem{Base: x}, lo)
	MULQ(y)
	ADDQ(Mem{Base: z}, lo)
	ADCQ(Imm(0), hi)
	ADDQ(carry, lo)
	ADCQ(Imm(0), hi)
	MOVQ(hi, carry)
	MOVQ(lo, Mem{Base: z})
	LEAQ(Mem{Base: x, Disp: 8}, x)
	LEAQ(Mem{Base: z, Disp: 8}, z)
	DECQ(n)
	JNZ(LabelRef("loop"))

	Label("done")
	Store(carry, ReturnIndex(0))
	RET()

	Label("adx")

	z = Load(Param("z"), GP64())
	x = Load(Param("x"), GP64())
	Load(Param("y"), RDX) // implicit source of MULXQ
	n = Load(Param("n"), GP64())

	blocks := GP64()
	MOVQ(n, blocks)
	SHRQ(Imm(2), blocks)
	ANDQ(Imm(3), n) // the limbs left after the blocks

	carry = GP64()
	XORQ(carry, carry) // zero out carry
	TESTQ(blocks, blocks)
	JZ(LabelRef("adxtail"))

	Label("adxblock")
	hi2, lo2 := GP64(), GP64()
	XORQ(lo2, lo2) // unset flags
	for i := 0; i < 4; i += 2 {
		Comment("Limb " + strconv.Itoa(i))
		MULXQ(Mem{Base: x, Disp: i * 8}, lo2, hi2)
		ADCXQ(carry, lo2)
		ADOXQ(Mem{Base: z, Disp: i * 8}, lo2)
		MOVQ(lo2, Mem{Base: z, Disp: i * 8})

		Comment("Limb " + strconv.Itoa(i+1))
		MULXQ(Mem{Base: x, Disp: (i + 1) * 8}, lo2, carry)
		ADCXQ(hi2, lo2)
		ADOXQ(Mem{Base: z, Disp: (i + 1) * 8}, lo2)
		MOVQ(lo2, Mem{Base: z, Disp: (i + 1) * 8})
	}
	Comment("Add back carry flags")
	MOVQ(U32(0), hi2) // MOV leaves the flags alone
	ADCXQ(hi2, carry)
	ADOXQ(hi2, carry)
	LEAQ(Mem{Base: x, Disp: 32}, x)
	LEAQ(Mem{Base: z, Disp: 32}, z)
	DECQ(blocks)
	JNZ(LabelRef("adxblock"))

	Label("adxtail")
	TESTQ(n, n)
	JZ(LabelRef("adxdone"))

	Label("adxloop")
	MULXQ(Mem{Base: x}, lo2, hi2)
	ADDQ(carry, lo2)
	ADCQ(Imm(0), hi2)
	ADDQ(Mem{Base: z}, lo2)
	ADCQ(Imm(0), hi2)
	MOVQ(lo2, Mem{Base: z})
	MOVQ(hi2, carry)
	LEAQ(Mem{Base: x, Disp: 8}, x)
	LEAQ(Mem{Base: z, Disp: 8}, z)
	DECQ(n)
	JNZ(LabelRef("adxloop"))

	Label("adxdone")
	Store(carry, ReturnIndex(0))
	RET()
}

func addMulVVW(bits int) {
	if bits%64 != 0 {
		panic("bit size unsupported")
	}

	Implement("addMulVVW" + strconv.Itoa(bits))

	CMPB(Mem{Symbol: Symbol{Name: "·supportADX"}, Base: StaticBase}, Imm(1))
	JEQ(LabelRef("adx"))

	z := Mem{Base: Load(Param("z"), GP64())}
	x := Mem{Base: Load(Param("x"), GP64())}
	y := Load(Param("y"), GP64())

	carry := GP64()
	XORQ(carry, carry) // zero out carry

	for i := 0; i < bits/64; i++ {
		Comment("Iteration " + strconv.Itoa(i))
		hi, lo := RDX, RAX // implicit MULQ inputs and outputs
		MOVQ(x.Offset(i*8), lo)
		MULQ(y)
		ADDQ(z.Offset(i*8), lo)
		ADCQ(Imm(0), hi)
		ADDQ(carry, lo)
		ADCQ(Imm(0), hi)
		MOVQ(hi, carry)
		MOVQ(lo, z.Offset(i*8))
	}

	Store(carry, ReturnIndex(0))
	RET()

	Label("adx")

	// The ADX strategy implements the following function, where c1 and c2 are
	// the overflow and the carry flag respectively.
	//
	//    func addMulVVW(z, x []uint, y uint) (carry uint) {
	//        var c1, c2 uint
	//        for i := range z {
	//            hi, lo := bits.Mul(x[i], y)
	//            lo, c1 = bits.Add(lo, z[i], c1)
	//            z[i], c2 = bits.Add(lo, carry, c2)
	//            carry = hi
	//        }
	//        return carry + c1 + c2
	//    }
	//
	// The loop is fully unrolled and the hi / carry registers are alternated
	// instead of introducing a MOV.

	z = Mem{Base: Load(Param("z"), GP64())}
	x = Mem{Base: Load(Param("x"), GP64())}
	Load(Param("y"), RDX) // implicit source of MULXQ

	carry = GP64()
	XORQ(carry, carry) // zero out carry
	z0 := GP64()
	XORQ(z0, z0) // unset flags and zero out z0

	for i := 0; i < bits/64; i++ {
		hi, lo := GP64(), GP64()

		Comment("Iteration " + strconv.Itoa(i))
		MULXQ(x.Offset(i*8), lo, hi)
		ADCXQ(carry, lo)
		ADOXQ(z.Offset(i*8), lo)
		MOVQ(lo, z.Offset(i*8))

		i++

		Comment("Iteration " + strconv.Itoa(i))
		MULXQ(x.Offset(i*8), lo, carry)
		ADCXQ(hi, lo)
		ADOXQ(z.Offset(i*8), lo)
		MOVQ(lo, z.Offset(i*8))
	}

	Comment("Add back carry flags and return")
	ADCXQ(z0, carry)
	ADOXQ(z0, carry)

	Store(carry, ReturnIndex(0))
	RET()
}
