// Package prekeyserver is otrchat's OTRv4 prekey server
// (otrv4-prekey-server.md), run as an XEP-0114 component of an XMPP server
// ("A Prekey Server for OTRv4 over XMPP").
//
// A Server answers service discovery (identity auth/otr-prekey, the
// feature http://jabber.org/protocol/otrv4-prekey-server and the
// "fingerprint" item), runs a DAKEZ per full JID with publishers, verifies
// what they publish (MAC, proofs, profiles, prekey messages; via
// otr4/prekey), stores it in bbolt keyed by bare JID and instance tag, and
// hands out one Prekey Ensemble per device, deleting the prekey message
// used. Its long-term key lives in the data directory. Only the configured
// domains' users may publish (Config.Domains). Sizes are bounded per message,
// device and account, and globally (stored bytes, partial fragments, DAKEs
// in progress); dead devices give up their slots; retrievals are
// rate-limited per requester; every malformed or unexpected message gets a
// Failure reply and every unhandled IQ an error (RFC 6120 §8.2.3);
// everything is logged through the injected *slog.Logger.
//
// Handle is the transport-independent core; Connect, Serve, Run and
// RunReconnecting attach it to an XMPP server. cmd/otrprekeyd wraps it;
// docs/prekey-server.md is the operator's guide.
package prekeyserver
