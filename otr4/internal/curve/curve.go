package curve

import (
	"crypto/sha3"
	"errors"
	"fmt"
	"io"

	"github.com/otrchat/otrchat/otr4/internal/curve/internal/common"
)

// Sizes in bytes of the OTRv4 encodings.
const (
	PointSize     = common.PointSize     // POINT, RFC 8032 encoding
	ScalarSize    = common.ScalarSize    // SCALAR, little-endian
	SeedSize      = common.SeedSize      // sym_key, the RFC 8032 private key
	SignatureSize = common.SignatureSize // EDDSA-SIG
)

// Errors returned by decoders and Verify; callers branch with errors.Is.
var (
	ErrInvalidPoint     = errors.New("curve: invalid point encoding")
	ErrIdentityPoint    = errors.New("curve: point is the identity")
	ErrSmallOrder       = errors.New("curve: point has a small-order component")
	ErrInvalidScalar    = errors.New("curve: invalid scalar encoding")
	ErrInvalidSignature = errors.New("curve: invalid signature")
	ErrInvalidSeed      = errors.New("curve: invalid seed length")
)

// Scalar is an integer modulo q, the order of the base point.
type Scalar struct{ s backendScalar }

// NewScalar returns a new Scalar set to zero.
func NewScalar() *Scalar { return &Scalar{} }

// SetCanonicalBytes sets s to the SCALAR b: exactly 57 little-endian bytes
// encoding an integer smaller than q. Otherwise it returns ErrInvalidScalar
// and leaves s unchanged.
func (s *Scalar) SetCanonicalBytes(b []byte) (*Scalar, error) {
	if !common.IsCanonicalScalar(b) {
		return nil, ErrInvalidScalar
	}
	s.s.SetReducedBytes(b)
	return s, nil
}

// SetUniformBytes sets s to the little-endian integer b reduced modulo q, in
// time depending only on len(b). It is meant for hash outputs of up to 114
// bytes (HashToScalar) but accepts any length.
func (s *Scalar) SetUniformBytes(b []byte) *Scalar {
	s.s.SetReducedBytes(b)
	return s
}

// SetUint64 sets s = v.
func (s *Scalar) SetUint64(v uint64) *Scalar {
	s.s.SetUint64(v)
	return s
}

// Bytes returns the canonical 57-byte little-endian encoding of s (its last
// byte is always 0).
func (s *Scalar) Bytes() []byte {
	var b [ScalarSize]byte
	s.s.Bytes(&b)
	return b[:]
}

// Set sets s = a.
func (s *Scalar) Set(a *Scalar) *Scalar {
	s.s.Set(&a.s)
	return s
}

// Add sets s = a + b mod q.
func (s *Scalar) Add(a, b *Scalar) *Scalar {
	s.s.Add(&a.s, &b.s)
	return s
}

// Subtract sets s = a - b mod q.
func (s *Scalar) Subtract(a, b *Scalar) *Scalar {
	s.s.Sub(&a.s, &b.s)
	return s
}

// Multiply sets s = a * b mod q.
func (s *Scalar) Multiply(a, b *Scalar) *Scalar {
	s.s.Mul(&a.s, &b.s)
	return s
}

// Negate sets s = -a mod q.
func (s *Scalar) Negate(a *Scalar) *Scalar {
	s.s.Neg(&a.s)
	return s
}

// Equal returns 1 if s and t are equal and 0 otherwise, in constant time.
func (s *Scalar) Equal(t *Scalar) int { return s.s.Equal(&t.s) }

// IsZero reports whether s is zero, in constant time.
func (s *Scalar) IsZero() bool {
	var zero Scalar
	return s.Equal(&zero) == 1
}

// Wipe overwrites s with zero.
func (s *Scalar) Wipe() { s.s.Wipe() }

// RandomScalar returns a secret scalar as the spec's "Considerations while
// working with elliptic curve parameters" section prescribes: 57 random bytes
// v, h = SHAKE-256(v, 57), h pruned, read as a little-endian integer mod q.
func RandomScalar(rand io.Reader) (*Scalar, error) {
	var v [ScalarSize]byte
	if _, err := io.ReadFull(rand, v[:]); err != nil {
		return nil, fmt.Errorf("curve: reading randomness: %w", err)
	}
	var h [ScalarSize]byte
	x := sha3.NewSHAKE256()
	x.Write(v[:])
	x.Read(h[:])
	x.Reset()
	s := PrunedScalar(h[:])
	clear(v[:])
	clear(h[:])
	return s, nil
}

