package prekeyclient

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"mellium.im/xmpp/jid"
)

// Errors of the client; callers branch with errors.Is. Most are wrapped
// with the server's JID and details, or carried by a typed error below.
var (
	// ErrNoServer: service discovery found no prekey server.
	ErrNoServer = errors.New("prekeyclient: no prekey server found")
	// ErrServerUnavailable: the server did not answer in time, or the XMPP
	// network bounced the message with an error.
	ErrServerUnavailable = errors.New("prekeyclient: prekey server unavailable")
	// ErrBadFingerprint: the server published a malformed fingerprint,
	// none, or several that disagree.
	ErrBadFingerprint = errors.New("prekeyclient: prekey server has no valid fingerprint")
	// ErrFingerprintChanged: the server's fingerprint differs from the
	// pinned one; see FingerprintChangedError.
	ErrFingerprintChanged = errors.New("prekeyclient: prekey server fingerprint changed")
	// ErrServerKeyMismatch: the long-term key the server used in the DAKE
	// does not have the fingerprint it published, or another identity.
	ErrServerKeyMismatch = errors.New("prekeyclient: prekey server key does not match its fingerprint")
	// ErrRefused: the server answered with a Failure message.
	ErrRefused = errors.New("prekeyclient: prekey server refused the request")
	// ErrBadReply: the server's answer was malformed, of an unexpected
	// type, for another instance tag or identity, or failed its MAC.
	ErrBadReply = errors.New("prekeyclient: invalid answer from prekey server")
	// ErrNoEnsembles: the server has no prekey ensemble for the identity;
	// see NoEnsemblesError.
	ErrNoEnsembles = errors.New("prekeyclient: no prekey ensembles in storage")
	// ErrNoValidEnsembles: the server handed out ensembles but none
	// survived validation; see InvalidEnsemblesError.
	ErrNoValidEnsembles = errors.New("prekeyclient: no valid prekey ensemble received")

	// Warnings (returned in Ensembles.Warnings and Report.Warnings).

	// ErrDuplicateEnsemble: the server handed out the same prekey message
	// twice in one answer.
	ErrDuplicateEnsemble = errors.New("prekeyclient: duplicated prekey ensemble dropped")
	// ErrReusedPrekey: the server handed out a prekey message this client
	// already received before (prekey messages are for one use).
	ErrReusedPrekey = errors.New("prekeyclient: prekey message handed out before dropped")
	// ErrWrongCount: the stored count the server reports cannot be true.
	ErrWrongCount = errors.New("prekeyclient: prekey server reports an impossible count")
)

// FingerprintChangedError reports a prekey server whose fingerprint is not
// the one pinned on first use. The client refuses the server until the
// user compares the fingerprints and calls Client.AcceptFingerprint.
type FingerprintChangedError struct {
	Server  jid.JID
	Pinned  []byte
	Offered []byte
}

func (e *FingerprintChangedError) Error() string {
	return fmt.Sprintf("prekeyclient: the fingerprint of prekey server %s changed: it was %s and is now %s; "+
		"the server is refused until you check the new fingerprint and accept it",
		e.Server, FormatFingerprint(e.Pinned), FormatFingerprint(e.Offered))
}

// Is makes errors.Is(err, ErrFingerprintChanged) true.
func (e *FingerprintChangedError) Is(target error) bool { return target == ErrFingerprintChanged }

// NoEnsemblesError is the "No Prekey Ensembles in Storage" answer.
type NoEnsemblesError struct {
	Server   jid.JID
	Identity string
	// Message is the server's human-readable text, to be shown to the user
	// (sanitized: printable characters only, bounded).
	Message string
}

func (e *NoEnsemblesError) Error() string {
	return fmt.Sprintf("prekeyclient: prekey server %s has no prekey ensembles for %s: %q", e.Server, e.Identity, e.Message)
}

// Is makes errors.Is(err, ErrNoEnsembles) true.
func (e *NoEnsemblesError) Is(target error) bool { return target == ErrNoEnsembles }

// InvalidEnsemblesError reports an answer none of whose ensembles is
// usable, with the reason for each one dropped.
type InvalidEnsemblesError struct {
	Server   jid.JID
	Identity string
	Reasons  []error
}

func (e *InvalidEnsemblesError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "prekeyclient: none of the %d prekey ensembles from %s for %s is valid", len(e.Reasons), e.Server, e.Identity)
	for i, r := range e.Reasons {
		if i == 4 {
			fmt.Fprintf(&sb, "; and %d more", len(e.Reasons)-i)
			break
		}
		fmt.Fprintf(&sb, "; %v", r)
	}
	return sb.String()
}

// Is makes errors.Is(err, ErrNoValidEnsembles) true.
func (e *InvalidEnsemblesError) Is(target error) bool { return target == ErrNoValidEnsembles }

// Unwrap gives the reasons to errors.Is and errors.As.
func (e *InvalidEnsemblesError) Unwrap() []error { return e.Reasons }

// FormatFingerprint shows a fingerprint as upper-case hex in groups of
// eight digits, the way users compare them.
func FormatFingerprint(fp []byte) string {
	h := strings.ToUpper(hex.EncodeToString(fp))
	var sb strings.Builder
	for i := 0; i < len(h); i += 8 {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(h[i:min(i+8, len(h))])
	}
	return sb.String()
}
