package otrvectors

// An independent implementation of the OTRv4 formulas the vectors use,
// written from otrv4.md and docs/spec-notes.md alone. It imports none of
// otrchat's OTR packages: SHAKE-256 and ChaCha20 come from golang.org/x/crypto,
// the 3072-bit group from math/big, Ed448 from github.com/cloudflare/circl.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"

	"github.com/cloudflare/circl/ecc/goldilocks"
	"github.com/cloudflare/circl/sign/ed448"
	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/sha3"
)

// Usage IDs (otrv4.md, "Key Derivation Function, Hash Function and MAC
// Function").
const (
	uFingerprint     = 0x00
	uThirdBraceKey   = 0x01
	uBraceKey        = 0x02
	uSharedSecret    = 0x03
	uSSID            = 0x04
	uAuthRBobProf    = 0x05
	uAuthRAliceProf  = 0x06
	uAuthRPhi        = 0x07
	uAuthIBobProf    = 0x08
	uAuthIAliceProf  = 0x09
	uAuthIPhi        = 0x0A
	uFirstRootKey    = 0x0B
	uTmpKey          = 0x0C
	uAuthMACKey      = 0x0D
	uNIBobProf       = 0x0E
	uNIAliceProf     = 0x0F
	uNIPhi           = 0x10
	uAuthMAC         = 0x11
	uRootKey         = 0x12
	uChainKey        = 0x13
	uNextChainKey    = 0x14
	uMessageKey      = 0x15
	uMACKey          = 0x16
	uExtraSymmKey    = 0x17
	uAuthenticator   = 0x18
	uAuth            = 0x1A
	pointSize        = 57
	scalarSize       = 57
	ed448SigSize     = 114
	dataMessageType  = 0x03
	identityType     = 0x35
	authRType        = 0x36
	authIType        = 0x37
	nonIntAuthType   = 0x0D
	prekeyMsgType    = 0x0F
	protocolVersion4 = 0x0004
)

// kdf is KDF(usage_ID || values, size) = SHAKE-256("OTRv4" || usage_ID ||
// values, size); HWC, HCMAC and HWMAC are the same function.
func kdf(usage byte, size int, values ...[]byte) []byte {
	return kdfDomain("OTRv4", usage, size, values...)
}

func kdfDomain(domain string, usage byte, size int, values ...[]byte) []byte {
	h := sha3.NewShake256()
	h.Write([]byte(domain))
	h.Write([]byte{usage})
	for _, v := range values {
		h.Write(v)
	}
	out := make([]byte, size)
	h.Read(out)
	return out
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Encodings (otrv4.md, "Data Types").
func short(v uint16) []byte  { return binary.BigEndian.AppendUint16(nil, v) }
func int32b(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func long(v uint64) []byte   { return binary.BigEndian.AppendUint64(nil, v) }
func data(b []byte) []byte   { return cat(int32b(uint32(len(b))), b) }

// mpi encodes a non-negative integer as MPI: 4-byte length, then the
// minimal big-endian bytes.
func mpi(x *big.Int) []byte { return data(x.Bytes()) }

// Ed448 (otrv4.md, "Elliptic Curve Parameters", "Generating ECDH and DH
// keys").

// q is the order of the prime-order subgroup.
var q = func() *big.Int {
	c, _ := new(big.Int).SetString("13818066809895115352007386748515426880336692474882178609894547503885", 10)
	return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 446), c)
}()

var curve goldilocks.Curve

// le reads a little-endian integer.
func le(b []byte) *big.Int {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return new(big.Int).SetBytes(r)
}

