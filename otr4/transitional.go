package otr4

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/dsa"
)

// DSASigner is an OTRv3 long-term DSA key, as *otr3.PrivateKey provides:
// its PUBKEY encoding, and a DSA signature (r || s) of the SHA-256 of a
// message.
type DSASigner interface {
	DSAPublicKey() []byte
	SignTransitional(rand io.Reader, m []byte) ([]byte, error)
}

// ErrTransitionalSignature is returned by VerifyTransitional.
var ErrTransitionalSignature = errors.New("otr4: invalid transitional signature")

// NewTransitionalClientProfile creates a Client Profile for a user who
// supports versions 3 and 4 and has an OTRv3 key ("Create a Client Profile
// Signature", first case): the profile carries the OTRv3 DSA public key
// and the transitional signature, made with that key over the fields
// 0x0001 to 0x0006, and the Ed448 signature covers both.
// versions must include "3" and "4". rand defaults to crypto/rand.
func NewTransitionalClientProfile(id *Identity, v3 DSASigner, tag InstanceTag, versions string, expires time.Time, rnd io.Reader) (*ClientProfile, error) {
	if !strings.Contains(versions, "3") {
		return nil, fmt.Errorf("otr4: versions %q must include 3 for a transitional profile", versions)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	pub := v3.DSAPublicKey()
	if _, err := dsa.Parse(pub); err != nil {
		return nil, err
	}
	p, err := NewClientProfile(id, tag, versions, expires)
	if err != nil {
		return nil, err
	}
	p.DSAKey = append([]byte(nil), pub...)
	sig, err := v3.SignTransitional(rnd, p.transitionalMessage())
	if err != nil {
		return nil, err
	}
	if len(sig) != dsaSignatureLength {
		return nil, fmt.Errorf("otr4: transitional signature of %d bytes", len(sig))
	}
	p.TransitionalSignature = sig
	p.signature = id.key.Sign(p.body())
	return p, nil
}

// transitionalMessage is m, the fields 0x0001 to 0x0006 as body encodes
// them: body without its field count and without the transitional
// signature field, which body writes last.
func (p *ClientProfile) transitionalMessage() []byte {
	b := p.body()[4:]
	if p.TransitionalSignature != nil {
		b = b[:len(b)-2-len(p.TransitionalSignature)]
	}
	return b
}

// VerifyTransitional checks the transitional signature with the profile's
// OTRv3 DSA key ("Validating a Client Profile": optional). It fails if the
// profile has no DSA key or no transitional signature.
func (p *ClientProfile) VerifyTransitional() error {
	if p.DSAKey == nil || p.TransitionalSignature == nil {
		return fmt.Errorf("%w: no DSA key or transitional signature", ErrTransitionalSignature)
	}
	k, err := dsa.Parse(p.DSAKey)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTransitionalSignature, err)
	}
	if err := k.VerifyHashed(p.transitionalMessage(), p.TransitionalSignature); err != nil {
		return ErrTransitionalSignature
	}
	return nil
}

// DSAFingerprint returns the OTRv3 fingerprint (SHA-1) of the profile's DSA
// key, which a contact may already have verified.
func (p *ClientProfile) DSAFingerprint() ([20]byte, bool) {
	if p.DSAKey == nil {
		return [20]byte{}, false
	}
	k, err := dsa.Parse(p.DSAKey)
	if err != nil {
		return [20]byte{}, false
	}
	return k.Fingerprint(), true
}

// TheirClientProfile returns the peer's Client Profile once the DAKE is
// done, for example to check its transitional signature
// (VerifyTransitional) and the OTRv3 fingerprint a contact verified before
// (DSAFingerprint).
func (c *Conversation) TheirClientProfile() (*ClientProfile, bool) {
	if c.theirProfile == nil || c.state != StateEncrypted {
		return nil, false
	}
	return c.theirProfile, true
}
