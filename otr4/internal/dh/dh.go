// Package dh implements the 3072-bit Diffie-Hellman group of OTRv4
// (otrv4.md, "3072-bit Diffie-Hellman Parameters", "Generating ECDH and DH
// keys", "Verifying that an integer is in the DH group"): the RFC 3526 group
// with generator 2, 80-byte secret exponents and constant-time
// exponentiation of secrets (otr4/internal/bigmod, with a 3072-bit assembly
// path on amd64). math/big is used only on public values (the group
// membership check).
package dh

import (
	"crypto/subtle"
	"errors"
	"io"
	"math/big"

	"github.com/otrchat/otrchat/otr4/internal/bigmod"
)

// Sizes of the group.
const (
	// ModulusSize is the byte length of dh_p.
	ModulusSize = 384
	// SecretSize is the byte length of a DH secret exponent r (generateDH).
	SecretSize = 80
)

// ErrNotInGroup is returned for a public value that fails the spec's group check.
var ErrNotInGroup = errors.New("dh: value is not in the DH group")

const pHex = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1" +
	"29024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245" +
	"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D" +
	"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
	"83655D23DCA3AD961C62F356208552BB9ED529077096966D" +
	"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
	"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9" +
	"DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
	"15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64" +
	"ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
	"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B" +
	"F12FFA06D98A0864D87602733EC86A64521F2B18177B200C" +
	"BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31" +
	"43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"

var (
	p, q, g, pMinusG *big.Int
	modulus          *bigmod.Modulus
	gNat             *bigmod.Nat
)

func init() {
	p, _ = new(big.Int).SetString(pHex, 16)
	q = new(big.Int).Rsh(p, 1)
	g = big.NewInt(2)
	pMinusG = new(big.Int).Sub(p, g)
	var err error
	modulus, err = bigmod.NewModulus(p.Bytes())
	if err != nil {
		panic("dh: bad modulus: " + err.Error())
	}
	gNat, err = bigmod.NewNat().SetBytes([]byte{2}, modulus)
	if err != nil {
		panic("dh: bad generator: " + err.Error())
	}
}

// P returns a copy of the prime dh_p.
func P() *big.Int { return new(big.Int).Set(p) }

// Q returns a copy of the subprime dh_q = (dh_p - 1) / 2.
func Q() *big.Int { return new(big.Int).Set(q) }

// G returns a copy of the generator g3 = 2.
func G() *big.Int { return new(big.Int).Set(g) }

// IsGroupElement reports whether the public value x passes the spec's check:
// g3 <= x <= dh_p - g3 and x^dh_q = 1 mod dh_p. Because dh_p is a safe prime,
// the second condition is exactly "x is a quadratic residue", which the
// Jacobi symbol decides far faster than an exponentiation (x is public, so a
// variable-time computation is fine). TestGroupCheckMatchesExponent pins the
// equivalence.
func IsGroupElement(x *big.Int) bool {
	if x == nil || x.Cmp(g) < 0 || x.Cmp(pMinusG) > 0 {
		return false
	}
	return big.Jacobi(x, p) == 1
}

// PrivateKey is a DH key pair: the secret exponent r and g3^r mod dh_p.
type PrivateKey struct {
	secret [SecretSize]byte
	public *big.Int
}

// GenerateKey implements generateDH(): r is 80 random bytes, public = g3^r.
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	k := new(PrivateKey)
	if _, err := io.ReadFull(rand, k.secret[:]); err != nil {
		return nil, errors.New("dh: reading randomness: " + err.Error())
	}
	k.public = new(big.Int).SetBytes(fixedBaseExp(k.secret[:]))
	return k, nil
}

// NewKeyFromSecret rebuilds a key pair from a stored 80-byte secret.
func NewKeyFromSecret(secret []byte) (*PrivateKey, error) {
	if len(secret) != SecretSize {
		return nil, errors.New("dh: secret must be 80 bytes")
	}
	k := new(PrivateKey)
	copy(k.secret[:], secret)
	k.public = new(big.Int).SetBytes(fixedBaseExp(k.secret[:]))
	return k, nil
}

// Public returns a copy of the public value.
func (k *PrivateKey) Public() *big.Int { return new(big.Int).Set(k.public) }

// Secret returns a copy of the secret exponent (for storing prekey secrets).
func (k *PrivateKey) Secret() []byte { return append([]byte(nil), k.secret[:]...) }

// SharedSecret computes k_dh = peer^r mod dh_p, serialised as a minimal
// big-endian unsigned integer (see docs/spec-notes.md). The exponentiation is
// constant time in r.
//
// peer must be a value that has passed IsGroupElement: the protocol checks
// each received DH value once, when it parses the message that carries it,
// and SharedSecret does not repeat the (costly) quadratic-residue test. It
// still refuses values outside [g3, dh_p - g3] with ErrNotInGroup, which
// keeps 0, 1 and dh_p - 1 (the elements of order 1 and 2) out whatever the
// caller did.
func (k *PrivateKey) SharedSecret(peer *big.Int) ([]byte, error) {
	if k == nil || k.public == nil {
		return nil, errors.New("dh: key was wiped")
	}
	if peer == nil || peer.Cmp(g) < 0 || peer.Cmp(pMinusG) > 0 {
		return nil, ErrNotInGroup
	}
	var buf [ModulusSize]byte
	base, err := bigmod.NewNat().SetBytes(peer.FillBytes(buf[:]), modulus)
	if err != nil {
		return nil, ErrNotInGroup
	}
	out := bigmod.NewNat().Exp(base, k.secret[:], modulus).Bytes(modulus)
	// Strip leading zeros (public length information only: the value is
	// uniformly distributed, and the spec serialises it minimally).
	i := 0
	for i < len(out)-1 && out[i] == 0 {
		i++
	}
	res := append([]byte(nil), out[i:]...)
	clear(out)
	return res, nil
}

// Wipe erases the secret exponent. The key cannot be used afterwards.
func (k *PrivateKey) Wipe() {
	if k == nil {
		return
	}
	clear(k.secret[:])
	k.public = nil
}

// Equal reports in constant time whether two byte strings (such as DH
// shared secrets) are equal.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
