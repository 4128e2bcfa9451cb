package fragment

import (
	"fmt"
	"strings"
	"time"
)

// Limits bound the memory an Assembler uses. A zero or negative field takes
// its value from DefaultLimits.
type Limits struct {
	// MaxMessageBytes is the largest reassembled message, in bytes.
	MaxMessageBytes int
	// MaxBufferedBytes bounds the bytes held across all partial messages.
	// Each stored piece counts its length plus PieceOverhead, so a message
	// of n bytes in k pieces needs n + k*PieceOverhead of it.
	MaxBufferedBytes int
	// MaxPending is the most partial messages held at once.
	MaxPending int
	// MaxTotal is the largest total (number of fragments) accepted, at
	// most 65535.
	MaxTotal int
	// Expiry is how long a partial message is kept after its first
	// fragment arrived.
	Expiry time.Duration
}

// PieceOverhead is the bookkeeping cost, in bytes, counted against
// MaxBufferedBytes for every stored piece besides its length: roughly the
// piece's map entry and string header.
const PieceOverhead = 32

// DefaultLimits returns the limits used for zero fields: messages up to
// 1 MiB, 4 MiB buffered, 64 partial messages, totals up to 65535 and an
// expiry of 5 minutes.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageBytes:  1 << 20,
		MaxBufferedBytes: 4 << 20,
		MaxPending:       64,
		MaxTotal:         MaxTotal,
		Expiry:           5 * time.Minute,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = d.MaxMessageBytes
	}
	if l.MaxBufferedBytes <= 0 {
		l.MaxBufferedBytes = d.MaxBufferedBytes
	}
	if l.MaxPending <= 0 {
		l.MaxPending = d.MaxPending
	}
	if l.MaxTotal <= 0 || l.MaxTotal > MaxTotal {
		l.MaxTotal = d.MaxTotal
	}
	if l.Expiry <= 0 {
		l.Expiry = d.Expiry
	}
	return l
}

// key identifies a partial message. FormatV3 and FormatV2 have no identifier
// (it is 0) and FormatV2 no sender tag (it is 0).
type key struct {
	format     Format
	sender     uint32
	identifier uint32
}

// partial is a message whose fragments are arriving.
type partial struct {
	total   uint16
	pieces  map[uint16]string
	bytes   int // sum of piece lengths
	cost    int // bytes + PieceOverhead per piece
	created time.Time
	order   uint64 // creation order, for eviction of the oldest
}

// Assembler reassembles fragments received from one correspondent. Partial
// messages are kept per (format, sender instance tag, identifier); use one
// Assembler per correspondent (per account, or per client on the prekey
// server). FormatV4 and FormatPrekey fragments may arrive in any order;
// FormatV3 and FormatV2 fragments must arrive in order, as the OTRv3 text
// prescribes.
//
// When a new partial message or piece does not fit the limits, the oldest
// partial messages are discarded to make room (partial messages older than
// Limits.Expiry are discarded first, on every Add). An Assembler has no clock:
// the caller passes the current time to Add. It is not safe for concurrent
// use.
type Assembler struct {
	own      uint32
	limits   Limits
	partials map[key]*partial
	buffered int // sum of cost over partials
	next     uint64
}

// NewAssembler returns an Assembler for the instance whose own instance tag
// is ownTag: fragments addressed to another (non-zero) receiver instance tag
// are rejected with ErrNotForUs. An ownTag of 0 disables that check (for
// example on the prekey server, which has no instance tag).
func NewAssembler(ownTag uint32, limits Limits) *Assembler {
	return &Assembler{
		own:      ownTag,
		limits:   limits.withDefaults(),
		partials: make(map[key]*partial),
	}
}

// Pending returns the number of partial messages held.
func (a *Assembler) Pending() int { return len(a.partials) }

// Buffered returns the bytes held, counted as for Limits.MaxBufferedBytes.
func (a *Assembler) Buffered() int { return a.buffered }

// NoteUnfragmented tells the Assembler that a non-OTR or unfragmented message
// arrived. As otrv3-protocol.txt requires, stored FormatV3 and FormatV2
// fragments are forgotten; FormatV4 and FormatPrekey partial messages are
// kept, as otrv4.md requires.
func (a *Assembler) NoteUnfragmented() {
	for k := range a.partials {
		if k.format == FormatV3 || k.format == FormatV2 {
			a.drop(k)
		}
	}
}

