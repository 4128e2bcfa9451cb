package prekey

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/dh"
)

// ClientConfig is what the publisher's side of the DAKE needs.
type ClientConfig struct {
	// Rand is the source of randomness; nil means crypto/rand.
	Rand io.Reader
	// Identity is the device's long-term key; Profile its Client Profile,
	// whose instance tag is the sender instance tag of the DAKE.
	Identity *otr4.Identity
	Profile  *otr4.ClientProfile
	// Publisher is the publisher's bare JID and Server the prekey server's
	// (both go into phi; Server must be the name in the server's
	// composite identity).
	Publisher string
	Server    string
	// ServerFingerprint is the fingerprint the server's key must have, as
	// learned (and pinned) from service discovery.
	ServerFingerprint otr4.Fingerprint
}

// Request is what a DAKE-3 carries: a *PublishRequest or a StorageRequest.
type Request interface{ isRequest() }

// PublishRequest asks the server to store values. Each public value comes
// with its secret, for the proofs: PrekeySecrets[i] belongs to
// PrekeyMessages[i]; PrekeyProfileSecret to PrekeyProfile. Any of the three
// parts may be left out, but not all.
type PublishRequest struct {
	ClientProfile       *otr4.ClientProfile
	PrekeyProfile       *otr4.PrekeyProfile
	PrekeyProfileSecret *otr4.SharedPrekeySecret
	PrekeyMessages      []*otr4.PrekeyMessage
	PrekeySecrets       []*otr4.PrekeySecret

	// SkipChecks skips the local checks that the published values belong
	// to this device (instance tags) and that each secret belongs to its
	// public value, so that a test double can send what a misbehaving
	// client would (foreign values, proofs that do not hold). Never set it
	// otherwise.
	SkipChecks bool
}

// StorageRequest asks how many prekey messages the server stores for this
// device.
type StorageRequest struct{}

func (*PublishRequest) isRequest() {}
func (StorageRequest) isRequest()  {}

// ResultKind says how the server answered.
type ResultKind int

// The server's answers.
const (
	ResultSuccess ResultKind = iota + 1
	ResultFailure
	ResultStorageStatus
)

// String names the result.
func (k ResultKind) String() string {
	switch k {
	case ResultSuccess:
		return "success"
	case ResultFailure:
		return "failure"
	case ResultStorageStatus:
		return "storage status"
	}
	return fmt.Sprintf("ResultKind(%d)", int(k))
}

// Result is the server's authenticated answer to a DAKE.
type Result struct {
	Kind   ResultKind
	Stored uint32 // for ResultStorageStatus: prekey messages stored
}

type clientState int

const (
	clientAwaitDAKE2 clientState = iota + 1 // IN_DAKE
	clientAwaitReply                        // DAKE-3 sent
	clientDone
)

// ClientDAKE is the publisher's side of one DAKE with the prekey server,
// with the request attached to its DAKE-3. It does no I/O: feed it the
// decoded messages the server sends (see Decode) and send what it returns.
// It is not safe for concurrent use.
type ClientDAKE struct {
	cfg      ClientConfig
	req      Request
	tag      otr4.InstanceTag
	a        *curve.Scalar // the long-term secret sk_a
	ha       *curve.Point
	i        *curve.Scalar // ephemeral secret
	iPub     []byte
	profile  []byte // the CLIENT-PROF sent in DAKE-1
	key      []byte // prekey_mac_k, after DAKE-2
	state    clientState
	server   ServerIdentity
	proofGen func(*PublishRequest, []byte) (*Publication, error)
}

