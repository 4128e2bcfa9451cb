package ratchet

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/dh"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// Wire constants of the data message (otrv4.md, "Data Message Format").
const (
	protocolVersion uint16 = 0x0004
	msgTypeData     byte   = 0x03
	// FlagIgnoreUnreadable is IGNORE_UNREADABLE.
	FlagIgnoreUnreadable byte = 0x01
	// MaxCiphertext bounds the encrypted message of one data message.
	MaxCiphertext = 1 << 20
	// MaxRevealedKeys bounds the old MAC keys revealed in one message we
	// accept.
	MaxRevealedKeys = 4096
	// RevealBatch bounds the old MAC keys revealed in one message we send
	// (64 KiB); the rest wait for the next messages.
	RevealBatch = 1024
	macSize     = 64
)

// ErrMalformed is returned for a data message that does not decode.
var ErrMalformed = errors.New("ratchet: malformed data message")

// DataMessage is a decoded OTRv4 data message.
type DataMessage struct {
	Sender, Receiver uint32
	Flags            byte
	PN               uint32 // previous chain message number
	RatchetID        uint32 // i
	MessageID        uint32 // j
	// ECDH is the sender's public ECDH key as encoded; it is decoded and
	// validated by State.Open only when it starts a new ratchet (a key
	// equal to the current one was validated when it was new).
	ECDH         [curve.PointSize]byte
	DH           *big.Int // nil when empty
	Ciphertext   []byte
	MAC          []byte
	RevealedMACs []byte

	authenticated []byte // the encoding from the version to the ciphertext
}

// sections encodes the MACed part: protocol version to encrypted message.
func (m *DataMessage) sections() []byte {
	b := wire.AppendShort(nil, protocolVersion)
	b = append(b, msgTypeData)
	b = wire.AppendInt(b, m.Sender)
	b = wire.AppendInt(b, m.Receiver)
	b = append(b, m.Flags)
	b = wire.AppendInt(b, m.PN)
	b = wire.AppendInt(b, m.RatchetID)
	b = wire.AppendInt(b, m.MessageID)
	b = append(b, m.ECDH[:]...)
	b = wire.AppendMPI(b, m.DH)
	return wire.AppendData(b, m.Ciphertext)
}

// Marshal encodes the data message.
func (m *DataMessage) Marshal() []byte {
	b := m.sections()
	b = append(b, m.MAC...)
	return wire.AppendData(b, m.RevealedMACs)
}

// Detach returns a copy of m that shares no memory with the buffer m was
// parsed from and leaves out the revealed MAC keys (they are not
// authenticated and play no part in decryption), for keeping m for later,
// and the bytes that copy holds.
func (m *DataMessage) Detach() (*DataMessage, int) {
	d := *m
	d.RevealedMACs = nil
	auth := m.authenticated
	if auth == nil {
		auth = m.sections()
	}
	d.authenticated = append([]byte(nil), auth...)
	d.Ciphertext = d.authenticated[len(d.authenticated)-len(m.Ciphertext):]
	d.MAC = append([]byte(nil), m.MAC...)
	if m.DH != nil {
		d.DH = new(big.Int).Set(m.DH)
	}
	size := len(d.authenticated) + len(d.MAC) + 256 // the struct and the DH value's header
	if d.DH != nil {
		size += len(d.DH.Bits()) * 8
	}
	return &d, size
}

// IsDataMessage reports whether b starts like an OTRv4 data message.
func IsDataMessage(b []byte) bool {
	return len(b) >= 3 && b[0] == 0 && b[1] == 4 && b[2] == msgTypeData
}

// ParseDataMessage decodes a data message strictly, checking its public
// ECDH key (on the curve, prime order) and DH key (in the group).
func ParseDataMessage(b []byte) (*DataMessage, error) {
	r := wire.NewReader(b)
	v, t := r.Short(), r.Byte()
	m := &DataMessage{Sender: r.Int(), Receiver: r.Int(), Flags: r.Byte(), PN: r.Int(), RatchetID: r.Int(), MessageID: r.Int()}
	copy(m.ECDH[:], r.Bytes(curve.PointSize))
	m.DH = r.MPI()
	m.Ciphertext = r.Data(MaxCiphertext)
	if r.Err() == nil {
		m.authenticated = b[:len(b)-r.Len()]
	}
	m.MAC = r.Bytes(macSize)
	m.RevealedMACs = r.Data(MaxRevealedKeys * macSize)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if v != protocolVersion || t != msgTypeData {
		return nil, fmt.Errorf("%w: version %d type %#x", ErrMalformed, v, t)
	}
	if len(m.RevealedMACs)%macSize != 0 {
		return nil, fmt.Errorf("%w: revealed MAC keys are not a multiple of 64 bytes", ErrMalformed)
	}
	if m.DH != nil && !dh.IsGroupElement(m.DH) {
		return nil, fmt.Errorf("%w: DH key is not in the group", ErrMalformed)
	}
	return m, nil
}
