package smp

import (
	"encoding/binary"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
)

// hashToScalar is the spec's HashToScalar(i || v) ("SMP Hash Function",
// appendix "HashToScalar"): HWC(i || v, 57) read as a little-endian integer
// mod q, where v is the concatenation of the POINT encodings of points.
func hashToScalar(i byte, points ...*curve.Point) *curve.Scalar {
	var buf [2 * pointSize]byte
	v := buf[:0]
	for _, p := range points {
		v = append(v, p.Bytes()...)
	}
	h := kdf.KDF(i, scalarSize, v)
	return curve.NewScalar().SetUniformBytes(h)
}

// Binding is what the SMP secret is bound to besides the user's secret
// ("Secret Information"): the fingerprints both sides use in this
// conversation and its Secure Session ID.
type Binding struct {
	OurFingerprint   [56]byte
	TheirFingerprint [56]byte
	SSID             [8]byte
}

// secretScalar computes the SMP secret value x (or y) of "Secret
// Information": prune(HWC(usage_SMP_secret || 0x01 || initiator fingerprint
// || responder fingerprint || SSID || DATA(secret), 57)) mod q. weInitiated
// says whether our fingerprint is the initiator's.
func secretScalar(b *Binding, weInitiated bool, secret []byte) *curve.Scalar {
	initiator, responder := b.TheirFingerprint[:], b.OurFingerprint[:]
	if weInitiated {
		initiator, responder = b.OurFingerprint[:], b.TheirFingerprint[:]
	}
	var length [4]byte
	binary.BigEndian.PutUint32(length[:], uint32(len(secret)))
	h := kdf.KDF(kdf.UsageSMPSecret, scalarSize,
		[]byte{secretVersion}, initiator, responder, b.SSID[:], length[:], secret)
	x := curve.PrunedScalar(h)
	clear(h)
	return x
}
