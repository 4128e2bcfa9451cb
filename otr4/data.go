package otr4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/otrchat/otrchat/otr4/internal/kdf"
	"github.com/otrchat/otrchat/otr4/internal/query"
	"github.com/otrchat/otrchat/otr4/internal/ratchet"
	"github.com/otrchat/otrchat/otr4/internal/smp"
)

// encodePlaintext assembles the human-readable part, a NUL and the TLVs.
func encodePlaintext(text string, tlvs []TLV) ([]byte, error) {
	if bytes.IndexByte([]byte(text), 0) >= 0 {
		return nil, errors.New("otr4: message text contains a NUL byte")
	}
	b := []byte(text)
	if len(tlvs) > 0 {
		b = append(b, 0)
		for _, t := range tlvs {
			if len(t.Value) > 0xFFFF {
				return nil, fmt.Errorf("otr4: TLV %d value of %d bytes is too long", t.Type, len(t.Value))
			}
			b = binary.BigEndian.AppendUint16(b, t.Type)
			b = binary.BigEndian.AppendUint16(b, uint16(len(t.Value)))
			b = append(b, t.Value...)
		}
	}
	if len(b) > maxPlaintext {
		return nil, errors.New("otr4: message too long")
	}
	return b, nil
}

// decodePlaintext splits a decrypted plaintext into its human-readable part
// and TLVs. A corrupted TLV stops TLV processing; the TLVs before it are
// kept ("TLV Record Types"). It reports whether a TLV was corrupted.
func decodePlaintext(b []byte) (text string, tlvs []TLV, corrupted bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil, false
	}
	text, b = string(b[:i]), b[i+1:]
	for len(b) > 0 {
		if len(b) < 4 {
			return text, tlvs, true
		}
		typ, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if len(b) < 4+n {
			return text, tlvs, true
		}
		tlvs = append(tlvs, TLV{Type: typ, Value: append([]byte(nil), b[4:4+n]...)})
		b = b[4+n:]
	}
	return text, tlvs, false
}

// Send encrypts a message with optional TLVs. In START, WAITING_AUTH_R and
// WAITING_AUTH_I it is queued until the DAKE finishes; in FINISHED it is
// refused with ErrFinished.
func (c *Conversation) Send(text string, tlvs ...TLV) (*Message, error) {
	out := new(Message)
	if err := c.checkDAKETimeout(out); err != nil {
		return out, err
	}
	switch c.state {
	case StateEncrypted:
		if err := c.expireIfDue(out); err != nil {
			return out, err
		}
		if c.state == StateEncrypted {
			return out, c.sendData(out, text, tlvs, 0)
		}
		return out, ErrFinished
	case StateFinished:
		return out, ErrFinished
	default:
		if len(c.queue) >= maxQueued {
			return out, ErrQueueFull
		}
		if _, err := encodePlaintext(text, tlvs); err != nil {
			return out, err
		}
		c.queue = append(c.queue, queuedSend{text: text, tlvs: tlvs})
		out.Events = append(out.Events, Event{Kind: EventQueued})
		return out, nil
	}
}

// sendData seals and appends one data message.
func (c *Conversation) sendData(out *Message, text string, tlvs []TLV, flags byte) error {
	_, err := c.sealData(out, text, tlvs, flags)
	return err
}

func (c *Conversation) sealData(out *Message, text string, tlvs []TLV, flags byte) ([]byte, error) {
	if c.rat == nil {
		return nil, ErrNoConversation
	}
	pt, err := encodePlaintext(text, tlvs)
	if err != nil {
		return nil, err
	}
	sealed, err := c.rat.Seal(uint32(c.cfg.InstanceTag), uint32(c.theirTag), flags, pt)
	clear(pt)
	if err != nil {
		return nil, err
	}
	c.noteSteps()
	c.lastSent = c.now()
	return sealed.ExtraKey, c.send(out, sealed.Message.Marshal())
}

func (c *Conversation) noteSteps() {
	if s := c.rat.Steps(); s != c.steps {
		c.steps = s
		c.lastKeyTime = c.now()
	}
}

