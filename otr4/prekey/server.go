package prekey

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/curve"
)

// ServerConfig is what the server's side of the DAKE needs.
type ServerConfig struct {
	// Key is the server's long-term key; Name its identity (bare JID).
	Key  *ServerKey
	Name string
	// Rand is the source of randomness; nil means crypto/rand.
	Rand io.Reader
	// Now is the clock for profile expiry; nil means time.Now.
	Now func() time.Time
}

// Identity returns the server's composite identity.
func (c *ServerConfig) Identity() ServerIdentity {
	return ServerIdentity{Name: c.Name, PublicKey: c.Key.PublicKey()}
}

type serverState int

const (
	serverNotInDAKE serverState = iota
	serverInDAKE
)

// ServerSession is the server's side of the DAKEs with one publisher
// device (one full JID). It does no I/O and no storage: it verifies and
// returns what the caller should store and send. It is not safe for
// concurrent use.
type ServerSession struct {
	cfg       ServerConfig
	publisher string // bare JID, for phi

	state   serverState
	tag     otr4.InstanceTag // the receiver instance tag (from DAKE-1)
	dake1   *DAKE1
	ha      *curve.Point
	sPub    []byte
	sk      []byte
	key     []byte // prekey_mac_k
	replyTo otr4.InstanceTag
}

// NewServerSession returns a session for the publisher with the given
// bare JID.
func NewServerSession(cfg ServerConfig, publisher string) *ServerSession {
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &ServerSession{cfg: cfg, publisher: publisher}
}

// InDAKE reports whether the session waits for a DAKE-3 (state IN_DAKE).
func (s *ServerSession) InDAKE() bool { return s.state == serverInDAKE }

// HandleDAKE1 verifies a DAKE-1 (its Client Profile against the sender
// instance tag and the clock) and returns the DAKE-2 to send. A DAKE-1
// received while IN_DAKE starts over. On error the state is unchanged and
// nothing should be sent but, at the caller's choice, Failure().
func (s *ServerSession) HandleDAKE1(msg []byte) ([]byte, error) {
	d1, err := ParseDAKE1(msg)
	if err != nil {
		return nil, err
	}
	if !d1.SenderTag.Valid() {
		return nil, fmt.Errorf("%w: sender instance tag %v", ErrMalformed, d1.SenderTag)
	}
	if err := d1.ClientProfile.Validate(d1.SenderTag, s.cfg.Now()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidProfile, err)
	}
	ha, err := curve.NewIdentityPoint().SetBytes(d1.ClientProfile.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidProfile, err)
	}
	iPt := mustPoint(d1.I)
	sec, err := curve.RandomScalar(s.cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("prekey: ephemeral key: %w", err)
	}
	defer sec.Wipe()
	sPub := curve.NewIdentityPoint().ScalarBaseMult(sec).Bytes()
	id := s.cfg.Identity()
	hs := s.cfg.Key.key.Public()
	t := dakeT(false, d1.profile(), id.Marshal(), d1.I, sPub, Phi(s.publisher, s.cfg.Name))
	sig, err := ringSign(s.cfg.Rand, s.cfg.Key.key.Scalar(), ha, hs, iPt, t)
	if err != nil {
		return nil, err
	}
	sk, err := sharedSecret(sec, iPt)
	if err != nil {
		return nil, err
	}
	s.reset()
	s.state, s.tag, s.replyTo, s.dake1, s.ha, s.sPub, s.sk = serverInDAKE, d1.SenderTag, d1.SenderTag, d1, ha, sPub, sk
	s.key = macKey(sk)
	d2 := &DAKE2{ReceiverTag: d1.SenderTag, Server: id, S: sPub, Sigma: sig.Marshal()}
	return d2.Marshal(), nil
}

// ClientRequest is a verified request from an authenticated publisher:
// either a Publication (MAC, counts, proofs, profiles and prekey messages
// checked) or a storage information request.
type ClientRequest struct {
	// InstanceTag is the publisher device's instance tag.
	InstanceTag otr4.InstanceTag
	// ClientProfile is the profile the publisher authenticated with (from
	// DAKE-1).
	ClientProfile *otr4.ClientProfile
	// Publication is the verified publication, or nil for a storage
	// information request.
	Publication *Publication
}

// HandleDAKE3 verifies a DAKE-3 and the message attached to it.
//
// When it returns an error after the DAKE-3 was matched to the session
// (anything but ErrUnexpected, ErrMalformed of the DAKE-3 itself or
// ErrInstanceTag), the DAKE is over and Failure() gives the MAC'd Failure
// message to send. On success the caller stores the publication or counts
// the stored prekey messages, then sends Success(), Failure() or
// StorageStatus(n).
func (s *ServerSession) HandleDAKE3(msg []byte) (*ClientRequest, error) {
	if s.state != serverInDAKE {
		return nil, fmt.Errorf("%w: DAKE-3 while not in a DAKE", ErrUnexpected)
	}
	d3, err := ParseDAKE3(msg)
	if err != nil {
		return nil, err
	}
	if d3.SenderTag != s.tag {
		return nil, fmt.Errorf("%w: DAKE-3 from %v, DAKE-1 from %v", ErrInstanceTag, d3.SenderTag, s.tag)
	}
	// The DAKE ends here whatever follows: IN_DAKE -> NOT_IN_DAKE.
	s.state = serverNotInDAKE
	sig, _ := parseRingSignature(d3.Sigma) // checked by ParseDAKE3
	id := s.cfg.Identity()
	t := dakeT(true, s.dake1.profile(), id.Marshal(), s.dake1.I, s.sPub, Phi(s.publisher, s.cfg.Name))
	if !ringVerify(s.ha, s.cfg.Key.key.Public(), mustPoint(s.sPub), sig, t) {
		return nil, ErrBadSignature
	}
	req := &ClientRequest{InstanceTag: s.tag, ClientProfile: s.dake1.ClientProfile}
	it, err := PeekType(d3.Message)
	if err != nil {
		return nil, err
	}
	switch it {
	case TypeStorageInfoRequest:
		m, err := ParseStorageInfoRequest(d3.Message)
		if err != nil {
			return nil, err
		}
		want := m.computeMAC(s.key)
		if !macEqual(&want, &m.MAC) {
			return nil, ErrBadMAC
		}
		return req, nil
	case TypePublication:
		p, err := ParsePublication(d3.Message)
		if err != nil {
			return nil, err
		}
		if err := s.verifyPublication(p); err != nil {
			return nil, err
		}
		req.Publication = p
		return req, nil
	}
	return nil, fmt.Errorf("%w: %v attached to DAKE-3", ErrUnexpected, it)
}

