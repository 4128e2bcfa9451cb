// Package prekey implements the protocol between an OTRv4 client and an
// untrusted prekey server (otrv4-prekey-server.md), shared by the client
// (prekeyclient/) and the server (prekeyserver/):
//
//   - every message: DAKE-1, DAKE-2, DAKE-3, Prekey Publication, Storage
//     Information Request, Storage Status, Success, Failure, Prekey Ensemble
//     Query Retrieval, Prekey Ensemble Retrieval and No Prekey Ensembles in
//     Storage ("Key Exchange", "Retrieving Prekey Ensembles"), each a type
//     with Marshal and a strict ParseXxx;
//   - the KDF with the spec's usage IDs, the shared secret, the MACs
//     ("Key Derivation Functions", "Key Management");
//   - the batch zero-knowledge proofs for ECDH and DH values with
//     lambda = 352 ("Proofs");
//   - the base-64 encoding and "?OTRP|" fragmentation ("Encoded Messages",
//     "Fragmentation of some Messages");
//   - the DAKEZ state machines ("State machine") of both roles as pure
//     types that take received message bytes and return the bytes to send:
//     ClientDAKE for the publisher and ServerSession for the server.
//
// Nothing here does I/O, keeps a clock or stores anything: randomness and
// time are injected, storage, rate limits and transport belong to the
// caller.
//
// # Client role
//
// A device publishes (or asks for its storage status) in one DAKE:
//
//	c, dake1, err := prekey.NewClientDAKE(prekey.ClientConfig{
//		Identity: id, Profile: profile,
//		Publisher: "alice@example.org", Server: "prekey.example.org",
//		ServerFingerprint: pinned, // from disco#items, node "fingerprint"
//	}, &prekey.PublishRequest{
//		ClientProfile: profile,
//		PrekeyProfile: pp, PrekeyProfileSecret: ppSecret,
//		PrekeyMessages: msgs, PrekeySecrets: secrets,
//	})
//	send(prekey.Encode(dake1))
//	// for each message body received from the server:
//	b, err := prekey.Decode(body) // after reassembling ?OTRP| fragments
//	out, res, err := c.Receive(b)
//	if out != nil {
//		send(prekey.Encode(out)) // the DAKE-3 with the publication
//	}
//	if res != nil {
//		// res.Kind: ResultSuccess, ResultFailure (err is ErrFailure) or
//		// ResultStorageStatus (res.Stored)
//	}
//
// Retrieval needs no DAKE: send an EnsembleQuery, and parse the answer
// with Parse: an *EnsembleRetrieval (whose ensembles come from an untrusted
// server and must be checked with otr4.SelectEnsembles) or a *NoEnsembles.
//
// # Server role
//
// The server keeps one ServerSession per publisher device (full JID):
// HandleDAKE1 returns the DAKE-2; HandleDAKE3 returns the verified
// ClientRequest (MAC, proofs, profiles and prekey messages checked), after
// which the server stores it and answers with Success, Failure or
// StorageStatus.
//
// Where the spec is ambiguous this package chooses as docs/spec-notes.md
// records; the choices are pinned by tests.
package prekey
