package otr4

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/dh"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// Errors of prekey messages and ensembles.
var (
	ErrPrekeyMalformed = errors.New("otr4: malformed prekey message")
	ErrEnsembleTags    = errors.New("otr4: prekey ensemble instance tags disagree")
	ErrEnsembleVersion = errors.New("otr4: prekey ensemble offers no common version")
	ErrPrekeyUnknown   = errors.New("otr4: prekey message is unknown or was already used")
)

// PrekeyMessage holds a device's two one-time prekeys, the ECDH key Y and
// the DH key B (otrv4.md, "Prekey Message").
type PrekeyMessage struct {
	ID          uint32
	InstanceTag InstanceTag

	y *curve.Point
	b *big.Int
}

// PrekeySecret is the secret half of a PrekeyMessage. Its owner stores it
// until the Non-Interactive-Auth message that uses it arrives, then erases it.
type PrekeySecret struct {
	ID   uint32
	ecdh *curve.PrivateKey
	dh   *dh.PrivateKey
}

const prekeySecretSize = 4 + curve.SeedSize + dh.SecretSize

// Marshal encodes the secret for storage: ID || ECDH seed || DH secret.
func (s *PrekeySecret) Marshal() []byte {
	b := binary.BigEndian.AppendUint32(nil, s.ID)
	b = append(b, s.ecdh.Seed()...)
	return append(b, s.dh.Secret()...)
}

// ParsePrekeySecret decodes a stored PrekeySecret.
func ParsePrekeySecret(b []byte) (*PrekeySecret, error) {
	if len(b) != prekeySecretSize {
		return nil, errors.New("otr4: stored prekey secret has the wrong size")
	}
	e, err := curve.NewKeyFromSeed(b[4 : 4+curve.SeedSize])
	if err != nil {
		return nil, err
	}
	d, err := dh.NewKeyFromSecret(b[4+curve.SeedSize:])
	if err != nil {
		return nil, err
	}
	return &PrekeySecret{ID: binary.BigEndian.Uint32(b), ecdh: e, dh: d}, nil
}

// Wipe erases the secret.
func (s *PrekeySecret) Wipe() {
	s.ecdh.Wipe()
	s.dh.Wipe()
}

// PrekeySecretStore keeps a device's prekey secrets. Take must return the
// secret with the given ID and delete it in the same step, so that a
// prekey message is used at most once; it returns ErrPrekeyUnknown when
// there is none.
type PrekeySecretStore interface {
	TakePrekeySecret(id uint32) (*PrekeySecret, error)
}

// NewPrekeyMessage generates a prekey message with a random identifier.
func NewPrekeyMessage(r io.Reader, tag InstanceTag) (*PrekeyMessage, *PrekeySecret, error) {
	if r == nil {
		r = rand.Reader
	}
	if !tag.Valid() {
		return nil, nil, fmt.Errorf("otr4: instance tag %v is below 0x100", tag)
	}
	var idb [4]byte
	if _, err := io.ReadFull(r, idb[:]); err != nil {
		return nil, nil, err
	}
	e, err := curve.GenerateKey(r)
	if err != nil {
		return nil, nil, err
	}
	d, err := dh.GenerateKey(r)
	if err != nil {
		return nil, nil, err
	}
	id := binary.BigEndian.Uint32(idb[:])
	m := &PrekeyMessage{ID: id, InstanceTag: tag, y: e.Public(), b: d.Public()}
	return m, &PrekeySecret{ID: id, ecdh: e, dh: d}, nil
}

// ECDH returns Y as a POINT encoding.
func (m *PrekeyMessage) ECDH() []byte { return m.y.Bytes() }

// DH returns B.
func (m *PrekeyMessage) DH() *big.Int { return new(big.Int).Set(m.b) }

// Marshal encodes the prekey message.
func (m *PrekeyMessage) Marshal() []byte {
	b := wire.AppendShort(nil, protocolVersion)
	b = append(b, msgTypePrekey)
	b = wire.AppendInt(b, m.ID)
	b = wire.AppendInt(b, uint32(m.InstanceTag))
	b = wire.AppendPoint(b, m.y)
	return wire.AppendMPI(b, m.b)
}

// ParsePrekeyMessage decodes a prekey message from the start of b,
// verifying it as the spec says (type, version, Y on the curve, B in the
// DH group), and returns the bytes after it.
func ParsePrekeyMessage(b []byte) (*PrekeyMessage, []byte, error) {
	r := wire.NewReader(b)
	m, err := readPrekeyMessage(r)
	if err != nil {
		return nil, nil, err
	}
	return m, r.Rest(), nil
}

func readPrekeyMessage(r *wire.Reader) (*PrekeyMessage, error) {
	v, t := r.Short(), r.Byte()
	m := &PrekeyMessage{ID: r.Int(), InstanceTag: InstanceTag(r.Int())}
	m.y = r.Point()
	m.b = r.MPI()
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPrekeyMalformed, err)
	}
	if v != protocolVersion || t != msgTypePrekey {
		return nil, fmt.Errorf("%w: version %d type %#x", ErrPrekeyMalformed, v, t)
	}
	if !m.InstanceTag.Valid() {
		return nil, fmt.Errorf("%w: instance tag %v", ErrPrekeyMalformed, m.InstanceTag)
	}
	if !dh.IsGroupElement(m.b) {
		return nil, fmt.Errorf("%w: B is not in the DH group", ErrPrekeyMalformed)
	}
	return m, nil
}

// PrekeyEnsemble is one Client Profile, one Prekey Profile and one Prekey
// Message of a device: what is needed to start an offline conversation.
type PrekeyEnsemble struct {
	Client  *ClientProfile
	Prekey  *PrekeyProfile
	Message *PrekeyMessage
}

// Validate checks the ensemble as "Validating Prekey Ensembles" lists.
func (e *PrekeyEnsemble) Validate(now time.Time) error {
	if e.Client == nil || e.Prekey == nil || e.Message == nil {
		return errors.New("otr4: incomplete prekey ensemble")
	}
	tag := e.Client.InstanceTag
	if e.Prekey.InstanceTag != tag || e.Message.InstanceTag != tag {
		return ErrEnsembleTags
	}
	if err := e.Client.Validate(tag, now); err != nil {
		return err
	}
	if err := e.Prekey.Validate(tag, e.Client, now); err != nil {
		return err
	}
	// The prekey message's version (4, checked when decoded) must be one the
	// client profile signs, and one we support.
	if !containsVersion(e.Client.Versions, '4') {
		return ErrEnsembleVersion
	}
	return nil
}

func containsVersion(v string, c byte) bool {
	for i := 0; i < len(v); i++ {
		if v[i] == c {
			return true
		}
	}
	return false
}

// SelectEnsembles validates ensembles (as received from an untrusted
// prekey server), drops invalid ones and duplicates, and keeps for every
// instance tag the one whose profiles expire last. The errors of the
// dropped ensembles are returned for the user to see.
func SelectEnsembles(es []*PrekeyEnsemble, now time.Time) (map[InstanceTag]*PrekeyEnsemble, []error) {
	best := map[InstanceTag]*PrekeyEnsemble{}
	var errs []error
	for _, e := range es {
		if err := e.Validate(now); err != nil {
			errs = append(errs, err)
			continue
		}
		tag := e.Client.InstanceTag
		cur, ok := best[tag]
		if !ok || expiry(e).After(expiry(cur)) {
			best[tag] = e
		}
	}
	return best, errs
}

func expiry(e *PrekeyEnsemble) time.Time {
	if e.Prekey.Expires.Before(e.Client.Expires) {
		return e.Prekey.Expires
	}
	return e.Client.Expires
}
