// Package wire implements the OTRv4 data types (otrv4.md, "Data Types"):
// BYTE, SHORT, INT, MPI, DATA, NONCE, MAC, POINT and SCALAR, with strict,
// bounded decoding. A Reader keeps the first error, so a decoder reads all
// fields and checks once; nothing it returns after an error is meaningful.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// Sizes of fixed-length types.
const (
	NonceSize = 12
	MACSize   = 64
	PointSize = 57
	// ScalarSize is the size of an encoded SCALAR (57 bytes, little-endian).
	ScalarSize = 57
	// MaxMPISize bounds MPIs: the largest is a 3072-bit DH value.
	MaxMPISize = 384
)

// ErrTruncated is returned when input ends before a field does.
var ErrTruncated = errors.New("wire: truncated input")

// ErrTrailing is returned when bytes remain after the last field.
var ErrTrailing = errors.New("wire: trailing bytes")

// ErrMPINotMinimal is returned for an MPI with a leading zero byte.
var ErrMPINotMinimal = errors.New("wire: MPI is not minimally encoded")

// ErrTooLarge is returned when a length field exceeds its bound.
var ErrTooLarge = errors.New("wire: length exceeds limit")

// AppendShort appends a big-endian SHORT.
func AppendShort(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }

// AppendInt appends a big-endian INT.
func AppendInt(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// AppendLong appends an 8-byte big-endian signed value (profile expirations).
func AppendLong(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

// AppendData appends DATA: a 4-byte length and the bytes.
func AppendData(b, d []byte) []byte {
	b = AppendInt(b, uint32(len(d)))
	return append(b, d...)
}

// AppendMPI appends an MPI in minimal encoding. A nil value is the empty MPI.
func AppendMPI(b []byte, v *big.Int) []byte {
	if v == nil {
		return AppendInt(b, 0)
	}
	return AppendData(b, v.Bytes())
}

// Reader decodes OTRv4 data types from a byte slice.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first error met, if any.
func (r *Reader) Err() error { return r.err }

// Fail records err as the reader's error unless one is already set.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) }

// Rest returns the unread bytes.
func (r *Reader) Rest() []byte { return r.b }

// Done returns the first error, or ErrTrailing if unread bytes remain.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = ErrTrailing
	}
	return r.err
}

// Bytes reads n bytes. The result aliases the input.
func (r *Reader) Bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = ErrTruncated
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Byte reads a BYTE.
func (r *Reader) Byte() byte {
	v := r.Bytes(1)
	if v == nil {
		return 0
	}
	return v[0]
}

// Short reads a SHORT.
func (r *Reader) Short() uint16 {
	v := r.Bytes(2)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

// Int reads an INT.
func (r *Reader) Int() uint32 {
	v := r.Bytes(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// Long reads an 8-byte big-endian signed value.
func (r *Reader) Long() int64 {
	v := r.Bytes(8)
	if v == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// Data reads DATA of at most max bytes.
func (r *Reader) Data(max int) []byte {
	n := r.Int()
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(max) {
		r.Fail(fmt.Errorf("%w: DATA of %d bytes (max %d)", ErrTooLarge, n, max))
		return nil
	}
	return r.Bytes(int(n))
}

// MPI reads a minimally encoded MPI of at most MaxMPISize bytes. The empty
// MPI decodes as nil.
func (r *Reader) MPI() *big.Int {
	d := r.Data(MaxMPISize)
	if r.err != nil {
		return nil
	}
	if len(d) == 0 {
		return nil
	}
	if d[0] == 0 {
		r.Fail(ErrMPINotMinimal)
		return nil
	}
	return new(big.Int).SetBytes(d)
}