// NewClientDAKE starts a DAKE with the prekey server for req and returns
// the DAKE-1 message to send (not yet base-64 encoded).
func NewClientDAKE(cfg ClientConfig, req Request) (*ClientDAKE, []byte, error) {
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Identity == nil || cfg.Profile == nil {
		return nil, nil, fmt.Errorf("%w: identity and client profile are required", ErrBadRequest)
	}
	if cfg.ServerFingerprint == (otr4.Fingerprint{}) {
		return nil, nil, fmt.Errorf("%w: the server's fingerprint is required", ErrBadRequest)
	}
	switch r := req.(type) {
	case StorageRequest:
	case *PublishRequest:
		if err := r.check(cfg.Profile); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("%w: unknown request %T", ErrBadRequest, req)
	}
	key, err := curve.NewKeyFromSeed(cfg.Identity.Seed())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: identity: %v", ErrBadRequest, err)
	}
	defer key.Wipe()
	ha := key.Public()
	if ha.Equal(mustPoint(cfg.Profile.PublicKey())) != 1 {
		return nil, nil, fmt.Errorf("%w: the client profile is not the identity's", ErrBadRequest)
	}
	i, err := curve.RandomScalar(cfg.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("prekey: ephemeral key: %w", err)
	}
	c := &ClientDAKE{
		cfg: cfg, req: req, tag: cfg.Profile.InstanceTag,
		a: curve.NewScalar().Set(key.Scalar()), ha: ha, i: i,
		iPub:  curve.NewIdentityPoint().ScalarBaseMult(i).Bytes(),
		state: clientAwaitDAKE2,
	}
	d1 := &DAKE1{SenderTag: c.tag, ClientProfile: cfg.Profile, I: c.iPub}
	c.profile = d1.profile()
	return c, d1.Marshal(), nil
}

func mustPoint(b []byte) *curve.Point {
	p, err := curve.NewIdentityPoint().SetBytes(b)
	if err != nil {
		return curve.NewIdentityPoint() // equals no valid key
	}
	return p
}

func (r *PublishRequest) check(cp *otr4.ClientProfile) error {
	tag := cp.InstanceTag
	if r.SkipChecks {
		tag = 0
	}
	if r.ClientProfile == nil && r.PrekeyProfile == nil && len(r.PrekeyMessages) == 0 {
		return fmt.Errorf("%w: nothing to publish", ErrBadRequest)
	}
	if len(r.PrekeyMessages) > MaxPrekeyMessages {
		return fmt.Errorf("%w: %d prekey messages, at most %d", ErrBadRequest, len(r.PrekeyMessages), MaxPrekeyMessages)
	}
	if len(r.PrekeySecrets) != len(r.PrekeyMessages) {
		return fmt.Errorf("%w: %d secrets for %d prekey messages", ErrBadRequest, len(r.PrekeySecrets), len(r.PrekeyMessages))
	}
	for i, m := range r.PrekeyMessages {
		if tag != 0 && m.InstanceTag != tag {
			return fmt.Errorf("%w: prekey message %d has instance tag %v, not %v", ErrBadRequest, i+1, m.InstanceTag, tag)
		}
		if r.PrekeySecrets[i] == nil || (tag != 0 && r.PrekeySecrets[i].ID != m.ID) {
			return fmt.Errorf("%w: secret %d does not belong to prekey message %d", ErrBadRequest, i+1, i+1)
		}
	}
	if tag != 0 && r.ClientProfile != nil && r.ClientProfile.InstanceTag != tag {
		return fmt.Errorf("%w: client profile has instance tag %v, not %v", ErrBadRequest, r.ClientProfile.InstanceTag, tag)
	}
	if r.PrekeyProfile != nil {
		if tag != 0 && r.PrekeyProfile.InstanceTag != tag {
			return fmt.Errorf("%w: prekey profile has instance tag %v, not %v", ErrBadRequest, r.PrekeyProfile.InstanceTag, tag)
		}
		if r.PrekeyProfileSecret == nil {
			return fmt.Errorf("%w: prekey profile without its secret", ErrBadRequest)
		}
	}
	return nil
}

// InstanceTag returns the sender instance tag of this DAKE.
func (c *ClientDAKE) InstanceTag() otr4.InstanceTag { return c.tag }

// Done reports whether the DAKE has ended (with a result or an error that
// ends it).
func (c *ClientDAKE) Done() bool { return c.state == clientDone }

// Server returns the server's composite identity, known after DAKE-2.
func (c *ClientDAKE) Server() ServerIdentity { return c.server }

