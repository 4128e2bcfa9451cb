package xmppconn

import (
	"time"

	"mellium.im/xmpp/jid"
)

// Event is something the client reports to its subscribers: one of
// *StateEvent, *MessageEvent, *PresenceEvent, *SubscriptionEvent,
// *RosterEvent, *PEPEvent or *DeliveryEvent.
type Event interface{ isEvent() }

// State is the connection state of a Client.
type State uint8

// Connection states.
const (
	StateDisconnected State = iota // not connected; waiting to reconnect or stopped
	StateConnecting                // dialing and negotiating the stream
	StateOnline                    // session up, initial presence sent, queue flushing
)

func (s State) String() string {
	switch s {
	case StateDisconnected:
		return "disconnected"
	case StateConnecting:
		return "connecting"
	case StateOnline:
		return "online"
	}
	return "state(?)"
}

// StateEvent reports a change of connection state. Err is the reason for a
// disconnection, nil on a clean stop.
type StateEvent struct {
	State State
	// Addr is the bound full JID when State is StateOnline.
	Addr jid.JID
	Err  error
	// StreamManagement says, when State is StateOnline, whether XEP-0198
	// runs on the connection (SMOff: the server does not offer it, and
	// the client falls back to its queue and ping confirmations).
	StreamManagement StreamMgmt
}

// CarbonKind says whether a message is a XEP-0280 carbon copy.
type CarbonKind uint8

// Carbon kinds.
const (
	NotCarbon      CarbonKind = iota
	CarbonReceived            // a copy of a message another of our devices received
	CarbonSent                // a copy of a message another of our devices sent
)

func (k CarbonKind) String() string {
	switch k {
	case NotCarbon:
		return "none"
	case CarbonReceived:
		return "received"
	case CarbonSent:
		return "sent"
	}
	return "carbon(?)"
}

// Message is a received chat (or normal) message with a body.
type Message struct {
	ID       string
	From, To jid.JID
	Type     string // "chat", "normal", …
	Body     string
	Thread   string

	// OTR is true when the message carries the XEP-0380 OTR hint or its body
	// is an OTR message (it starts with "?OTR" or has the whitespace tag).
	OTR bool
	// ToDevice is the receiver instance tag of the <device/> addressing
	// element, 0 when absent. A client with an instance tag only reports
	// messages without the element or addressed to its own tag.
	ToDevice uint32

	Carbon CarbonKind
	// Delayed is true for messages with a XEP-0203 delay (offline storage,
	// archive); Stamp is the original time when known.
	Delayed bool
	Stamp   time.Time
	// FromArchive is true when the message came from an XEP-0313 catch-up.
	FromArchive bool
	// ArchiveID is the account archive's id of the message (XEP-0359
	// stanza-id or XEP-0313 result id), empty when unknown.
	ArchiveID string
}

// MessageEvent reports a received message.
type MessageEvent struct{ Message }

// Show is the availability of one full JID (RFC 6121 §4.7.2.1).
type Show uint8

// Availability values; Unavailable is the absence of presence.
const (
	Unavailable Show = iota
	Available
	Chat
	Away
	XA
	DND
)

func (s Show) String() string {
	switch s {
	case Unavailable:
		return "unavailable"
	case Available:
		return "available"
	case Chat:
		return "chat"
	case Away:
		return "away"
	case XA:
		return "xa"
	case DND:
		return "dnd"
	}
	return "show(?)"
}

// Presence is the last presence seen from one full JID.
type Presence struct {
	From     jid.JID
	Show     Show
	Status   string
	Priority int8
	// Tag is the OTRv4 instance tag the device announced in its presence
	// with <device xmlns='urn:otrchat:otrv4:0' tag='…'/>, 0 when absent.
	Tag uint32
}

// PresenceEvent reports that a full JID became available, changed its
// availability, or became unavailable (Show == Unavailable).
type PresenceEvent struct{ Presence }

// SubscriptionType is a presence subscription stanza type (RFC 6121 §3).
type SubscriptionType uint8

// Subscription stanza types.
const (
	Subscribe    SubscriptionType = iota + 1 // a contact asks to see our presence
	Subscribed                               // a contact approved our request
	Unsubscribe                              // a contact no longer wants our presence
	Unsubscribed                             // a contact denied or cancelled our subscription
)

func (t SubscriptionType) String() string {
	switch t {
	case Subscribe:
		return "subscribe"
	case Subscribed:
		return "subscribed"
	case Unsubscribe:
		return "unsubscribe"
	case Unsubscribed:
		return "unsubscribed"
	}
	return "subscription(?)"
}

// SubscriptionEvent reports a subscription stanza from a contact.
type SubscriptionEvent struct {
	From jid.JID // bare JID
	Type SubscriptionType
}

// RosterItem is one contact of the roster (RFC 6121 §2.1.2).
type RosterItem struct {
	JID          jid.JID
	Name         string
	Subscription string // "none", "to", "from", "both" ("remove" only in a push)
	// Ask is true while our subscription request is pending.
	Ask    bool
	Groups []string
}

// Mutual reports whether presence is shared both ways, as OTRv4 over XMPP
// needs to see which devices are online.
func (it RosterItem) Mutual() bool { return it.Subscription == "both" }

// RosterEvent reports a roster push (or the initial roster, one event per
// item). Removed is true for subscription='remove'.
type RosterEvent struct {
	Item    RosterItem
	Removed bool
}

// PEPItem is one published item of a PEP notification; Payload is the item's
// child element, re-encoded, for the owner of the node to parse.
type PEPItem struct {
	ID      string
	Payload []byte
}

// PEPEvent reports a XEP-0163 notification: the items published on Node of
// the account From (a bare JID), or retracted from it; or, with Deleted or
// Purged set (and no items), that the node was deleted or purged (XEP-0060
// §8.4, §8.5).
type PEPEvent struct {
	From      jid.JID
	Node      string
	Items     []PEPItem
	Retracted []string
	Deleted   bool
	Purged    bool
}

func (*StateEvent) isEvent()        {}
func (*MessageEvent) isEvent()      {}
func (*PresenceEvent) isEvent()     {}
func (*SubscriptionEvent) isEvent() {}
func (*RosterEvent) isEvent()       {}
func (*PEPEvent) isEvent()          {}
