// Package ring implements the OTRv4 ring signature of authentication
// (otrv4.md, appendix "Ring Signature Authentication" and "HashToScalar"):
// a signature of knowledge of the secret key of one of three public keys,
// RSig(A_i, a_i, {A1, A2, A3}, m) and RVrf({A1, A2, A3}, sigma, m).
//
// The signer uses the generalised, constant-time form of RSig, so which of
// the three keys is its own does not show in its timing or memory accesses.
package ring

import (
	"crypto/subtle"
	"errors"
	"io"
	"math/big"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
)

// SignatureSize is the size of an encoded RING-SIG: six SCALARs.
const SignatureSize = 6 * curve.ScalarSize

// ErrInvalid is returned when a ring signature does not verify.
var ErrInvalid = errors.New("ring: invalid ring signature")

// ErrNotInRing is returned when the signer's key is none of the three.
var ErrNotInRing = errors.New("ring: signer's public key is not in the ring")

// Signature is sigma = (c1, r1, c2, r2, c3, r3).
type Signature struct {
	C1, R1, C2, R2, C3, R3 *curve.Scalar
}

// Marshal encodes sigma as RING-SIG.
func (s *Signature) Marshal() []byte {
	out := make([]byte, 0, SignatureSize)
	for _, v := range []*curve.Scalar{s.C1, s.R1, s.C2, s.R2, s.C3, s.R3} {
		out = append(out, v.Bytes()...)
	}
	return out
}

// Parse decodes a RING-SIG. Each scalar must be canonical (< q); see
// docs/spec-notes.md for why non-canonical scalars are refused.
func Parse(b []byte) (*Signature, error) {
	if len(b) != SignatureSize {
		return nil, ErrInvalid
	}
	var v [6]*curve.Scalar
	for i := range v {
		s, err := curve.NewScalar().SetCanonicalBytes(b[i*curve.ScalarSize : (i+1)*curve.ScalarSize])
		if err != nil {
			return nil, ErrInvalid
		}
		v[i] = s
	}
	return &Signature{v[0], v[1], v[2], v[3], v[4], v[5]}, nil
}

// qBytes is the group order q as a 57-byte little-endian integer: how q is
// fed to the hash (docs/spec-notes.md, "q in the ring signature hash").
var qBytes = func() []byte {
	// q = 2^446 - 13818066809895115352007386748515426880336692474882178609894547503885
	q, _ := new(big.Int).SetString("13818066809895115352007386748515426880336692474882178609894547503885", 10)
	q.Sub(new(big.Int).Lsh(big.NewInt(1), 446), q)
	be := q.FillBytes(make([]byte, curve.ScalarSize))
	for i, j := 0, len(be)-1; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	return be
}()

// Hash names the hash of the challenge: its domain and usage ID. OTRv4 uses
// ("OTRv4", usage_auth); the prekey server's DAKE uses
// ("OTR-Prekey-Server", its usage_auth).
type Hash struct {
	Domain kdf.Domain
	Usage  byte
}

// OTRv4 is the challenge hash of the OTRv4 DAKEs.
var OTRv4 = Hash{kdf.OTRv4, kdf.UsageAuth}

// challenge computes c = HashToScalar(usage_auth || G || q || A1 || A2 || A3 ||
// T1 || T2 || T3 || m): HWC(..., 57) read as a little-endian integer mod q.
func (hs Hash) challenge(a1, a2, a3 *curve.Point, t1, t2, t3, m []byte) *curve.Scalar {
	h := hs.Domain.Sum(hs.Usage, curve.ScalarSize,
		curve.NewGeneratorPoint().Bytes(), qBytes,
		a1.Bytes(), a2.Bytes(), a3.Bytes(), t1, t2, t3, m)
	return curve.NewScalar().SetUniformBytes(h)
}

// Sign computes RSig(A, a, {A1, A2, A3}, m) with the OTRv4 challenge hash.
func Sign(rand io.Reader, a *curve.Scalar, a1, a2, a3 *curve.Point, m []byte) (*Signature, error) {
	return OTRv4.Sign(rand, a, a1, a2, a3, m)
}

