package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/otrchat/otrchat/session"
)

// tagString prints an instance tag as everywhere in otrchat: 8 hex digits.
func tagString(tag uint32) string { return fmt.Sprintf("%08x", tag) }

// deviceName is "label 1a2b3c4d", or the tag alone when the label is unknown.
func deviceName(d session.Device) string {
	if d.Label == "" {
		return tagString(d.Tag)
	}
	return d.Label + " " + tagString(d.Tag)
}

// trustWord is a trust level in one word, as the screen and line mode show it.
func trustWord(l session.TrustLevel) string {
	switch l {
	case session.Verified:
		return "verified"
	case session.Assumed:
		return "unverified"
	}
	return "untrusted"
}

// trustToken is the line-mode token of a trust level.
func trustToken(l session.TrustLevel) string {
	switch l {
	case session.Verified:
		return "verified"
	case session.Assumed:
		return "assumed"
	}
	return "untrusted"
}

// trustGlyph is the roster's one-glance mark: ✔ verified, ? trusted without
// verification, ! untrusted.
func trustGlyph(l session.TrustLevel) string {
	switch l {
	case session.Verified:
		return "✔"
	case session.Assumed:
		return "?"
	}
	return "!"
}

// normalizeFingerprint drops spaces, colons and case: what a user pastes
// compares equal to what the session layer prints.
func normalizeFingerprint(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'f':
			b.WriteRune(r)
		case r == ' ' || r == ':' || r == '-' || r == '\t':
		default:
			return ""
		}
	}
	return b.String()
}

// groupFingerprint prints a normalized fingerprint in groups of 8 hex digits.
func groupFingerprint(hex string) string {
	var groups []string
	for len(hex) > 8 {
		groups = append(groups, hex[:8])
		hex = hex[8:]
	}
	return strings.Join(append(groups, hex), " ")
}

// parseTag reads an instance tag as printed: hexadecimal, optionally after
// "#" or "0x".
func parseTag(s string) (uint32, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(s), "#"), "0x")
	if s == "" || len(s) > 8 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil || v < 0x100 {
		return 0, false
	}
	return uint32(v), true
}

// lineValue quotes a line-mode value unless it is one bare token.
func lineValue(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@/:,+-#", r)) {
			return strconv.Quote(s)
		}
	}
	return s
}

// yesNo is a line-mode boolean.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
