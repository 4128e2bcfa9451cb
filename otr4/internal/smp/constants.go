package smp

import (
	"errors"
	"strconv"
)

// TLV types of "TLV Record Types" that belong to SMP.
const (
	TLVMessage1 uint16 = 2 // SMP Message 1 (with or without a question)
	TLVMessage2 uint16 = 3 // SMP Message 2
	TLVMessage3 uint16 = 4 // SMP Message 3
	TLVMessage4 uint16 = 5 // SMP Message 4
	TLVAbort    uint16 = 6 // SMP Abort Message
)

// IsSMPType reports whether a TLV of type t is for this package.
func IsSMPType(t uint16) bool { return t >= TLVMessage1 && t <= TLVAbort }

// Sizes and limits.
const (
	pointSize  = 57
	scalarSize = 57
	// maxTLVValue is the largest TLV value: its length is a SHORT.
	maxTLVValue = 0xFFFF
	// MaxQuestion is the longest question that fits in an SMP message 1 TLV.
	MaxQuestion = maxTLVValue - 4 - 2*pointSize - 4*scalarSize

	msg2Size = 4*pointSize + 7*scalarSize
	msg3Size = 3*pointSize + 5*scalarSize
	msg4Size = 1*pointSize + 2*scalarSize

	// secretVersion is the "Version (BYTE)" of "Secret Information".
	secretVersion = 0x01
)

// Proof indices of "SMP Hash Function": the i of HashToScalar(i || v).
const (
	hashMsg1G2 byte = 0x01
	hashMsg1G3 byte = 0x02
	hashMsg2G2 byte = 0x03
	hashMsg2G3 byte = 0x04
	hashMsg2P  byte = 0x05
	hashMsg3P  byte = 0x06
	hashMsg3R  byte = 0x07
	hashMsg4R  byte = 0x08
)

// State is the SMP state of "The SMP State Machine".
type State int

// The states. WaitingForSecret is SMPSTATE_EXPECT1 with a received SMP
// message 1 kept until the user gives the secret (see the package doc).
const (
	Expect1 State = iota
	WaitingForSecret
	Expect2
	Expect3
	Expect4
)

func (s State) String() string {
	switch s {
	case Expect1:
		return "SMPSTATE_EXPECT1"
	case WaitingForSecret:
		return "SMPSTATE_EXPECT1(waiting for secret)"
	case Expect2:
		return "SMPSTATE_EXPECT2"
	case Expect3:
		return "SMPSTATE_EXPECT3"
	case Expect4:
		return "SMPSTATE_EXPECT4"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Result is what a received TLV means for the user.
type Result int

// The results of Receive.
const (
	// None: nothing to report (an abort when no SMP was under way).
	None Result = iota
	// InProgress: the exchange advanced; Outcome.Reply holds the next message.
	InProgress
	// SecretNeeded: the peer started SMP; Outcome.Question holds its question
	// (empty if none). Call Respond with the user's secret, or Abort.
	SecretNeeded
	// Succeeded: both secrets are equal.
	Succeeded
	// Failed: the secrets differ.
	Failed
	// Aborted: the peer aborted the exchange.
	Aborted
	// Cheated: the peer's message was malformed or a zero-knowledge proof
	// failed; the exchange was aborted.
	Cheated
	// Error: a message came in the wrong state, or a local failure (no
	// randomness) stopped the exchange; it was aborted.
	Error
)

func (r Result) String() string {
	switch r {
	case None:
		return "none"
	case InProgress:
		return "in progress"
	case SecretNeeded:
		return "secret needed"
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case Aborted:
		return "aborted"
	case Cheated:
		return "cheated"
	case Error:
		return "error"
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// Errors. Errors for a peer's message wrap ErrInvalidMessage or
// ErrUnexpectedMessage; check them with errors.Is.
var (
	// ErrInvalidMessage: a malformed SMP message (wrong length, bad POINT or
	// SCALAR encoding, a degenerate point) or a failed zero-knowledge proof.
	ErrInvalidMessage = errors.New("smp: invalid message")
	// ErrBadProof is wrapped together with ErrInvalidMessage when a
	// well-formed message fails a zero-knowledge proof check.
	ErrBadProof = errors.New("smp: zero-knowledge proof failed")
	// ErrUnexpectedMessage: an SMP message not allowed in the current state.
	ErrUnexpectedMessage = errors.New("smp: unexpected message")
	// ErrNotSMP: Receive was given a TLV type that is not 2 to 6.
	ErrNotSMP = errors.New("smp: not an SMP TLV")
	// ErrNoRequest: Respond was called without a pending SMP message 1.
	ErrNoRequest = errors.New("smp: no SMP request to respond to")
	// ErrQuestionTooLong: the question does not fit in an SMP message 1.
	ErrQuestionTooLong = errors.New("smp: question too long")
	// ErrRandom: reading randomness failed.
	ErrRandom = errors.New("smp: reading randomness failed")
)