// SendExtraKey sends a TLV 7 asking the peer to use the extra symmetric key
// for usage (the 4-byte use indication) with use-specific data, and returns
// the key (64 bytes) for the caller's own use.
func (c *Conversation) SendExtraKey(usage uint32, data []byte) (*Message, []byte, error) {
	out := new(Message)
	if c.state != StateEncrypted {
		return out, nil, ErrNotEncrypted
	}
	v := binary.BigEndian.AppendUint32(nil, usage)
	v = append(v, data...)
	key, err := c.sealData(out, "", []TLV{{Type: TLVExtraSymmetricKey, Value: v}}, flagIgnoreUnreadable)
	return out, key, err
}

// receiveData follows "Receiving a Data Message".
func (c *Conversation) receiveData(out *Message, b []byte) error {
	m, err := ratchet.ParseDataMessage(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedMessage, err)
	}
	if InstanceTag(m.Receiver) != c.cfg.InstanceTag {
		return fmt.Errorf("%w: data message for %v", ErrWrongInstance, InstanceTag(m.Receiver))
	}
	if c.state != StateEncrypted {
		if c.oldRat != nil {
			// A message of the previous session, delayed or still sent
			// while the peer knows nothing of this DAKE (an Identity
			// message we received may be forged or replayed).
			if err := c.openWith(out, c.oldRat, m); err == nil {
				return nil
			}
		}
		if c.state == StateWaitingAuthI {
			// Possibly the first ratchet after the DAKE, ahead of Auth-I.
			return c.storeEarly(out, m)
		}
		if m.Flags&flagIgnoreUnreadable == 0 {
			out.ToSend = append(out.ToSend, query.ErrorMessage(query.ErrorNotInPrivate))
		}
		out.Events = append(out.Events, Event{Kind: EventUnreadable, Err: ErrNotEncrypted,
			IgnoreUnreadable: m.Flags&flagIgnoreUnreadable != 0})
		return errSilent
	}
	return c.openData(out, m)
}

