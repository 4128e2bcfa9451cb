package common

import "crypto/subtle"

// ScalarOps is what the EdDSA code needs of a backend's scalar type S.
type ScalarOps[S any] interface {
	*S
	SetReducedBytes(b []byte)
	Bytes(out *[ScalarSize]byte)
	Add(a, b *S)
	Mul(a, b *S)
	Neg(a *S)
	Wipe()
}

// PointOps is what the EdDSA code needs of a backend's point type P with
// scalars S.
type PointOps[P, S any] interface {
	*P
	Bytes(out *[PointSize]byte)
	ScalarBaseMult(s *S)
	VarTimeDoubleScalarBaseMult(a *S, A *P, b *S)
	IsIdentity() bool
}

// Sign writes the RFC 8032 Ed448 signature (pure, empty context) of msg to
// sig, for the secret scalar s, the upper half prefix of SHAKE-256(seed, 114)
// and the encoded public key pub, with the backend's scalar S and point P.
func Sign[S any, P any, SP ScalarOps[S], PP PointOps[P, S]](sig *[SignatureSize]byte, s *S, prefix, pub, msg []byte) {
	var h [HashSize]byte
	HashDom4(h[:], prefix, msg)
	var r S
	SP(&r).SetReducedBytes(h[:])
	var R P
	PP(&R).ScalarBaseMult(&r)
	var enc [PointSize]byte
	PP(&R).Bytes(&enc)
	HashDom4(h[:], enc[:], pub, msg)
	var k S
	SP(&k).SetReducedBytes(h[:])
	SP(&k).Mul(&k, s)
	SP(&k).Add(&k, &r)
	copy(sig[:PointSize], enc[:])
	var out [ScalarSize]byte
	SP(&k).Bytes(&out)
	copy(sig[PointSize:], out[:])
	clear(h[:])
	SP(&r).Wipe()
	SP(&k).Wipe()
}

// Verify reports whether sig is a valid RFC 8032 Ed448 signature (pure,
// empty context) of msg by A. It is strict: sig must be 114 bytes, S < q, A
// not the identity, and R must be the canonical encoding of the point
// [S]G - [k]A of the prime-order subgroup, which rejects non-canonical R and
// R with a small-order component. A must come from SetBytes or arithmetic
// on such points (so it lies in the prime-order subgroup).
func Verify[S any, P any, SP ScalarOps[S], PP PointOps[P, S]](A *P, msg, sig []byte) bool {
	if len(sig) != SignatureSize || !IsCanonicalScalar(sig[PointSize:]) || PP(A).IsIdentity() {
		return false
	}
	var enc [PointSize]byte
	PP(A).Bytes(&enc)
	var h [HashSize]byte
	HashDom4(h[:], sig[:PointSize], enc[:], msg)
	var k, s S
	SP(&k).SetReducedBytes(h[:])
	SP(&k).Neg(&k)
	SP(&s).SetReducedBytes(sig[PointSize:])
	var R P
	PP(&R).VarTimeDoubleScalarBaseMult(&k, A, &s)
	PP(&R).Bytes(&enc)
	return subtle.ConstantTimeCompare(enc[:], sig[:PointSize]) == 1
}
