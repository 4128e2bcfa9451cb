// Package prekeyclient is otrchat's client of an OTRv4 prekey server over
// XMPP (shared/spec/otrv4-prekey-server.md).
//
// It implements the client side of "A Prekey Server for OTRv4 over XMPP":
//
//   - "Discovering a Prekey Server": disco#items on the account's server
//     domain, disco#info on every item for the feature NS and the identity
//     auth/otr-prekey, a random choice (crypto/rand) among several servers,
//     and disco#items on the chosen server for its "fingerprint" node
//     (Discover, Choose, FetchFingerprint);
//   - trust on first use of the server's long-term key: the fingerprint is
//     pinned in a PinStore and a changed fingerprint is refused with a
//     *FingerprintChangedError until the user calls AcceptFingerprint;
//   - the transport: prekey-server messages travel as the bodies of message
//     stanzas to and from the server's JID, fragments ("?OTRP|") are
//     reassembled, and every wait for the server is bounded by a timeout
//     (ErrServerUnavailable);
//   - "Publishing Prekey Values to the Server" and "Obtaining Information
//     about Prekey Messages from the Server": a DAKEZ with the server whose
//     DAKE-3 carries a Prekey Publication (at most 255 prekey messages, with
//     proofs) or a Storage Information Request (Client.Publish,
//     Client.StorageStatus, Client.Maintain, which refills below a threshold
//     and republishes profiles before they expire);
//   - "Retrieving published Prekey Ensembles from a Prekey Server": a Prekey
//     Ensemble Query Retrieval for a bare JID, and validation of every
//     ensemble received, because the server is untrusted (Client.Retrieve).
//
// Every misbehaviour the spec lists under "Security Properties" (the server
// is unavailable, refuses, hands out incomplete or expired ensembles or
// prekey messages already used, reports wrong counts) ends in a typed error
// or a warning, never a panic.
//
// The protocol messages, proofs and DAKE state machines are those of
// otrchat/otr4/prekey; this package adds the XMPP glue in the idiom of
// mellium.im/xmpp: namespaces as constants, a context on every network
// call, a message handler to register on a mux. It never prints; it logs
// to an injected *slog.Logger.
package prekeyclient
