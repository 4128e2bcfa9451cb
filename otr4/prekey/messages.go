package prekey

import (
	"fmt"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// Message is any prekey server message.
type Message interface {
	// Type returns the message type.
	Type() MessageType
	// Marshal encodes the message (binary, before base-64 encoding).
	Marshal() []byte
}

// ServerIdentity is the Prekey Server Composite Identity: the server's
// identity (its bare JID over XMPP) and its long-term Ed448 public key.
type ServerIdentity struct {
	Name      string
	PublicKey []byte // POINT encoding of H_s, 57 bytes
}

// Marshal encodes PREKEY-SERVER-COMP-ID: DATA(name) || ED448-PUBKEY.
func (s ServerIdentity) Marshal() []byte {
	b := wire.AppendData(nil, []byte(s.Name))
	b = wire.AppendShort(b, pubKeyTypeEd448)
	return append(b, s.PublicKey...)
}

// Fingerprint returns the server's fingerprint, KDF_1(usage_fingerprint,
// byte(H), 56) with the OTRv4 KDF ("Public keys and Fingerprints").
func (s ServerIdentity) Fingerprint() otr4.Fingerprint {
	return fingerprintOf(s.PublicKey)
}

// pubKeyTypeEd448 is the ED448-PUBKEY type field (otrv4.md "Public keys").
const pubKeyTypeEd448 uint16 = 0x0010

func readServerIdentity(r *wire.Reader) (ServerIdentity, *curve.Point) {
	name := r.Data(MaxIdentityLen)
	if t := r.Short(); r.Err() == nil && t != pubKeyTypeEd448 {
		r.Fail(fmt.Errorf("%w: public key type %#04x", ErrMalformed, t))
	}
	h := r.Point()
	if r.Err() != nil {
		return ServerIdentity{}, nil
	}
	return ServerIdentity{Name: string(name), PublicKey: h.Bytes()}, h
}

// header reads and checks the version and type of a message.
func header(r *wire.Reader, want MessageType) error {
	v, t := r.Short(), MessageType(r.Byte())
	if err := r.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if t != want {
		return fmt.Errorf("%w: type %v, want %v", ErrMalformed, t, want)
	}
	if v < Version {
		return fmt.Errorf("%w: %d", ErrVersion, v)
	}
	return nil
}

func appendHeader(t MessageType) []byte {
	return []byte{byte(Version >> 8), byte(Version), byte(t)}
}

func finish(r *wire.Reader) error {
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// DAKE1 is the DAKE-1 message: the publisher's instance tag, Client Profile
// and ephemeral ECDH key I.
type DAKE1 struct {
	SenderTag     otr4.InstanceTag
	ClientProfile *otr4.ClientProfile
	I             []byte // POINT

	profileBytes []byte // CLIENT-PROF as received, hashed into t
}

// Type returns TypeDAKE1.
func (*DAKE1) Type() MessageType { return TypeDAKE1 }

func (m *DAKE1) profile() []byte {
	if m.profileBytes != nil {
		return m.profileBytes
	}
	return m.ClientProfile.Marshal()
}

// Marshal encodes the message.
func (m *DAKE1) Marshal() []byte {
	b := appendHeader(TypeDAKE1)
	b = wire.AppendInt(b, uint32(m.SenderTag))
	b = append(b, m.profile()...)
	return append(b, m.I...)
}

// ParseDAKE1 decodes and checks a DAKE-1 message: encoding, version and
// that I is a valid point. The Client Profile is decoded but not validated.
func ParseDAKE1(b []byte) (*DAKE1, error) {
	r := wire.NewReader(b)
	if err := header(r, TypeDAKE1); err != nil {
		return nil, err
	}
	m := &DAKE1{SenderTag: otr4.InstanceTag(r.Int())}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	rest := r.Rest()
	p, after, err := otr4.ParseClientProfile(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: client profile: %v", ErrMalformed, err)
	}
	m.ClientProfile = p
	m.profileBytes = append([]byte(nil), rest[:len(rest)-len(after)]...)
	r = wire.NewReader(after)
	i := r.Point()
	if err := finish(r); err != nil {
		return nil, err
	}
	m.I = i.Bytes()
	return m, nil
}

// DAKE2 is the DAKE-2 message: the server's composite identity, its
// ephemeral ECDH key S and its ring signature sigma.
type DAKE2 struct {
	ReceiverTag otr4.InstanceTag
	Server      ServerIdentity
	S           []byte // POINT
	Sigma       []byte // RING-SIG
}

// Type returns TypeDAKE2.
func (*DAKE2) Type() MessageType { return TypeDAKE2 }

// Marshal encodes the message.
func (m *DAKE2) Marshal() []byte {
	b := appendHeader(TypeDAKE2)
	b = wire.AppendInt(b, uint32(m.ReceiverTag))
	b = append(b, m.Server.Marshal()...)
	b = append(b, m.S...)
	return append(b, m.Sigma...)
}

// ParseDAKE2 decodes a DAKE-2 message, checking the encoding, the points and
// the ring signature's scalars.
func ParseDAKE2(b []byte) (*DAKE2, error) {
	r := wire.NewReader(b)
	if err := header(r, TypeDAKE2); err != nil {
		return nil, err
	}
	m := &DAKE2{ReceiverTag: otr4.InstanceTag(r.Int())}
	m.Server, _ = readServerIdentity(r)
	s := r.Point()
	sig := r.Bytes(ringSignatureSize)
	if err := finish(r); err != nil {
		return nil, err
	}
	if _, err := parseRingSignature(sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	m.S = s.Bytes()
	m.Sigma = append([]byte(nil), sig...)
	return m, nil
}

// DAKE3 is the DAKE-3 message: the publisher's ring signature and the
// attached message (a Publication or a Storage Information Request).
type DAKE3 struct {
	SenderTag otr4.InstanceTag
	Sigma     []byte // RING-SIG
	Message   []byte // the attached message, DATA
}

// Type returns TypeDAKE3.
func (*DAKE3) Type() MessageType { return TypeDAKE3 }

// Marshal encodes the message.
func (m *DAKE3) Marshal() []byte {
	b := appendHeader(TypeDAKE3)
	b = wire.AppendInt(b, uint32(m.SenderTag))
	b = append(b, m.Sigma...)
	return wire.AppendData(b, m.Message)
}

// ParseDAKE3 decodes a DAKE-3 message. The attached message is at most
// MaxInnerMessage bytes and is not decoded here.
func ParseDAKE3(b []byte) (*DAKE3, error) {
	r := wire.NewReader(b)
	if err := header(r, TypeDAKE3); err != nil {
		return nil, err
	}
	m := &DAKE3{SenderTag: otr4.InstanceTag(r.Int())}
	sig := r.Bytes(ringSignatureSize)
	msg := r.Data(MaxInnerMessage)
	if err := finish(r); err != nil {
		return nil, err
	}
	if _, err := parseRingSignature(sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	m.Sigma = append([]byte(nil), sig...)
	m.Message = append([]byte(nil), msg...)
	return m, nil
}

// Publication is the Prekey Publication message. Build one with the
// client's DAKE (which computes the proofs and the MAC); the server gets it
// from ServerSession.HandleDAKE3, verified.
type Publication struct {
	PrekeyMessages []*otr4.PrekeyMessage
	ClientProfile  *otr4.ClientProfile // optional (K)
	PrekeyProfile  *otr4.PrekeyProfile // optional (J)

	// Proofs, present as the spec says: the two prekey message proofs when
	// N > 0, the prekey profile proof when J = 1.
	MessageECDHProof *ECDHProof
	MessageDHProof   *DHProof
	ProfileProof     *ECDHProof
	MAC              [MACSize]byte

	raw pubRaw // encodings as received, for the MAC
}

type pubRaw struct {
	messages, client, prekey, proofs []byte
	set                              bool
}

// Type returns TypePublication.
func (*Publication) Type() MessageType { return TypePublication }

func (m *Publication) encodings() pubRaw {
	if m.raw.set {
		return m.raw
	}
	var e pubRaw
	for _, pm := range m.PrekeyMessages {
		e.messages = append(e.messages, pm.Marshal()...)
	}
	if m.ClientProfile != nil {
		e.client = m.ClientProfile.Marshal()
	}
	if m.PrekeyProfile != nil {
		e.prekey = m.PrekeyProfile.Marshal()
	}
	if m.MessageECDHProof != nil {
		e.proofs = append(e.proofs, m.MessageECDHProof.Marshal()...)
	}
	if m.MessageDHProof != nil {
		e.proofs = append(e.proofs, m.MessageDHProof.Marshal()...)
	}
	if m.ProfileProof != nil {
		e.proofs = append(e.proofs, m.ProfileProof.Marshal()...)
	}
	return e
}

// Marshal encodes the message.
func (m *Publication) Marshal() []byte {
	e := m.encodings()
	b := appendHeader(TypePublication)
	b = append(b, byte(len(m.PrekeyMessages)))
	b = append(b, e.messages...)
	if e.client != nil {
		b = append(b, 1)
		b = append(b, e.client...)
	} else {
		b = append(b, 0)
	}
	if e.prekey != nil {
		b = append(b, 1)
		b = append(b, e.prekey...)
	} else {
		b = append(b, 0)
	}
	b = append(b, e.proofs...)
	return append(b, m.MAC[:]...)
}

// ParsePublication decodes a Prekey Publication message: the counts, the
// prekey messages (each checked as otr4.ParsePrekeyMessage does), the
// profiles (decoded, not validated) and the proofs that must be present.
// It does not verify the MAC or the proofs.
func ParsePublication(b []byte) (*Publication, error) {
	r := wire.NewReader(b)
	if err := header(r, TypePublication); err != nil {
		return nil, err
	}
	m := &Publication{}
	n := int(r.Byte())
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	rest := r.Rest()
	start := rest
	for i := 0; i < n; i++ {
		pm, after, err := otr4.ParsePrekeyMessage(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: prekey message %d: %v", ErrMalformed, i+1, err)
		}
		m.PrekeyMessages = append(m.PrekeyMessages, pm)
		rest = after
	}
	m.raw.messages = append([]byte(nil), start[:len(start)-len(rest)]...)
	var k, j byte
	if k, rest = firstByte(rest); k > 1 {
		return nil, fmt.Errorf("%w: K is %d", ErrMalformed, k)
	}
	if k == 1 {
		p, after, err := otr4.ParseClientProfile(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: client profile: %v", ErrMalformed, err)
		}
		m.ClientProfile = p
		m.raw.client = append([]byte(nil), rest[:len(rest)-len(after)]...)
		rest = after
	}
	if j, rest = firstByte(rest); j > 1 {
		return nil, fmt.Errorf("%w: J is %d", ErrMalformed, j)
	}
	if j == 1 {
		p, after, err := otr4.ParsePrekeyProfile(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: prekey profile: %v", ErrMalformed, err)
		}
		m.PrekeyProfile = p
		m.raw.prekey = append([]byte(nil), rest[:len(rest)-len(after)]...)
		rest = after
	}
	r = wire.NewReader(rest)
	if n > 0 {
		m.MessageECDHProof = readECDHProof(r)
		m.MessageDHProof = readDHProof(r)
	}
	if j == 1 {
		m.ProfileProof = readECDHProof(r)
	}
	proofLen := len(rest) - r.Len()
	copy(m.MAC[:], r.Bytes(MACSize))
	if err := finish(r); err != nil {
		return nil, err
	}
	m.raw.proofs = append([]byte(nil), rest[:proofLen]...)
	m.raw.set = true
	return m, nil
}

// firstByte returns b[0] and b[1:], or 0xff (an invalid count) when b is empty.
func firstByte(b []byte) (byte, []byte) {
	if len(b) == 0 {
		return 0xff, b
	}
	return b[0], b[1:]
}

// StorageInfoRequest is the Storage Information Request message.
type StorageInfoRequest struct {
	MAC [MACSize]byte
}

// Type returns TypeStorageInfoRequest.
func (*StorageInfoRequest) Type() MessageType { return TypeStorageInfoRequest }

// Marshal encodes the message.
func (m *StorageInfoRequest) Marshal() []byte {
	return append(appendHeader(TypeStorageInfoRequest), m.MAC[:]...)
}

// ParseStorageInfoRequest decodes the message; it does not verify the MAC.
func ParseStorageInfoRequest(b []byte) (*StorageInfoRequest, error) {
	r := wire.NewReader(b)
	if err := header(r, TypeStorageInfoRequest); err != nil {
		return nil, err
	}
	m := &StorageInfoRequest{}
	copy(m.MAC[:], r.Bytes(MACSize))
	if err := finish(r); err != nil {
		return nil, err
	}
	return m, nil
}

// StorageStatus is the Storage Status message: how many prekey messages the
// server holds for the publisher's instance tag.
type StorageStatus struct {
	ReceiverTag otr4.InstanceTag
	Stored      uint32
	MAC         [MACSize]byte
}

// Type returns TypeStorageStatus.
func (*StorageStatus) Type() MessageType { return TypeStorageStatus }

// Marshal encodes the message.
func (m *StorageStatus) Marshal() []byte {
	b := appendHeader(TypeStorageStatus)
	b = wire.AppendInt(b, uint32(m.ReceiverTag))
	b = wire.AppendInt(b, m.Stored)
	return append(b, m.MAC[:]...)
}

// ParseStorageStatus decodes the message; it does not verify the MAC.
func ParseStorageStatus(b []byte) (*StorageStatus, error) {
	r := wire.NewReader(b)
	if err := header(r, TypeStorageStatus); err != nil {
		return nil, err
	}
	m := &StorageStatus{ReceiverTag: otr4.InstanceTag(r.Int()), Stored: r.Int()}
	copy(m.MAC[:], r.Bytes(MACSize))
	if err := finish(r); err != nil {
		return nil, err
	}
	return m, nil
}

// Success is the Success message.
type Success struct {
	ReceiverTag otr4.InstanceTag
	MAC         [MACSize]byte
}

// Type returns TypeSuccess.
func (*Success) Type() MessageType { return TypeSuccess }

// Marshal encodes the message.
func (m *Success) Marshal() []byte { return marshalTagMAC(TypeSuccess, m.ReceiverTag, m.MAC) }

// ParseSuccess decodes the message; it does not verify the MAC.
func ParseSuccess(b []byte) (*Success, error) {
	tag, mac, err := parseTagMAC(b, TypeSuccess)
	if err != nil {
		return nil, err
	}
	return &Success{ReceiverTag: tag, MAC: mac}, nil
}

// Failure is the Failure message.
type Failure struct {
	ReceiverTag otr4.InstanceTag
	MAC         [MACSize]byte
}

// Type returns TypeFailure.
func (*Failure) Type() MessageType { return TypeFailure }

// Marshal encodes the message.
func (m *Failure) Marshal() []byte { return marshalTagMAC(TypeFailure, m.ReceiverTag, m.MAC) }

// ParseFailure decodes the message; it does not verify the MAC.
func ParseFailure(b []byte) (*Failure, error) {
	tag, mac, err := parseTagMAC(b, TypeFailure)
	if err != nil {
		return nil, err
	}
	return &Failure{ReceiverTag: tag, MAC: mac}, nil
}

func marshalTagMAC(t MessageType, tag otr4.InstanceTag, mac [MACSize]byte) []byte {
	b := wire.AppendInt(appendHeader(t), uint32(tag))
	return append(b, mac[:]...)
}

func parseTagMAC(b []byte, t MessageType) (otr4.InstanceTag, [MACSize]byte, error) {
	var mac [MACSize]byte
	r := wire.NewReader(b)
	if err := header(r, t); err != nil {
		return 0, mac, err
	}
	tag := otr4.InstanceTag(r.Int())
	copy(mac[:], r.Bytes(MACSize))
	if err := finish(r); err != nil {
		return 0, mac, err
	}
	return tag, mac, nil
}

// EnsembleQuery is the Prekey Ensemble Query Retrieval message.
type EnsembleQuery struct {
	SenderTag otr4.InstanceTag
	Identity  string // the bare JID asked for
	Versions  string // e.g. "4"
}

// Type returns TypeEnsembleQuery.
func (*EnsembleQuery) Type() MessageType { return TypeEnsembleQuery }

// Marshal encodes the message.
func (m *EnsembleQuery) Marshal() []byte {
	b := wire.AppendInt(appendHeader(TypeEnsembleQuery), uint32(m.SenderTag))
	b = wire.AppendData(b, []byte(m.Identity))
	return wire.AppendData(b, []byte(m.Versions))
}

// ParseEnsembleQuery decodes the message.
func ParseEnsembleQuery(b []byte) (*EnsembleQuery, error) {
	r := wire.NewReader(b)
	if err := header(r, TypeEnsembleQuery); err != nil {
		return nil, err
	}
	m := &EnsembleQuery{SenderTag: otr4.InstanceTag(r.Int())}
	id := r.Data(MaxIdentityLen)
	v := r.Data(MaxVersionsLen)
	if err := finish(r); err != nil {
		return nil, err
	}
	m.Identity, m.Versions = string(id), string(v)
	return m, nil
}

// EnsembleRetrieval is the Prekey Ensemble Retrieval message. Its
// ensembles come from an untrusted server: validate them (see
// otr4.SelectEnsembles) before use.
type EnsembleRetrieval struct {
	ReceiverTag otr4.InstanceTag
	Identity    string
	Ensembles   []*otr4.PrekeyEnsemble
}

// Type returns TypeEnsembleRetrieval.
func (*EnsembleRetrieval) Type() MessageType { return TypeEnsembleRetrieval }

// Marshal encodes the message.
func (m *EnsembleRetrieval) Marshal() []byte {
	b := wire.AppendInt(appendHeader(TypeEnsembleRetrieval), uint32(m.ReceiverTag))
	b = wire.AppendData(b, []byte(m.Identity))
	b = wire.AppendInt(b, uint32(len(m.Ensembles)))
	for _, e := range m.Ensembles {
		b = append(b, e.Client.Marshal()...)
		b = append(b, e.Prekey.Marshal()...)
		b = append(b, e.Message.Marshal()...)
	}
	return b
}

// ParseEnsembleRetrieval decodes the message: L must be between 1 and
// MaxEnsembles and exactly L ensembles must follow. The ensembles are
// decoded, not validated.
func ParseEnsembleRetrieval(b []byte) (*EnsembleRetrieval, error) {
	r := wire.NewReader(b)
	if err := header(r, TypeEnsembleRetrieval); err != nil {
		return nil, err
	}
	m := &EnsembleRetrieval{ReceiverTag: otr4.InstanceTag(r.Int())}
	id := r.Data(MaxIdentityLen)
	l := r.Int()
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if l == 0 || l > MaxEnsembles {
		return nil, fmt.Errorf("%w: L is %d", ErrMalformed, l)
	}
	m.Identity = string(id)
	rest := r.Rest()
	for i := uint32(0); i < l; i++ {
		var e otr4.PrekeyEnsemble
		var err error
		if e.Client, rest, err = otr4.ParseClientProfile(rest); err != nil {
			return nil, fmt.Errorf("%w: ensemble %d: client profile: %v", ErrMalformed, i+1, err)
		}
		if e.Prekey, rest, err = otr4.ParsePrekeyProfile(rest); err != nil {
			return nil, fmt.Errorf("%w: ensemble %d: prekey profile: %v", ErrMalformed, i+1, err)
		}
		if e.Message, rest, err = otr4.ParsePrekeyMessage(rest); err != nil {
			return nil, fmt.Errorf("%w: ensemble %d: prekey message: %v", ErrMalformed, i+1, err)
		}
		m.Ensembles = append(m.Ensembles, &e)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
	}
	return m, nil
}

// NoEnsembles is the No Prekey Ensembles in Storage message.
type NoEnsembles struct {
	ReceiverTag otr4.InstanceTag
	Identity    string
	Text        string // human-readable; NoEnsemblesText from this server
}

// Type returns TypeNoEnsembles.
func (*NoEnsembles) Type() MessageType { return TypeNoEnsembles }

// Marshal encodes the message.
func (m *NoEnsembles) Marshal() []byte {
	b := wire.AppendInt(appendHeader(TypeNoEnsembles), uint32(m.ReceiverTag))
	b = wire.AppendData(b, []byte(m.Identity))
	return wire.AppendData(b, []byte(m.Text))
}

// ParseNoEnsembles decodes the message.
func ParseNoEnsembles(b []byte) (*NoEnsembles, error) {
	r := wire.NewReader(b)
	if err := header(r, TypeNoEnsembles); err != nil {
		return nil, err
	}
	m := &NoEnsembles{ReceiverTag: otr4.InstanceTag(r.Int())}
	id := r.Data(MaxIdentityLen)
	t := r.Data(MaxNoEnsemblesTextLen)
	if err := finish(r); err != nil {
		return nil, err
	}
	m.Identity, m.Text = string(id), string(t)
	return m, nil
}

// PeekType returns the version and type of an encoded message without
// decoding the rest.
func PeekType(b []byte) (MessageType, error) {
	if len(b) < 3 {
		return 0, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if v := uint16(b[0])<<8 | uint16(b[1]); v < Version {
		return 0, fmt.Errorf("%w: %d", ErrVersion, v)
	}
	return MessageType(b[2]), nil
}

// Parse decodes any prekey server message, dispatching on its type.
func Parse(b []byte) (Message, error) {
	t, err := PeekType(b)
	if err != nil {
		return nil, err
	}
	switch t {
	case TypeDAKE1:
		return ParseDAKE1(b)
	case TypeDAKE2:
		return ParseDAKE2(b)
	case TypeDAKE3:
		return ParseDAKE3(b)
	case TypePublication:
		return ParsePublication(b)
	case TypeStorageInfoRequest:
		return ParseStorageInfoRequest(b)
	case TypeStorageStatus:
		return ParseStorageStatus(b)
	case TypeSuccess:
		return ParseSuccess(b)
	case TypeFailure:
		return ParseFailure(b)
	case TypeEnsembleQuery:
		return ParseEnsembleQuery(b)
	case TypeEnsembleRetrieval:
		return ParseEnsembleRetrieval(b)
	case TypeNoEnsembles:
		return ParseNoEnsembles(b)
	}
	return nil, fmt.Errorf("%w: unknown type %v", ErrMalformed, t)
}