// PrunedScalar prunes a copy of the 57-byte buffer h (clears the two low bits
// of h[0] and all of h[56], sets the top bit of h[55]) and returns it as a
// little-endian integer mod q. h is not modified. It panics if len(h) != 57,
// which is a programming error: h comes from a KDF, never from the wire.
func PrunedScalar(h []byte) *Scalar {
	if len(h) != ScalarSize {
		panic("curve: PrunedScalar needs 57 bytes")
	}
	var b [ScalarSize]byte
	copy(b[:], h)
	common.Prune(b[:])
	s := new(Scalar).SetUniformBytes(b[:])
	clear(b[:])
	return s
}

// Point is a point of the prime-order subgroup of Ed448-Goldilocks.
type Point struct{ p backendPoint }

// NewGeneratorPoint returns a new Point set to the base point G.
func NewGeneratorPoint() *Point {
	p := new(Point)
	p.p.SetGenerator()
	return p
}

// NewIdentityPoint returns a new Point set to the identity (0, 1).
func NewIdentityPoint() *Point {
	p := new(Point)
	p.p.SetIdentity()
	return p
}

// SetBytes sets p to the POINT b, following "Encoding and Decoding" and
// "Verifying that a point is on the curve". b must be exactly 57 bytes and a
// canonical RFC 8032 encoding (y < p, padding bits clear, a square root
// exists, no sign bit when x = 0), else ErrInvalidPoint. The identity gives
// ErrIdentityPoint and a point outside the prime-order subgroup (q*X != I)
// gives ErrSmallOrder. On error p is unchanged.
func (p *Point) SetBytes(b []byte) (*Point, error) {
	switch p.p.SetBytes(b) {
	case common.OK:
		return p, nil
	case common.Identity:
		return nil, ErrIdentityPoint
	case common.SmallOrder:
		return nil, ErrSmallOrder
	default:
		return nil, ErrInvalidPoint
	}
}

// Bytes returns the 57-byte RFC 8032 encoding of p. It does not modify p and
// is safe for concurrent use with other readers.
func (p *Point) Bytes() []byte {
	var b [PointSize]byte
	p.p.Bytes(&b)
	return b[:]
}

// Set sets p = a.
func (p *Point) Set(a *Point) *Point {
	p.p.Set(&a.p)
	return p
}

// Add sets p = a + b.
func (p *Point) Add(a, b *Point) *Point {
	p.p.Add(&a.p, &b.p)
	return p
}

// Subtract sets p = a - b.
func (p *Point) Subtract(a, b *Point) *Point {
	p.p.Sub(&a.p, &b.p)
	return p
}

// Negate sets p = -a.
func (p *Point) Negate(a *Point) *Point {
	p.p.Neg(&a.p)
	return p
}

// ScalarMult sets p = s * a, in time independent of s.
func (p *Point) ScalarMult(s *Scalar, a *Point) *Point {
	p.p.ScalarMult(&s.s, &a.p)
	return p
}

// ScalarBaseMult sets p = s * G, in time independent of s.
func (p *Point) ScalarBaseMult(s *Scalar) *Point {
	p.p.ScalarBaseMult(&s.s)
	return p
}

// VarTimeDoubleScalarBaseMult sets p = a * A + b * G. It runs in variable
// time: use it only with public inputs (signature verification).
func (p *Point) VarTimeDoubleScalarBaseMult(a *Scalar, A *Point, b *Scalar) *Point {
	p.p.VarTimeDoubleScalarBaseMult(&a.s, &A.p, &b.s)
	return p
}

// Equal returns 1 if p and q are equal and 0 otherwise, in constant time.
func (p *Point) Equal(q *Point) int { return p.p.Equal(&q.p) }

// IsIdentity reports whether p is the identity.
func (p *Point) IsIdentity() bool { return p.p.IsIdentity() }
