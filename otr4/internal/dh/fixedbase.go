package dh

import (
	"crypto/subtle"
	"sync"

	"github.com/otrchat/otrchat/otr4/internal/bigmod"
)

// Fixed-base exponentiation g3^r for 80-byte secret exponents, used by
// generateDH. A comb of 4-bit windows: table[i][j] = g3^(j * 16^i) for the
// 160 windows of the exponent, so g3^r is the product of one entry per
// window, 160 multiplications instead of about 800 for a generic
// exponentiation. The table is kept in the Montgomery domain, so each window
// costs one Montgomery multiplication and the result leaves the domain once
// at the end. Each entry is picked by reading all 16 entries of its row with
// a constant-time select, so neither the memory accesses nor the
// multiplications depend on r.
const (
	combWindow  = 4
	combEntries = 1 << combWindow
	combRows    = SecretSize * 8 / combWindow
)

var (
	combOnce  sync.Once
	combTable *[combRows][combEntries]*bigmod.Nat // Montgomery form: g3^(j*16^i) * R mod p
)

func buildComb() {
	t := new([combRows][combEntries]*bigmod.Nat)
	base := bigmod.NewNat().ExpandFor(modulus).Assign(1, gNat).ToMontgomery(modulus) // g3^(16^i), Montgomery form
	one := bigmod.NewNat().ExpandFor(modulus)
	one.SetBytes([]byte{1}, modulus)
	one.ToMontgomery(modulus)
	for i := range combRows {
		t[i][0] = bigmod.NewNat().ExpandFor(modulus).Assign(1, one)
		for j := 1; j < combEntries; j++ {
			t[i][j] = bigmod.NewNat().ExpandFor(modulus).MontgomeryMul(t[i][j-1], base, modulus)
		}
		base.MontgomeryMul(t[i][combEntries-1], base, modulus) // base^16
	}
	combTable = t
}

// fixedBaseExp returns g3^e mod p for an exponent of SecretSize bytes.
func fixedBaseExp(e []byte) []byte {
	combOnce.Do(buildComb)
	acc := bigmod.NewNat().ExpandFor(modulus)
	sel := bigmod.NewNat().ExpandFor(modulus)
	for i := range combRows {
		// Window i holds bits 4i..4i+3 of the big-endian exponent e.
		b := e[len(e)-1-i/2]
		w := int32(b>>(4*(i%2))) & 0xF
		row := &combTable[i]
		for j := range combEntries {
			sel.Assign(uint(subtle.ConstantTimeEq(int32(j), w)), row[j])
		}
		if i == 0 {
			acc.Assign(1, sel)
			continue
		}
		acc.MontgomeryMul(acc, sel, modulus)
	}
	out := acc.FromMontgomery(modulus).Bytes(modulus)
	acc.SetUint(0) // SetUint clears every limb: a wipe
	sel.SetUint(0)
	return out
}
