// Package dsa implements the DSA keys of OTR version 3 (otrv3-protocol.txt,
// "Public keys, signatures, and fingerprints"): the PUBKEY encoding, SHA-1
// fingerprints, signatures as r || s of 20 bytes each, and signing in
// constant time with respect to the private key and the nonce (through
// ctmod). Verification uses public values only and math/big.
//
// As in OTRv3 and libotr, the value signed is the given bytes read as a
// big-endian integer (the AKE signs a 32-byte SHA256-HMAC directly, without
// hashing it again), reduced modulo q.
package dsa

import (
	"crypto/dsa" //nolint:staticcheck // parameter generation only; signing is ours
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/otrchat/otrchat/otr4/internal/ctmod"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// Sizes and limits.
const (
	// PubkeyTypeDSA is the PUBKEY type of DSA keys.
	PubkeyTypeDSA uint16 = 0x0000
	// QSize is the size of q in bytes; signatures are 2*QSize bytes.
	QSize = 20
	// SignatureSize is the size of a signature (r || s).
	SignatureSize = 2 * QSize
	// FingerprintSize is the size of a fingerprint (SHA-1).
	FingerprintSize = sha1.Size
	// maxPBits bounds p: libotr makes 1024-bit keys; larger ones up to
	// 3072 bits are accepted.
	maxPBits = 3072
	minPBits = 1024
)

// Errors; callers branch with errors.Is.
var (
	ErrMalformedKey = errors.New("dsa: malformed public key")
	ErrSignature    = errors.New("dsa: invalid signature")
)

// PublicKey is a DSA public key (p, q, g, y).
type PublicKey struct {
	P, Q, G, Y *big.Int
}

// PrivateKey is a DSA key pair. The private exponent x is kept as QSize
// big-endian bytes.
type PrivateKey struct {
	PublicKey
	x  []byte
	pm *ctmod.Modulus
	qm *ctmod.Modulus
}

// Marshal returns the PUBKEY encoding: type 0x0000 and the MPIs p, q, g, y.
func (k *PublicKey) Marshal() []byte {
	b := wire.AppendShort(nil, PubkeyTypeDSA)
	for _, v := range []*big.Int{k.P, k.Q, k.G, k.Y} {
		b = wire.AppendMPI(b, v)
	}
	return b
}

// Fingerprint returns the SHA-1 of the PUBKEY encoding without its two
// leading type bytes, as the OTRv3 text and libotr compute it.
func (k *PublicKey) Fingerprint() [FingerprintSize]byte {
	return sha1.Sum(k.Marshal()[2:])
}

// Read decodes a PUBKEY from r and checks it (Check).
func Read(r *wire.Reader) (*PublicKey, error) {
	typ := r.Short()
	k := &PublicKey{P: r.MPI(), Q: r.MPI(), G: r.MPI(), Y: r.MPI()}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedKey, err)
	}
	if typ != PubkeyTypeDSA {
		return nil, fmt.Errorf("%w: type %#04x", ErrMalformedKey, typ)
	}
	if err := k.Check(); err != nil {
		return nil, err
	}
	return k, nil
}

// Parse decodes exactly one PUBKEY.
func Parse(b []byte) (*PublicKey, error) {
	r := wire.NewReader(b)
	k, err := Read(r)
	if err != nil {
		return nil, err
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedKey, err)
	}
	return k, nil
}

// Check verifies the shape of the key: q of 160 bits, p of 1024 to 3072
// bits, both odd, q divides p-1, and 1 < g, y < p. (Primality is not tested:
// a peer's key is authenticated by its fingerprint, not by its form.)
func (k *PublicKey) Check() error {
	one := big.NewInt(1)
	switch {
	case k.P == nil || k.Q == nil || k.G == nil || k.Y == nil:
		return fmt.Errorf("%w: missing parameter", ErrMalformedKey)
	case k.Q.BitLen() != 8*QSize || k.Q.Bit(0) == 0:
		return fmt.Errorf("%w: q is not 160 bits", ErrMalformedKey)
	case k.P.BitLen() < minPBits || k.P.BitLen() > maxPBits || k.P.Bit(0) == 0:
		return fmt.Errorf("%w: p has %d bits", ErrMalformedKey, k.P.BitLen())
	case new(big.Int).Mod(new(big.Int).Sub(k.P, one), k.Q).Sign() != 0:
		return fmt.Errorf("%w: q does not divide p-1", ErrMalformedKey)
	case k.G.Cmp(one) <= 0 || k.G.Cmp(k.P) >= 0 || k.Y.Cmp(one) <= 0 || k.Y.Cmp(k.P) >= 0:
		return fmt.Errorf("%w: g or y out of range", ErrMalformedKey)
	}
	return nil
}

// Equal reports whether two public keys are the same.
func (k *PublicKey) Equal(o *PublicKey) bool {
	return k.P.Cmp(o.P) == 0 && k.Q.Cmp(o.Q) == 0 && k.G.Cmp(o.G) == 0 && k.Y.Cmp(o.Y) == 0
}