// leBytes writes x as an n-byte little-endian integer.
func leBytes(x *big.Int, n int) []byte {
	b := x.FillBytes(make([]byte, n))
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

// secretScalar is generateECDH's s: SHAKE-256(sym, 114), the lower 57
// bytes pruned and read little-endian.
func secretScalar(sym []byte) *big.Int {
	h := sha3.NewShake256()
	h.Write(sym)
	d := make([]byte, 114)
	h.Read(d)
	d = d[:57]
	d[0] &= 0xFC
	d[56] = 0
	d[55] |= 0x80
	return le(d)
}

// scalar converts an integer to circl's 56-byte scalar, reduced mod q.
func scalar(x *big.Int) *goldilocks.Scalar {
	var s goldilocks.Scalar
	copy(s[:], leBytes(new(big.Int).Mod(x, q), goldilocks.ScalarSize))
	return &s
}

func encodePoint(p *goldilocks.Point) []byte {
	out := make([]byte, pointSize)
	if err := p.ToBytes(out); err != nil {
		panic(err)
	}
	return out
}

// decodePoint decodes a POINT and checks that it is on the curve, not the
// identity and of prime order (q*P = I: circl's multiplication drops a
// small-order component, which CombinedMult(0, 1, P) exposes).
func decodePoint(b []byte) (*goldilocks.Point, error) {
	if len(b) != pointSize {
		return nil, fmt.Errorf("point of %d bytes", len(b))
	}
	p, err := goldilocks.FromBytes(b)
	if err != nil {
		return nil, err
	}
	var zero, one goldilocks.Scalar
	one[0] = 1
	if p.IsIdentity() || !curve.CombinedMult(&zero, &one, p).IsEqual(p) {
		return nil, errors.New("point is the identity or not of prime order")
	}
	return p, nil
}

// publicKey is G * s for the secret of sym, computed two ways: as circl's
// RFC 8032 key generation and as a base-point multiplication.
func publicKey(sym []byte) ([]byte, error) {
	a := []byte(ed448.NewKeyFromSeed(sym).Public().(ed448.PublicKey))
	b := encodePoint(curve.ScalarBaseMult(scalar(secretScalar(sym))))
	if !bytes.Equal(a, b) {
		return nil, errors.New("RFC 8032 and generateECDH disagree")
	}
	return a, nil
}

// ecdh is ECDH(a, B) = a * B, encoded as a POINT; the all-zero (identity)
// result is an error.
func ecdh(sym, pub []byte) ([]byte, error) {
	p, err := decodePoint(pub)
	if err != nil {
		return nil, err
	}
	r := curve.ScalarMult(scalar(secretScalar(sym)), p)
	if r.IsIdentity() {
		return nil, errors.New("ECDH result is the identity")
	}
	return encodePoint(r), nil
}

// ringVerify is RVrf({A1, A2, A3}, sigma, m) (otrv4.md, "Ring Signature
// Authentication"): T_i = G*r_i + A_i*c_i, c = HashToScalar(usage_auth ||
// G || q || A1 || A2 || A3 || T1 || T2 || T3 || m), and c == c1 + c2 + c3
// mod q. q is hashed as 57 little-endian bytes (docs/spec-notes.md, "q in
// the ring signature hash").
func ringVerify(domain string, usage byte, a1, a2, a3, sigma, m []byte) error {
	if len(sigma) != 6*scalarSize {
		return errors.New("RING-SIG is not 342 bytes")
	}
	var c, r [3]*big.Int
	for i := 0; i < 3; i++ {
		c[i] = le(sigma[2*i*scalarSize : (2*i+1)*scalarSize])
		r[i] = le(sigma[(2*i+1)*scalarSize : (2*i+2)*scalarSize])
		if c[i].Cmp(q) >= 0 || r[i].Cmp(q) >= 0 {
			return errors.New("RING-SIG scalar is not below q")
		}
	}
	var ts [][]byte
	for i, a := range [][]byte{a1, a2, a3} {
		p, err := decodePoint(a)
		if err != nil {
			return fmt.Errorf("ring key A%d: %v", i+1, err)
		}
		ts = append(ts, encodePoint(curve.CombinedMult(scalar(r[i]), scalar(c[i]), p)))
	}
	g := encodePoint(curve.Generator())
	h := kdfDomain(domain, usage, scalarSize, g, leBytes(q, scalarSize), a1, a2, a3, ts[0], ts[1], ts[2], m)
	ch := new(big.Int).Mod(le(h), q)
	sum := new(big.Int).Add(c[0], c[1])
	sum.Add(sum, c[2]).Mod(sum, q)
	if ch.Cmp(sum) != 0 {
		return errors.New("ring signature does not verify")
	}
	return nil
}

// The 3072-bit group (otrv4.md, "3072-bit Diffie-Hellman Parameters",
// RFC 3526 group 15).
var dhP, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"+
	"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"+
	"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"+
	"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"+
	"83655D23DCA3AD961C62F356208552BB9ED529077096966D"+
	"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
	"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"+
	"DE2BCBF6955817183995497CEA956AE515D2261898FA0510"+
	"15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64"+
	"ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"+
	"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B"+
	"F12FFA06D98A0864D87602733EC86A64521F2B18177B200C"+
	"BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31"+
	"43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF", 16)

