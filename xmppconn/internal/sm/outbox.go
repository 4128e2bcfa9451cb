package sm

import (
	"errors"
	"fmt"
)

// ErrTooManyAcked is returned by Outbox.Ack and Outbox.Resumed when the
// server acknowledges stanzas that were never sent (XEP-0198 §4: the
// handled-count-too-high condition).
var ErrTooManyAcked = errors.New("sm: server acknowledged more stanzas than were sent")

// Entry is a stanza written while stream management was on.
type Entry struct {
	Seq uint32 // its number in the stream's count (1 for the first)
	Element
}

// Outbox keeps the stanzas written since stream management was enabled that
// the server has not acknowledged yet, in order. Counting is modulo 2^32
// as in XEP-0198 §4. It is not safe for concurrent use.
type Outbox struct {
	on      bool
	sent    uint32 // stanzas counted since enable
	acked   uint32 // last h from the server
	entries []Entry
}

// Enable starts counting from zero and forgets everything kept.
func (o *Outbox) Enable() {
	*o = Outbox{on: true}
}

// Disable stops counting and returns what was never acknowledged.
func (o *Outbox) Disable() []Entry {
	e := o.entries
	*o = Outbox{}
	return e
}

// On reports whether stanzas are being counted.
func (o *Outbox) On() bool { return o.on }

// Sent records a written top-level element; only stanzas are counted. It
// returns the stanza's number, 0 when not counted.
func (o *Outbox) Sent(e Element) uint32 {
	if !o.on || !e.Stanza {
		return 0
	}
	o.sent++
	o.entries = append(o.entries, Entry{Seq: o.sent, Element: e})
	return o.sent
}

// Len returns the number of unacknowledged stanzas.
func (o *Outbox) Len() int { return len(o.entries) }

// Counts returns how many stanzas were sent and acknowledged (mod 2^32).
func (o *Outbox) Counts() (sent, acked uint32) { return o.sent, o.acked }

// Ack applies <a h=”/> and returns the stanzas it newly acknowledges.
func (o *Outbox) Ack(h uint32) ([]Entry, error) {
	if !o.on {
		return nil, nil
	}
	n := h - o.acked // modulo 2^32
	if uint64(n) > uint64(len(o.entries)) {
		return nil, fmt.Errorf("%w: h=%d, %d acknowledged before, %d outstanding", ErrTooManyAcked, h, o.acked, len(o.entries))
	}
	done := o.entries[:n:n]
	o.entries = o.entries[n:]
	o.acked = h
	return done, nil
}

// Resumed applies the h of <resumed/> (or of <failed h=”/>): it returns
// the stanzas now acknowledged and those the server never handled, which
// the caller must send again, in order. Counting goes on from h: the
// stanzas sent again are counted anew as they are written.
func (o *Outbox) Resumed(h uint32) (acked, resend []Entry, err error) {
	acked, err = o.Ack(h)
	if err != nil {
		return nil, nil, err
	}
	resend = o.entries
	o.entries = nil
	o.sent = h
	return acked, resend, nil
}
