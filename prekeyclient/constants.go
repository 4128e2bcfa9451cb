package prekeyclient

import (
	"time"

	"github.com/otrchat/otrchat/otr4/prekey"
)

// Service discovery values of "Discovering a Prekey Server".
const (
	// NS is the disco#info feature a prekey server advertises.
	NS = prekey.NSFeature // "http://jabber.org/protocol/otrv4-prekey-server"
	// IdentityCategory and IdentityType form the disco identity of a
	// prekey server.
	IdentityCategory = prekey.IdentityCategory // "auth"
	IdentityType     = prekey.IdentityType     // "otr-prekey"
	// FingerprintNode is the node of the disco#items item whose name holds
	// the server's fingerprint in hexadecimal.
	FingerprintNode = prekey.FingerprintNode // "fingerprint"
)

const (
	// FingerprintSize is the size of a prekey server's fingerprint,
	// KDF_1(usage_fingerprint, byte(H), 56).
	FingerprintSize = 56

	// MaxPrekeysPerPublication is the most prekey messages one Prekey
	// Publication message may carry (N is a BYTE).
	MaxPrekeysPerPublication = prekey.MaxPrekeyMessages // 255

	// DefaultTimeout bounds every wait for an answer from the network
	// when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultTarget is how many prekey messages Maintain keeps stored.
	DefaultTarget = 100
	// DefaultThreshold is the stored count below which Maintain refills.
	DefaultThreshold = 20
	// DefaultRenewBefore is how long before their expiry Maintain
	// republishes the profiles.
	DefaultRenewBefore = 72 * time.Hour

	// maxDiscoItems bounds the items read from one disco#items answer.
	maxDiscoItems = 512
	// maxBodyLength bounds a message body accepted from a prekey server.
	maxBodyLength = 1 << 20
	// inboxSize is how many received messages wait for the client.
	inboxSize = 16
)
