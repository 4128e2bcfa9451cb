package query

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/otrchat/otrchat/otr4/internal/fragment"
)

// ErrMalformed is wrapped by the errors of DecodeEncoded and
// ProtocolVersion.
var ErrMalformed = errors.New("query: malformed encoded message")

// Kind is the kind of a received message.
type Kind uint8

// The kinds of received messages, in the order Classify tests for them.
const (
	KindPlaintext        Kind = iota // no OTR marker
	KindFragment                     // starts with "?OTR|", "?OTR," or "?OTRP|"
	KindError                        // starts with "?OTR Error:"
	KindEncoded                      // starts with "?OTR:" (OTRv3 or OTRv4; see ProtocolVersion)
	KindQuery                        // contains a query message
	KindPlaintextWithTag             // contains a whitespace tag
)

var kindNames = [...]string{"plaintext", "fragment", "error", "encoded", "query", "plaintext with tag"}

// String returns the name of the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Classify returns the kind of a received message. Fragments are checked
// first ("you'll need to check for this _before_ checking for any of the
// other "?OTR:" markers"), then error messages and encoded messages, which
// must start at the first byte, then query messages and whitespace tags,
// which may be anywhere. Classify does not validate fragments or encoded
// messages: fragment.Parse and DecodeEncoded do.
func Classify(msg string) Kind {
	switch {
	case fragment.IsFragment(msg):
		return KindFragment
	case strings.HasPrefix(msg, ErrorPrefix):
		return KindError
	case strings.HasPrefix(msg, EncodedPrefix):
		return KindEncoded
	}
	if _, ok := ParseQuery(msg); ok {
		return KindQuery
	}
	if _, _, ok := StripWhitespaceTag(msg); ok {
		return KindPlaintextWithTag
	}
	return KindPlaintext
}

// Encode frames the binary form of a message: "?OTR:", its standard padded
// base-64 encoding, and ".".
func Encode(b []byte) string {
	return EncodedPrefix + base64.StdEncoding.EncodeToString(b) + EncodedSuffix
}

// DecodeEncoded returns the binary form of an encoded message. msg must be
// exactly "?OTR:", standard padded base-64 (no line breaks or other bytes),
// and "."; so Encode(b) == msg whenever DecodeEncoded accepts msg. Errors wrap
// ErrMalformed.
func DecodeEncoded(msg string) ([]byte, error) {
	body, ok := strings.CutPrefix(msg, EncodedPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: no %q prefix", ErrMalformed, EncodedPrefix)
	}
	body, ok = strings.CutSuffix(body, EncodedSuffix)
	if !ok {
		return nil, fmt.Errorf("%w: no %q at the end", ErrMalformed, EncodedSuffix)
	}
	// encoding/base64 skips '\r' and '\n' even in strict mode.
	if strings.ContainsAny(body, "\r\n") {
		return nil, fmt.Errorf("%w: line break in base-64", ErrMalformed)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return b, nil
}

// ProtocolVersion returns the protocol version (SHORT, big-endian) at the
// start of the binary form of an encoded message: 3 for OTRv3, 4 for OTRv4.
// Both are framed alike, so the decoded header tells them apart.
func ProtocolVersion(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, fmt.Errorf("%w: %d bytes, no protocol version", ErrMalformed, len(b))
	}
	return int(b[0])<<8 | int(b[1]), nil
}
