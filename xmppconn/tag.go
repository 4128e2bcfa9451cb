package xmppconn

import (
	"fmt"
	"strconv"
)

// FormatTag encodes an OTRv4 instance tag the way otrchat writes it in XML:
// "0x" and eight lowercase hexadecimal digits.
func FormatTag(tag uint32) string { return fmt.Sprintf("0x%08x", tag) }

// ParseTag is the strict inverse of FormatTag: it accepts exactly "0x" and
// eight lowercase hexadecimal digits, for a value of at least MinInstanceTag.
func ParseTag(s string) (uint32, error) {
	if len(s) != 10 || s[0] != '0' || s[1] != 'x' {
		return 0, fmt.Errorf("%w: %q", ErrBadTag, truncate(s))
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return 0, fmt.Errorf("%w: %q", ErrBadTag, truncate(s))
		}
	}
	v, err := strconv.ParseUint(s[2:], 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrBadTag, truncate(s))
	}
	if v < MinInstanceTag {
		return 0, fmt.Errorf("%w: %s is reserved (below 0x00000100)", ErrBadTag, s)
	}
	return uint32(v), nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
