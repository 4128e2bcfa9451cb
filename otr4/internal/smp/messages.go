package smp

import (
	"fmt"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// The wire forms of SMP messages 1 to 4 ("SMP Message 1" to "SMP Message
// 4"), through package wire. Decoding is strict: exact lengths, no trailing
// bytes, POINTs on the curve, in the prime-order subgroup and not the
// identity, SCALARs canonical (< q).

type message1 struct {
	question []byte
	g2a      *curve.Point
	c2, d2   *curve.Scalar
	g3a      *curve.Point
	c3, d3   *curve.Scalar
}

type message2 struct {
	g2b        *curve.Point
	c2, d2     *curve.Scalar
	g3b        *curve.Point
	c3, d3     *curve.Scalar
	pb, qb     *curve.Point
	cp, d5, d6 *curve.Scalar
}

type message3 struct {
	pa, qa     *curve.Point
	cp, d5, d6 *curve.Scalar
	ra         *curve.Point
	cr, d7     *curve.Scalar
}

type message4 struct {
	rb     *curve.Point
	cr, d7 *curve.Scalar
}

func (m *message1) marshal() []byte {
	b := make([]byte, 0, 4+len(m.question)+2*pointSize+4*scalarSize)
	b = wire.AppendData(b, m.question)
	b = wire.AppendPoint(b, m.g2a)
	b = wire.AppendScalar(b, m.c2)
	b = wire.AppendScalar(b, m.d2)
	b = wire.AppendPoint(b, m.g3a)
	b = wire.AppendScalar(b, m.c3)
	b = wire.AppendScalar(b, m.d3)
	return b
}

func (m *message2) marshal() []byte {
	b := make([]byte, 0, msg2Size)
	b = wire.AppendPoint(b, m.g2b)
	b = wire.AppendScalar(b, m.c2)
	b = wire.AppendScalar(b, m.d2)
	b = wire.AppendPoint(b, m.g3b)
	b = wire.AppendScalar(b, m.c3)
	b = wire.AppendScalar(b, m.d3)
	b = wire.AppendPoint(b, m.pb)
	b = wire.AppendPoint(b, m.qb)
	b = wire.AppendScalar(b, m.cp)
	b = wire.AppendScalar(b, m.d5)
	b = wire.AppendScalar(b, m.d6)
	return b
}

func (m *message3) marshal() []byte {
	b := make([]byte, 0, msg3Size)
	b = wire.AppendPoint(b, m.pa)
	b = wire.AppendPoint(b, m.qa)
	b = wire.AppendScalar(b, m.cp)
	b = wire.AppendScalar(b, m.d5)
	b = wire.AppendScalar(b, m.d6)
	b = wire.AppendPoint(b, m.ra)
	b = wire.AppendScalar(b, m.cr)
	b = wire.AppendScalar(b, m.d7)
	return b
}

func (m *message4) marshal() []byte {
	b := make([]byte, 0, msg4Size)
	b = wire.AppendPoint(b, m.rb)
	b = wire.AppendScalar(b, m.cr)
	b = wire.AppendScalar(b, m.d7)
	return b
}

func parseMessage1(b []byte) (*message1, error) {
	if len(b) > maxTLVValue {
		return nil, fmt.Errorf("%w: message 1 of %d bytes", ErrInvalidMessage, len(b))
	}
	r := wire.NewReader(b)
	m := &message1{}
	if q := r.Data(MaxQuestion); len(q) > 0 {
		m.question = append([]byte(nil), q...)
	}
	m.g2a = r.Point()
	m.c2 = r.Scalar()
	m.d2 = r.Scalar()
	m.g3a = r.Point()
	m.c3 = r.Scalar()
	m.d3 = r.Scalar()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: message 1: %w", ErrInvalidMessage, err)
	}
	return m, nil
}

func parseMessage2(b []byte) (*message2, error) {
	if len(b) != msg2Size {
		return nil, fmt.Errorf("%w: message 2 of %d bytes, want %d", ErrInvalidMessage, len(b), msg2Size)
	}
	r := wire.NewReader(b)
	m := &message2{}
	m.g2b = r.Point()
	m.c2 = r.Scalar()
	m.d2 = r.Scalar()
	m.g3b = r.Point()
	m.c3 = r.Scalar()
	m.d3 = r.Scalar()
	m.pb = r.Point()
	m.qb = r.Point()
	m.cp = r.Scalar()
	m.d5 = r.Scalar()
	m.d6 = r.Scalar()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: message 2: %w", ErrInvalidMessage, err)
	}
	return m, nil
}

func parseMessage3(b []byte) (*message3, error) {
	if len(b) != msg3Size {
		return nil, fmt.Errorf("%w: message 3 of %d bytes, want %d", ErrInvalidMessage, len(b), msg3Size)
	}
	r := wire.NewReader(b)
	m := &message3{}
	m.pa = r.Point()
	m.qa = r.Point()
	m.cp = r.Scalar()
	m.d5 = r.Scalar()
	m.d6 = r.Scalar()
	m.ra = r.Point()
	m.cr = r.Scalar()
	m.d7 = r.Scalar()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: message 3: %w", ErrInvalidMessage, err)
	}
	return m, nil
}

func parseMessage4(b []byte) (*message4, error) {
	if len(b) != msg4Size {
		return nil, fmt.Errorf("%w: message 4 of %d bytes, want %d", ErrInvalidMessage, len(b), msg4Size)
	}
	r := wire.NewReader(b)
	m := &message4{}
	m.rb = r.Point()
	m.cr = r.Scalar()
	m.d7 = r.Scalar()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: message 4: %w", ErrInvalidMessage, err)
	}
	return m, nil
}
