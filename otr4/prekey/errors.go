package prekey

import "errors"

// Errors returned by this package; callers branch with errors.Is. Returned
// errors may wrap them with details.
var (
	// ErrMalformed: the bytes are not a well-formed message of the expected
	// type (truncated, trailing bytes, bad counts, invalid points or values).
	ErrMalformed = errors.New("prekey: malformed message")
	// ErrVersion: the protocol version is below 4.
	ErrVersion = errors.New("prekey: unsupported protocol version")
	// ErrUnexpected: a message of a type the state machine does not expect now.
	ErrUnexpected = errors.New("prekey: unexpected message")
	// ErrInstanceTag: an instance tag does not match the one of the session.
	ErrInstanceTag = errors.New("prekey: instance tag mismatch")
	// ErrBadMAC: a MAC did not verify.
	ErrBadMAC = errors.New("prekey: invalid MAC")
	// ErrBadProof: a zero-knowledge proof did not verify.
	ErrBadProof = errors.New("prekey: invalid proof")
	// ErrBadSignature: the ring signature of a DAKE message did not verify.
	ErrBadSignature = errors.New("prekey: invalid ring signature")
	// ErrServerIdentity: the server's composite identity is not the expected
	// one (another name, or a key with another fingerprint).
	ErrServerIdentity = errors.New("prekey: unexpected prekey server identity")
	// ErrInvalidProfile: a client or prekey profile failed validation.
	ErrInvalidProfile = errors.New("prekey: invalid profile")
	// ErrInvalidPrekeyMessage: a prekey message failed validation.
	ErrInvalidPrekeyMessage = errors.New("prekey: invalid prekey message")
	// ErrSharedSecret: the ECDH shared secret is the identity.
	ErrSharedSecret = errors.New("prekey: degenerate ECDH shared secret")
	// ErrFailure: the server answered with a (MAC-verified) Failure message.
	ErrFailure = errors.New("prekey: the prekey server reported a failure")
	// ErrUnauthenticatedFailure: a Failure message arrived before a shared
	// secret existed, or with a MAC that did not verify; it may come from
	// anyone.
	ErrUnauthenticatedFailure = errors.New("prekey: unauthenticated failure message from the prekey server")
	// ErrTooLarge: a message or its fragments exceed a size limit.
	ErrTooLarge = errors.New("prekey: message too large")
	// ErrBadRequest: a Publication or Request given to this package is
	// inconsistent (missing secrets, mismatched instance tags, too many
	// prekey messages).
	ErrBadRequest = errors.New("prekey: invalid request")
)