// openData decrypts m in ENCRYPTED_MESSAGES and handles its TLVs.
func (c *Conversation) openData(out *Message, m *ratchet.DataMessage) error {
	err := c.openWith(out, c.rat, m)
	if err != nil && c.oldRat != nil {
		if c.openWith(out, c.oldRat, m) == nil {
			return nil
		}
	}
	if err != nil {
		ignore := m.Flags&flagIgnoreUnreadable != 0
		if !ignore {
			out.ToSend = append(out.ToSend, query.ErrorMessage(query.ErrorUnreadable))
		}
		out.Events = append(out.Events, Event{Kind: EventUnreadable, Err: err, IgnoreUnreadable: ignore})
		return fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	return nil
}

func (c *Conversation) openWith(out *Message, rat *ratchet.State, m *ratchet.DataMessage) error {
	opened, err := rat.Open(m)
	if err != nil {
		return err
	}
	if rat == c.rat {
		c.noteSteps()
	}
	text, tlvs, _ := decodePlaintext(opened.Plaintext)
	clear(opened.Plaintext)
	out.Text, out.Encrypted, out.TLVs = text, true, tlvs
	extra := opened.ExtraKey
	ended := false
	index := 0
	for i, t := range tlvs {
		switch {
		case t.Type == TLVDisconnected:
			ended = true
		case smp.IsSMPType(t.Type) && rat == c.rat:
			c.handleSMP(out, t)
		case t.Type == TLVExtraSymmetricKey && len(t.Value) >= 4:
			if index > 0 {
				// Further keys: KDF(index || context || previous key).
				extra = kdf.KDF(byte(i), 64, t.Value[:4], extra)
			}
			index++
			out.Events = append(out.Events, Event{Kind: EventExtraKey, Key: append([]byte(nil), extra...),
				Usage: binary.BigEndian.Uint32(t.Value), UseData: t.Value[4:]})
		}
	}
	if ended && rat == c.rat {
		c.finish(out)
		out.Events = append(out.Events, Event{Kind: EventPeerEnded})
		return nil
	}
	if ended && rat == c.oldRat {
		// The peer ended the previous session: it cannot come back.
		if c.oldLive && inDAKE(c.state) {
			// It was the conversation we were in; the DAKE goes on.
			out.Events = append(out.Events, Event{Kind: EventPeerEnded})
		}
		c.dropOldRatchet()
		return nil
	}
	if rat != c.rat || c.state != StateEncrypted || c.cfg.HeartbeatInterval <= 0 {
		return nil
	}
	// A heartbeat answers a message shown to the user when we have been
	// quiet for HeartbeatInterval, and any message once a batch of MAC
	// keys waits to be revealed, so that they leave in bounded batches.
	due := c.now().Sub(c.lastSent) >= c.cfg.HeartbeatInterval && (text != "" || len(tlvs) > 0)
	if due || c.rat.PendingReveal() >= ratchet.RevealBatch {
		if err := c.sendData(out, "", nil, flagIgnoreUnreadable); err != nil {
			return err
		}
	}
	return nil
}

// finish erases the session keys and moves to FINISHED (TLV 1 received).
func (c *Conversation) finish(out *Message) {
	if c.rat != nil {
		c.rat.Erase()
		c.rat = nil
	}
	c.smp.Reset()
	c.setState(out, StateFinished)
}

// End ends the conversation ("User requests to end an OTRv4 Conversation"):
// in ENCRYPTED_MESSAGES it sends a TLV 1 and erases the keys. The TLV 1
// reveals every MAC key still unrevealed; when they do not fit in one
// message, heartbeats carrying them come first. A DAKE that interrupted a
// session ends that session the same way. Data messages kept for a DAKE
// are reported dropped.
func (c *Conversation) End() (*Message, error) {
	out := new(Message)
	var err error
	switch c.state {
	case StateEncrypted:
		err = c.sealLast(out)
		c.smp.Reset()
		c.setState(out, StateStart)
	case StateFinished:
		c.setState(out, StateStart)
	case StateWaitingAuthR, StateWaitingAuthI:
		c.wipeDAKE()
		if c.oldLive && c.oldRat != nil {
			// The DAKE interrupted a session the peer may still be in:
			// end that one as if we were still in it.
			c.rat, c.oldRat = c.oldRat, nil
			err = c.sealLast(out)
		}
		c.setState(out, StateStart)
	}
	c.dropOldRatchet()
	c.queue = nil
	c.dropEarly(out, errEnded)
	return out, err
}

var errEnded = errors.New("otr4: the conversation was ended")

// sealLast sends a TLV 1 that reveals every MAC key still unrevealed,
// those of the stored message keys included, preceded by heartbeats when
// they do not fit in one message, and erases the session keys.
func (c *Conversation) sealLast(out *Message) error {
	pt, _ := encodePlaintext("", []TLV{{Type: TLVDisconnected}})
	sealed, err := c.rat.SealAndErase(uint32(c.cfg.InstanceTag), uint32(c.theirTag), flagIgnoreUnreadable, pt)
	c.rat = nil
	for _, s := range sealed {
		clear(s.ExtraKey)
		if err == nil {
			err = c.send(out, s.Message.Marshal())
		}
	}
	return err
}

// Tick lets the conversation act on the passage of time: it expires the
// session when no new ECDH key was made for SessionExpiry ("Session
// Expiration"), abandons a DAKE older than DAKETimeout and drops (and
// reports) early data messages kept too long. Call it periodically.
func (c *Conversation) Tick() (*Message, error) {
	out := new(Message)
	var kept []storedData
	c.earlyBytes = 0
	for _, e := range c.early {
		if c.now().Sub(e.at) <= c.cfg.StoreEarlyDataFor {
			kept = append(kept, e)
			c.earlyBytes += e.size
		} else {
			reportDropped(out, e.msg, ErrEarlyDataExpired)
		}
	}
	c.early = kept
	if err := c.checkDAKETimeout(out); err != nil {
		return out, err
	}
	return out, c.expireIfDue(out)
}

func (c *Conversation) expireIfDue(out *Message) error {
	if c.state != StateEncrypted || c.cfg.SessionExpiry < 0 || c.now().Sub(c.lastKeyTime) < c.cfg.SessionExpiry {
		return nil
	}
	// Reveal the MAC keys of every stored message key with a TLV 1, then
	// erase everything.
	err := c.sealLast(out)
	c.smp.Reset()
	c.dropOldRatchet()
	c.setState(out, StateFinished)
	out.Events = append(out.Events, Event{Kind: EventSessionExpired})
	return err
}
