// Package message encodes and decodes the binary OTR version 3 messages
// (otrv3-protocol.txt, "Encoded messages"): D-H Commit, D-H Key, Reveal
// Signature, Signature and Data, the signed X structure of the AKE, and the
// plaintext of a data message with its TLVs. Decoding is strict: every
// length is bounded, MPIs must be minimal, nothing may trail, so that
// Marshal(Parse(b)) == b whenever Parse accepts b.
package message

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/otrchat/otrchat/otr4/internal/dsa"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// The spec's numbers.
const (
	Version uint16 = 0x0003

	TypeDHCommit  byte = 0x02
	TypeData      byte = 0x03
	TypeDHKey     byte = 0x0a
	TypeRevealSig byte = 0x11
	TypeSignature byte = 0x12

	// FlagIgnoreUnreadable is the data message flag IGNORE_UNREADABLE.
	FlagIgnoreUnreadable byte = 0x01

	MACSize     = 20 // MAC: SHA1-HMAC, or SHA256-HMAC-160 in the AKE
	CTRSize     = 8  // top half of the counter
	HashSize    = 32 // SHA-256 of gx
	RevealSize  = 16 // the AES key r
	HeaderSize  = 11 // version, type, sender and receiver instance tags
	MinInstance = 0x100

	maxEncryptedGx  = 4 + 384
	maxEncryptedSig = 2048
	// MaxEncrypted bounds the encrypted part of a data message.
	MaxEncrypted = 1 << 20
	// MaxOldMACKeys bounds the revealed MAC keys of one data message.
	MaxOldMACKeys = 64 * MACSize
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("otr3: malformed message")

// Header starts every version 3 encoded message.
type Header struct {
	Type             byte
	Sender, Receiver uint32
}

func (h Header) append(b []byte) []byte {
	b = wire.AppendShort(b, Version)
	b = append(b, h.Type)
	b = wire.AppendInt(b, h.Sender)
	return wire.AppendInt(b, h.Receiver)
}

// ParseHeader reads the header of a binary message and checks the version
// and the instance tags' ranges (sender >= 0x100, receiver 0 or >= 0x100).
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, no header", ErrMalformed, len(b))
	}
	if v := binary.BigEndian.Uint16(b); v != Version {
		return Header{}, fmt.Errorf("%w: protocol version %d", ErrMalformed, v)
	}
	h := Header{Type: b[2], Sender: binary.BigEndian.Uint32(b[3:]), Receiver: binary.BigEndian.Uint32(b[7:])}
	if h.Sender < MinInstance {
		return h, fmt.Errorf("%w: sender instance tag %#x", ErrMalformed, h.Sender)
	}
	if h.Receiver != 0 && h.Receiver < MinInstance {
		return h, fmt.Errorf("%w: receiver instance tag %#x", ErrMalformed, h.Receiver)
	}
	return h, nil
}

func start(b []byte, typ byte) (Header, *wire.Reader, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, nil, err
	}
	if h.Type != typ {
		return h, nil, fmt.Errorf("%w: type %#x, want %#x", ErrMalformed, h.Type, typ)
	}
	return h, wire.NewReader(b[HeaderSize:]), nil
}

func finish(r *wire.Reader, name string) error {
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
	}
	return nil
}

// DHCommit is the D-H Commit Message.
type DHCommit struct {
	Header
	EncryptedGx []byte
	HashedGx    []byte
}

// Marshal encodes the message.
func (m *DHCommit) Marshal() []byte {
	m.Type = TypeDHCommit
	b := m.Header.append(nil)
	b = wire.AppendData(b, m.EncryptedGx)
	return wire.AppendData(b, m.HashedGx)
}

// ParseDHCommit decodes a D-H Commit Message.
func ParseDHCommit(b []byte) (*DHCommit, error) {
	h, r, err := start(b, TypeDHCommit)
	if err != nil {
		return nil, err
	}
	m := &DHCommit{Header: h, EncryptedGx: r.Data(maxEncryptedGx), HashedGx: r.Data(HashSize)}
	if err := finish(r, "D-H Commit"); err != nil {
		return nil, err
	}
	if len(m.HashedGx) != HashSize || len(m.EncryptedGx) == 0 {
		return nil, fmt.Errorf("%w: D-H Commit field sizes", ErrMalformed)
	}
	return m, nil
}

