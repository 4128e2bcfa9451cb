package session

import (
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/instancetag"
)

// Event is something the session layer reports to the user interface. It
// is one of the *…Event types of this package. Events are delivered in
// order on one goroutine (see Manager.Subscribe).
type Event interface{ isEvent() }

// OTRState is a conversation's state with one device, as the user sees it.
type OTRState int

// OTR states.
const (
	Plaintext OTRState = iota // no OTR conversation
	Starting                  // a DAKE is under way (online or offline)
	Encrypted                 // messages are end-to-end encrypted
	Finished                  // the peer ended the conversation; /end or /otr to go on
)

func (s OTRState) String() string {
	switch s {
	case Starting:
		return "starting"
	case Encrypted:
		return "encrypted"
	case Finished:
		return "finished"
	}
	return "plaintext"
}

// TrustLevel is how far a device's fingerprint is trusted.
type TrustLevel int

// Trust levels.
const (
	Untrusted TrustLevel = iota // new or distrusted: warn
	Assumed                     // trusted on first use or blindly, not verified
	Verified                    // verified by SMP or manual comparison (here or on an own device)
)

func (t TrustLevel) String() string {
	switch t {
	case Assumed:
		return "unverified (trusted on first use)"
	case Verified:
		return "verified"
	}
	return "untrusted"
}

// Device identifies one device (instance) of an account.
type Device struct {
	Account jid.JID // bare JID
	Tag     uint32  // OTR instance tag
	Label   string  // the label from the device list, "" when unknown
}

// DeviceInfo is what the session layer knows of one device.
type DeviceInfo struct {
	Device
	Online      bool
	State       OTRState
	Version     int    // 4, or 3 for an OTRv3 conversation; 0 before one started
	Fingerprint string // grouped hex, "" until known
	Trust       TrustLevel
	Own         bool // one of our own account's other devices
	Listed      bool // present in the account's device list
}

// ContactInfo is one roster entry with its devices.
type ContactInfo struct {
	JID          jid.JID
	Name         string
	Subscription string // "none", "to", "from", "both"
	Pending      bool   // our subscription request is pending
	Online       bool
	Devices      []DeviceInfo
	Policy       instancetag.Policy
	State        OTRState   // the best state among the devices
	Trust        TrustLevel // the worst trust among encrypted devices
}

// MessageEvent is a message received (or, with Outgoing, one of ours sent
// from another of our devices, or a plaintext message we sent).
type MessageEvent struct {
	Contact   jid.JID // the conversation it belongs to (bare JID)
	From      Device  // the sending device (our own account for a copy from an own device)
	Text      string
	Encrypted bool
	Version   int // OTR version, 0 for plaintext
	Trust     TrustLevel
	Outgoing  bool // sent by us (another of our devices, or this one)
	Time      time.Time
	Delayed   bool // arrived from offline storage or the archive
}

// StateEvent reports that the conversation with one device changed state.
type StateEvent struct {
	Contact jid.JID
	Device  Device
	State   OTRState
	Prev    OTRState
	Version int
}

// WarningKind says what a WarningEvent warns about.
type WarningKind int

// Warnings. Each is shown so that it cannot be missed.
const (
	WarnNewDevice           WarningKind = iota + 1 // a device we did not know appeared
	WarnUnverifiedDevice                           // an encrypted conversation with an unverified device
	WarnFingerprintChanged                         // a known device now shows another fingerprint
	WarnSentPlaintext                              // a message went out unencrypted
	WarnDeliveryFailed                             // a message did not reach one device
	WarnUndecryptable                              // a message could not be read
	WarnNotMostRecent                              // the policy chose a device that is not the most recently active
	WarnUnencryptedReceived                        // a plaintext message arrived while encryption was expected
	WarnProtocol                                   // any other protocol problem (rejected message, error message from the peer)
	WarnPrekeyServer                               // the prekey server is unavailable, refused, or misbehaved
	WarnTrustSync                                  // a trust decision from an own device was refused
	WarnOTRv3                                      // the conversation with a device is OTRv3 (weaker, online only)
)

