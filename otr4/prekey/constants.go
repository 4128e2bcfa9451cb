package prekey

import "fmt"

// Version is the protocol version this package speaks ("0x0004 for OTRv4").
const Version uint16 = 0x0004

// MessageType is the type byte of a prekey server message.
type MessageType byte

// Message types, named as in otrv4-prekey-server.md.
const (
	TypeDAKE1              MessageType = 0x35
	TypeDAKE2              MessageType = 0x36
	TypeDAKE3              MessageType = 0x37
	TypePublication        MessageType = 0x08
	TypeStorageInfoRequest MessageType = 0x09
	TypeStorageStatus      MessageType = 0x0B
	TypeSuccess            MessageType = 0x06
	TypeFailure            MessageType = 0x05
	TypeEnsembleQuery      MessageType = 0x10
	TypeEnsembleRetrieval  MessageType = 0x13
	TypeNoEnsembles        MessageType = 0x0E
)

// String returns the spec's name of the message type.
func (t MessageType) String() string {
	switch t {
	case TypeDAKE1:
		return "DAKE-1"
	case TypeDAKE2:
		return "DAKE-2"
	case TypeDAKE3:
		return "DAKE-3"
	case TypePublication:
		return "Prekey Publication"
	case TypeStorageInfoRequest:
		return "Storage Information Request"
	case TypeStorageStatus:
		return "Storage Status"
	case TypeSuccess:
		return "Success"
	case TypeFailure:
		return "Failure"
	case TypeEnsembleQuery:
		return "Prekey Ensemble Query Retrieval"
	case TypeEnsembleRetrieval:
		return "Prekey Ensemble Retrieval"
	case TypeNoEnsembles:
		return "No Prekey Ensembles in Storage"
	}
	return fmt.Sprintf("MessageType(%#02x)", byte(t))
}

// Usage IDs of the prekey server KDF ("Key Derivation Functions").
const (
	usageFingerprint                      byte = 0x00
	usageSK                               byte = 0x01
	usageInitiatorClientProfile           byte = 0x02
	usageInitiatorPrekeyCompositeIdentity byte = 0x03
	usageInitiatorPrekeyCompositePHI      byte = 0x04
	usageReceiverClientProfile            byte = 0x05
	usageReceiverPrekeyCompositeIdentity  byte = 0x06
	usageReceiverPrekeyCompositePHI       byte = 0x07
	usagePreMACKey                        byte = 0x08
	usagePreMAC                           byte = 0x09
	usageStorageInfoMAC                   byte = 0x0A
	usageStatusMAC                        byte = 0x0B
	usageSuccessMAC                       byte = 0x0C
	usageFailureMAC                       byte = 0x0D
	usagePrekeyMessage                    byte = 0x0E
	usageClientProfile                    byte = 0x0F
	usagePrekeyProfile                    byte = 0x10
	usageAuth                             byte = 0x11
	usageProofContext                     byte = 0x12
	usageProofMessageECDH                 byte = 0x13
	usageProofMessageDH                   byte = 0x14
	usageProofSharedECDH                  byte = 0x15
	usageMACProofs                        byte = 0x16
	usageProofCLambda                     byte = 0x17
)

// Sizes and limits.
const (
	// MACSize is the size of every MAC of this protocol.
	MACSize = 64
	// SKSize is the size of the shared secret SK.
	SKSize = 64
	// proofCSize is the size of the challenge c of a proof.
	proofCSize = 64
	// Lambda is the proofs' lambda in bits; lambdaBytes the size of one t_i.
	Lambda      = 352
	lambdaBytes = Lambda / 8
	// MaxPrekeyMessages is the most prekey messages one publication holds
	// ("The maximum number of Prekey Messages that can be published in one
	// message is 255").
	MaxPrekeyMessages = 255
	// MaxIdentityLen bounds identities (bare JIDs: 3 parts of at most 1023
	// bytes, RFC 7622) and the server name in the composite identity.
	MaxIdentityLen = 3071
	// MaxVersionsLen bounds the versions string of a query.
	MaxVersionsLen = 16
	// MaxNoEnsemblesTextLen bounds the human-readable text of a No Prekey
	// Ensembles message.
	MaxNoEnsemblesTextLen = 1024
	// MaxEnsembles bounds L in a Prekey Ensemble Retrieval message.
	MaxEnsembles = 1024
	// MaxInnerMessage bounds the DATA attached to a DAKE-3 message: 255
	// prekey messages of about 470 bytes, two profiles and three proofs
	// fit with room to spare.
	MaxInnerMessage = 256 << 10
)

// NoEnsemblesText is the human-readable part of a No Prekey Ensembles in
// Storage message, as the spec words it.
const NoEnsemblesText = "No Prekey Messages available for this identity"

// Namespace constants of the XMPP section ("A Prekey Server for OTRv4 over
// XMPP").
const (
	// NSFeature is the disco#info feature of a prekey server.
	NSFeature = "http://jabber.org/protocol/otrv4-prekey-server"
	// IdentityCategory and IdentityType are the disco#info identity.
	IdentityCategory = "auth"
	IdentityType     = "otr-prekey"
	// FingerprintNode is the disco#items node whose name is the server's
	// fingerprint in hex.
	FingerprintNode = "fingerprint"
)
