package prekey

import (
	"io"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
	"github.com/otrchat/otrchat/otr4/internal/ring"
)

// The DAKE with the prekey server uses OTRv4's ring signature ("Ring
// Signature Authentication") with the challenge computed by the prekey
// server's KDF and its usage_auth (0x11), as DAKE-2 and DAKE-3 say.
var ringHash = ring.Hash{Domain: kdf.PrekeyServer, Usage: usageAuth}

const ringSignatureSize = ring.SignatureSize

func parseRingSignature(b []byte) (*ring.Signature, error) { return ring.Parse(b) }

func ringSign(rand io.Reader, a *curve.Scalar, a1, a2, a3 *curve.Point, m []byte) (*ring.Signature, error) {
	return ringHash.Sign(rand, a, a1, a2, a3, m)
}

func ringVerify(a1, a2, a3 *curve.Point, s *ring.Signature, m []byte) bool {
	return ringHash.Verify(a1, a2, a3, s, m) == nil
}
