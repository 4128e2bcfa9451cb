// Package common holds what both Ed448 backends of package curve share: the
// sizes and constants of OTRv4's "Elliptic Curve Parameters" section, the
// canonical-scalar check, the pruning of "Considerations while working with
// elliptic curve parameters", the RFC 8032 dom4 hash and a curve-library
// independent check of the RFC 8032 point encoding.
//
// It imports no curve library, so each backend and the differential tests
// can rely on it as a neutral reference.
package common

import (
	"crypto/sha3"
	"crypto/subtle"
	"math/big"
)

// Sizes in bytes.
const (
	PointSize     = 57  // RFC 8032 point encoding (OTRv4 POINT)
	ScalarSize    = 57  // OTRv4 SCALAR
	SeedSize      = 57  // RFC 8032 private key (OTRv4 sym_key)
	SignatureSize = 114 // RFC 8032 Ed448 signature (OTRv4 EDDSA-SIG)
	HashSize      = 114 // SHAKE-256 output used by key derivation and signing
)

// Status is the result of decoding a point.
type Status int

// Decoding results.
const (
	OK         Status = iota // a point of the prime-order subgroup other than the identity
	Invalid                  // wrong length, non-canonical or not on the curve
	Identity                 // the identity element
	SmallOrder               // on the curve, but with a small-order component
)

var (
	// P is the field prime 2^448 - 2^224 - 1.
	P = new(big.Int).Sub(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 448), new(big.Int).Lsh(big.NewInt(1), 224)), big.NewInt(1))
	// Q is the order of the base point,
	// 2^446 - 13818066809895115352007386748515426880336692474882178609894547503885.
	Q = func() *big.Int {
		c, ok := new(big.Int).SetString("13818066809895115352007386748515426880336692474882178609894547503885", 10)
		if !ok {
			panic("common: bad constant")
		}
		return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 446), c)
	}()
	// D is the curve constant -39081 mod p.
	D = new(big.Int).Sub(P, big.NewInt(39081))

	// qBytes is Q as 57 little-endian bytes.
	qBytes = LittleEndian(Q, ScalarSize)
)

// IdentityEncoding is the RFC 8032 encoding of the identity (x=0, y=1).
var IdentityEncoding = [PointSize]byte{1}

// LittleEndian encodes a non-negative x < 2^(8*size) as size little-endian bytes.
func LittleEndian(x *big.Int, size int) []byte {
	be := x.FillBytes(make([]byte, size))
	for i, j := 0, len(be)-1; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	return be
}

// FromLittleEndian decodes little-endian bytes.
func FromLittleEndian(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(be)
}

// IsCanonicalScalar reports whether b is exactly 57 little-endian bytes
// encoding an integer smaller than q. It runs in time independent of the
// value of b.
func IsCanonicalScalar(b []byte) bool {
	if len(b) != ScalarSize {
		return false
	}
	// Compute b - q and keep the final borrow: borrow == 1 iff b < q.
	var borrow int
	for i := 0; i < ScalarSize; i++ {
		d := int(b[i]) - int(qBytes[i]) - borrow
		borrow = (d >> 8) & 1
	}
	return subtle.ConstantTimeEq(int32(borrow), 1) == 1
}

// Prune applies the pruning of the spec (and RFC 8032 section 5.2.5) to a
// 57-byte buffer in place: the two least significant bits of the first byte
// are cleared, the last byte is cleared and the highest bit of the second to
// last byte is set. It panics if len(h) != 57 (a programming error).
func Prune(h []byte) {
	if len(h) != ScalarSize {
		panic("curve: pruning needs a 57-byte buffer")
	}
	h[0] &= 0xfc
	h[56] = 0
	h[55] |= 0x80
}

// dom4 is dom4(0, "") of RFC 8032 section 5.2: pure Ed448, empty context.
var dom4 = []byte{'S', 'i', 'g', 'E', 'd', '4', '4', '8', 0, 0}

// HashDom4 fills out with SHAKE-256(dom4(0, "") || parts...).
func HashDom4(out []byte, parts ...[]byte) {
	h := sha3.NewSHAKE256()
	h.Write(dom4)
	for _, p := range parts {
		h.Write(p)
	}
	h.Read(out)
}

// ExpandSeed returns SHAKE-256(seed, 114), RFC 8032 section 5.2.5 step 1.
func ExpandSeed(seed []byte) [HashSize]byte {
	var h [HashSize]byte
	s := sha3.NewSHAKE256()
	s.Write(seed)
	s.Read(h[:])
	return h
}

// CheckEncoding decodes a RFC 8032 point encoding with math/big, independently
// of any curve library, and reports Invalid (wrong length, y >= p, a set
// padding bit, no square root, or x = 0 with the sign bit set), Identity, or
// OK. It does not test subgroup membership: the backends do. The input is
// public, so variable time is fine. OK means only "on the curve".
func CheckEncoding(b []byte) Status {
	if len(b) != PointSize || b[PointSize-1]&0x7f != 0 {
		return Invalid
	}
	sign := b[PointSize-1] >> 7
	y := FromLittleEndian(b[:PointSize-1])
	if y.Cmp(P) >= 0 {
		return Invalid
	}
	// x^2 = (y^2 - 1) / (d*y^2 - 1); the denominator is never zero because d
	// is not a square. (u/v) is a square iff u*v is.
	y2 := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	u.Mod(u, P)
	v := new(big.Int).Mul(D, y2)
	v.Sub(v, big.NewInt(1))
	v.Mod(v, P)
	uv := new(big.Int).Mul(u, v)
	uv.Mod(uv, P)
	switch big.Jacobi(uv, P) {
	case -1:
		return Invalid
	case 0: // u = 0: x = 0, y = ±1
		if sign == 1 {
			return Invalid
		}
		if y.Cmp(big.NewInt(1)) == 0 {
			return Identity
		}
		return SmallOrder // (0, -1) has order 2
	}
	return OK
}
