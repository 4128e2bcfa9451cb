package query

// Constants of otrv4.md "Query Messages", "Whitespace Tags", "OTR Error
// Messages" and "Encoded Messages", and of the matching sections of
// otrv3-protocol.txt, named as in the specs.
const (
	// QueryPrefix starts every query message: "?OTR" followed by "?"
	// (version 1, OTRv3 text only) and/or "v", the version identifiers and
	// "?".
	QueryPrefix = "?OTR"
	// QueryPrefixV is the query message start of otrv4.md: "a message
	// containing the string "?OTRv" followed by an indication of what
	// versions of OTR she is willing to use".
	QueryPrefixV = "?OTRv"
	// QueryEnd ends the version identifiers. "The character "?" cannot be
	// used as a byte identifier."
	QueryEnd = '?'

	// ErrorPrefix starts an OTR Error Message: "Any message containing
	// "?OTR Error: " at the starting position". The OTRv3 text has no space
	// after the colon; ParseError accepts both, ErrorMessage writes the
	// space.
	ErrorPrefix = "?OTR Error:"
	// ErrorCodePrefix starts the optional code: "?OTR Error: ERROR_N: ".
	ErrorCodePrefix = "ERROR_"

	// EncodedPrefix and EncodedSuffix frame an encoded message: "the five
	// bytes "?OTR:", the base-64 encoding of the binary form of the
	// message and the byte ".".
	EncodedPrefix = "?OTR:"
	EncodedSuffix = "."

	// WhitespaceTagBase is the 16 bytes that start a whitespace tag.
	WhitespaceTagBase = "\x20\x09\x20\x20\x09\x09\x09\x09" + "\x20\x09\x20\x09\x20\x09\x20\x20"
	// WhitespaceTagV1 and WhitespaceTagV2 are the OTRv3 text's version
	// tags for versions 1 and 2, recognised and ignored.
	WhitespaceTagV1 = "\x20\x09\x20\x09\x20\x20\x09\x20"
	WhitespaceTagV2 = "\x20\x20\x09\x09\x20\x20\x09\x20"
	// WhitespaceTagV3 indicates "a willingness to use OTR version 3".
	WhitespaceTagV3 = "\x20\x20\x09\x09\x20\x20\x09\x09"
	// WhitespaceTagV4 indicates "a willingness to use OTR version 4".
	WhitespaceTagV4 = "\x20\x20\x09\x09\x20\x09\x20\x20"
	// whitespaceVersionTagLen is the length of each version tag.
	whitespaceVersionTagLen = 8

	// The texts of the OTRv4 error codes.
	ErrorText1 = "Unreadable message"           // ERROR_1: the message is undecryptable
	ErrorText2 = "Not in private state message" // ERROR_2: the message arrived in a state that is not encrypted messages
	ErrorText3 = "Malformed message"            // ERROR_3: the instance tags do not correspond
)