func (s *ServerSession) verifyPublication(p *Publication) error {
	want := p.computeMAC(s.key)
	if !macEqual(&want, &p.MAC) {
		return ErrBadMAC
	}
	m := proofContext(s.sk)
	now := s.cfg.Now()
	owner := s.dake1.ClientProfile
	if p.ClientProfile != nil {
		if err := p.ClientProfile.Validate(s.tag, now); err != nil {
			return fmt.Errorf("%w: client profile: %w", ErrInvalidProfile, err)
		}
		if p.ClientProfile.Fingerprint() != owner.Fingerprint() {
			return fmt.Errorf("%w: client profile of another key than the DAKE's", ErrInvalidProfile)
		}
		owner = p.ClientProfile
	}
	if p.PrekeyProfile != nil {
		if err := p.PrekeyProfile.Validate(s.tag, owner, now); err != nil {
			return fmt.Errorf("%w: prekey profile: %w", ErrInvalidProfile, err)
		}
		d := mustPoint(p.PrekeyProfile.SharedPrekey())
		if !p.ProfileProof.verify([]*curve.Point{d}, m, usageProofSharedECDH) {
			return fmt.Errorf("%w: prekey profile proof", ErrBadProof)
		}
	}
	if n := len(p.PrekeyMessages); n > 0 {
		ys := make([]*curve.Point, n)
		bs := make([]*big.Int, n)
		seen := make(map[uint32]bool, n)
		for i, pm := range p.PrekeyMessages {
			if pm.InstanceTag != s.tag {
				return fmt.Errorf("%w: prekey message %d has instance tag %v, not %v", ErrInvalidPrekeyMessage, i+1, pm.InstanceTag, s.tag)
			}
			if seen[pm.ID] {
				return fmt.Errorf("%w: prekey message identifier %#08x repeated", ErrInvalidPrekeyMessage, pm.ID)
			}
			seen[pm.ID] = true
			ys[i] = mustPoint(pm.ECDH())
			bs[i] = pm.DH()
		}
		if !p.MessageECDHProof.verify(ys, m, usageProofMessageECDH) {
			return fmt.Errorf("%w: prekey messages ECDH proof", ErrBadProof)
		}
		if !p.MessageDHProof.verify(bs, m) {
			return fmt.Errorf("%w: prekey messages DH proof", ErrBadProof)
		}
	}
	return nil
}

// Success returns a Success message for the last DAKE, MAC'd with its
// prekey_mac_k.
func (s *ServerSession) Success() []byte {
	m := &Success{ReceiverTag: s.replyTo}
	m.MAC = m.computeMAC(s.macKey())
	return m.Marshal()
}

// Failure returns a Failure message for the last DAKE, MAC'd with its
// prekey_mac_k, or, before any DAKE-1 was accepted, with the all-zero key
// (an unauthenticated Failure; see UnauthenticatedFailure).
func (s *ServerSession) Failure() []byte {
	m := &Failure{ReceiverTag: s.replyTo}
	m.MAC = m.computeMAC(s.macKey())
	return m.Marshal()
}

// StorageStatus returns a Storage Status message reporting stored prekey
// messages, MAC'd with the last DAKE's prekey_mac_k.
func (s *ServerSession) StorageStatus(stored uint32) []byte {
	m := &StorageStatus{ReceiverTag: s.replyTo, Stored: stored}
	m.MAC = m.computeMAC(s.macKey())
	return m.Marshal()
}

func (s *ServerSession) macKey() []byte {
	if s.key == nil {
		return unauthenticatedKey
	}
	return s.key
}

// reset forgets the secrets of the last DAKE.
func (s *ServerSession) reset() {
	clear(s.sk)
	clear(s.key)
	s.sk, s.key, s.dake1, s.ha, s.sPub = nil, nil, nil, nil, nil
	s.state = serverNotInDAKE
}

// Close erases the session's secrets.
func (s *ServerSession) Close() { s.reset() }

// UnauthenticatedFailure returns a Failure message to the given instance
// tag for a message that cannot be tied to a DAKE (no shared secret
// exists): its MAC uses the all-zero key, so the receiver learns only that
// something went wrong (docs/spec-notes.md).
func UnauthenticatedFailure(to otr4.InstanceTag) []byte {
	m := &Failure{ReceiverTag: to}
	m.MAC = m.computeMAC(unauthenticatedKey)
	return m.Marshal()
}