var dhQ = new(big.Int).Rsh(dhP, 1)

// expCache remembers 3072-bit exponentiations: the checks recompute the
// same ones many times (TestTamper reruns every check once per changed
// value), and each takes milliseconds. Results are deterministic, so the
// cache changes no outcome.
var expCache sync.Map

// modExp is b^e mod dh_p.
func modExp(b, e *big.Int) *big.Int {
	key := b.Text(16) + "^" + e.Text(16)
	if r, ok := expCache.Load(key); ok {
		return new(big.Int).Set(r.(*big.Int))
	}
	r := new(big.Int).Exp(b, e, dhP)
	expCache.Store(key, r)
	return new(big.Int).Set(r)
}

// dhPublic is generateDH's public value g3^r mod p, the 80-byte r read
// big-endian.
func dhPublic(secret []byte) *big.Int {
	return modExp(big.NewInt(2), new(big.Int).SetBytes(secret))
}

// dhCheck is "Verifying that an integer is in the DH group": 2 <= x <=
// p - 2 and x^q = 1 mod p.
func dhCheck(x *big.Int) error {
	if x.Cmp(big.NewInt(2)) < 0 || x.Cmp(new(big.Int).Sub(dhP, big.NewInt(2))) > 0 ||
		modExp(x, dhQ).Cmp(big.NewInt(1)) != 0 {
		return errors.New("DH value is not in the group")
	}
	return nil
}

// dhShared is k_dh = B^r mod p, serialised as a minimal big-endian
// unsigned integer (docs/spec-notes.md, "DH shared secret serialisation").
func dhShared(secret []byte, pub *big.Int) ([]byte, error) {
	if err := dhCheck(pub); err != nil {
		return nil, err
	}
	return modExp(pub, new(big.Int).SetBytes(secret)).Bytes(), nil
}

// chacha is ChaCha20 with the first 32 bytes of MKenc and a zero nonce
// (docs/spec-notes.md, "ChaCha20").
func chacha(mkEnc, in []byte) []byte {
	c, err := chacha20.NewUnauthenticatedCipher(mkEnc[:32], make([]byte, chacha20.NonceSize))
	if err != nil {
		panic(err)
	}
	out := make([]byte, len(in))
	c.XORKeyStream(out, in)
	return out
}

// encodeWire is "?OTR:" || base64(message) || ".".
func encodeWire(b []byte) string { return "?OTR:" + base64.StdEncoding.EncodeToString(b) + "." }

func decodeWire(s string) ([]byte, error) {
	if !strings.HasPrefix(s, "?OTR:") || !strings.HasSuffix(s, ".") {
		return nil, errors.New("not an encoded OTR message")
	}
	return base64.StdEncoding.DecodeString(s[5 : len(s)-1])
}

// reader is a strict decoder of the wire types.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errors.New("short message")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}
func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}
func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}
func (r *reader) data() []byte { return r.bytes(int(r.u32())) }

// dataMessage is a decoded data message (otrv4.md, "Data Message").
type dataMessage struct {
	sender, receiver    uint32
	flags               byte
	pn, i, j            uint32
	ecdh                []byte
	dh                  []byte // minimal big-endian; empty when absent
	ciphertext          []byte
	sections            []byte // version to encrypted message: what is MACed
	authenticator       []byte
	revealed            []byte
	version, typ, extra int
}

func parseDataMessage(b []byte) (*dataMessage, error) {
	r := &reader{b: b}
	m := &dataMessage{version: int(r.u16()), typ: int(r.u8())}
	m.sender, m.receiver, m.flags = r.u32(), r.u32(), r.u8()
	m.pn, m.i, m.j = r.u32(), r.u32(), r.u32()
	m.ecdh = r.bytes(pointSize)
	m.dh = r.data()
	m.ciphertext = r.data()
	if r.err == nil {
		m.sections = b[:len(b)-len(r.b)]
	}
	m.authenticator = r.bytes(64)
	m.revealed = r.data()
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 || m.version != protocolVersion4 || m.typ != dataMessageType {
		return nil, errors.New("not a data message")
	}
	return m, nil
}