// DHKey is the D-H Key Message.
type DHKey struct {
	Header
	Gy *big.Int
}

// Marshal encodes the message.
func (m *DHKey) Marshal() []byte {
	m.Type = TypeDHKey
	return wire.AppendMPI(m.Header.append(nil), m.Gy)
}

// ParseDHKey decodes a D-H Key Message.
func ParseDHKey(b []byte) (*DHKey, error) {
	h, r, err := start(b, TypeDHKey)
	if err != nil {
		return nil, err
	}
	m := &DHKey{Header: h, Gy: r.MPI()}
	if err := finish(r, "D-H Key"); err != nil {
		return nil, err
	}
	if m.Gy == nil {
		return nil, fmt.Errorf("%w: empty gy", ErrMalformed)
	}
	return m, nil
}

// RevealSig is the Reveal Signature Message.
type RevealSig struct {
	Header
	Key          []byte
	EncryptedSig []byte
	MAC          []byte
}

// Marshal encodes the message.
func (m *RevealSig) Marshal() []byte {
	m.Type = TypeRevealSig
	b := m.Header.append(nil)
	b = wire.AppendData(b, m.Key)
	b = wire.AppendData(b, m.EncryptedSig)
	return append(b, m.MAC...)
}

// ParseRevealSig decodes a Reveal Signature Message.
func ParseRevealSig(b []byte) (*RevealSig, error) {
	h, r, err := start(b, TypeRevealSig)
	if err != nil {
		return nil, err
	}
	m := &RevealSig{Header: h, Key: r.Data(RevealSize), EncryptedSig: r.Data(maxEncryptedSig), MAC: r.Bytes(MACSize)}
	if err := finish(r, "Reveal Signature"); err != nil {
		return nil, err
	}
	if len(m.Key) != RevealSize {
		return nil, fmt.Errorf("%w: revealed key of %d bytes", ErrMalformed, len(m.Key))
	}
	return m, nil
}

// Signature is the Signature Message.
type Signature struct {
	Header
	EncryptedSig []byte
	MAC          []byte
}

// Marshal encodes the message.
func (m *Signature) Marshal() []byte {
	m.Type = TypeSignature
	b := m.Header.append(nil)
	b = wire.AppendData(b, m.EncryptedSig)
	return append(b, m.MAC...)
}

// ParseSignature decodes a Signature Message.
func ParseSignature(b []byte) (*Signature, error) {
	h, r, err := start(b, TypeSignature)
	if err != nil {
		return nil, err
	}
	m := &Signature{Header: h, EncryptedSig: r.Data(maxEncryptedSig), MAC: r.Bytes(MACSize)}
	if err := finish(r, "Signature"); err != nil {
		return nil, err
	}
	return m, nil
}

// EncryptedSigData returns the encrypted signature field as DATA (with its
// four-byte length), the input of the AKE's MAC.
func EncryptedSigData(enc []byte) []byte { return wire.AppendData(nil, enc) }

// X is the signed structure of the AKE: pub, keyid and sig(M).
type X struct {
	Pub   *dsa.PublicKey
	KeyID uint32
	Sig   []byte
}

// Marshal encodes X.
func (x *X) Marshal() []byte {
	b := x.Pub.Marshal()
	b = wire.AppendInt(b, x.KeyID)
	return append(b, x.Sig...)
}

