// Package circlcurve is the github.com/cloudflare/circl backend of package
// curve: Ed448-Goldilocks points and scalars (OTRv4 "Elliptic Curve
// Parameters", "Encoding and Decoding") and RFC 8032 Ed448 signing on top of
// circl's ecc/goldilocks.
//
// It works around circl's pitfalls: goldilocks.FromBytes does not check the
// prime-order subgroup, Point.ToBytes normalises its receiver in place,
// Point.IsEqual and IsIdentity are not constant time, scalars are 56 bytes and
// Scalar.FromBytes reduces silently.
package circlcurve

import (
	"crypto/subtle"
	"encoding/binary"

	"github.com/cloudflare/circl/ecc/goldilocks"

	"github.com/otrchat/otrchat/otr4/internal/curve/internal/common"
)

// Name names the backend in tests and benchmarks.
const Name = "circl"

var curve goldilocks.Curve

// Scalar is an integer modulo q, always fully reduced. The zero value is 0.
type Scalar struct{ s goldilocks.Scalar }

// SetReducedBytes sets s to the little-endian integer b modulo q, for any
// length of b, in time depending only on len(b).
func (s *Scalar) SetReducedBytes(b []byte) { s.s.FromBytes(b) }

// SetUint64 sets s to v.
func (s *Scalar) SetUint64(v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	s.s.FromBytes(b[:])
}

// Bytes writes the canonical 57-byte little-endian encoding of s.
func (s *Scalar) Bytes(out *[common.ScalarSize]byte) {
	t := s.s
	t.Red()
	copy(out[:], t[:])
	out[common.ScalarSize-1] = 0
}

// Set sets s = a.
func (s *Scalar) Set(a *Scalar) { s.s = a.s }

// Add sets s = a + b mod q.
func (s *Scalar) Add(a, b *Scalar) { s.s.Add(&a.s, &b.s) }

// Sub sets s = a - b mod q.
func (s *Scalar) Sub(a, b *Scalar) { s.s.Sub(&a.s, &b.s) }

// Mul sets s = a * b mod q.
func (s *Scalar) Mul(a, b *Scalar) { s.s.Mul(&a.s, &b.s) }

// Neg sets s = -a mod q.
func (s *Scalar) Neg(a *Scalar) {
	var zero goldilocks.Scalar
	s.s.Sub(&zero, &a.s)
}

// Equal returns 1 if s == t and 0 otherwise, in constant time.
func (s *Scalar) Equal(t *Scalar) int {
	var a, b [common.ScalarSize]byte
	s.Bytes(&a)
	t.Bytes(&b)
	return subtle.ConstantTimeCompare(a[:], b[:])
}

// Wipe zeroes s.
func (s *Scalar) Wipe() { clear(s.s[:]) }

// Point is a point of the prime-order subgroup of Ed448-Goldilocks. The zero
// value is not a valid point: use SetIdentity or SetGenerator first.
type Point struct{ p goldilocks.Point }

// SetIdentity sets p to the identity.
func (p *Point) SetIdentity() { p.p = *curve.Identity() }

// SetGenerator sets p to the base point G.
func (p *Point) SetGenerator() { p.p = *curve.Generator() }

// SetBytes decodes a 57-byte RFC 8032 point encoding. It returns
// common.OK only for a canonical encoding of a point of the prime-order
// subgroup other than the identity, and leaves p unchanged otherwise.
func (p *Point) SetBytes(b []byte) common.Status {
	if len(b) != common.PointSize {
		return common.Invalid
	}
	if subtle.ConstantTimeCompare(b, common.IdentityEncoding[:]) == 1 {
		return common.Identity
	}
	// FromBytes rejects y >= p, set padding bits, non-squares and x = 0
	// with the sign bit set, but not small-order components.
	q, err := goldilocks.FromBytes(b)
	if err != nil {
		return common.Invalid
	}
	// ScalarMult drops any torsion component (it goes through the
	// 4-isogeny), so [1]q == q exactly when q is in the prime-order subgroup.
	// The encoding is public, so the variable-time IsEqual is fine here.
	var one goldilocks.Scalar
	one[0] = 1
	if !curve.ScalarMult(&one, q).IsEqual(q) {
		return common.SmallOrder
	}
	p.p = *q
	return common.OK
}

// Bytes writes the RFC 8032 encoding of p. It does not modify p (ToBytes
// normalises its receiver, so it runs on a copy).
func (p *Point) Bytes(out *[common.PointSize]byte) {
	q := p.p
	if err := q.ToBytes(out[:]); err != nil {
		panic("circlcurve: " + err.Error()) // unreachable: out is 57 bytes
	}
}

// Set sets p = a.
func (p *Point) Set(a *Point) { p.p = a.p }

// Add sets p = a + b.
func (p *Point) Add(a, b *Point) {
	r := a.p
	r.Add(&b.p)
	p.p = r
}

// Sub sets p = a - b.
func (p *Point) Sub(a, b *Point) {
	n := b.p
	n.Neg()
	r := a.p
	r.Add(&n)
	p.p = r
}

// Neg sets p = -a.
func (p *Point) Neg(a *Point) {
	r := a.p
	r.Neg()
	p.p = r
}

// ScalarMult sets p = s*a in constant time.
func (p *Point) ScalarMult(s *Scalar, a *Point) { p.p = *curve.ScalarMult(&s.s, &a.p) }

// ScalarBaseMult sets p = s*G in constant time.
func (p *Point) ScalarBaseMult(s *Scalar) { p.p = *curve.ScalarBaseMult(&s.s) }

// VarTimeDoubleScalarBaseMult sets p = a*A + b*G in variable time.
func (p *Point) VarTimeDoubleScalarBaseMult(a *Scalar, A *Point, b *Scalar) {
	p.p = *curve.CombinedMult(&b.s, &a.s, &A.p)
}

// Equal returns 1 if p == q and 0 otherwise, in constant time.
func (p *Point) Equal(q *Point) int { return b2i(equal(&p.p, &q.p)) }

// IsIdentity reports whether p is the identity.
func (p *Point) IsIdentity() bool {
	var b [common.PointSize]byte
	p.Bytes(&b)
	return subtle.ConstantTimeCompare(b[:], common.IdentityEncoding[:]) == 1
}

// equal compares two points through their canonical encodings, in constant
// time (goldilocks.Point.IsEqual short-circuits).
func equal(a, b *goldilocks.Point) bool {
	var ea, eb [common.PointSize]byte
	x, y := *a, *b
	_ = x.ToBytes(ea[:])
	_ = y.ToBytes(eb[:])
	return subtle.ConstantTimeCompare(ea[:], eb[:]) == 1
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
