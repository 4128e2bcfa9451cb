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
//     while disconnected (or whose write failed) are sent after reconnecting;
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
// Stream management (XEP-0198) is not implemented by mellium v0.22.0 and not
// by this package: a stanza written just before the TCP connection dies may
// be lost. The outgoing queue covers everything handed over while the
// connection is known to be down, and the archive catch-up covers incoming
// messages.
//
// The package never prints: it reports through Events and an injected
// *slog.Logger.
package xmppconn
