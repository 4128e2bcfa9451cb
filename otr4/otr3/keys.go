package otr3

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/otrchat/otrchat/otr4/internal/dsa"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// Fingerprint is the SHA-1 fingerprint of an OTRv3 DSA public key.
type Fingerprint [dsa.FingerprintSize]byte

// String formats the fingerprint as libotr and Pidgin show it: five groups
// of eight upper-case hex digits separated by spaces.
func (f Fingerprint) String() string {
	h := strings.ToUpper(hex.EncodeToString(f[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 8 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+8])
	}
	return b.String()
}

// ParseFingerprint reads 40 hex digits, with or without spaces, in either
// case.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil || len(b) != len(f) {
		return f, fmt.Errorf("otr3: %q is not a fingerprint", s)
	}
	copy(f[:], b)
	return f, nil
}

// PublicKey is an OTRv3 DSA public key.
type PublicKey struct{ k *dsa.PublicKey }

// Fingerprint returns the key's fingerprint.
func (p *PublicKey) Fingerprint() Fingerprint { return p.k.Fingerprint() }

// Marshal returns the PUBKEY encoding.
func (p *PublicKey) Marshal() []byte { return p.k.Marshal() }

// ParsePublicKey decodes a PUBKEY.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	k, err := dsa.Parse(b)
	if err != nil {
		return nil, err
	}
	return &PublicKey{k}, nil
}

// PrivateKey is an OTRv3 long-term DSA key pair.
type PrivateKey struct{ k *dsa.PrivateKey }

// GenerateKey makes a new DSA-1024 key, as libotr does. It takes about a
// second.
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	k, err := dsa.GenerateKey(rand)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{k}, nil
}

// Public returns the public key.
func (k *PrivateKey) Public() *PublicKey { return &PublicKey{k.k.Public()} }

// Fingerprint returns the fingerprint of the public key.
func (k *PrivateKey) Fingerprint() Fingerprint { return k.k.Fingerprint() }

// Wipe erases the private exponent.
func (k *PrivateKey) Wipe() { k.k.Wipe() }

// Marshal encodes the key pair for storage: PUBKEY followed by the private
// exponent x as an MPI. Keep the result secret.
func (k *PrivateKey) Marshal() []byte {
	return wire.AppendMPI(k.k.Marshal(), new(big.Int).SetBytes(k.k.X()))
}

// ParsePrivateKey decodes what Marshal wrote.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	r := wire.NewReader(b)
	pub, err := dsa.Read(r)
	if err != nil {
		return nil, err
	}
	x := r.MPI()
	if err := r.Done(); err != nil || x == nil {
		return nil, errors.New("otr3: malformed private key")
	}
	k, err := dsa.NewPrivateKey(*pub, x.Bytes())
	if err != nil {
		return nil, err
	}
	return &PrivateKey{k}, nil
}

// DSAPublicKey returns the PUBKEY encoding, for the OTRv4 client profile's
// OTRv3 DSA key field.
func (k *PrivateKey) DSAPublicKey() []byte { return k.k.Marshal() }

// SignTransitional returns the DSA signature (r || s, 40 bytes) of the
// SHA-256 of m, for the OTRv4 client profile's transitional signature.
func (k *PrivateKey) SignTransitional(rand io.Reader, m []byte) ([]byte, error) {
	return k.k.SignHashed(rand, m)
}
