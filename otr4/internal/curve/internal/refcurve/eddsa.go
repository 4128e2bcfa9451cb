package refcurve

import (
	"crypto/subtle"

	"otrchat/otr4/internal/curve/internal/common"
)

// Sign writes the RFC 8032 Ed448 signature (pure, empty context) of msg to
// sig, for the secret scalar s, the upper half prefix of SHAKE-256(seed, 114)
// and the encoded public key pub.
func Sign(sig *[common.SignatureSize]byte, s *Scalar, prefix, pub, msg []byte) {
	var h [common.HashSize]byte
	common.HashDom4(h[:], prefix, msg)
	var r Scalar
	r.SetReducedBytes(h[:])
	var R Point
	R.ScalarBaseMult(&r)
	var enc [common.PointSize]byte
	R.Bytes(&enc)
	common.HashDom4(h[:], enc[:], pub, msg)
	var k Scalar
	k.SetReducedBytes(h[:])
	k.Mul(&k, s)
	k.Add(&k, &r)
	copy(sig[:common.PointSize], enc[:])
	var S [common.ScalarSize]byte
	k.Bytes(&S)
	copy(sig[common.PointSize:], S[:])
	clear(h[:])
	r.Wipe()
	k.Wipe()
}

// Verify reports whether sig is a valid RFC 8032 Ed448 signature (pure, empty
// context) of msg by A. It is strict: sig must be 114 bytes, S < q, A not the
// identity, and R must be the canonical encoding of the point [S]G - [k]A of
// the prime-order subgroup, which rejects non-canonical R and R with a
// small-order component. A must come from SetBytes or arithmetic on such
// points (so it lies in the prime-order subgroup).
func Verify(A *Point, msg, sig []byte) bool {
	if len(sig) != common.SignatureSize || !common.IsCanonicalScalar(sig[common.PointSize:]) || A.IsIdentity() {
		return false
	}
	var enc [common.PointSize]byte
	A.Bytes(&enc)
	var h [common.HashSize]byte
	common.HashDom4(h[:], sig[:common.PointSize], enc[:], msg)
	var k, S Scalar
	k.SetReducedBytes(h[:])
	k.Neg(&k)
	S.SetReducedBytes(sig[common.PointSize:])
	var R Point
	R.VarTimeDoubleScalarBaseMult(&k, A, &S)
	R.Bytes(&enc)
	return subtle.ConstantTimeCompare(enc[:], sig[:common.PointSize]) == 1
}
