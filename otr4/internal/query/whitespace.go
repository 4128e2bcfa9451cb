package query

import "strings"

// AppendWhitespaceTag returns plaintext followed by a whitespace tag offering
// the versions in v: WhitespaceTagBase, then WhitespaceTagV3 and/or
// WhitespaceTagV4, in that order. With no version in v, there is no tag to
// send ("followed by one or more" version tags) and plaintext is returned
// unchanged.
func AppendWhitespaceTag(plaintext string, v Versions) string {
	if v&supported == 0 {
		return plaintext
	}
	var b strings.Builder
	b.Grow(len(plaintext) + len(WhitespaceTagBase) + 2*whitespaceVersionTagLen)
	b.WriteString(plaintext)
	b.WriteString(WhitespaceTagBase)
	if v.Has(3) {
		b.WriteString(WhitespaceTagV3)
	}
	if v.Has(4) {
		b.WriteString(WhitespaceTagV4)
	}
	return b.String()
}

// StripWhitespaceTag finds the first whitespace tag in msg: WhitespaceTagBase
// followed by one or more 8-byte version tags. Every 8-byte run of spaces and
// tabs after the base counts as a version tag (those of versions 1, 2 and of
// future versions are recognised and ignored, as libotr does). It returns msg
// without that tag, the versions 3 and 4 offered, and whether a tag was
// found. Later tags are left in plain ("only the first one should be
// considered as valid"). Without a tag, plain is msg.
func StripWhitespaceTag(msg string) (plain string, v Versions, found bool) {
	for i := 0; ; {
		j := strings.Index(msg[i:], WhitespaceTagBase)
		if j < 0 {
			return msg, 0, false
		}
		start := i + j
		end := start + len(WhitespaceTagBase)
		n := 0
		for end+whitespaceVersionTagLen <= len(msg) && isSpaceTab(msg[end:end+whitespaceVersionTagLen]) {
			switch msg[end : end+whitespaceVersionTagLen] {
			case WhitespaceTagV3:
				v |= Version3
			case WhitespaceTagV4:
				v |= Version4
			}
			end += whitespaceVersionTagLen
			n++
		}
		if n > 0 {
			return msg[:start] + msg[end:], v, true
		}
		i = start + 1
	}
}

func isSpaceTab(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}
