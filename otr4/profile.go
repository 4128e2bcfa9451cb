package otr4

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// Errors of profile validation; callers branch with errors.Is.
var (
	ErrProfileMalformed = errors.New("otr4: malformed profile")
	ErrProfileSignature = errors.New("otr4: invalid profile signature")
	ErrProfileExpired   = errors.New("otr4: profile has expired")
	ErrProfileTag       = errors.New("otr4: profile instance tag does not match the sender")
	ErrProfileVersions  = errors.New("otr4: profile does not offer version 4")
	ErrProfileKey       = errors.New("otr4: profile signed by another long-term key")
)

const (
	maxProfileFields   = 16
	maxVersionsLength  = 16
	maxDSAKeyLength    = 4 * (4 + 384)
	dsaSignatureLength = 40
)

// ClientProfile is the signed statement of a device's long-term key,
// forging key, versions and expiry (otrv4.md, "Client Profile").
type ClientProfile struct {
	InstanceTag InstanceTag
	Versions    string
	Expires     time.Time
	// DSAKey is an optional OTRv3 PUBKEY, kept as its encoding.
	DSAKey []byte
	// TransitionalSignature is the optional OTRv3 DSA signature (r || s).
	TransitionalSignature []byte

	publicKey  *curve.Point
	forgingKey *curve.Point
	signature  []byte
}

// NewClientProfile creates and signs a Client Profile for id on the device
// with instance tag tag.
func NewClientProfile(id *Identity, tag InstanceTag, versions string, expires time.Time) (*ClientProfile, error) {
	if !tag.Valid() {
		return nil, fmt.Errorf("otr4: instance tag %v is below 0x100", tag)
	}
	if !strings.Contains(versions, "4") || len(versions) > maxVersionsLength {
		return nil, fmt.Errorf("otr4: versions %q must include 4", versions)
	}
	p := &ClientProfile{
		InstanceTag: tag,
		Versions:    versions,
		Expires:     time.Unix(expires.Unix(), 0),
		publicKey:   id.key.Public(),
		forgingKey:  id.forging,
	}
	p.signature = id.key.Sign(p.body())
	return p, nil
}

// PublicKey returns the long-term public key H as a POINT encoding.
func (p *ClientProfile) PublicKey() []byte { return p.publicKey.Bytes() }

// ForgingKey returns the forging key F as a POINT encoding.
func (p *ClientProfile) ForgingKey() []byte { return p.forgingKey.Bytes() }

// Fingerprint returns the fingerprint of the profile's keys.
func (p *ClientProfile) Fingerprint() Fingerprint { return fingerprintOf(p.publicKey, p.forgingKey) }

// body encodes Number of Fields || Fields: everything the Client Profile
// Signature covers (docs/spec-notes.md, "What the client profile signature
// covers").
func (p *ClientProfile) body() []byte {
	n := uint32(5)
	if p.DSAKey != nil {
		n++
	}
	if p.TransitionalSignature != nil {
		n++
	}
	b := wire.AppendInt(nil, n)
	b = wire.AppendShort(b, clientProfileFieldTag)
	b = wire.AppendInt(b, uint32(p.InstanceTag))
	b = wire.AppendShort(b, clientProfileFieldKey)
	b = wire.AppendShort(b, pubKeyTypeEd448)
	b = wire.AppendPoint(b, p.publicKey)
	b = wire.AppendShort(b, clientProfileFieldForg)
	b = wire.AppendShort(b, forgingKeyTypeEd448)
	b = wire.AppendPoint(b, p.forgingKey)
	b = wire.AppendShort(b, clientProfileFieldVers)
	b = wire.AppendData(b, []byte(p.Versions))
	b = wire.AppendShort(b, clientProfileFieldExp)
	b = wire.AppendLong(b, p.Expires.Unix())
	if p.DSAKey != nil {
		b = wire.AppendShort(b, clientProfileFieldDSA)
		b = append(b, p.DSAKey...)
	}
	if p.TransitionalSignature != nil {
		b = wire.AppendShort(b, clientProfileFieldTSig)
		b = append(b, p.TransitionalSignature...)
	}
	return b
}

