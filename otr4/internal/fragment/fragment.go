// Package fragment splits encoded OTR messages into fragments and reassembles
// received fragments, as described in otrv4.md "Fragmentation" ("Transmitting
// Fragments", "Receiving Fragments"), in the "Fragmentation" section of
// otrv3-protocol.txt (for the OTRv3-compatible mode) and in
// otrv4-prekey-server.md "Fragmentation of some Messages".
//
// Four wire formats are supported:
//
//	FormatV4:     ?OTR|identifier|sender|receiver,index,total,piece,
//	FormatV3:     ?OTR|sender|receiver,k,n,piece,
//	FormatV2:     ?OTR,k,n,piece,
//	FormatPrekey: ?OTRP|identifier|sender|receiver,index,total,piece,
//
// Parsing is strict: hexadecimal fields have 1 to 8 digits, index and total 1
// to 5 decimal digits (no sign, no spaces), 1 <= index <= total <= 65535, the
// piece is non-empty and contains no comma, and the fragment ends with exactly
// one comma. An Assembler reassembles FormatV4 and FormatPrekey fragments in
// any order, and FormatV3 and FormatV2 fragments in order as the OTRv3 text
// prescribes, with bounded memory and no clock of its own.
package fragment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors returned by this package. Callers branch on them with errors.Is; the
// returned errors wrap them with details.
var (
	// ErrMalformed: the string is not a well-formed fragment, or its index
	// and total are illegal (index 0, total 0, index > total).
	ErrMalformed = errors.New("fragment: malformed fragment")
	// ErrInstanceTag: a sender instance tag below 0x100, or a receiver
	// instance tag that is neither 0 nor at least 0x100.
	ErrInstanceTag = errors.New("fragment: invalid instance tag")
	// ErrNotForUs: the receiver instance tag is neither 0 nor our own.
	ErrNotForUs = errors.New("fragment: fragment is for another instance")
	// ErrDuplicate: the position of this fragment has already been filled.
	ErrDuplicate = errors.New("fragment: duplicate fragment")
	// ErrInconsistent: the fragment does not fit the partial message it
	// belongs to (another total, or out of sequence for FormatV3 and
	// FormatV2); that partial message has been discarded.
	ErrInconsistent = errors.New("fragment: fragment inconsistent with buffered message")
	// ErrLimit: accepting the fragment would exceed a configured Limit.
	ErrLimit = errors.New("fragment: limit exceeded")
	// ErrMaxSize: Split cannot fit the message into fragments of the given
	// maximum size (too small for a header and one byte, or more than
	// 65535 fragments would be needed).
	ErrMaxSize = errors.New("fragment: maximum message size too small")
	// ErrCannotSplit: the message cannot be fragmented (empty, contains a
	// comma, or is itself a fragment).
	ErrCannotSplit = errors.New("fragment: message cannot be fragmented")
)

// Format is one of the fragment wire formats.
type Format uint8

// The fragment formats.
const (
	FormatV4     Format = iota + 1 // ?OTR|identifier|sender|receiver,index,total,piece,
	FormatV3                       // ?OTR|sender|receiver,k,n,piece,
	FormatV2                       // ?OTR,k,n,piece,
	FormatPrekey                   // ?OTRP|identifier|sender|receiver,index,total,piece,
)

