package query

import "strings"

// ErrorCode is the code of an OTR Error Message (otrv4.md "OTR Error
// Messages").
type ErrorCode uint8

// The error codes. ErrorUnknown is an error message without a code, or with
// a code this package does not know.
const (
	ErrorUnknown      ErrorCode = 0
	ErrorUnreadable   ErrorCode = 1 // ERROR_1: the message is undecryptable
	ErrorNotInPrivate ErrorCode = 2 // ERROR_2: the message arrived in a state that is not encrypted messages
	ErrorMalformed    ErrorCode = 3 // ERROR_3: the instance tags do not correspond
)

const (
	maxErrorCode         = ErrorMalformed
	errorCodeMaxDigits   = 3
	unknownErrorText     = "Unknown error"
	errorCodeTextDivider = ": "
)

// String returns the code as in the spec ("ERROR_1"), or "ERROR_UNKNOWN".
func (c ErrorCode) String() string {
	if c == ErrorUnknown || c > maxErrorCode {
		return ErrorCodePrefix + "UNKNOWN"
	}
	return ErrorCodePrefix + string(rune('0'+c))
}

// Text returns the spec's human-readable text for the code.
func (c ErrorCode) Text() string {
	switch c {
	case ErrorUnreadable:
		return ErrorText1
	case ErrorNotInPrivate:
		return ErrorText2
	case ErrorMalformed:
		return ErrorText3
	}
	return unknownErrorText
}

// ErrorMessage returns the OTR Error Message for code, for example
// "?OTR Error: ERROR_1: Unreadable message". An unknown code gives
// "?OTR Error: Unknown error", without a code.
func ErrorMessage(code ErrorCode) string {
	if code == ErrorUnknown || code > maxErrorCode {
		return ErrorPrefix + " " + unknownErrorText
	}
	return ErrorPrefix + " " + code.String() + errorCodeTextDivider + code.Text()
}

// ParseError parses an OTR Error Message. msg must start with "?OTR Error:"
// (the spec insists on the starting position, so that the string cannot be
// embedded in another message); one space after the colon is optional. If
// what follows is "ERROR_N: " with N one of the known codes, code is that
// code and text is the rest; otherwise code is ErrorUnknown and text is all
// that follows the prefix. The text is the sender's and may say anything: show
// it as untrusted.
func ParseError(msg string) (code ErrorCode, text string, ok bool) {
	rest, ok := strings.CutPrefix(msg, ErrorPrefix)
	if !ok {
		return ErrorUnknown, "", false
	}
	rest = strings.TrimPrefix(rest, " ")
	digits, ok := strings.CutPrefix(rest, ErrorCodePrefix)
	if !ok {
		return ErrorUnknown, rest, true
	}
	n := 0
	for n < len(digits) && n < errorCodeMaxDigits && digits[n] >= '0' && digits[n] <= '9' {
		n++
	}
	after, ok := strings.CutPrefix(digits[n:], ":")
	if n != 1 || !ok || digits[0] < '1' || ErrorCode(digits[0]-'0') > maxErrorCode {
		return ErrorUnknown, rest, true
	}
	return ErrorCode(digits[0] - '0'), strings.TrimPrefix(after, " "), true
}
