package refcurve

import "github.com/otrchat/otrchat/otr4/internal/curve/internal/common"

// Sign writes the RFC 8032 Ed448 signature (pure, empty context) of msg to
// sig, for the secret scalar s, the upper half prefix of SHAKE-256(seed, 114)
// and the encoded public key pub (common.Sign on this backend).
func Sign(sig *[common.SignatureSize]byte, s *Scalar, prefix, pub, msg []byte) {
	common.Sign[Scalar, Point](sig, s, prefix, pub, msg)
}

// Verify reports whether sig is a valid, strict RFC 8032 Ed448 signature of
// msg by A (common.Verify on this backend).
func Verify(A *Point, msg, sig []byte) bool { return common.Verify[Scalar, Point](A, msg, sig) }