// Marshal encodes the profile as CLIENT-PROF.
func (p *ClientProfile) Marshal() []byte { return append(p.body(), p.signature...) }

// ParseClientProfile decodes a CLIENT-PROF from the start of b and returns
// the bytes after it. It checks the encoding only: call Validate.
func ParseClientProfile(b []byte) (*ClientProfile, []byte, error) {
	r := wire.NewReader(b)
	p, err := readClientProfile(r)
	if err != nil {
		return nil, nil, err
	}
	return p, r.Rest(), nil
}

func readClientProfile(r *wire.Reader) (*ClientProfile, error) {
	p := new(ClientProfile)
	n := r.Int()
	if r.Err() == nil && (n < 5 || n > maxProfileFields) {
		return nil, fmt.Errorf("%w: %d fields", ErrProfileMalformed, n)
	}
	seen := map[uint16]bool{}
	var haveExp bool
	for i := uint32(0); i < n && r.Err() == nil; i++ {
		typ := r.Short()
		if seen[typ] {
			return nil, fmt.Errorf("%w: field %#04x repeated", ErrProfileMalformed, typ)
		}
		seen[typ] = true
		switch typ {
		case clientProfileFieldTag:
			p.InstanceTag = InstanceTag(r.Int())
		case clientProfileFieldKey:
			if r.Short() != pubKeyTypeEd448 && r.Err() == nil {
				return nil, fmt.Errorf("%w: public key type", ErrProfileMalformed)
			}
			p.publicKey = r.Point()
		case clientProfileFieldForg:
			if r.Short() != forgingKeyTypeEd448 && r.Err() == nil {
				return nil, fmt.Errorf("%w: forging key type", ErrProfileMalformed)
			}
			p.forgingKey = r.Point()
		case clientProfileFieldVers:
			p.Versions = string(r.Data(maxVersionsLength))
		case clientProfileFieldExp:
			p.Expires = time.Unix(r.Long(), 0)
			haveExp = true
		case clientProfileFieldDSA:
			start := r.Rest()
			if r.Short() != 0 && r.Err() == nil {
				return nil, fmt.Errorf("%w: DSA key type", ErrProfileMalformed)
			}
			for j := 0; j < 4; j++ {
				r.MPI()
			}
			if r.Err() == nil {
				p.DSAKey = append([]byte(nil), start[:len(start)-r.Len()]...)
			}
		case clientProfileFieldTSig:
			p.TransitionalSignature = append([]byte(nil), r.Bytes(dsaSignatureLength)...)
		default:
			if r.Err() == nil {
				return nil, fmt.Errorf("%w: unknown field %#04x", ErrProfileMalformed, typ)
			}
		}
	}
	p.signature = append([]byte(nil), r.Bytes(signatureSize)...)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProfileMalformed, err)
	}
	if p.InstanceTag == 0 || p.publicKey == nil || p.forgingKey == nil || !seen[clientProfileFieldVers] || !haveExp {
		return nil, fmt.Errorf("%w: a required field is missing", ErrProfileMalformed)
	}
	if p.DSAKey != nil && p.TransitionalSignature == nil {
		return nil, fmt.Errorf("%w: DSA key without transitional signature", ErrProfileMalformed)
	}
	return p, nil
}

// Validate checks the profile as "Validating a Client Profile" lists: the
// signature, that the owner tag equals the sender's instance tag, the
// expiry (at now) and that version 4 is offered. The points were checked
// when the profile was decoded. The optional OTRv3 transitional signature
// is not verified here.
func (p *ClientProfile) Validate(sender InstanceTag, now time.Time) error {
	if len(p.signature) != signatureSize {
		return ErrProfileSignature
	}
	if err := curve.Verify(p.publicKey, p.body(), p.signature); err != nil {
		return ErrProfileSignature
	}
	if p.InstanceTag != sender {
		return ErrProfileTag
	}
	if !now.Before(p.Expires) {
		return ErrProfileExpired
	}
	if !strings.Contains(p.Versions, "4") {
		return ErrProfileVersions
	}
	return nil
}

// equal reports whether two profiles have the same encoding.
func (p *ClientProfile) equal(o *ClientProfile) bool {
	return string(p.Marshal()) == string(o.Marshal())
}