func (k WarningKind) String() string {
	switch k {
	case WarnNewDevice:
		return "new-device"
	case WarnUnverifiedDevice:
		return "unverified-device"
	case WarnFingerprintChanged:
		return "fingerprint-changed"
	case WarnSentPlaintext:
		return "sent-plaintext"
	case WarnDeliveryFailed:
		return "delivery-failed"
	case WarnUndecryptable:
		return "undecryptable"
	case WarnNotMostRecent:
		return "not-most-recent"
	case WarnUnencryptedReceived:
		return "unencrypted-received"
	case WarnProtocol:
		return "protocol"
	case WarnPrekeyServer:
		return "prekey-server"
	case WarnTrustSync:
		return "trust-sync"
	case WarnOTRv3:
		return "otrv3"
	}
	return "warning"
}

// WarningEvent is something the user must see.
type WarningEvent struct {
	Contact jid.JID // zero for account-wide warnings
	Device  Device  // zero when not about one device
	Kind    WarningKind
	Text    string
}

// DeliveryStatus is where one copy of an outgoing message is.
type DeliveryStatus int

// Delivery states.
const (
	Queued    DeliveryStatus = iota + 1 // waiting (for the DAKE, or for the connection)
	Sent                                // written to the server
	Delivered                           // acknowledged by the server
	Failed                              // could not be sent; Err says why
)

func (s DeliveryStatus) String() string {
	switch s {
	case Queued:
		return "queued"
	case Sent:
		return "sent"
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// DeliveryEvent reports the fate of one user message for one device.
type DeliveryEvent struct {
	Contact jid.JID
	ID      string // the id Send returned
	Device  Device
	Status  DeliveryStatus
	Err     error
}

// SMPKind says what an SMPEvent reports.
type SMPKind int

// SMP outcomes and requests.
const (
	SMPAsked      SMPKind = iota + 1 // the peer asks; answer with AnswerSMP (Question may be set)
	SMPInProgress                    // waiting for the peer
	SMPSucceeded                     // same secret: the device is now verified
	SMPFailed                        // different secret
	SMPAborted                       // cancelled by either side
	SMPError                         // a protocol error or cheating attempt
)

func (k SMPKind) String() string {
	switch k {
	case SMPAsked:
		return "asked"
	case SMPInProgress:
		return "in-progress"
	case SMPSucceeded:
		return "succeeded"
	case SMPFailed:
		return "failed"
	case SMPAborted:
		return "aborted"
	case SMPError:
		return "error"
	}
	return "smp"
}

// SMPEvent reports progress of the Socialist Millionaires Protocol with one
// device.
type SMPEvent struct {
	Contact  jid.JID
	Device   Device
	Kind     SMPKind
	Question string
}

// TrustEvent reports a trust decision, made here or received from one of
// our own verified devices (FromDevice set).
type TrustEvent struct {
	Contact     jid.JID
	Fingerprint string // grouped hex
	Level       TrustLevel
	FromDevice  *Device // nil when decided on this device
}

// ConnectionEvent reports the connection state of the account.
type ConnectionEvent struct {
	Online bool
	Addr   jid.JID // the bound full JID when online
	Err    error   // why the connection dropped, nil on a clean stop
	// Resumable is false when the server offers no stream management and
	// messages written just before a drop may need re-sending.
	Resumable bool
}

// RosterEvent reports a change of a contact (roster, presence or devices).
type RosterEvent struct {
	Contact ContactInfo
	Removed bool
}

// SubscriptionRequestEvent reports a contact asking to see our presence.
type SubscriptionRequestEvent struct {
	From jid.JID
}

// PrekeyEvent reports the state of our prekeys on the prekey server.
type PrekeyEvent struct {
	Server    jid.JID
	Stored    int
	Published int
	Err       error
}

func (*MessageEvent) isEvent()             {}
func (*StateEvent) isEvent()               {}
func (*WarningEvent) isEvent()             {}
func (*DeliveryEvent) isEvent()            {}
func (*SMPEvent) isEvent()                 {}
func (*TrustEvent) isEvent()               {}
func (*ConnectionEvent) isEvent()          {}
func (*RosterEvent) isEvent()              {}
func (*SubscriptionRequestEvent) isEvent() {}
func (*PrekeyEvent) isEvent()              {}
