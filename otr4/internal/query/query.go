// Package query implements the unencoded OTR messages and the framing of the
// encoded ones: query messages (otrv4.md "Query Messages"; the legacy forms
// of otrv3-protocol.txt "OTR Query Messages"), whitespace tags (otrv4.md
// "Whitespace Tags", "Receiving plaintext without/with the whitespace tag";
// otrv3-protocol.txt "Tagged plaintext messages"), OTR error messages
// (otrv4.md "OTR Error Messages"), the "?OTR:" base-64 framing (otrv4.md
// "Encoded Messages") and the classification of a received message into
// these kinds. Version 3 and 4 are the versions a Versions set holds
// (otrv4.md "Requesting Conversation with Older OTR Versions"); other
// version identifiers are parsed and ignored.
package query

import (
	"strconv"
	"strings"
)

// Versions is a set of OTR protocol versions. Only versions 3 and 4 can be
// members; identifiers of other versions are ignored when parsing.
type Versions uint8

// The versions.
const (
	Version3 Versions = 1 << 3
	Version4 Versions = 1 << 4

	supported = Version3 | Version4
)

// NewVersions returns the set of the given versions; numbers other than 3
// and 4 are ignored.
func NewVersions(versions ...int) Versions {
	var v Versions
	for _, n := range versions {
		v = v.With(n)
	}
	return v
}

// With returns v with version n added; numbers other than 3 and 4 are
// ignored.
func (v Versions) With(n int) Versions {
	if n == 3 || n == 4 {
		v |= 1 << n
	}
	return v & supported
}

// Has reports whether version n is in v.
func (v Versions) Has(n int) bool {
	return (n == 3 || n == 4) && v&(1<<n) != 0
}

// Best returns the highest version in v, or 0 if v is empty. The highest
// common version of two parties is (ours & theirs).Best().
func (v Versions) Best() int {
	switch {
	case v.Has(4):
		return 4
	case v.Has(3):
		return 3
	}
	return 0
}

// String returns the version identifiers in descending order, as in a query
// message ("43"), or "" for the empty set.
func (v Versions) String() string {
	s := ""
	for n := 4; n >= 3; n-- {
		if v.Has(n) {
			s += strconv.Itoa(n)
		}
	}
	return s
}

// QueryMessage returns the query message offering the versions in v, highest
// first: "?OTRv43?" for versions 3 and 4, "?OTRv4?" for version 4. The empty
// set gives "?OTRv?", "a bizarre claim" to which receivers do not reply.
func QueryMessage(v Versions) string {
	return QueryPrefixV + v.String() + string(QueryEnd)
}

// ParseQuery finds the first query message in msg, which may contain other
// text (an explanatory message, HTML), and returns the versions 3 and 4 it
// offers. A query is "?OTR" followed by either "?" (version 1 in the OTRv3
// text) or "v", or both ("?OTR?v34?", as in XEP-0364); "v" is followed by
// version identifiers up to the next "?". Version identifiers are printable
// ASCII characters other than space and "?"; an occurrence of "?OTRv" whose
// identifiers run into another byte, or into the end of msg, is not a query.
//
// ok is true when a query was found, even if it offers neither 3 nor 4
// ("?OTR?", "?OTRv?", "?OTRv2?"): the receiver then does not reply. The
// syntactically invalid "?OTRv?4?" of otrv4.md is therefore found as the
// bizarre "?OTRv?" followed by the text "4?", with no version.
func ParseQuery(msg string) (v Versions, ok bool) {
	for i := 0; ; {
		j := strings.Index(msg[i:], QueryPrefix)
		if j < 0 {
			return 0, false
		}
		start := i + j + len(QueryPrefix)
		if v, ok := parseQueryAt(msg[start:]); ok {
			return v, true
		}
		i = start
	}
}

// parseQueryAt parses what follows "?OTR".
func parseQueryAt(s string) (Versions, bool) {
	v1 := false
	if strings.HasPrefix(s, string(QueryEnd)) {
		v1 = true
		s = s[1:]
	}
	if !strings.HasPrefix(s, "v") {
		// "?OTR?" alone asks for version 1 only.
		return 0, v1
	}
	var v Versions
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == QueryEnd {
			return v, true
		}
		if c <= ' ' || c > '~' {
			break
		}
		if c >= '0' && c <= '9' {
			v = v.With(int(c - '0'))
		}
	}
	// "?OTR?v" without a terminated version list: still the version 1
	// query "?OTR?" followed by text.
	return 0, v1
}
