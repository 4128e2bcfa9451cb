package otr3

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/query"
	"github.com/otrchat/otrchat/otr4/otr3/internal/message"
)

func encryptedGoPair(t *testing.T) (a, b *Conversation) {
	t.Helper()
	a, b = newPair(t)
	out, err := a.StartAKE()
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, a, b, out.ToSend)
	if a.State() != otr4.StateEncrypted || b.State() != otr4.StateEncrypted {
		t.Fatal("AKE failed")
	}
	return a, b
}

func decode(t *testing.T, wire string) *message.Data {
	t.Helper()
	raw, err := query.DecodeEncoded(wire)
	if err != nil {
		t.Fatal(err)
	}
	m, err := message.ParseData(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCrossingCommits: both sides start the AKE at once; the higher hashed
// gx wins and the AKE completes.
func TestCrossingCommits(t *testing.T) {
	a, b := newPair(t)
	oa, _ := a.StartAKE()
	ob, _ := b.StartAKE()
	ra, err := a.Receive(ob.ToSend[0])
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Receive(oa.ToSend[0])
	if err != nil {
		t.Fatal(err)
	}
	// Deliver both answers; duplicates that arrive after the AKE ended are
	// ignored with ErrUnexpected, as "Ignore the message" says.
	queue := []struct {
		to  *Conversation
		msg string
	}{}
	for _, m := range ra.ToSend {
		queue = append(queue, struct {
			to  *Conversation
			msg string
		}{b, m})
	}
	for _, m := range rb.ToSend {
		queue = append(queue, struct {
			to  *Conversation
			msg string
		}{a, m})
	}
	for n := 0; len(queue) > 0; n++ {
		if n > 50 {
			t.Fatal("does not settle")
		}
		q := queue[0]
		queue = queue[1:]
		out, err := q.to.Receive(q.msg)
		if err != nil && !errors.Is(err, otr4.ErrUnexpected) {
			t.Fatal(err)
		}
		other := a
		if q.to == a {
			other = b
		}
		for _, m := range out.ToSend {
			queue = append(queue, struct {
				to  *Conversation
				msg string
			}{other, m})
		}
	}
	if a.State() != otr4.StateEncrypted || b.State() != otr4.StateEncrypted {
		t.Fatalf("%v/%v %v/%v", a.State(), a.AuthState(), b.State(), b.AuthState())
	}
	o, _ := a.Send("after crossing")
	_, col := exchange(t, a, b, o.ToSend)
	if len(col.texts) != 1 {
		t.Fatal(col.texts)
	}
}

// TestRevealedMACKeys: once a key pair is forgotten, the receiving MAC keys
// it verified are published in the next data message, and they are the
// keys that authenticated the earlier messages (so anyone can forge them).
func TestRevealedMACKeys(t *testing.T) {
	a, b := encryptedGoPair(t)
	var sent []*message.Data
	var revealed []byte
	for i := 0; i < 6; i++ {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		o, err := from.Send("turn")
		if err != nil {
			t.Fatal(err)
		}
		m := decode(t, o.ToSend[0])
		if from == a {
			sent = append(sent, m)
		} else {
			revealed = append(revealed, m.OldMACKeys...)
		}
		if _, err := to.Receive(o.ToSend[0]); err != nil {
			t.Fatal(err)
		}
	}
	if len(revealed) == 0 || len(revealed)%message.MACSize != 0 {
		t.Fatalf("b revealed %d bytes", len(revealed))
	}
	// Every key b revealed authenticates one of a's earlier messages.
	for i := 0; i < len(revealed); i += message.MACSize {
		key := revealed[i : i+message.MACSize]
		found := false
		for _, m := range sent {
			found = found || bytes.Equal(hmacSHA1(key, m.Authenticated()), m.MAC)
		}
		if !found {
			t.Fatalf("revealed key %x authenticates none of a's messages", key)
		}
	}
}

func TestTamperedAndReplayed(t *testing.T) {
	a, b := encryptedGoPair(t)
	o, _ := a.Send("original")
	w := o.ToSend[0]
	raw, _ := query.DecodeEncoded(w)
	for i := 12; i < len(raw); i += 7 {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x40
		r, err := b.Receive(query.Encode(bad))
		if err == nil {
			t.Fatalf("byte %d flipped: accepted %q", i, r.Text)
		}
		if b.State() != otr4.StateEncrypted {
			t.Fatal("state changed")
		}
	}
	r, err := b.Receive(w)
	if err != nil || r.Text != "original" {
		t.Fatalf("%q %v", r.Text, err)
	}
	r, err = b.Receive(w)
	if !errors.Is(err, ErrCounter) || r.Events[0].Kind != otr4.EventUnreadable || len(r.ToSend) != 1 || !bytes.HasPrefix([]byte(r.ToSend[0]), []byte("?OTR Error:")) {
		t.Fatalf("replay: %v %+v", err, r)
	}
	// After all that, the conversation still works both ways.
	o, _ = b.Send("still fine")
	if r, err := a.Receive(o.ToSend[0]); err != nil || r.Text != "still fine" {
		t.Fatal(r, err)
	}
}

func TestWrongInstanceAndStates(t *testing.T) {
	a, b := encryptedGoPair(t)
	c, _ := NewConversation(Config{Key: testKey(t, 1), InstanceTag: 0x3000})
	o, _ := a.Send("for b")
	if _, err := c.Receive(o.ToSend[0]); !errors.Is(err, otr4.ErrWrongInstance) {
		t.Fatal(err)
	}
	// A data message in MSGSTATE_PLAINTEXT is unreadable.
	d, _ := NewConversation(Config{Key: testKey(t, 1), InstanceTag: 0x2000})
	if r, err := d.Receive(o.ToSend[0]); !errors.Is(err, otr4.ErrNotEncrypted) || len(r.ToSend) != 1 {
		t.Fatal(err)
	}
	// Plaintext while encrypted is shown with a warning.
	r, _ := b.Receive("psst")
	if r.Text != "psst" || r.Events[0].Kind != otr4.EventUnencrypted {
		t.Fatal(r)
	}
	// Messages typed before the AKE are queued and sent when it ends.
	e, f := newPair(t)
	q, _ := e.Send("early")
	if len(q.ToSend) != 0 || q.Events[0].Kind != otr4.EventQueued {
		t.Fatal(q)
	}
	out, _ := f.StartAKE()
	_, col := exchange(t, f, e, out.ToSend)
	_ = col
	if e.State() != otr4.StateEncrypted {
		t.Fatal(e.State())
	}
	if _, err := a.StartSMP("", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.StartSMP("", nil); !errors.Is(err, otr4.ErrNotEncrypted) {
		t.Fatal(err)
	}
}

func TestExtraKeyAgrees(t *testing.T) {
	a, b := encryptedGoPair(t)
	o, key, err := a.SendExtraKey(7, []byte("use"))
	if err != nil || len(key) != 32 {
		t.Fatal(err)
	}
	r, err := b.Receive(o.ToSend[0])
	if err != nil {
		t.Fatal(err)
	}
	var ev *otr4.Event
	for i := range r.Events {
		if r.Events[i].Kind == otr4.EventExtraKey {
			ev = &r.Events[i]
		}
	}
	if ev == nil || !bytes.Equal(ev.Key, key) || ev.Usage != 7 || string(ev.UseData) != "use" {
		t.Fatalf("%+v", r.Events)
	}
}

// TestHeartbeat: after reading a data message, a side that sent nothing
// for HeartbeatInterval answers with an empty IGNORE_UNREADABLE message,
// so that keys keep rotating.
func TestHeartbeat(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	a, _ := NewConversation(Config{Key: testKey(t, 0), InstanceTag: 0x1000, Now: clock})
	b, _ := NewConversation(Config{Key: testKey(t, 1), InstanceTag: 0x2000, Now: clock})
	out, _ := a.StartAKE()
	exchange(t, a, b, out.ToSend)
	o, _ := a.Send("one")
	r, err := b.Receive(o.ToSend[0])
	if err != nil || len(r.ToSend) != 0 {
		t.Fatalf("heartbeat too early: %v %v", r.ToSend, err)
	}
	now = now.Add(2 * time.Minute)
	o, _ = a.Send("two")
	r, err = b.Receive(o.ToSend[0])
	if err != nil || len(r.ToSend) != 1 {
		t.Fatalf("no heartbeat: %v %v", r.ToSend, err)
	}
	if m := decode(t, r.ToSend[0]); m.Flags&message.FlagIgnoreUnreadable == 0 {
		t.Fatal("heartbeat without IGNORE_UNREADABLE")
	}
	h, err := a.Receive(r.ToSend[0])
	if err != nil || h.Text != "" {
		t.Fatalf("heartbeat read as %q, %v", h.Text, err)
	}
}

func TestErrorMessages(t *testing.T) {
	for _, start := range []bool{false, true} {
		c, _ := NewConversation(Config{Key: testKey(t, 0), InstanceTag: 0x1000, ErrorStartAKE: start})
		r, err := c.Receive("?OTR Error: ERROR_1: Unreadable message")
		if err != nil || len(r.Events) != 1 || r.Events[0].Kind != otr4.EventErrorMessage || r.Events[0].Code != 1 {
			t.Fatal(r, err)
		}
		if start != (len(r.ToSend) == 1 && r.ToSend[0] == "?OTRv3?") {
			t.Fatalf("ErrorStartAKE %v: sent %q", start, r.ToSend)
		}
	}
}
