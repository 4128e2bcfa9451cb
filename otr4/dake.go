package otr4

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/dh"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
	"github.com/otrchat/otrchat/otr4/internal/ring"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// Errors of the DAKE messages.
var (
	ErrMalformedMessage = errors.New("otr4: malformed message")
	ErrInvalidRingSig   = errors.New("otr4: invalid ring signature")
	ErrInstanceTag      = errors.New("otr4: instance tag does not match")
)

// identityMessage is the first DAKE message (otrv4.md, "Identity Message").
type identityMessage struct {
	sender, receiver InstanceTag
	profile          *ClientProfile
	y                *curve.Point
	b                *big.Int
	ecdhFirst        *curve.Point
	dhFirst          *big.Int
}

func (m *identityMessage) marshal() []byte {
	b := wire.AppendShort(nil, protocolVersion)
	b = append(b, msgTypeIdentity)
	b = wire.AppendInt(b, uint32(m.sender))
	b = wire.AppendInt(b, uint32(m.receiver))
	b = append(b, m.profile.Marshal()...)
	b = wire.AppendPoint(b, m.y)
	b = wire.AppendMPI(b, m.b)
	b = wire.AppendPoint(b, m.ecdhFirst)
	return wire.AppendMPI(b, m.dhFirst)
}

// readHeader reads the version, type and instance tags of a message.
func readHeader(r *wire.Reader, typ byte) (sender, receiver InstanceTag, err error) {
	v, t := r.Short(), r.Byte()
	sender, receiver = InstanceTag(r.Int()), InstanceTag(r.Int())
	if err := r.Err(); err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrMalformedMessage, err)
	}
	if v != protocolVersion || t != typ {
		return 0, 0, fmt.Errorf("%w: version %d type %#x", ErrMalformedMessage, v, t)
	}
	if !sender.Valid() || (receiver != 0 && !receiver.Valid()) {
		return 0, 0, fmt.Errorf("%w: sender %v receiver %v", ErrInstanceTag, sender, receiver)
	}
	return sender, receiver, nil
}

func checkDH(x *big.Int) error {
	if !dh.IsGroupElement(x) {
		return fmt.Errorf("%w: DH value is not in the group", ErrMalformedMessage)
	}
	return nil
}

func parseIdentity(b []byte) (*identityMessage, error) {
	r := wire.NewReader(b)
	var m identityMessage
	var err error
	if m.sender, m.receiver, err = readHeader(r, msgTypeIdentity); err != nil {
		return nil, err
	}
	if m.profile, err = readClientProfile(r); err != nil {
		return nil, err
	}
	m.y = r.Point()
	m.b = r.MPI()
	m.ecdhFirst = r.Point()
	m.dhFirst = r.MPI()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: identity message: %v", ErrMalformedMessage, err)
	}
	if err := checkDH(m.b); err != nil {
		return nil, err
	}
	if err := checkDH(m.dhFirst); err != nil {
		return nil, err
	}
	return &m, nil
}

// authBody is what Auth-R and Non-Interactive-Auth messages share: the
// header, the sender's Client Profile, X, A and sigma, some fields of their
// own (middle), then the first ECDH and DH keys for the double ratchet.
type authBody struct {
	sender, receiver InstanceTag
	profile          *ClientProfile
	x                *curve.Point
	a                *big.Int
	sigma            *ring.Signature
	ecdhFirst        *curve.Point
	dhFirst          *big.Int
}

func (m *authBody) marshal(typ byte, middle func([]byte) []byte) []byte {
	b := wire.AppendShort(nil, protocolVersion)
	b = append(b, typ)
	b = wire.AppendInt(b, uint32(m.sender))
	b = wire.AppendInt(b, uint32(m.receiver))
	b = append(b, m.profile.Marshal()...)
	b = wire.AppendPoint(b, m.x)
	b = wire.AppendMPI(b, m.a)
	b = append(b, m.sigma.Marshal()...)
	if middle != nil {
		b = middle(b)
	}
	b = wire.AppendPoint(b, m.ecdhFirst)
	return wire.AppendMPI(b, m.dhFirst)
}

// parse decodes b strictly into m; middle reads the message's own fields.
func (m *authBody) parse(b []byte, typ byte, name string, middle func(*wire.Reader)) error {
	r := wire.NewReader(b)
	var err error
	if m.sender, m.receiver, err = readHeader(r, typ); err != nil {
		return err
	}
	if m.profile, err = readClientProfile(r); err != nil {
		return err
	}
	m.x = r.Point()
	m.a = r.MPI()
	sig := r.Bytes(ring.SignatureSize)
	if middle != nil {
		middle(r)
	}
	m.ecdhFirst = r.Point()
	m.dhFirst = r.MPI()
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformedMessage, name, err)
	}
	if m.sigma, err = ring.Parse(sig); err != nil {
		return ErrInvalidRingSig
	}
	if err := checkDH(m.a); err != nil {
		return err
	}
	if err := checkDH(m.dhFirst); err != nil {
		return err
	}
	if m.receiver == 0 {
		return fmt.Errorf("%w: %s without a receiver", ErrInstanceTag, name)
	}
	return nil
}

// authRMessage is the second DAKE message (otrv4.md, "Auth-R Message").
type authRMessage struct{ authBody }

func (m *authRMessage) marshal() []byte { return m.authBody.marshal(msgTypeAuthR, nil) }