// Verify computes RVrf({A1, A2, A3}, sigma, m) with the OTRv4 challenge hash.
func Verify(a1, a2, a3 *curve.Point, s *Signature, m []byte) error {
	return OTRv4.Verify(a1, a2, a3, s, m)
}

// Sign computes RSig(A, a, {A1, A2, A3}, m), where A = G*a must be one of A1,
// A2, A3. rand supplies the nonces.
func (hs Hash) Sign(rand io.Reader, a *curve.Scalar, a1, a2, a3 *curve.Point, m []byte) (*Signature, error) {
	pub := curve.NewIdentityPoint().ScalarBaseMult(a)
	ring := [3]*curve.Point{a1, a2, a3}
	var eq [3]int
	for i, p := range ring {
		eq[i] = pub.Equal(p)
	}
	if eq[0]+eq[1]+eq[2] != 1 {
		// Also refuses a ring holding our key twice: c_i would be ambiguous.
		return nil, ErrNotInRing
	}
	var t, c, r [3]*curve.Scalar
	for i := 0; i < 3; i++ {
		var err error
		if t[i], err = curve.RandomScalar(rand); err != nil {
			return nil, err
		}
		if c[i], err = curve.RandomScalar(rand); err != nil {
			return nil, err
		}
		if r[i], err = curve.RandomScalar(rand); err != nil {
			return nil, err
		}
	}
	// T_i = eq_i ? G*t_i : G*r_i + A_i*c_i, selected in constant time.
	var T [3][]byte
	for i := 0; i < 3; i++ {
		own := curve.NewIdentityPoint().ScalarBaseMult(t[i]).Bytes()
		other := curve.NewIdentityPoint().ScalarBaseMult(r[i])
		other.Add(other, curve.NewIdentityPoint().ScalarMult(c[i], ring[i]))
		T[i] = other.Bytes()
		subtle.ConstantTimeCopy(eq[i], T[i], own)
	}
	ch := hs.challenge(a1, a2, a3, T[0], T[1], T[2], m)
	// For the own index i: c_i = c - c_j - c_k, r_i = t_i - c_i * a.
	for i := 0; i < 3; i++ {
		j, k := (i+1)%3, (i+2)%3
		ci := curve.NewScalar().Subtract(ch, c[j])
		ci.Subtract(ci, c[k])
		ri := curve.NewScalar().Multiply(ci, a)
		ri.Subtract(t[i], ri)
		selectScalar(eq[i], c[i], ci)
		selectScalar(eq[i], r[i], ri)
		ci.Wipe()
		ri.Wipe()
	}
	for i := range t {
		t[i].Wipe()
	}
	ch.Wipe()
	return &Signature{c[0], r[0], c[1], r[1], c[2], r[2]}, nil
}

// selectScalar sets dst = src when v == 1, in constant time.
func selectScalar(v int, dst, src *curve.Scalar) {
	d, s := dst.Bytes(), src.Bytes()
	subtle.ConstantTimeCopy(v, d, s)
	if _, err := dst.SetCanonicalBytes(d); err != nil {
		panic("ring: scalar encoding is not canonical") // both inputs are reduced scalars
	}
	clear(d)
	clear(s)
}

// Verify computes RVrf({A1, A2, A3}, sigma, m). The points must already be
// validated (on the curve, in the prime-order subgroup), as curve.Point
// values decoded with SetBytes are.
func (hs Hash) Verify(a1, a2, a3 *curve.Point, s *Signature, m []byte) error {
	if s == nil {
		return ErrInvalid
	}
	t1 := curve.NewIdentityPoint().VarTimeDoubleScalarBaseMult(s.C1, a1, s.R1).Bytes()
	t2 := curve.NewIdentityPoint().VarTimeDoubleScalarBaseMult(s.C2, a2, s.R2).Bytes()
	t3 := curve.NewIdentityPoint().VarTimeDoubleScalarBaseMult(s.C3, a3, s.R3).Bytes()
	c := hs.challenge(a1, a2, a3, t1, t2, t3, m)
	sum := curve.NewScalar().Add(s.C1, s.C2)
	sum.Add(sum, s.C3)
	if c.Equal(sum) != 1 {
		return ErrInvalid
	}
	return nil
}
