package session

// TrustMode is how fingerprints of new devices are trusted, as Profanity's
// users know the choices.
type TrustMode string

// Trust modes.
const (
	TrustManual                  TrustMode = "manual"                    // only after SMP or manual comparison
	TrustTOFU                    TrustMode = "tofu"                      // the first fingerprint of a contact's device is assumed
	TrustBlindBeforeVerification TrustMode = "blind-before-verification" // every device is assumed until one is verified
	TrustBlind                   TrustMode = "blind"                     // every device is assumed
)

// EncryptionPolicy says when conversations are encrypted.
type EncryptionPolicy string

// Encryption policies.
const (
	EncryptManual        EncryptionPolicy = "manual"        // OTR starts only when asked
	EncryptOpportunistic EncryptionPolicy = "opportunistic" // OTR starts when the peer supports it
	EncryptAlways        EncryptionPolicy = "always"        // never send plaintext
)
