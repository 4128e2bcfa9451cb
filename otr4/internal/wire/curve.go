package wire

import (
	"fmt"

	"github.com/otrchat/otrchat/otr4/internal/curve"
)

// AppendPoint appends a POINT.
func AppendPoint(b []byte, p *curve.Point) []byte { return append(b, p.Bytes()...) }

// AppendScalar appends a SCALAR.
func AppendScalar(b []byte, s *curve.Scalar) []byte { return append(b, s.Bytes()...) }

// Point reads a POINT and validates it: on the curve, not the identity and
// in the prime-order subgroup (otrv4.md, "Verifying that a point is on the
// curve").
func (r *Reader) Point() *curve.Point {
	b := r.Bytes(PointSize)
	if r.err != nil {
		return nil
	}
	p, err := curve.NewIdentityPoint().SetBytes(b)
	if err != nil {
		r.Fail(fmt.Errorf("wire: invalid point: %w", err))
		return nil
	}
	return p
}

// Scalar reads a SCALAR, refusing non-canonical encodings.
func (r *Reader) Scalar() *curve.Scalar {
	b := r.Bytes(ScalarSize)
	if r.err != nil {
		return nil
	}
	s, err := curve.NewScalar().SetCanonicalBytes(b)
	if err != nil {
		r.Fail(fmt.Errorf("wire: invalid scalar: %w", err))
		return nil
	}
	return s
}