// String returns the name of the format.
func (f Format) String() string {
	switch f {
	case FormatV4:
		return "v4"
	case FormatV3:
		return "v3"
	case FormatV2:
		return "v2"
	case FormatPrekey:
		return "prekey"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

func (f Format) valid() bool { return f >= FormatV4 && f <= FormatPrekey }

// hasIdentifier reports whether the format carries an identifier field.
func (f Format) hasIdentifier() bool { return f == FormatV4 || f == FormatPrekey }

// hasTags reports whether the format carries instance tags.
func (f Format) hasTags() bool { return f != FormatV2 }

func (f Format) overhead() int {
	switch f {
	case FormatV4:
		return overheadV4
	case FormatV3:
		return overheadV3
	case FormatV2:
		return overheadV2
	case FormatPrekey:
		return overheadPrekey
	}
	return 0
}

// Fragment is one parsed fragment. Fields a format does not carry are zero.
type Fragment struct {
	Format     Format
	Identifier uint32 // FormatV4 and FormatPrekey only
	Sender     uint32 // sender instance tag; not in FormatV2
	Receiver   uint32 // receiver instance tag; not in FormatV2
	Index      uint16 // 1-based position, "index" or "k"
	Total      uint16 // number of pieces, "total" or "n"
	Piece      string // non-empty, without commas
}

// String encodes f in the canonical form written by Split: hexadecimal fields
// with 8 lower-case digits and index and total with 5 decimal digits. It does
// not validate f.
func (f Fragment) String() string {
	var b strings.Builder
	b.Grow(f.Format.overhead() + len(f.Piece))
	switch f.Format {
	case FormatV4:
		fmt.Fprintf(&b, "%s%08x|%08x|%08x,", PrefixV4, f.Identifier, f.Sender, f.Receiver)
	case FormatV3:
		fmt.Fprintf(&b, "%s%08x|%08x,", PrefixV3, f.Sender, f.Receiver)
	case FormatV2:
		b.WriteString(PrefixV2)
	case FormatPrekey:
		fmt.Fprintf(&b, "%s%08x|%08x|%08x,", PrefixPrekey, f.Identifier, f.Sender, f.Receiver)
	default:
		return fmt.Sprintf("fragment.Fragment{Format: %v}", f.Format)
	}
	fmt.Fprintf(&b, "%05d,%05d,%s%s", f.Index, f.Total, f.Piece, Terminator)
	return b.String()
}

// IsFragment reports whether s starts with one of the fragment prefixes
// ("?OTR|", "?OTR," or "?OTRP|"). It does not validate the rest; Parse does.
// Receivers check for fragments before any other "?OTR" marker.
func IsFragment(s string) bool {
	return strings.HasPrefix(s, PrefixV4) || strings.HasPrefix(s, PrefixV2) ||
		strings.HasPrefix(s, PrefixPrekey)
}

// Parse parses one fragment strictly and checks that 1 <= index <= total and
// that instance tags are valid: for FormatV4 and FormatV3 the sender tag is at
// least 0x100; for every format with tags the receiver tag is 0 or at least
// 0x100. (FormatPrekey sender tags are not checked: the prekey server's
// messages need not carry one.) Errors wrap ErrMalformed or ErrInstanceTag.
func Parse(s string) (Fragment, error) {
	var f Fragment
	var rest string
	switch {
	case strings.HasPrefix(s, PrefixPrekey):
		f.Format = FormatPrekey
		rest = s[len(PrefixPrekey):]
	case strings.HasPrefix(s, PrefixV4):
		rest = s[len(PrefixV4):]
	case strings.HasPrefix(s, PrefixV2):
		f.Format = FormatV2
		rest = s[len(PrefixV2):]
	default:
		return Fragment{}, fmt.Errorf("%w: no fragment prefix", ErrMalformed)
	}
	if f.Format != FormatV2 {
		var h [3]uint32
		n := 0
		for {
			if n == len(h) {
				return Fragment{}, fmt.Errorf("%w: too many '|' fields", ErrMalformed)
			}
			var err error
			h[n], rest, err = hexField(rest)
			if err != nil {
				return Fragment{}, err
			}
			n++
			if rest == "" {
				return Fragment{}, fmt.Errorf("%w: truncated header", ErrMalformed)
			}
			sep := rest[0]
			rest = rest[1:]
			if sep == ',' {
				break
			}
			if sep != '|' {
				return Fragment{}, fmt.Errorf("%w: unexpected %q in header", ErrMalformed, sep)
			}
		}
		switch {
		case n == 3:
			if f.Format == 0 {
				f.Format = FormatV4
			}
			f.Identifier, f.Sender, f.Receiver = h[0], h[1], h[2]
		case n == 2 && f.Format == 0:
			f.Format = FormatV3
			f.Sender, f.Receiver = h[0], h[1]
		default:
			return Fragment{}, fmt.Errorf("%w: %d header fields", ErrMalformed, n)
		}
	}
	var err error
	if f.Index, rest, err = decField(rest, "index"); err != nil {
		return Fragment{}, err
	}
	if f.Total, rest, err = decField(rest, "total"); err != nil {
		return Fragment{}, err
	}
	if !strings.HasSuffix(rest, Terminator) {
		return Fragment{}, fmt.Errorf("%w: missing trailing comma", ErrMalformed)
	}
	f.Piece = rest[:len(rest)-len(Terminator)]
	if f.Piece == "" {
		return Fragment{}, fmt.Errorf("%w: empty piece", ErrMalformed)
	}
	if strings.Contains(f.Piece, ",") {
		return Fragment{}, fmt.Errorf("%w: comma in piece or text after the fragment", ErrMalformed)
	}
	if f.Index == 0 || f.Total == 0 || f.Index > f.Total {
		return Fragment{}, fmt.Errorf("%w: index %d of total %d", ErrMalformed, f.Index, f.Total)
	}
	if err := checkTags(f.Format, f.Sender, f.Receiver); err != nil {
		return Fragment{}, err
	}
	return f, nil
}

func checkTags(format Format, sender, receiver uint32) error {
	if !format.hasTags() {
		return nil
	}
	if format != FormatPrekey && sender < MinInstanceTag {
		return fmt.Errorf("%w: sender instance tag %#x", ErrInstanceTag, sender)
	}
	if receiver != 0 && receiver < MinInstanceTag {
		return fmt.Errorf("%w: receiver instance tag %#x", ErrInstanceTag, receiver)
	}
	return nil
}

// hexField reads 1 to 8 hexadecimal digits from the start of s.
func hexField(s string) (uint32, string, error) {
	var v uint32
	i := 0
	for ; i < len(s); i++ {
		d, ok := unhex(s[i])
		if !ok {
			break
		}
		if i == hexWidth {
			return 0, "", fmt.Errorf("%w: hexadecimal field longer than %d digits", ErrMalformed, hexWidth)
		}
		v = v<<4 | uint32(d)
	}
	if i == 0 {
		return 0, "", fmt.Errorf("%w: missing hexadecimal field", ErrMalformed)
	}
	return v, s[i:], nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decField reads 1 to 5 decimal digits with a value of at most 65535 followed
// by a comma from the start of s.
func decField(s, name string) (uint16, string, error) {
	var v uint32
	i := 0
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		if i == decWidth {
			return 0, "", fmt.Errorf("%w: %s longer than %d digits", ErrMalformed, name, decWidth)
		}
		v = v*10 + uint32(s[i]-'0')
	}
	if i == 0 {
		return 0, "", fmt.Errorf("%w: missing %s", ErrMalformed, name)
	}
	if v > MaxTotal {
		return 0, "", fmt.Errorf("%w: %s %d above %d", ErrMalformed, name, v, MaxTotal)
	}
	if i == len(s) || s[i] != ',' {
		return 0, "", fmt.Errorf("%w: %s not followed by a comma", ErrMalformed, name)
	}
	return uint16(v), s[i+1:], nil
}

// RandomIdentifier reads a fragment identifier, "a unique randomly generated
// 4-byte value", from rand (crypto/rand.Reader in production).
func RandomIdentifier(rand io.Reader) (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return 0, fmt.Errorf("fragment: reading identifier: %w", err)
	}
	return binary.BigEndian.Uint32(b[:]), nil
}

// Split fragments msg in FormatV4 for a network whose maximum message size is
// maxSize bytes. See Format.Split.
func Split(msg string, maxSize int, identifier, sender, receiver uint32) ([]string, error) {
	return FormatV4.Split(msg, maxSize, identifier, sender, receiver)
}

// Split fragments msg, an encoded OTR message, into fragments of format f
// that are each at most maxSize bytes long. A message that already fits is
// returned unchanged as the only element. identifier is a random value chosen
// by the caller, unique while the message is in transit; it is ignored by
// FormatV3 and FormatV2, and FormatV2 ignores the instance tags as well.
// When msg is valid UTF-8 it is cut only between runes.
//
// Errors wrap ErrMaxSize when not even one fragment fits or more than 65535
// would be needed, ErrCannotSplit when msg is empty, contains a comma or is a
// fragment, and ErrInstanceTag for invalid instance tags.
func (f Format) Split(msg string, maxSize int, identifier, sender, receiver uint32) ([]string, error) {
	if !f.valid() {
		return nil, fmt.Errorf("fragment: unknown format %v", f)
	}
	if msg == "" {
		return nil, fmt.Errorf("%w: empty message", ErrCannotSplit)
	}
	if IsFragment(msg) {
		return nil, fmt.Errorf("%w: message is a fragment", ErrCannotSplit)
	}
	if err := checkTags(f, sender, receiver); err != nil {
		return nil, err
	}
	if maxSize <= 0 {
		return nil, fmt.Errorf("%w: %d", ErrMaxSize, maxSize)
	}
	if len(msg) <= maxSize {
		return []string{msg}, nil
	}
	if strings.Contains(msg, ",") {
		return nil, fmt.Errorf("%w: message contains a comma", ErrCannotSplit)
	}
	room := maxSize - f.overhead()
	if room < 1 {
		return nil, fmt.Errorf("%w: %d bytes leave no room after a %d-byte header", ErrMaxSize, maxSize, f.overhead())
	}
	runes := utf8.ValidString(msg)
	var pieces []string
	for rest := msg; rest != ""; {
		n := min(room, len(rest))
		if runes {
			for n > 0 && n < len(rest) && !utf8.RuneStart(rest[n]) {
				n--
			}
			if n == 0 {
				return nil, fmt.Errorf("%w: %d bytes of room cannot hold one character", ErrMaxSize, room)
			}
		}
		if len(pieces) == MaxTotal {
			return nil, fmt.Errorf("%w: more than %d fragments needed", ErrMaxSize, MaxTotal)
		}
		pieces = append(pieces, rest[:n])
		rest = rest[n:]
	}
	if f == FormatV2 {
		sender, receiver = 0, 0
	}
	if !f.hasIdentifier() {
		identifier = 0
	}
	out := make([]string, len(pieces))
	for i, p := range pieces {
		out[i] = Fragment{
			Format: f, Identifier: identifier, Sender: sender, Receiver: receiver,
			Index: uint16(i + 1), Total: uint16(len(pieces)), Piece: p,
		}.String()
	}
	return out, nil
}