func parseAuthR(b []byte) (*authRMessage, error) {
	var m authRMessage
	if err := m.authBody.parse(b, msgTypeAuthR, "Auth-R", nil); err != nil {
		return nil, err
	}
	return &m, nil
}

// authIMessage is the last DAKE message (otrv4.md, "Auth-I Message").
type authIMessage struct {
	sender, receiver InstanceTag
	sigma            *ring.Signature
}

func (m *authIMessage) marshal() []byte {
	b := wire.AppendShort(nil, protocolVersion)
	b = append(b, msgTypeAuthI)
	b = wire.AppendInt(b, uint32(m.sender))
	b = wire.AppendInt(b, uint32(m.receiver))
	return append(b, m.sigma.Marshal()...)
}

func parseAuthI(b []byte) (*authIMessage, error) {
	r := wire.NewReader(b)
	var m authIMessage
	var err error
	if m.sender, m.receiver, err = readHeader(r, msgTypeAuthI); err != nil {
		return nil, err
	}
	sig := r.Bytes(ring.SignatureSize)
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: Auth-I: %v", ErrMalformedMessage, err)
	}
	if m.sigma, err = ring.Parse(sig); err != nil {
		return nil, ErrInvalidRingSig
	}
	if m.receiver == 0 {
		return nil, fmt.Errorf("%w: Auth-I without a receiver", ErrInstanceTag)
	}
	return &m, nil
}

// phi computes the shared session state (docs/spec-notes.md, "Shared
// session state"): the two instance tags in numerical order, the first
// ECDH and DH keys of the Identity message's sender then those of the
// Auth-R sender (or, offline, of the prekey owner then of the
// Non-Interactive-Auth sender), and the two bare JIDs as DATA in
// lexicographic order.
func phi(tagA, tagB InstanceTag, ecdh1 *curve.Point, dh1 *big.Int, ecdh2 *curve.Point, dh2 *big.Int, jidA, jidB string) []byte {
	tags := []uint32{uint32(tagA), uint32(tagB)}
	sort.Slice(tags, func(i, j int) bool { return tags[i] < tags[j] })
	b := wire.AppendInt(nil, tags[0])
	b = wire.AppendInt(b, tags[1])
	if ecdh1 != nil {
		b = wire.AppendPoint(b, ecdh1)
		b = wire.AppendMPI(b, dh1)
	}
	if ecdh2 != nil {
		b = wire.AppendPoint(b, ecdh2)
		b = wire.AppendMPI(b, dh2)
	}
	jids := []string{jidA, jidB}
	sort.Strings(jids)
	b = wire.AppendData(b, []byte(jids[0]))
	return wire.AppendData(b, []byte(jids[1]))
}

// authTranscript computes t for Auth-R (first = 0x00) or Auth-I (0x01):
// first || HWC(usage_bob || Bob's profile, 64) || HWC(usage_alice ||
// Alice's profile, 64) || Y || X || B || A || HWC(usage_phi || phi, 64).
// Bob sent the Identity message; Alice sent Auth-R.
func authTranscript(authI bool, bob, alice *ClientProfile, y, x *curve.Point, b, a *big.Int, phi []byte) []byte {
	first, ub, ua, up := byte(0), kdf.UsageAuthRBobClientProfile, kdf.UsageAuthRAliceClientProfile, kdf.UsageAuthRPhi
	if authI {
		first, ub, ua, up = 1, kdf.UsageAuthIBobClientProfile, kdf.UsageAuthIAliceClientProfile, kdf.UsageAuthIPhi
	}
	t := []byte{first}
	t = append(t, kdf.KDF(ub, 64, bob.Marshal())...)
	t = append(t, kdf.KDF(ua, 64, alice.Marshal())...)
	t = wire.AppendPoint(t, y)
	t = wire.AppendPoint(t, x)
	t = wire.AppendMPI(t, b)
	t = wire.AppendMPI(t, a)
	return append(t, kdf.KDF(up, 64, phi)...)
}

// mixedSecret computes K = KDF(usage_shared_secret || K_ecdh || brace_key,
// 64), brace_key = KDF(usage_third_brace_key || k_dh, 32), and the SSID.
func mixedSecret(ecdhSecret *curve.PrivateKey, theirECDH *curve.Point, dhSecret *dh.PrivateKey, theirDH *big.Int) (k []byte, ssid [ssidSize]byte, err error) {
	p := curve.NewIdentityPoint().ScalarMult(ecdhSecret.Scalar(), theirECDH)
	if p.IsIdentity() {
		return nil, ssid, errors.New("otr4: ECDH result is the identity")
	}
	kECDH := p.Bytes()
	kDH, err := dhSecret.SharedSecret(theirDH)
	if err != nil {
		return nil, ssid, err
	}
	brace := kdf.KDF(kdf.UsageThirdBraceKey, 32, kDH)
	k = kdf.KDF(kdf.UsageSharedSecret, 64, kECDH, brace)
	copy(ssid[:], kdf.KDF(kdf.UsageSSID, ssidSize, k))
	clear(kDH)
	clear(brace)
	clear(kECDH)
	return k, ssid, nil
}

// hashedB is the value compared when both sides sent Identity messages:
// SHAKE-256 of B's MPI encoding, 32 bytes (docs/spec-notes.md).
func hashedB(b *big.Int) []byte { return kdf.Shake256(32, wire.AppendMPI(nil, b)) }

func higherHash(ours, theirs *big.Int) bool { return bytes.Compare(hashedB(ours), hashedB(theirs)) > 0 }
