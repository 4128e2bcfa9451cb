package smp

import (
	"math/big"

	"golang.org/x/crypto/sha3"

	"github.com/otrchat/otrchat/otr4/internal/curve"
)

// Reference computations for tests, independent of packages kdf and curve.

var refQ = func() *big.Int {
	c, _ := new(big.Int).SetString("13818066809895115352007386748515426880336692474882178609894547503885", 10)
	return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 446), c)
}()

func shake(in []byte, n int) []byte {
	out := make([]byte, n)
	sha3.ShakeSum256(out, in)
	return out
}

// refScalar reads h (optionally pruned) little-endian, reduces it mod q and
// returns the 57-byte little-endian encoding.
func refScalar(h []byte, pruned bool) []byte {
	h = append([]byte(nil), h...)
	if pruned {
		h[0] &^= 3
		h[56] = 0
		h[55] |= 0x80
	}
	be := make([]byte, len(h))
	for i := range h {
		be[len(h)-1-i] = h[i]
	}
	v := new(big.Int).SetBytes(be)
	v.Mod(v, refQ)
	out := make([]byte, 57)
	vb := v.Bytes()
	for i := range vb {
		out[i] = vb[len(vb)-1-i]
	}
	return out
}

func pointG() *curve.Point { return curve.NewGeneratorPoint() }
