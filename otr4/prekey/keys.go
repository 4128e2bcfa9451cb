package prekey

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
)

// SeedSize is the size of a ServerKey's stored secret (the Ed448 sym key).
const SeedSize = curve.SeedSize

// ServerKey is the prekey server's long-term Ed448 key pair (sk_s, H_s).
type ServerKey struct {
	key *curve.PrivateKey
}

// GenerateServerKey creates a new long-term key for a prekey server.
func GenerateServerKey(rand io.Reader) (*ServerKey, error) {
	k, err := curve.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("prekey: generating server key: %w", err)
	}
	return &ServerKey{k}, nil
}

// NewServerKey restores a server key from its 57-byte seed.
func NewServerKey(seed []byte) (*ServerKey, error) {
	k, err := curve.NewKeyFromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("prekey: server key: %w", err)
	}
	return &ServerKey{k}, nil
}

// Seed returns the secret seed, for storage.
func (k *ServerKey) Seed() []byte { return k.key.Seed() }

// PublicKey returns H_s as a POINT encoding.
func (k *ServerKey) PublicKey() []byte { return k.key.PublicBytes() }

// Fingerprint returns the server's fingerprint.
func (k *ServerKey) Fingerprint() otr4.Fingerprint { return fingerprintOf(k.key.PublicBytes()) }

// Wipe erases the secret key.
func (k *ServerKey) Wipe() { k.key.Wipe() }

// fingerprintOf computes KDF_1(usage_fingerprint, byte(H), 56) with the
// OTRv4 KDF, as "Public keys and Fingerprints" says for the server.
func fingerprintOf(h []byte) otr4.Fingerprint {
	return otr4.Fingerprint(kdf.OTRv4.Sum(kdf.UsageFingerprint, len(otr4.Fingerprint{}), h))
}

// FingerprintHex formats a fingerprint as the XMPP disco item carries it:
// 112 upper-case hexadecimal digits without spaces.
func FingerprintHex(f otr4.Fingerprint) string {
	return strings.ToUpper(hex.EncodeToString(f[:]))
}
