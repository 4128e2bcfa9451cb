package prekey

import (
	"crypto/subtle"
	"errors"
	"io"
	"math/big"

	"otrchat/otr4/internal/curve"
	"otrchat/otr4/internal/kdf"
)

// The DAKE with the prekey server uses OTRv4's ring signature ("Ring
// Signature Authentication") with one change: the challenge is computed
// with the prekey server's KDF and its usage_auth (0x11). otr4/internal/ring
// hard-wires the OTRv4 KDF, so this file carries the same constant-time
// signer over the prekey KDF (requested upstream in /tmp/otr4-requests.txt;
// to be replaced by a domain-parameterised ring package).

const ringSignatureSize = 6 * curve.ScalarSize

var errRing = errors.New("prekey: invalid ring signature encoding")

type ringSignature struct {
	c1, r1, c2, r2, c3, r3 *curve.Scalar
}

func (s *ringSignature) marshal() []byte {
	out := make([]byte, 0, ringSignatureSize)
	for _, v := range []*curve.Scalar{s.c1, s.r1, s.c2, s.r2, s.c3, s.r3} {
		out = append(out, v.Bytes()...)
	}
	return out
}

func parseRingSignature(b []byte) (*ringSignature, error) {
	if len(b) != ringSignatureSize {
		return nil, errRing
	}
	var v [6]*curve.Scalar
	for i := range v {
		s, err := curve.NewScalar().SetCanonicalBytes(b[i*curve.ScalarSize : (i+1)*curve.ScalarSize])
		if err != nil {
			return nil, errRing
		}
		v[i] = s
	}
	return &ringSignature{v[0], v[1], v[2], v[3], v[4], v[5]}, nil
}

// qLE is the group order q as 57 little-endian bytes, as the OTRv4 ring
// signature hashes it.
var qLE = func() []byte {
	q, _ := new(big.Int).SetString("13818066809895115352007386748515426880336692474882178609894547503885", 10)
	q.Sub(new(big.Int).Lsh(big.NewInt(1), 446), q)
	be := q.FillBytes(make([]byte, curve.ScalarSize))
	for i, j := 0, len(be)-1; i < j; i, j = i+1, j-1 {
		be[i], be[j] = be[j], be[i]
	}
	return be
}()

func ringChallenge(a1, a2, a3 *curve.Point, t1, t2, t3, m []byte) *curve.Scalar {
	h := kdf.PrekeyServer.Sum(usageAuth, curve.ScalarSize,
		curve.NewGeneratorPoint().Bytes(), qLE,
		a1.Bytes(), a2.Bytes(), a3.Bytes(), t1, t2, t3, m)
	return curve.NewScalar().SetUniformBytes(h)
}

// ringSign computes RSig(A, a, {A1, A2, A3}, m) where G*a is one of the
// three keys, without revealing which in its timing.
func ringSign(rand io.Reader, a *curve.Scalar, a1, a2, a3 *curve.Point, m []byte) (*ringSignature, error) {
	pub := curve.NewIdentityPoint().ScalarBaseMult(a)
	ring := [3]*curve.Point{a1, a2, a3}
	var eq [3]int
	for i, p := range ring {
		eq[i] = pub.Equal(p)
	}
	if eq[0]+eq[1]+eq[2] != 1 {
		return nil, errors.New("prekey: signer's key is not exactly once in the ring")
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
	var T [3][]byte
	for i := 0; i < 3; i++ {
		own := curve.NewIdentityPoint().ScalarBaseMult(t[i]).Bytes()
		other := curve.NewIdentityPoint().ScalarBaseMult(r[i])
		other.Add(other, curve.NewIdentityPoint().ScalarMult(c[i], ring[i]))
		T[i] = other.Bytes()
		subtle.ConstantTimeCopy(eq[i], T[i], own)
	}
	ch := ringChallenge(a1, a2, a3, T[0], T[1], T[2], m)
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
	return &ringSignature{c[0], r[0], c[1], r[1], c[2], r[2]}, nil
}

func selectScalar(v int, dst, src *curve.Scalar) {
	d, s := dst.Bytes(), src.Bytes()
	subtle.ConstantTimeCopy(v, d, s)
	if _, err := dst.SetCanonicalBytes(d); err != nil {
		panic("prekey: scalar encoding is not canonical") // both inputs are reduced
	}
	clear(d)
	clear(s)
}

// ringVerify computes RVrf({A1, A2, A3}, sigma, m).
func ringVerify(a1, a2, a3 *curve.Point, s *ringSignature, m []byte) bool {
	t1 := curve.NewIdentityPoint().VarTimeDoubleScalarBaseMult(s.c1, a1, s.r1).Bytes()
	t2 := curve.NewIdentityPoint().VarTimeDoubleScalarBaseMult(s.c2, a2, s.r2).Bytes()
	t3 := curve.NewIdentityPoint().VarTimeDoubleScalarBaseMult(s.c3, a3, s.r3).Bytes()
	c := ringChallenge(a1, a2, a3, t1, t2, t3, m)
	sum := curve.NewScalar().Add(s.c1, s.c2)
	sum.Add(sum, s.c3)
	return c.Equal(sum) == 1
}