// Verify checks sig (r || s) over the integer value of data modulo q.
func (k *PublicKey) Verify(data, sig []byte) error {
	if len(sig) != SignatureSize {
		return ErrSignature
	}
	r := new(big.Int).SetBytes(sig[:QSize])
	s := new(big.Int).SetBytes(sig[QSize:])
	if r.Sign() <= 0 || r.Cmp(k.Q) >= 0 || s.Sign() <= 0 || s.Cmp(k.Q) >= 0 {
		return ErrSignature
	}
	w := new(big.Int).ModInverse(s, k.Q)
	if w == nil {
		return ErrSignature
	}
	z := new(big.Int).SetBytes(data)
	u1 := new(big.Int).Mul(z, w)
	u1.Mod(u1, k.Q)
	u2 := new(big.Int).Mul(r, w)
	u2.Mod(u2, k.Q)
	v := new(big.Int).Exp(k.G, u1, k.P)
	t := new(big.Int).Exp(k.Y, u2, k.P)
	v.Mul(v, t)
	v.Mod(v, k.P)
	v.Mod(v, k.Q)
	if v.Cmp(r) != 0 {
		return ErrSignature
	}
	return nil
}

// NewPrivateKey builds a key pair from its parameters and private exponent
// x (big-endian). It checks that y = g^x mod p.
func NewPrivateKey(pub PublicKey, x []byte) (*PrivateKey, error) {
	if err := pub.Check(); err != nil {
		return nil, err
	}
	xi := new(big.Int).SetBytes(x)
	if xi.Sign() <= 0 || xi.Cmp(pub.Q) >= 0 {
		return nil, errors.New("dsa: private exponent out of range")
	}
	k := &PrivateKey{PublicKey: pub, x: xi.FillBytes(make([]byte, QSize))}
	k.pm, k.qm = ctmod.New(pub.P), ctmod.New(pub.Q)
	if k.pm.Public(k.pm.ExpInt(pub.G, k.x)).Cmp(pub.Y) != 0 {
		k.Wipe()
		return nil, errors.New("dsa: private exponent does not match y")
	}
	return k, nil
}

// GenerateKey makes a new DSA-1024 key (L = 1024, N = 160), as libotr does.
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	var params dsa.Parameters
	if err := dsa.GenerateParameters(&params, rand, dsa.L1024N160); err != nil {
		return nil, err
	}
	qm := ctmod.New(params.Q)
	x, err := randomNonZero(rand, qm)
	if err != nil {
		return nil, err
	}
	pm := ctmod.New(params.P)
	y := pm.Public(pm.ExpInt(params.G, x))
	return &PrivateKey{PublicKey: PublicKey{P: params.P, Q: params.Q, G: params.G, Y: y}, x: x, pm: pm, qm: qm}, nil
}

// randomNonZero returns a uniform-enough value in [1, q-1] as QSize bytes:
// 64 bits more than q, reduced modulo q.
func randomNonZero(rand io.Reader, qm *ctmod.Modulus) ([]byte, error) {
	buf := make([]byte, qm.Size()+8)
	defer clear(buf)
	for {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, err
		}
		n := qm.Reduce(buf)
		if qm.IsZero(n) == 0 {
			return qm.Bytes(n), nil
		}
	}
}

// X returns a copy of the private exponent (QSize bytes, big-endian), for
// storing the key.
func (k *PrivateKey) X() []byte { return append([]byte(nil), k.x...) }

// Public returns the public half.
func (k *PrivateKey) Public() *PublicKey { return &k.PublicKey }

// Sign signs data (read as a big-endian integer) and returns r || s.
// The nonce, its inverse and x*r are computed in constant time.
func (k *PrivateKey) Sign(rand io.Reader, data []byte) ([]byte, error) {
	if k.x == nil {
		return nil, errors.New("dsa: key was wiped")
	}
	z := k.qm.Reduce(data)
	x := k.qm.Reduce(k.x)
	for {
		kb, err := randomNonZero(rand, k.qm)
		if err != nil {
			return nil, err
		}
		rPub := k.pm.Public(k.pm.ExpInt(k.G, kb))
		rPub.Mod(rPub, k.Q)
		if rPub.Sign() == 0 {
			continue
		}
		kn := k.qm.Reduce(kb)
		clear(kb)
		kinv := k.qm.InversePrime(kn)
		s := k.qm.Mul(kinv, k.qm.Add(z, k.qm.Mul(x, k.qm.FromInt(rPub))))
		if k.qm.IsZero(s) == 1 {
			continue
		}
		sig := make([]byte, SignatureSize)
		rPub.FillBytes(sig[:QSize])
		copy(sig[QSize:], k.qm.Bytes(s))
		return sig, nil
	}
}

// Wipe erases the private exponent.
func (k *PrivateKey) Wipe() {
	clear(k.x)
	k.x = nil
}

// SignHashed signs the SHA-256 of m: for messages longer than q, such as
// the OTRv4 client profile's transitional signature.
func (k *PrivateKey) SignHashed(rand io.Reader, m []byte) ([]byte, error) {
	d := sha256.Sum256(m)
	return k.Sign(rand, d[:])
}

// VerifyHashed checks a signature made by SignHashed.
func (k *PublicKey) VerifyHashed(m, sig []byte) error {
	d := sha256.Sum256(m)
	return k.Verify(d[:], sig)
}