// ParseX decodes X (after decryption).
func ParseX(b []byte) (*X, error) {
	r := wire.NewReader(b)
	pub, err := dsa.Read(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	x := &X{Pub: pub, KeyID: r.Int(), Sig: r.Bytes(dsa.SignatureSize)}
	if err := finish(r, "signed key"); err != nil {
		return nil, err
	}
	if x.KeyID == 0 {
		return nil, fmt.Errorf("%w: keyid 0", ErrMalformed)
	}
	return x, nil
}

// Data is the Data Message.
type Data struct {
	Header
	Flags                       byte
	SenderKeyID, RecipientKeyID uint32
	NextDH                      *big.Int
	Counter                     [CTRSize]byte
	Encrypted                   []byte
	MAC                         []byte
	OldMACKeys                  []byte
}

// Authenticated returns the bytes the MAC covers: from the protocol
// version to the end of the encrypted message.
func (m *Data) Authenticated() []byte {
	m.Type = TypeData
	b := m.Header.append(nil)
	b = append(b, m.Flags)
	b = wire.AppendInt(b, m.SenderKeyID)
	b = wire.AppendInt(b, m.RecipientKeyID)
	b = wire.AppendMPI(b, m.NextDH)
	b = append(b, m.Counter[:]...)
	return wire.AppendData(b, m.Encrypted)
}

// Marshal encodes the message.
func (m *Data) Marshal() []byte {
	b := append(m.Authenticated(), m.MAC...)
	return wire.AppendData(b, m.OldMACKeys)
}

// ParseData decodes a Data Message.
func ParseData(b []byte) (*Data, error) {
	h, r, err := start(b, TypeData)
	if err != nil {
		return nil, err
	}
	m := &Data{Header: h, Flags: r.Byte(), SenderKeyID: r.Int(), RecipientKeyID: r.Int(), NextDH: r.MPI()}
	copy(m.Counter[:], r.Bytes(CTRSize))
	m.Encrypted = r.Data(MaxEncrypted)
	m.MAC = r.Bytes(MACSize)
	m.OldMACKeys = r.Data(MaxOldMACKeys)
	if err := finish(r, "Data"); err != nil {
		return nil, err
	}
	switch {
	case m.SenderKeyID == 0 || m.RecipientKeyID == 0:
		return nil, fmt.Errorf("%w: keyid 0", ErrMalformed)
	case m.NextDH == nil:
		return nil, fmt.Errorf("%w: empty next D-H key", ErrMalformed)
	case len(m.OldMACKeys)%MACSize != 0:
		return nil, fmt.Errorf("%w: old MAC keys of %d bytes", ErrMalformed, len(m.OldMACKeys))
	}
	return m, nil
}

// TLV is a type/length/value record of a data message's plaintext.
type TLV struct {
	Type  uint16
	Value []byte
}

// The TLV types of OTR version 3.
const (
	TLVPadding      uint16 = 0
	TLVDisconnected uint16 = 1
	TLVSMP1         uint16 = 2
	TLVSMP2         uint16 = 3
	TLVSMP3         uint16 = 4
	TLVSMP4         uint16 = 5
	TLVSMPAbort     uint16 = 6
	TLVSMP1Q        uint16 = 7
	TLVExtraKey     uint16 = 8
	maxTLVValue            = 0xffff
)

// EncodePlaintext builds the plaintext of a data message: the text, and if
// there are TLVs, a NUL and the records.
func EncodePlaintext(text string, tlvs []TLV) ([]byte, error) {
	b := []byte(text)
	if len(tlvs) == 0 {
		return b, nil
	}
	b = append(b, 0)
	for _, t := range tlvs {
		if len(t.Value) > maxTLVValue {
			return nil, fmt.Errorf("otr3: TLV of %d bytes", len(t.Value))
		}
		b = wire.AppendShort(b, t.Type)
		b = wire.AppendShort(b, uint16(len(t.Value)))
		b = append(b, t.Value...)
	}
	return b, nil
}

// ParsePlaintext splits a decrypted plaintext into its human-readable part
// (up to the first NUL) and its TLVs. A truncated TLV is an error; the text
// is still returned.
func ParsePlaintext(b []byte) (text string, tlvs []TLV, err error) {
	i := 0
	for i < len(b) && b[i] != 0 {
		i++
	}
	text = string(b[:i])
	if i == len(b) {
		return text, nil, nil
	}
	r := wire.NewReader(b[i+1:])
	for r.Len() > 0 {
		typ := r.Short()
		n := r.Short()
		v := r.Bytes(int(n))
		if r.Err() != nil {
			return text, tlvs, fmt.Errorf("%w: truncated TLV", ErrMalformed)
		}
		tlvs = append(tlvs, TLV{Type: typ, Value: append([]byte(nil), v...)})
	}
	return text, tlvs, nil
}
