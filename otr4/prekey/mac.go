package prekey

import (
	"crypto/subtle"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// sharedSecret computes SK = KDF(usage_SK, ECDH(a, B), 64) with ECDH as
// "Generating Shared Secrets": B is multiplied by the cofactor first and an
// identity result is refused.
func sharedSecret(a *curve.Scalar, b *curve.Point) ([]byte, error) {
	b4 := curve.NewIdentityPoint().Add(b, b)
	b4.Add(b4, b4)
	p := curve.NewIdentityPoint().ScalarMult(a, b4)
	if p.IsIdentity() {
		return nil, ErrSharedSecret
	}
	enc := p.Bytes()
	defer clear(enc)
	return kdf.PrekeyServer.Sum(usageSK, SKSize, enc), nil
}

// macKey computes prekey_mac_k = KDF(usage_preMAC_key, SK, 64).
func macKey(sk []byte) []byte {
	return kdf.PrekeyServer.Sum(usagePreMACKey, MACSize, sk)
}

// unauthenticatedKey is the all-zero prekey_mac_k used for a Failure sent
// when no shared secret exists (docs/spec-notes.md): its MAC proves nothing.
var unauthenticatedKey = make([]byte, MACSize)

func mac(out *[MACSize]byte, usage byte, values ...[]byte) {
	kdf.PrekeyServer.SumInto(out[:], usage, values...)
}

func macEqual(a, b *[MACSize]byte) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// publicationMAC computes the Prekey MAC of a Prekey Publication:
//
//	KDF(usage_preMAC, prekey_mac_k || type || N ||
//	    KDF(usage_prekey_message, Prekey Messages, 64) ||
//	    K || [KDF(usage_client_profile, Client Profile, 64)] ||
//	    J || [KDF(usage_prekey_profile, Prekey Profile, 64)] ||
//	    KDF(usage_mac_proofs, Proofs, 64), 64)
//
// The same formula covers all four cases of the spec; in the "only prekey
// messages" case the proofs' hash is inside the outer KDF (docs/spec-notes.md).
func (m *Publication) computeMAC(key []byte) [MACSize]byte {
	e := m.encodings()
	vals := [][]byte{key, {byte(TypePublication)}, {byte(len(m.PrekeyMessages))},
		kdf.PrekeyServer.Sum(usagePrekeyMessage, 64, e.messages)}
	if e.client != nil {
		vals = append(vals, []byte{1}, kdf.PrekeyServer.Sum(usageClientProfile, 64, e.client))
	} else {
		vals = append(vals, []byte{0})
	}
	if e.prekey != nil {
		vals = append(vals, []byte{1}, kdf.PrekeyServer.Sum(usagePrekeyProfile, 64, e.prekey))
	} else {
		vals = append(vals, []byte{0})
	}
	vals = append(vals, kdf.PrekeyServer.Sum(usageMACProofs, 64, e.proofs))
	var out [MACSize]byte
	mac(&out, usagePreMAC, vals...)
	return out
}

func (m *StorageInfoRequest) computeMAC(key []byte) [MACSize]byte {
	var out [MACSize]byte
	mac(&out, usageStorageInfoMAC, key, []byte{byte(TypeStorageInfoRequest)})
	return out
}

func (m *StorageStatus) computeMAC(key []byte) [MACSize]byte {
	var out [MACSize]byte
	mac(&out, usageStatusMAC, key, []byte{byte(TypeStorageStatus)},
		wire.AppendInt(nil, uint32(m.ReceiverTag)), wire.AppendInt(nil, m.Stored))
	return out
}

func (m *Success) computeMAC(key []byte) [MACSize]byte {
	var out [MACSize]byte
	mac(&out, usageSuccessMAC, key, []byte{byte(TypeSuccess)}, wire.AppendInt(nil, uint32(m.ReceiverTag)))
	return out
}

func (m *Failure) computeMAC(key []byte) [MACSize]byte {
	var out [MACSize]byte
	mac(&out, usageFailureMAC, key, []byte{byte(TypeFailure)}, wire.AppendInt(nil, uint32(m.ReceiverTag)))
	return out
}

// dakeT computes t for DAKE-2 (first = 0x00, initiator usage IDs) or
// DAKE-3 (first = 0x01, receiver usage IDs).
func dakeT(dake3 bool, clientProfile, composite, i, s, phi []byte) []byte {
	first, uProf, uComp, uPhi := byte(0x00), usageInitiatorClientProfile, usageInitiatorPrekeyCompositeIdentity, usageInitiatorPrekeyCompositePHI
	if dake3 {
		first, uProf, uComp, uPhi = 0x01, usageReceiverClientProfile, usageReceiverPrekeyCompositeIdentity, usageReceiverPrekeyCompositePHI
	}
	t := []byte{first}
	t = append(t, kdf.PrekeyServer.Sum(uProf, 64, clientProfile)...)
	t = append(t, kdf.PrekeyServer.Sum(uComp, 64, composite)...)
	t = append(t, i...)
	t = append(t, s...)
	return append(t, kdf.PrekeyServer.Sum(uPhi, 64, phi)...)
}

// Phi returns the shared session state for XMPP, as the spec's XMPP section
// writes it: DATA(publisher's bare JID) || DATA(server's bare JID), in that
// order (docs/spec-notes.md).
func Phi(publisher, server string) []byte {
	return wire.AppendData(wire.AppendData(nil, []byte(publisher)), []byte(server))
}
