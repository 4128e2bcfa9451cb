package session

import (
	"fmt"
	"strings"
)

// TrustMode says how fingerprints that were never verified are treated, as
// Profanity users know it (its "/otr policy" and OMEMO trust modes).
type TrustMode string

// Trust modes.
const (
	// TrustManual: a fingerprint is trusted only after the user verified it
	// (SMP or manual comparison). The default.
	TrustManual TrustMode = "manual"
	// TrustTOFU: the first fingerprint seen for a device is trusted (not
	// verified); a different one later is not.
	TrustTOFU TrustMode = "tofu"
	// TrustBlindBeforeVerification: every fingerprint of a contact is
	// trusted until the user verified one of the contact's fingerprints;
	// from then on new ones are not.
	TrustBlindBeforeVerification TrustMode = "blind-before-verification"
	// TrustBlind: every fingerprint is trusted (not verified).
	TrustBlind TrustMode = "blind"
)

// TrustModes lists the trust modes.
var TrustModes = []TrustMode{TrustManual, TrustTOFU, TrustBlindBeforeVerification, TrustBlind}

// ParseTrustMode reads a trust mode name.
func ParseTrustMode(s string) (TrustMode, error) {
	for _, m := range TrustModes {
		if strings.EqualFold(strings.TrimSpace(s), string(m)) {
			return m, nil
		}
	}
	return "", fmt.Errorf("session: unknown trust mode %q (want manual, tofu, blind-before-verification or blind)", s)
}

// EncryptionPolicy says when messages to a contact are encrypted.
type EncryptionPolicy string

// Encryption policies.
const (
	// EncryptManual: OTR starts only when the user (or the contact) asks;
	// until then messages go out as plaintext, each with a warning.
	EncryptManual EncryptionPolicy = "manual"
	// EncryptOpportunistic: the first plaintext message carries the
	// whitespace tag, and OTR starts when the contact answers with a tag or
	// a query message.
	EncryptOpportunistic EncryptionPolicy = "opportunistic"
	// EncryptAlways: never a plaintext message; what the user types waits
	// until the session is up. The default.
	EncryptAlways EncryptionPolicy = "always"
)

// EncryptionPolicies lists the encryption policies.
var EncryptionPolicies = []EncryptionPolicy{EncryptManual, EncryptOpportunistic, EncryptAlways}

// ParseEncryptionPolicy reads an encryption policy name.
func ParseEncryptionPolicy(s string) (EncryptionPolicy, error) {
	for _, p := range EncryptionPolicies {
		if strings.EqualFold(strings.TrimSpace(s), string(p)) {
			return p, nil
		}
	}
	return "", fmt.Errorf("session: unknown encryption policy %q (want manual, opportunistic or always)", s)
}