// Receive processes one message from the server.
//
// On a valid DAKE-2 it returns the DAKE-3 to send. On a valid Success,
// Storage Status or Failure it returns the Result (with ErrFailure for a
// Failure) and the DAKE is done. Messages that the state machine does not
// expect (ErrUnexpected), that are not for this instance (ErrInstanceTag) or
// whose MAC does not verify (ErrBadMAC) are ignored: the state is unchanged
// and the caller may keep waiting. A DAKE-2 that fails verification
// (ErrServerIdentity, ErrBadSignature) and a Failure before DAKE-2
// (ErrUnauthenticatedFailure) end the DAKE.
func (c *ClientDAKE) Receive(msg []byte) ([]byte, *Result, error) {
	t, err := PeekType(msg)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case c.state == clientAwaitDAKE2 && t == TypeDAKE2:
		out, err := c.handleDAKE2(msg)
		return out, nil, err
	case c.state == clientAwaitDAKE2 && t == TypeFailure:
		f, err := ParseFailure(msg)
		if err != nil {
			return nil, nil, err
		}
		if f.ReceiverTag != c.tag {
			return nil, nil, ErrInstanceTag
		}
		c.finish()
		return nil, &Result{Kind: ResultFailure}, ErrUnauthenticatedFailure
	case c.state == clientAwaitReply && (t == TypeSuccess || t == TypeFailure || t == TypeStorageStatus):
		return c.handleReply(t, msg)
	}
	return nil, nil, fmt.Errorf("%w: %v", ErrUnexpected, t)
}

func (c *ClientDAKE) handleDAKE2(msg []byte) ([]byte, error) {
	d2, err := ParseDAKE2(msg)
	if err != nil {
		return nil, err
	}
	if d2.ReceiverTag != c.tag {
		return nil, ErrInstanceTag
	}
	// From here on a failure ends the DAKE: DAKE-2 was for us.
	if d2.Server.Name != c.cfg.Server || d2.Server.Fingerprint() != c.cfg.ServerFingerprint {
		c.finish()
		return nil, fmt.Errorf("%w: %q with fingerprint %s", ErrServerIdentity, d2.Server.Name, FingerprintHex(d2.Server.Fingerprint()))
	}
	hs := mustPoint(d2.Server.PublicKey)
	s := mustPoint(d2.S)
	iPt := mustPoint(c.iPub)
	composite := d2.Server.Marshal()
	phi := Phi(c.cfg.Publisher, c.cfg.Server)
	sig, _ := parseRingSignature(d2.Sigma) // checked by ParseDAKE2
	t2 := dakeT(false, c.profile, composite, c.iPub, d2.S, phi)
	if !ringVerify(c.ha, hs, iPt, sig, t2) {
		c.finish()
		return nil, ErrBadSignature
	}
	sk, err := sharedSecret(c.i, s)
	if err != nil {
		c.finish()
		return nil, err
	}
	defer clear(sk)
	t3 := dakeT(true, c.profile, composite, c.iPub, d2.S, phi)
	sig3, err := ringSign(c.cfg.Rand, c.a, c.ha, hs, s, t3)
	if err != nil {
		c.finish()
		return nil, err
	}
	c.key = macKey(sk)
	var inner []byte
	switch r := c.req.(type) {
	case StorageRequest:
		m := &StorageInfoRequest{}
		m.MAC = m.computeMAC(c.key)
		inner = m.Marshal()
	case *PublishRequest:
		p, err := r.build(c.cfg.Rand, sk, c.key)
		if err != nil {
			c.finish()
			return nil, err
		}
		inner = p.Marshal()
	}
	c.i.Wipe()
	c.a.Wipe()
	c.server = d2.Server
	c.state = clientAwaitReply
	d3 := &DAKE3{SenderTag: c.tag, Sigma: sig3.Marshal(), Message: inner}
	return d3.Marshal(), nil
}

