// Package keystore is otrchat's encrypted, crash-safe store of long-term OTRv4 secrets and
// trust state, kept in one bbolt file.
//
// Per account (a bare JID) and per device (an instance tag, OTRv4 section "Instance Tags") it
// holds the long-term key seed and the forging key (section "Public keys, Shared Prekeys,
// Forging keys and Fingerprints"), the client and prekey profiles (sections "Client Profile"
// and "Prekey Profile"), the secrets of published prekey messages (section "Prekey Messages"),
// each handed out once by TakePrekeySecret and then deleted for good, pinned prekey server
// fingerprints (otrv4-prekey-server.md), trust decisions per fingerprint (section "Trust
// establishment"), contacts' known devices, and opaque conversation state blobs.
//
// At rest every value is sealed with XChaCha20-Poly1305 under a key unwrapped with a
// passphrase stretched by argon2id; the additional data binds each record to its bucket path and
// key, so records cannot be moved between slots. Account and contact JIDs never appear in the
// clear: bucket names and keys derived from them are keyed hashes. Every update is one bbolt
// transaction, after which the pages bbolt freed are zeroed in the file, so a deleted record
// (a taken prekey secret above all) leaves nothing that decrypts. The layout, error semantics and migration rules are described in
// docs/keystore.md.
//
// The package prints nothing; it returns errors that callers branch on with errors.Is against
// the exported sentinels (ErrWrongPassphrase, ErrCorrupt, ErrNotFound, ...).
package keystore
