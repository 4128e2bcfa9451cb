package xmppconn

import "time"

// XML namespaces used on the wire.
const (
	// NS is otrchat's own namespace for the OTRv4 device elements: the
	// <device tag='0x…'/> element carried in presence (the device's instance
	// tag) and in messages (the receiver's instance tag). See
	// docs/device-list.md.
	NS = "urn:otrchat:otrv4:0"

	nsClient   = "jabber:client"
	nsCarbons  = "urn:xmpp:carbons:2" // XEP-0280
	nsForward  = "urn:xmpp:forward:0" // XEP-0297
	nsDelay    = "urn:xmpp:delay"     // XEP-0203
	nsHints    = "urn:xmpp:hints"     // XEP-0334
	nsEME      = "urn:xmpp:eme:0"     // XEP-0380
	nsOTREME   = "urn:xmpp:otr:0"     // XEP-0380 namespace value for OTR
	nsMAM      = "urn:xmpp:mam:2"     // XEP-0313
	nsRSM      = "http://jabber.org/protocol/rsm"
	nsSID      = "urn:xmpp:sid:0" // XEP-0359
	nsRoster   = "jabber:iq:roster"
	nsCaps     = "http://jabber.org/protocol/caps" // XEP-0115
	nsDiscoInf = "http://jabber.org/protocol/disco#info"
	nsPubSubEv = "http://jabber.org/protocol/pubsub#event"
	nsPing     = "urn:xmpp:ping"

	// CapsNode is the XEP-0115 node advertised in presence.
	CapsNode = "https://otrchat.invalid/caps"
)

// Limits and defaults.
const (
	// MaxStanzaSize bounds one incoming stanza as re-encoded by the reader;
	// larger stanzas are dropped and logged.
	MaxStanzaSize = 256 << 10

	// DefaultQueueSize bounds the outgoing queue when Config.QueueSize is 0.
	DefaultQueueSize = 256

	// DefaultMinBackoff and DefaultMaxBackoff bound the reconnect delay.
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second

	// DefaultConnectTimeout bounds dialing plus stream negotiation.
	DefaultConnectTimeout = 15 * time.Second

	// DefaultRequestTimeout bounds each IQ round trip the client makes itself.
	DefaultRequestTimeout = 15 * time.Second

	// DefaultStopTimeout bounds a clean stop's wait for the server.
	DefaultStopTimeout = 10 * time.Second

	// firstOnlineMargin is subtracted from the time a client first came
	// online to allow for a server clock a little behind ours.
	firstOnlineMargin = 5 * time.Second

	// maxLiveBuffer bounds the live messages held back during a catch-up;
	// beyond it they are delivered at once.
	maxLiveBuffer = 10000

	// DefaultPingInterval is how often an idle connection is checked with a
	// XEP-0199 ping; a ping unanswered within DefaultRequestTimeout closes it.
	DefaultPingInterval = 60 * time.Second

	// mamPageSize is the page size of archive catch-up queries, and
	// mamMaxPages bounds one catch-up.
	mamPageSize = 100
	mamMaxPages = 100

	// seenArchiveIDs is how many archive ids are remembered to drop a
	// message seen both live (or from offline storage) and in the archive.
	seenArchiveIDs = 4096

	// maxEventBacklog bounds the events waiting for the subscribers.
	maxEventBacklog = 100000
)

// MinInstanceTag is the smallest valid OTR instance tag (OTRv4 §"Instance
// Tags": values below 0x00000100 are reserved).
const MinInstanceTag = 0x100