func (c *ClientDAKE) handleReply(t MessageType, msg []byte) ([]byte, *Result, error) {
	var res *Result
	var tag otr4.InstanceTag
	var ok bool
	switch t {
	case TypeSuccess:
		m, err := ParseSuccess(msg)
		if err != nil {
			return nil, nil, err
		}
		want := m.computeMAC(c.key)
		tag, ok, res = m.ReceiverTag, macEqual(&want, &m.MAC), &Result{Kind: ResultSuccess}
	case TypeFailure:
		m, err := ParseFailure(msg)
		if err != nil {
			return nil, nil, err
		}
		want := m.computeMAC(c.key)
		tag, ok, res = m.ReceiverTag, macEqual(&want, &m.MAC), &Result{Kind: ResultFailure}
	case TypeStorageStatus:
		m, err := ParseStorageStatus(msg)
		if err != nil {
			return nil, nil, err
		}
		want := m.computeMAC(c.key)
		tag, ok, res = m.ReceiverTag, macEqual(&want, &m.MAC), &Result{Kind: ResultStorageStatus, Stored: m.Stored}
	}
	if tag != c.tag {
		return nil, nil, ErrInstanceTag
	}
	if !ok {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadMAC, t)
	}
	c.finish()
	if res.Kind == ResultFailure {
		return nil, res, ErrFailure
	}
	return nil, res, nil
}

func (c *ClientDAKE) finish() {
	c.state = clientDone
	c.i.Wipe()
	c.a.Wipe()
	clear(c.key)
}

// build computes the proofs and the MAC of the publication.
func (r *PublishRequest) build(rnd io.Reader, sk, key []byte) (*Publication, error) {
	m := proofContext(sk)
	p := &Publication{PrekeyMessages: r.PrekeyMessages, ClientProfile: r.ClientProfile, PrekeyProfile: r.PrekeyProfile}
	if n := len(r.PrekeyMessages); n > 0 {
		ys := make([]*curve.Scalar, n)
		yPub := make([][]byte, n)
		bs := make([][]byte, n)
		bPub := make([]*big.Int, n)
		defer func() {
			for i := range ys {
				if ys[i] != nil {
					ys[i].Wipe()
				}
				clear(bs[i])
			}
		}()
		for i, pm := range r.PrekeyMessages {
			sec := r.PrekeySecrets[i].Marshal() // ID || ECDH seed || DH secret
			if len(sec) != 4+curve.SeedSize+dh.SecretSize {
				clear(sec)
				return nil, fmt.Errorf("%w: prekey secret %d has an unknown layout", ErrBadRequest, i+1)
			}
			k, err := curve.NewKeyFromSeed(sec[4 : 4+curve.SeedSize])
			if err != nil {
				clear(sec)
				return nil, fmt.Errorf("%w: prekey secret %d: %v", ErrBadRequest, i+1, err)
			}
			ys[i] = curve.NewScalar().Set(k.Scalar())
			yPub[i] = pm.ECDH()
			if !r.SkipChecks && k.Public().Equal(mustPoint(yPub[i])) != 1 {
				k.Wipe()
				clear(sec)
				return nil, fmt.Errorf("%w: prekey secret %d does not match its message", ErrBadRequest, i+1)
			}
			k.Wipe()
			bs[i] = append([]byte(nil), sec[4+curve.SeedSize:]...)
			clear(sec)
			bPub[i] = pm.DH()
		}
		var err error
		if p.MessageECDHProof, err = proveECDH(rnd, ys, yPub, m, usageProofMessageECDH); err != nil {
			return nil, err
		}
		if p.MessageDHProof, err = proveDH(rnd, bs, bPub, m); err != nil {
			return nil, err
		}
	}
	if r.PrekeyProfile != nil {
		k, err := curve.NewKeyFromSeed(r.PrekeyProfileSecret.Seed())
		if err != nil {
			return nil, fmt.Errorf("%w: shared prekey secret: %v", ErrBadRequest, err)
		}
		defer k.Wipe()
		d := r.PrekeyProfile.SharedPrekey()
		if !r.SkipChecks && k.Public().Equal(mustPoint(d)) != 1 {
			return nil, fmt.Errorf("%w: shared prekey secret does not match the prekey profile", ErrBadRequest)
		}
		if p.ProfileProof, err = proveECDH(rnd, []*curve.Scalar{k.Scalar()}, [][]byte{d}, m, usageProofSharedECDH); err != nil {
			return nil, err
		}
	}
	p.MAC = p.computeMAC(key)
	return p, nil
}
