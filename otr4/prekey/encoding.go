package prekey

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/fragment"
)

// Encode returns the transmitted form of a message ("Encoded Messages"):
// the base-64 encoding of its binary form followed by ".".
func Encode(msg []byte) string {
	return base64.StdEncoding.EncodeToString(msg) + "."
}

// MaxEncodedLen bounds the encoded messages Decode accepts: a
// publication of 255 prekey messages is about 160 KB encoded.
const MaxEncodedLen = 4 << 20

// Decode reverses Encode. It accepts only padded standard base-64 ending
// in a single ".", with no whitespace.
func Decode(s string) ([]byte, error) {
	if len(s) > MaxEncodedLen {
		return nil, fmt.Errorf("%w: %d bytes encoded", ErrTooLarge, len(s))
	}
	body, ok := strings.CutSuffix(s, ".")
	if !ok {
		return nil, fmt.Errorf("%w: encoded message does not end with '.'", ErrMalformed)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(body)
	if err != nil || strings.ContainsAny(body, "\r\n") {
		return nil, fmt.Errorf("%w: base-64: %v", ErrMalformed, err)
	}
	return b, nil
}

// IsFragment reports whether s is (or claims to be) a "?OTRP|" fragment.
func IsFragment(s string) bool { return strings.HasPrefix(s, fragment.PrefixPrekey) }

// Fragment splits an encoded message into "?OTRP|" fragments of at most
// maxSize bytes ("Transmitting Fragments"), with a random identifier. A
// message that fits is returned as is. sender and receiver are the instance
// tags (0 where unknown, as for the server's own messages). A nil rand
// means crypto/rand.
func Fragment(rnd io.Reader, encoded string, maxSize int, sender, receiver otr4.InstanceTag) ([]string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var id [4]byte
	if _, err := io.ReadFull(rnd, id[:]); err != nil {
		return nil, fmt.Errorf("prekey: fragment identifier: %w", err)
	}
	out, err := fragment.FormatPrekey.Split(encoded, maxSize, binary.BigEndian.Uint32(id[:]), uint32(sender), uint32(receiver))
	if err != nil {
		return nil, fmt.Errorf("prekey: %w", err)
	}
	return out, nil
}

// Assembler reassembles "?OTRP|" fragments from one correspondent
// ("Receiving Fragments") with bounded memory. It is not safe for
// concurrent use.
type Assembler struct {
	a *fragment.Assembler
}

// NewAssembler returns an assembler for the instance with tag own (0 for
// the server, which then accepts any receiver tag), holding at most
// maxMessage bytes per reassembled message (0 means MaxEncodedLen).
func NewAssembler(own otr4.InstanceTag, maxMessage int) *Assembler {
	if maxMessage <= 0 {
		maxMessage = MaxEncodedLen
	}
	lim := fragment.Limits{MaxMessageBytes: maxMessage, MaxBufferedBytes: 2 * maxMessage, MaxPending: 8}
	return &Assembler{a: fragment.NewAssembler(uint32(own), lim)}
}

// Add processes one received fragment. When it completes a message it
// returns the encoded message and true. A fragment that would make a
// message (or the buffered fragments) exceed the limits gives ErrTooLarge
// and discards that partial message; other rejected fragments give
// ErrMalformed.
func (a *Assembler) Add(frag string, now time.Time) (string, bool, error) {
	if !IsFragment(frag) {
		return "", false, fmt.Errorf("%w: not a ?OTRP| fragment", ErrMalformed)
	}
	msg, done, err := a.a.Add(frag, now)
	if errors.Is(err, fragment.ErrLimit) {
		return "", false, fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	if err != nil {
		return "", false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return msg, done, nil
}

// Pending returns the number of partial messages held.
func (a *Assembler) Pending() int { return a.a.Pending() }

// Buffered returns the bytes of the fragments held for partial messages.
func (a *Assembler) Buffered() int { return a.a.Buffered() }