// PrekeyProfile carries a device's signed shared prekey D (otrv4.md,
// "Prekey Profile").
type PrekeyProfile struct {
	InstanceTag InstanceTag
	Expires     time.Time

	sharedPrekey *curve.Point
	signature    []byte
}

// SharedPrekeySecret is the secret half of a prekey profile's shared
// prekey, kept by its owner for the non-interactive DAKE.
type SharedPrekeySecret struct{ key *curve.PrivateKey }

// Seed returns sym_d for storage.
func (s *SharedPrekeySecret) Seed() []byte { return s.key.Seed() }

// NewSharedPrekeySecret restores a shared prekey secret from sym_d.
func NewSharedPrekeySecret(seed []byte) (*SharedPrekeySecret, error) {
	k, err := curve.NewKeyFromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("otr4: shared prekey: %w", err)
	}
	return &SharedPrekeySecret{k}, nil
}

// Wipe erases the secret.
func (s *SharedPrekeySecret) Wipe() { s.key.Wipe() }

// NewPrekeyProfile creates a Prekey Profile with a fresh shared prekey,
// signed by id's long-term key.
func NewPrekeyProfile(r io.Reader, id *Identity, tag InstanceTag, expires time.Time) (*PrekeyProfile, *SharedPrekeySecret, error) {
	if r == nil {
		r = rand.Reader
	}
	if !tag.Valid() {
		return nil, nil, fmt.Errorf("otr4: instance tag %v is below 0x100", tag)
	}
	d, err := curve.GenerateKey(r)
	if err != nil {
		return nil, nil, fmt.Errorf("otr4: generating shared prekey: %w", err)
	}
	p := &PrekeyProfile{InstanceTag: tag, Expires: time.Unix(expires.Unix(), 0), sharedPrekey: d.Public()}
	p.signature = id.key.Sign(p.body())
	return p, &SharedPrekeySecret{d}, nil
}

// SharedPrekey returns D as a POINT encoding.
func (p *PrekeyProfile) SharedPrekey() []byte { return p.sharedPrekey.Bytes() }

func (p *PrekeyProfile) body() []byte {
	b := wire.AppendInt(nil, uint32(p.InstanceTag))
	b = wire.AppendLong(b, p.Expires.Unix())
	b = wire.AppendShort(b, sharedPrekeyTypeEd448)
	return wire.AppendPoint(b, p.sharedPrekey)
}

// Marshal encodes the profile as PREKEY-PROF.
func (p *PrekeyProfile) Marshal() []byte { return append(p.body(), p.signature...) }

// ParsePrekeyProfile decodes a PREKEY-PROF from the start of b and returns
// the bytes after it.
func ParsePrekeyProfile(b []byte) (*PrekeyProfile, []byte, error) {
	r := wire.NewReader(b)
	p, err := readPrekeyProfile(r)
	if err != nil {
		return nil, nil, err
	}
	return p, r.Rest(), nil
}

func readPrekeyProfile(r *wire.Reader) (*PrekeyProfile, error) {
	p := new(PrekeyProfile)
	p.InstanceTag = InstanceTag(r.Int())
	p.Expires = time.Unix(r.Long(), 0)
	if r.Short() != sharedPrekeyTypeEd448 && r.Err() == nil {
		return nil, fmt.Errorf("%w: shared prekey type", ErrProfileMalformed)
	}
	p.sharedPrekey = r.Point()
	p.signature = append([]byte(nil), r.Bytes(signatureSize)...)
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProfileMalformed, err)
	}
	return p, nil
}

// Validate checks the profile as "Validating a Prekey Profile" lists,
// against the long-term public key of the owner's Client Profile.
func (p *PrekeyProfile) Validate(sender InstanceTag, owner *ClientProfile, now time.Time) error {
	if err := curve.Verify(owner.publicKey, p.body(), p.signature); err != nil {
		return ErrProfileKey
	}
	if p.InstanceTag != sender {
		return ErrProfileTag
	}
	if !now.Before(p.Expires) {
		return ErrProfileExpired
	}
	return nil
}