// Add processes one received fragment at time now. When it completes a
// message, Add returns that message and done == true. Otherwise complete is
// empty and done is false; err is non-nil when the fragment was rejected:
// errors wrap ErrMalformed, ErrInstanceTag, ErrNotForUs, ErrDuplicate,
// ErrInconsistent or ErrLimit.
//
// A call with a well-formed fragment first discards the partial messages
// that have expired at now. Beyond that, a rejected fragment leaves the
// stored state unchanged, except that ErrInconsistent, and ErrLimit for a
// message that grew too large, discard the partial message concerned, as the
// spec's "forget any stored fragments of this buffer" does.
func (a *Assembler) Add(fragment string, now time.Time) (complete string, done bool, err error) {
	f, err := Parse(fragment)
	if err != nil {
		return "", false, err
	}
	a.expire(now)
	if a.own != 0 && f.Format.hasTags() && f.Receiver != 0 && f.Receiver != a.own {
		return "", false, fmt.Errorf("%w: receiver instance tag %#x, ours is %#x", ErrNotForUs, f.Receiver, a.own)
	}
	if int(f.Total) > a.limits.MaxTotal {
		return "", false, fmt.Errorf("%w: total %d above %d", ErrLimit, f.Total, a.limits.MaxTotal)
	}
	if len(f.Piece) > a.limits.MaxMessageBytes {
		return "", false, fmt.Errorf("%w: piece of %d bytes above the %d-byte message limit", ErrLimit, len(f.Piece), a.limits.MaxMessageBytes)
	}

	k := key{format: f.Format, sender: f.Sender, identifier: f.Identifier}
	p := a.partials[k]
	switch f.Format {
	case FormatV4, FormatPrekey:
		if p != nil {
			if p.total != f.Total {
				a.drop(k)
				return "", false, fmt.Errorf("%w: total %d, buffered message has %d", ErrInconsistent, f.Total, p.total)
			}
			if _, ok := p.pieces[f.Index]; ok {
				return "", false, fmt.Errorf("%w: index %d of identifier %#x", ErrDuplicate, f.Index, f.Identifier)
			}
		}
	case FormatV3, FormatV2:
		// "If k == 1: Forget any stored fragment you may have ... If
		// n == N and k == K+1: Append (piece) to F ... Otherwise:
		// Forget any stored fragment you may have".
		if f.Index == 1 {
			if p != nil {
				a.drop(k)
				p = nil
			}
		} else if p == nil || p.total != f.Total || int(f.Index) != len(p.pieces)+1 {
			if p != nil {
				a.drop(k)
			}
			return "", false, fmt.Errorf("%w: fragment %d of %d out of sequence", ErrInconsistent, f.Index, f.Total)
		}
	}

	if f.Total == 1 {
		return a.finish(f.Piece)
	}
	if p != nil && p.bytes+len(f.Piece) > a.limits.MaxMessageBytes {
		a.drop(k)
		return "", false, fmt.Errorf("%w: message longer than %d bytes", ErrLimit, a.limits.MaxMessageBytes)
	}
	cost := len(f.Piece) + PieceOverhead
	if p != nil && p.cost+cost > a.limits.MaxBufferedBytes {
		a.drop(k)
		return "", false, fmt.Errorf("%w: message does not fit the %d-byte buffer", ErrLimit, a.limits.MaxBufferedBytes)
	}
	if cost > a.limits.MaxBufferedBytes {
		return "", false, fmt.Errorf("%w: piece of %d bytes above the %d-byte buffer", ErrLimit, len(f.Piece), a.limits.MaxBufferedBytes)
	}
	// Make room by discarding the oldest other partial messages.
	for a.buffered+cost > a.limits.MaxBufferedBytes || (p == nil && len(a.partials) >= a.limits.MaxPending) {
		old, ok := a.oldest(k)
		if !ok { // unreachable given the checks above; kept as a guard
			return "", false, fmt.Errorf("%w: buffer full", ErrLimit)
		}
		a.drop(old)
	}
	if p == nil {
		p = &partial{total: f.Total, pieces: make(map[uint16]string), created: now, order: a.next}
		a.next++
		a.partials[k] = p
	}
	// Clone, so that the stored piece does not keep the whole received
	// string (header included) alive.
	p.pieces[f.Index] = strings.Clone(f.Piece)
	p.bytes += len(f.Piece)
	p.cost += cost
	a.buffered += cost
	if len(p.pieces) < int(p.total) {
		return "", false, nil
	}
	var b strings.Builder
	b.Grow(p.bytes)
	for i := 1; i <= int(p.total); i++ {
		b.WriteString(p.pieces[uint16(i)])
	}
	a.drop(k)
	return a.finish(b.String())
}

// finish checks a reassembled message: "you can't fragment a fragment".
func (a *Assembler) finish(msg string) (string, bool, error) {
	if len(msg) > a.limits.MaxMessageBytes {
		return "", false, fmt.Errorf("%w: message longer than %d bytes", ErrLimit, a.limits.MaxMessageBytes)
	}
	if IsFragment(msg) {
		return "", false, fmt.Errorf("%w: reassembled message is itself a fragment", ErrMalformed)
	}
	return msg, true, nil
}

// expire discards partial messages whose first fragment arrived more than
// Limits.Expiry before now. A now earlier than the first fragment (a clock
// that went backwards) expires nothing.
func (a *Assembler) expire(now time.Time) {
	for k, p := range a.partials {
		if now.Sub(p.created) > a.limits.Expiry {
			a.drop(k)
		}
	}
}

// oldest returns the oldest partial message other than except.
func (a *Assembler) oldest(except key) (key, bool) {
	var best key
	found := false
	var order uint64
	for k, p := range a.partials {
		if k == except {
			continue
		}
		if !found || p.order < order {
			best, order, found = k, p.order, true
		}
	}
	return best, found
}

func (a *Assembler) drop(k key) {
	if p, ok := a.partials[k]; ok {
		a.buffered -= p.cost
		delete(a.partials, k)
	}
}
