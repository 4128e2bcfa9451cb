// Package xmppconn is otrchat's XMPP transport: one client connection per
// device, built on mellium.im/xmpp v0.22.0.
//
// It implements the transport needs of OTRv4 over XMPP
// (shared/spec/otrv4-over-xmpp.md, "Explain how online and offline versions
// will work") and the traffic rules of XEP-0364 ("Routing", "Processing
// Hints", "Explicit Message Encryption"):
//
//   - connection: DNS SRV (RFC 6120 §3.2) or a fixed address, STARTTLS with
//     certificate verification, SASL SCRAM, resource binding;
//   - automatic reconnection with bounded exponential backoff and jitter,
//     with initial presence, carbons and archive catch-up redone each time;
//   - an ordered, bounded outgoing queue: chat messages handed to SendChat
//     while disconnected, or written and never acknowledged, are sent after
//     reconnecting;
//   - roster (RFC 6121 §2) and presence subscriptions (RFC 6121 §3), and
//     presence per full JID (available, chat, away, dnd, xa, unavailable);
//   - chat messages: OTR messages carry the carbons <private/> element
//     (XEP-0280 §6), the XEP-0380 <encryption/> hint and XEP-0334 hints chosen
//     per case; carbon copies of OTR messages are dropped; plaintext carbons
//     are enabled and delivered marked as carbons;
//   - per-device offline delivery: an OTR message for a device that is
//     offline goes to the bare JID with a <device/> addressing element
//     carrying the receiver's instance tag and the <store/> hint; every device
//     drops messages addressed to another instance tag, and catches up its own
//     from the XEP-0313 archive after connecting (see docs/device-list.md);
//   - XEP-0115 entity capabilities and a XEP-0030 disco#info responder, so
//     that PEP notifications (XEP-0163 "+notify") reach the device.
//
// Nothing is lost on the way out or in (docs/device-list.md §5):
//
//   - XEP-0198 Stream Management (urn:xmpp:sm:3), which mellium v0.22.0
//     lacks, in mellium's idiom: the STARTTLS stream feature is wrapped so
//     that the connection under the session counts, byte by byte as
//     mellium's decoder consumes them, every stanza read (IQ results
//     included, which mellium routes before any handler) and records every
//     top-level element written (package internal/sm); the resource
//     binding feature is wrapped to resume the previous stream instead of
//     binding (no presence or roster redone; a catch-up puts what arrives
//     around the resumption in archive order), or to enable stream
//     management with resumption after binding; the session's handler
//     answers <r/> and applies <a/>. The client requests an ack when the
//     queue empties, when 32 stanzas are unacknowledged, and every 2 s while
//     any is; an <r/> unanswered within Config.RequestTimeout ends the
//     connection. Every stanza is kept until the server acknowledges it: on
//     resumption what the server never handled is written again, in order,
//     before anything new; when resumption is refused (the server
//     restarted) the chat messages it never acknowledged go back to the
//     front of the queue. Config.DisableStreamManagement turns it off.
//   - A server without stream management falls back to the queue; the
//     connection status says so (StateEvent.StreamManagement,
//     Client.StreamManagement). Written messages are then confirmed by a
//     XEP-0199 ping once the queue is empty; a connection lost before the
//     answer puts them back in the queue.
//   - Per-message delivery reports: a *DeliveryEvent with the id SendChat
//     returned goes through DeliveryQueued, DeliverySent (again after a
//     loss), DeliveryAcked (the server has it; it is never sent again), or
//     DeliveryFailed (the server bounced it with an error).
//   - A clean stop (Run's context done) waits, at most Config.StopTimeout,
//     for the server to acknowledge everything written, then for the
//     server's end of the stream.
//   - Archive catch-up survives faults: the archive position moves only
//     past messages handed to the subscribers; live messages arriving during
//     a catch-up are held back (across a connection loss) and delivered
//     after the archive's, in order; own devices' OTR messages addressed to
//     this device's instance tag are delivered from the archive.
//   - Duplicates (a message sent again after a loss, the server's
//     retransmission, offline storage and archive) are recognised by archive
//     id and by sender and message id, and reported once (Stats.Duplicates).
//
// The package never prints: it reports through Events and an injected
// *slog.Logger.
package xmppconn
