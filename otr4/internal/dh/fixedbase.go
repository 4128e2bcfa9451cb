package dh

import (
	"crypto/subtle"
	"sync"

	"filippo.io/bigmod"
)

// Fixed-base exponentiation g3^r for 80-byte secret exponents, used by
// generateDH. A comb of 4-bit windows: table[i][j] = g3^(j * 16^i) for the
// 160 windows of the exponent, so g3^r is the product of one entry per
// window, 160 multiplications instead of about 800 for a generic
// exponentiation. Each entry is picked by reading all 16 entries of its
// row with a constant-time select, so neither the memory accesses nor the
// multiplications depend on r.
const (
	combWindow  = 4
	combEntries = 1 << combWindow
	combRows    = SecretSize * 8 / combWindow
)

var (
	combOnce  sync.Once
	combTable [][combEntries][]byte // big-endian, ModulusSize bytes each
)

func buildComb() {
	combTable = make([][combEntries][]byte, combRows)
	base := bigmod.NewNat().ExpandFor(modulus)
	base.SetBytes([]byte{2}, modulus)
	for i := 0; i < combRows; i++ {
		acc, _ := bigmod.NewNat().SetBytes([]byte{1}, modulus)
		for j := 0; j < combEntries; j++ {
			combTable[i][j] = acc.Bytes(modulus)
			acc.Mul(base, modulus)
		}
		// base = base^16 for the next row; acc now holds base^16.
		base = acc
	}
}

// fixedBaseExp returns g3^e mod p for an exponent of SecretSize bytes.
func fixedBaseExp(e []byte) []byte {
	combOnce.Do(buildComb)
	acc, _ := bigmod.NewNat().SetBytes([]byte{1}, modulus)
	entry := make([]byte, ModulusSize)
	sel := bigmod.NewNat().ExpandFor(modulus)
	for i := 0; i < combRows; i++ {
		// Window i holds bits 4i..4i+3 of the big-endian exponent e.
		b := e[len(e)-1-i/2]
		w := int(b>>(4*(i%2))) & 0xF
		clear(entry)
		for j := 0; j < combEntries; j++ {
			subtle.ConstantTimeCopy(subtle.ConstantTimeEq(int32(j), int32(w)), entry, combTable[i][j])
		}
		if _, err := sel.SetBytes(entry, modulus); err != nil {
			panic("dh: comb table entry out of range")
		}
		acc.Mul(sel, modulus)
	}
	clear(entry)
	return acc.Bytes(modulus)
}
