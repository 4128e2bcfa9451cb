// Package kdf implements the OTRv4 key derivation, hash and MAC functions
// (otrv4.md, "Key Derivation Function, Hash Function and MAC Function"):
//
//	KDF(usage_ID || values, size) = SHAKE-256("OTRv4" || usage_ID || values, size)
//
// HWC and HCMAC are the same function under other names. The prekey server
// protocol uses the same construction with the domain "OTR-Prekey-Server".
package kdf

import "golang.org/x/crypto/sha3"

// Domain is the customisation prefix hashed before the usage ID.
type Domain string

// The two domains used by otrchat.
const (
	OTRv4        Domain = "OTRv4"
	PrekeyServer Domain = "OTR-Prekey-Server"
)

// Usage IDs of otrv4.md, named as in the spec.
const (
	UsageFingerprint                  byte = 0x00
	UsageThirdBraceKey                byte = 0x01
	UsageBraceKey                     byte = 0x02
	UsageSharedSecret                 byte = 0x03
	UsageSSID                         byte = 0x04
	UsageAuthRBobClientProfile        byte = 0x05
	UsageAuthRAliceClientProfile      byte = 0x06
	UsageAuthRPhi                     byte = 0x07
	UsageAuthIBobClientProfile        byte = 0x08
	UsageAuthIAliceClientProfile      byte = 0x09
	UsageAuthIPhi                     byte = 0x0A
	UsageFirstRootKey                 byte = 0x0B
	UsageTmpKey                       byte = 0x0C
	UsageAuthMACKey                   byte = 0x0D
	UsageNonIntAuthBobClientProfile   byte = 0x0E
	UsageNonIntAuthAliceClientProfile byte = 0x0F
	UsageNonIntAuthPhi                byte = 0x10
	UsageAuthMAC                      byte = 0x11
	UsageRootKey                      byte = 0x12
	UsageChainKey                     byte = 0x13
	UsageNextChainKey                 byte = 0x14
	UsageMessageKey                   byte = 0x15
	UsageMACKey                       byte = 0x16
	UsageExtraSymmKey                 byte = 0x17
	UsageAuthenticator                byte = 0x18
	UsageSMPSecret                    byte = 0x19
	UsageAuth                         byte = 0x1A
)

// Sum returns the first size bytes of SHAKE-256(domain || usage || values...).
func (d Domain) Sum(usage byte, size int, values ...[]byte) []byte {
	out := make([]byte, size)
	d.SumInto(out, usage, values...)
	return out
}

// SumInto fills out with SHAKE-256(domain || usage || values...).
func (d Domain) SumInto(out []byte, usage byte, values ...[]byte) {
	h := sha3.NewShake256()
	h.Write([]byte(d))
	h.Write([]byte{usage})
	for _, v := range values {
		h.Write(v)
	}
	h.Read(out)
}

// KDF is OTRv4's KDF (and HWC, HCMAC): SHAKE-256("OTRv4" || usage || values, size).
func KDF(usage byte, size int, values ...[]byte) []byte {
	return OTRv4.Sum(usage, size, values...)
}

// Shake256 is the plain SHAKE-256(x, size) used where the spec refers to RFC 8032.
func Shake256(size int, values ...[]byte) []byte {
	h := sha3.NewShake256()
	for _, v := range values {
		h.Write(v)
	}
	out := make([]byte, size)
	h.Read(out)
	return out
}
