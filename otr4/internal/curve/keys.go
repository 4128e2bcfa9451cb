package curve

import (
	"fmt"
	"io"

	"github.com/otrchat/otrchat/otr4/internal/curve/internal/common"
)

// PrivateKey is an Ed448 key pair generated as in the spec's "Public keys,
// Shared Prekeys, Forging keys and Fingerprints" section and RFC 8032 section
// 5.2.5: it holds sym_key (the seed), the pruned secret scalar sk, the RFC
// 8032 prefix (the upper 57 bytes of SHAKE-256(seed, 114)) and the public
// point sk*G.
type PrivateKey struct {
	seed   [SeedSize]byte
	sk     Scalar
	prefix [ScalarSize]byte
	pub    Point
	pubEnc [PointSize]byte
}

// GenerateKey reads a 57-byte seed from rand and derives a key pair from it.
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	var seed [SeedSize]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("curve: reading randomness: %w", err)
	}
	k, err := NewKeyFromSeed(seed[:])
	clear(seed[:])
	return k, err
}

// NewKeyFromSeed derives the key pair of a 57-byte seed (sym_key). Any other
// length gives ErrInvalidSeed.
func NewKeyFromSeed(seed []byte) (*PrivateKey, error) {
	if len(seed) != SeedSize {
		return nil, ErrInvalidSeed
	}
	k := new(PrivateKey)
	copy(k.seed[:], seed)
	h := common.ExpandSeed(seed)
	common.Prune(h[:ScalarSize])
	k.sk.s.SetReducedBytes(h[:ScalarSize])
	copy(k.prefix[:], h[ScalarSize:])
	clear(h[:])
	k.pub.p.ScalarBaseMult(&k.sk.s)
	k.pub.p.Bytes(&k.pubEnc)
	return k, nil
}

// Seed returns a copy of the 57-byte seed (sym_key).
func (k *PrivateKey) Seed() []byte { return append([]byte(nil), k.seed[:]...) }

// Scalar returns a copy of the secret scalar sk.
func (k *PrivateKey) Scalar() *Scalar { return new(Scalar).Set(&k.sk) }

// Public returns a copy of the public point sk*G.
func (k *PrivateKey) Public() *Point { return new(Point).Set(&k.pub) }

// PublicBytes returns the 57-byte encoding of the public point.
func (k *PrivateKey) PublicBytes() []byte { return append([]byte(nil), k.pubEnc[:]...) }

// Sign returns the 114-byte RFC 8032 Ed448 signature of msg (pure Ed448,
// empty context). Signing is deterministic.
func (k *PrivateKey) Sign(msg []byte) []byte {
	var sig [SignatureSize]byte
	backendSign(&sig, &k.sk.s, k.prefix[:], k.pubEnc[:], msg)
	return sig[:]
}

// Wipe overwrites the secret parts of k (seed, scalar, prefix). The key must
// not be used afterwards.
func (k *PrivateKey) Wipe() {
	clear(k.seed[:])
	k.sk.Wipe()
	clear(k.prefix[:])
}

// Verify checks the RFC 8032 Ed448 signature sig (pure, empty context) of msg
// by pub. It is strict: sig must be 114 bytes, its S below q, its R the
// canonical encoding of a point of the prime-order subgroup, and pub not the
// identity. Any failure gives ErrInvalidSignature.
func Verify(pub *Point, msg, sig []byte) error {
	if len(sig) != SignatureSize || !backendVerify(&pub.p, msg, sig) {
		return ErrInvalidSignature
	}
	return nil
}
