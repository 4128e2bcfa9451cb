package prekey

import (
	"crypto/subtle"
	"fmt"
	"io"
	"math/big"

	"github.com/otrchat/otrchat/otr4/internal/bigmod"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/dh"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// This file implements the batch zero-knowledge proofs of "Proofs": the
// RME common-base Schnorr protocol of Henry made non-interactive with a
// Fiat-Shamir challenge bound to m = KDF(usage_proof_context, SK, 64).
//
// Interpretations the spec leaves open (docs/spec-notes.md):
//   - lambda = 352 bits, so each t_i is 44 bytes of
//     KDF(usage_proof_c_lambda, c, N*44);
//   - for ECDH proofs t_i is read as a little-endian integer (the SCALAR
//     convention), for DH proofs as a big-endian one (the MPI convention);
//   - points are hashed as POINT encodings, DH values (A and B_i) as MPIs;
//   - the DH nonce r has dhNonceSize = 141 bytes, not 80: with an 80-byte
//     r, v = r + sum(t_i*b_i) would not hide the sum (up to 1000 bits for
//     255 messages); 141 bytes leave a statistical margin of 2^-128.

// ECDHProof is a PROOF-ECDH: the challenge c and the response v.
type ECDHProof struct {
	c [proofCSize]byte
	v *curve.Scalar
}

// dhNonceSize is the byte length of the DH proof's nonce r: 80 bytes of
// secret, 44 of t_i, 1 for the sum of up to 255 terms, 16 of margin.
const dhNonceSize = dh.SecretSize + lambdaBytes + 1 + 16

// DHProof is a PROOF-DH: the challenge c and the response v (an MPI).
type DHProof struct {
	c [proofCSize]byte
	v *big.Int
}

// Marshal encodes the proof as PROOF-ECDH: 64 bytes c || SCALAR v.
func (p *ECDHProof) Marshal() []byte {
	return wire.AppendScalar(append([]byte(nil), p.c[:]...), p.v)
}

// Marshal encodes the proof as PROOF-DH: 64 bytes c || MPI v.
func (p *DHProof) Marshal() []byte {
	return wire.AppendMPI(append([]byte(nil), p.c[:]...), p.v)
}

func readECDHProof(r *wire.Reader) *ECDHProof {
	p := &ECDHProof{}
	copy(p.c[:], r.Bytes(proofCSize))
	p.v = r.Scalar()
	if r.Err() != nil {
		return nil
	}
	return p
}

func readDHProof(r *wire.Reader) *DHProof {
	p := &DHProof{}
	copy(p.c[:], r.Bytes(proofCSize))
	p.v = r.MPI()
	if r.Err() != nil {
		return nil
	}
	if p.v == nil || p.v.Cmp(dhQ) >= 0 {
		r.Fail(fmt.Errorf("%w: DH proof response out of range", ErrMalformed))
		return nil
	}
	return p
}

var (
	dhP, dhQ, dhG = dh.P(), dh.Q(), dh.G()
	dhPMod        = mustModulus(dhP)
	dhQMod        = mustModulus(dhQ)
	dhGNat        = bigmod.NewNat().SetUint(2).ExpandFor(dhPMod)
)

func mustModulus(n *big.Int) *bigmod.Modulus {
	m, err := bigmod.NewModulus(n.Bytes())
	if err != nil {
		panic("prekey: " + err.Error())
	}
	return m
}

// proofContext returns m = KDF(usage_proof_context, SK, 64).
func proofContext(sk []byte) []byte {
	return kdf.PrekeyServer.Sum(usageProofContext, 64, sk)
}

// lambdaPieces returns t_1..t_n: KDF(usage_proof_c_lambda, c, n*lambda)
// divided into n pieces of lambda bits.
func lambdaPieces(c []byte, n int) [][]byte {
	p := kdf.PrekeyServer.Sum(usageProofCLambda, n*lambdaBytes, c)
	t := make([][]byte, n)
	for i := range t {
		t[i] = p[i*lambdaBytes : (i+1)*lambdaBytes]
	}
	return t
}

// scalarLE interprets b (at most 114 bytes) as a little-endian integer mod q.
func scalarLE(b []byte) *curve.Scalar {
	return curve.NewScalar().SetUniformBytes(b)
}

func ecdhChallenge(usage byte, a []byte, points [][]byte, m []byte) []byte {
	vals := make([][]byte, 0, len(points)+2)
	vals = append(vals, a)
	vals = append(vals, points...)
	vals = append(vals, m)
	return kdf.PrekeyServer.Sum(usage, proofCSize, vals...)
}

// proveECDH proves knowledge of the secrets x_i of the points X_i = G*x_i
// (given as POINT encodings), for the usage ID usage_proof_message_ecdh or
// usage_proof_shared_ecdh.
func proveECDH(rand io.Reader, secrets []*curve.Scalar, points [][]byte, m []byte, usage byte) (*ECDHProof, error) {
	if len(secrets) == 0 || len(secrets) != len(points) {
		return nil, fmt.Errorf("%w: %d secrets for %d values", ErrBadRequest, len(secrets), len(points))
	}
	var r *curve.Scalar
	for r == nil || r.IsZero() {
		var err error
		if r, err = curve.RandomScalar(rand); err != nil {
			return nil, fmt.Errorf("prekey: proof nonce: %w", err)
		}
	}
	a := curve.NewIdentityPoint().ScalarBaseMult(r).Bytes()
	c := ecdhChallenge(usage, a, points, m)
	v := curve.NewScalar().Set(r)
	tx := curve.NewScalar()
	for i, t := range lambdaPieces(c, len(points)) {
		tx.Multiply(scalarLE(t), secrets[i])
		v.Add(v, tx)
	}
	r.Wipe()
	tx.Wipe()
	p := &ECDHProof{v: v}
	copy(p.c[:], c)
	return p, nil
}

// verify checks the proof for the points X_i (decoded) with encodings enc.
func (p *ECDHProof) verify(points []*curve.Point, m []byte, usage byte) bool {
	if p == nil || p.v == nil || len(points) == 0 {
		return false
	}
	enc := make([][]byte, len(points))
	for i, x := range points {
		enc[i] = x.Bytes()
	}
	t := lambdaPieces(p.c[:], len(points))
	// A = G*v - sum(X_i * t_i), computed as G*v + sum(X_i * (-t_i)).
	zero := curve.NewScalar()
	sums := parallel(len(points), func(lo, hi int) *curve.Point {
		acc, term := curve.NewIdentityPoint(), curve.NewIdentityPoint()
		for i := lo; i < hi; i++ {
			term.VarTimeDoubleScalarBaseMult(curve.NewScalar().Negate(scalarLE(t[i])), points[i], zero)
			acc.Add(acc, term)
		}
		return acc
	})
	a := curve.NewIdentityPoint().ScalarBaseMult(p.v)
	for _, part := range sums {
		a.Add(a, part)
	}
	c2 := ecdhChallenge(usage, a.Bytes(), enc, m)
	return subtle.ConstantTimeCompare(c2, p.c[:]) == 1
}

func dhChallenge(a *big.Int, values []*big.Int, m []byte) []byte {
	buf := wire.AppendMPI(nil, a)
	for _, b := range values {
		buf = wire.AppendMPI(buf, b)
	}
	buf = append(buf, m...)
	return kdf.PrekeyServer.Sum(usageProofMessageDH, proofCSize, buf)
}

// proveDH proves knowledge of the secret exponents b_i (big-endian, as
// dh.PrivateKey.Secret returns them) of B_i = g3^b_i.
func proveDH(rand io.Reader, secrets [][]byte, values []*big.Int, m []byte) (*DHProof, error) {
	if len(secrets) == 0 || len(secrets) != len(values) {
		return nil, fmt.Errorf("%w: %d secrets for %d values", ErrBadRequest, len(secrets), len(values))
	}
	// r is dhNonceSize random bytes (docs/spec-notes.md): large enough that
	// v = r + sum(t_i*b_i) statistically hides the sum, small enough to
	// keep the constant-time g3^r affordable.
	rb := make([]byte, dhNonceSize)
	defer clear(rb)
	if _, err := io.ReadFull(rand, rb); err != nil {
		return nil, fmt.Errorf("prekey: proof nonce: %w", err)
	}
	r, err := bigmod.NewNat().SetBytes(rb, dhQMod)
	if err != nil || r.IsZero() == 1 {
		return nil, fmt.Errorf("prekey: proof nonce is zero")
	}
	a := bigmod.NewNat().Exp(dhGNat, rb, dhPMod)
	c := dhChallenge(new(big.Int).SetBytes(a.Bytes(dhPMod)), values, m)
	tb := bigmod.NewNat()
	for i, t := range lambdaPieces(c, len(values)) {
		bn, err := bigmod.NewNat().SetBytes(secrets[i], dhQMod)
		if err != nil {
			return nil, fmt.Errorf("%w: DH secret %d: %v", ErrBadRequest, i+1, err)
		}
		if _, err := tb.SetBytes(t, dhQMod); err != nil {
			return nil, fmt.Errorf("prekey: lambda piece: %w", err)
		}
		r.Add(tb.Mul(bn, dhQMod), dhQMod)
	}
	p := &DHProof{v: new(big.Int).SetBytes(r.Bytes(dhQMod))}
	copy(p.c[:], c)
	return p, nil
}

// verify checks the proof for the public values B_i, which must already be
// checked to be in the group.
func (p *DHProof) verify(values []*big.Int, m []byte) bool {
	if p == nil || p.v == nil || len(values) == 0 {
		return false
	}
	t := lambdaPieces(p.c[:], len(values))
	prod := big.NewInt(1)
	for _, part := range parallel(len(values), func(lo, hi int) *big.Int { return multiExp(values[lo:hi], t[lo:hi]) }) {
		mulMod(prod, new(big.Int).Set(prod), part)
	}
	if prod.ModInverse(prod, dhP) == nil {
		return false
	}
	a := new(big.Int).Exp(dhG, p.v, dhP)
	a.Mul(a, prod).Mod(a, dhP)
	c2 := dhChallenge(a, values, m)
	return subtle.ConstantTimeCompare(c2, p.c[:]) == 1
}
