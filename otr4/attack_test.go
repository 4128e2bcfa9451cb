package otr4

import (
	"crypto/rand"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/dh"
	"github.com/otrchat/otrchat/otr4/internal/query"
	"github.com/otrchat/otrchat/otr4/internal/ratchet"
)

// Regression tests for issue 16, items 1 to 4: what an attacker, or an
// unlucky user, can do to a conversation.

// revealedKeys returns how many MAC keys a wire data message reveals.
func revealedKeys(t *testing.T, msg string) int {
	t.Helper()
	m, err := parseDataForTest(decode(t, msg))
	if err != nil {
		t.Fatalf("data message refused: %v", err)
	}
	return len(m.RevealedMACs) / 64
}

// sendMany has from send n messages that to reads, and returns what to
// sent back meanwhile.
func sendMany(t *testing.T, from, to *party, n int) (back []string) {
	t.Helper()
	for i := range n {
		m, err := from.conv.Send("one way")
		if err != nil {
			t.Fatal(err)
		}
		out, err := to.conv.Receive(m.ToSend[0])
		if err != nil || out.Text != "one way" {
			t.Fatalf("message %d: %q %v", i, out.Text, err)
		}
		back = append(back, out.ToSend...)
	}
	return back
}

// TestEndAfterManyMessagesOneWay (item 1): Bob receives more messages than
// one message may reveal MAC keys for, without answering (no heartbeats);
// his End still reaches Alice, and every MAC key is revealed.
func TestEndAfterManyMessagesOneWay(t *testing.T) {
	clk := newClock()
	alice := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	bob := newParty(t, "bob@example.org", "alice@example.org", 0x2002, clk, func(c *Config) { c.HeartbeatInterval = -1 })
	start, _ := bob.conv.StartInteractive()
	deliverAll(t, bob, alice, start.ToSend)
	const n = ratchet.MaxRevealedKeys + 100
	if back := sendMany(t, alice, bob, n); len(back) != 0 {
		t.Fatalf("bob sent %d messages with heartbeats disabled", len(back))
	}
	end, err := bob.conv.End()
	if err != nil {
		t.Fatal(err)
	}
	revealed := 0
	var events []Event
	for i, w := range end.ToSend {
		revealed += revealedKeys(t, w)
		out, err := alice.conv.Receive(w)
		if err != nil {
			t.Fatalf("message %d of %d from End refused: %v", i+1, len(end.ToSend), err)
		}
		events = append(events, out.Events...)
	}
	if alice.conv.State() != StateFinished || !hasEvent(events, EventPeerEnded) {
		t.Fatalf("alice is %v after bob's End (events %v)", alice.conv.State(), events)
	}
	if revealed != n {
		t.Fatalf("End revealed %d MAC keys, want %d", revealed, n)
	}
}

// TestRevealThroughHeartbeats (item 1): with heartbeats on, a passive
// receiver sends one whenever a batch of MAC keys waits, so that its keys
// leave in batches a receiver accepts, and its reply after thousands of
// messages is read.
func TestRevealThroughHeartbeats(t *testing.T) {
	clk := newClock()
	alice, bob := encryptedPair(t, clk)
	back := sendMany(t, alice, bob, ratchet.MaxRevealedKeys+100)
	if len(back) < ratchet.MaxRevealedKeys/ratchet.RevealBatch {
		t.Fatalf("%d heartbeats for %d messages", len(back), ratchet.MaxRevealedKeys+100)
	}
	reply, _ := bob.conv.Send("reply")
	for _, w := range append(back, reply.ToSend...) {
		if k := revealedKeys(t, w); k > ratchet.RevealBatch {
			t.Fatalf("a message reveals %d keys", k)
		}
		out, err := alice.conv.Receive(w)
		if err != nil {
			t.Fatalf("bob's message refused: %v", err)
		}
		if out.Text != "" && out.Text != "reply" {
			t.Fatalf("%q", out.Text)
		}
	}
	exchange(t, bob, alice, "still talking")
	// SMP still works, and ending does.
	s, _ := bob.conv.StartSMP("", []byte("s"))
	if out := recv(t, alice, s.ToSend[0]); !hasEvent(out.Events, EventSMPSecretNeeded) {
		t.Fatalf("%+v", out.Events)
	}
	end, _ := bob.conv.End()
	for _, w := range end.ToSend {
		recv(t, alice, w)
	}
	if alice.conv.State() != StateFinished {
		t.Fatal(alice.conv.State())
	}
}

// injectedIdentity returns, for a fresh encrypted pair, an Identity
// message alice did not expect: bob's own from the DAKE, replayed, or one
// made by mallory with her own profile and bob's instance tag.
func injectedIdentity(t *testing.T, clk *clock, replay bool) (alice, bob *party, id string) {
	t.Helper()
	alice, bob = freshPair(t, clk)
	start, _ := bob.conv.StartInteractive()
	deliverAll(t, bob, alice, start.ToSend)
	if alice.conv.State() != StateEncrypted {
		t.Fatal(alice.conv.State())
	}
	if replay {
		return alice, bob, start.ToSend[0]
	}
	mallory := newParty(t, "mallory@example.org", "alice@example.org", bob.tag, clk, nil)
	m, _ := mallory.conv.StartInteractive()
	return alice, bob, m.ToSend[0]
}

func eventWith(evs []Event, k EventKind, target error) *Event {
	for i, e := range evs {
		if e.Kind == k && (target == nil || errors.Is(e.Err, target)) {
			return &evs[i]
		}
	}
	return nil
}

// TestInjectedIdentityKeepsSession (item 2): an Identity message the peer
// never sent moves alice to WAITING_AUTH_I, but bob's messages of the
// session still show; what alice sends waits, and when the DAKE times out
// she is back in the session and her messages go out.
func TestInjectedIdentityKeepsSession(t *testing.T) {
	for _, replay := range []bool{false, true} {
		t.Run(map[bool]string{false: "forged", true: "replayed"}[replay], func(t *testing.T) {
			clk := newClock()
			alice, bob, id := injectedIdentity(t, clk, replay)
			exchange(t, alice, bob, "before")
			out := recv(t, alice, id)
			if alice.conv.State() != StateWaitingAuthI || len(out.ToSend) != 1 {
				t.Fatalf("%v %+v", alice.conv.State(), out)
			}
			// The Auth-R reaches bob, who did not ask for it.
			if _, err := bob.conv.Receive(out.ToSend[0]); !errors.Is(err, ErrUnexpected) || bob.conv.State() != StateEncrypted {
				t.Fatalf("bob: %v %v", err, bob.conv.State())
			}
			for _, text := range []string{"still here", "and here"} {
				m, _ := bob.conv.Send(text)
				if got := recv(t, alice, m.ToSend[0]); got.Text != text || !got.Encrypted {
					t.Fatalf("bob's %q read as %+v", text, got)
				}
			}
			q, err := alice.conv.Send("waits for the DAKE")
			if err != nil || len(q.ToSend) != 0 || !hasEvent(q.Events, EventQueued) {
				t.Fatalf("%v %+v", err, q)
			}
			clk.advance(time.Minute)
			if tick, _ := alice.conv.Tick(); len(tick.Events) != 0 || alice.conv.State() != StateWaitingAuthI {
				t.Fatalf("DAKE abandoned early: %+v", tick)
			}
			clk.advance(time.Minute + time.Second)
			tick, err := alice.conv.Tick()
			if err != nil {
				t.Fatal(err)
			}
			ev := eventWith(tick.Events, EventDAKETimedOut, ErrDAKETimeout)
			if ev == nil || ev.State != StateEncrypted || alice.conv.State() != StateEncrypted {
				t.Fatalf("after the timeout: %v %+v", alice.conv.State(), tick.Events)
			}
			if len(tick.ToSend) != 1 {
				t.Fatalf("queued message not sent: %+v", tick)
			}
			if got := recv(t, bob, tick.ToSend[0]); got.Text != "waits for the DAKE" {
				t.Fatalf("bob got %+v", got)
			}
			exchange(t, bob, alice, "after")
			exchange(t, alice, bob, "after too")
		})
	}
}

// TestInjectedIdentityUnreadableReported (item 2): a data message no
// ratchet can read while the DAKE runs is kept, and reported when the DAKE
// times out; a TLV 1 of the interrupted session ends it for good.
func TestInjectedIdentityUnreadableReported(t *testing.T) {
	clk := newClock()
	alice, bob, id := injectedIdentity(t, clk, false)
	recv(t, alice, id)
	m, _ := bob.conv.Send("genuine")
	forged := forgedData(t, m.ToSend[0], 1, true, 0, 3)[0]
	if out := recv(t, alice, forged); out.Text != "" || len(out.Events) != 0 {
		t.Fatalf("%+v", out)
	}
	end, _ := bob.conv.End()
	out := recv(t, alice, end.ToSend[0])
	if !hasEvent(out.Events, EventPeerEnded) || alice.conv.State() != StateWaitingAuthI {
		t.Fatalf("bob's End during the DAKE: %v %+v", alice.conv.State(), out.Events)
	}
	clk.advance(2*time.Minute + time.Second)
	tick, _ := alice.conv.Tick()
	if ev := eventWith(tick.Events, EventDAKETimedOut, nil); ev == nil || ev.State != StateStart || alice.conv.State() != StateStart {
		t.Fatalf("%v %+v", alice.conv.State(), tick.Events)
	}
	ev := eventWith(tick.Events, EventUnreadable, ErrEarlyDataDropped)
	if ev == nil || !errors.Is(ev.Err, ErrDAKETimeout) {
		t.Fatalf("kept message not reported: %+v", tick.Events)
	}
	// Alice's messages now wait for a new DAKE, which bob can start.
	if q, _ := alice.conv.Send("later"); !hasEvent(q.Events, EventQueued) {
		t.Fatal("not queued")
	}
	start, _ := bob.conv.StartInteractive()
	texts, _, _ := deliverAll(t, bob, alice, start.ToSend)
	if alice.conv.State() != StateEncrypted || len(texts) != 1 || texts[0] != "later" {
		t.Fatalf("%v %q", alice.conv.State(), texts)
	}
}

// TestDAKETimeoutFromStart: a DAKE started from START that never
// completes is abandoned; kept messages expire with a report on Tick.
func TestDAKETimeoutFromStart(t *testing.T) {
	clk := newClock()
	a, b := freshPair(t, clk)
	id, _ := b.conv.StartInteractive()
	if out, err := a.conv.Receive(id.ToSend[0]); err != nil || a.conv.State() != StateWaitingAuthI || len(out.ToSend) != 1 {
		t.Fatal(err, a.conv.State())
	}
	clk.advance(2*time.Minute + time.Second)
	out, _ := b.conv.Send("from b")
	if ev := eventWith(out.Events, EventDAKETimedOut, ErrDAKETimeout); ev == nil || b.conv.State() != StateStart || !hasEvent(out.Events, EventQueued) {
		t.Fatalf("%v %+v", b.conv.State(), out.Events)
	}
	// With a long DAKE timeout, early data expires first, with a report.
	c := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, func(c *Config) { c.DAKETimeout = time.Hour })
	e, f := encryptedPair(t, clk)
	_ = e
	msg, _ := f.conv.Send("early")
	id2, _ := newParty(t, "bob@example.org", "alice@example.org", f.tag, clk, nil).conv.StartInteractive()
	recv(t, c, id2.ToSend[0])
	raw := decode(t, msg.ToSend[0])
	copy(raw[7:11], []byte{0, 0, 0x10, 0x01})
	recv(t, c, query.Encode(raw))
	clk.advance(11 * time.Minute)
	tick, _ := c.conv.Tick()
	if ev := eventWith(tick.Events, EventUnreadable, ErrEarlyDataExpired); ev == nil || c.conv.State() != StateWaitingAuthI {
		t.Fatalf("%v %+v", c.conv.State(), tick.Events)
	}
}

// bigForgeries returns n data messages of about 1 MiB addressed to alice
// that no ratchet of hers reads.
func bigForgeries(t *testing.T, bob *party, n int) []string {
	m, err := bob.conv.Send(strings.Repeat("x", 1<<20-64))
	if err != nil {
		t.Fatal(err)
	}
	return forgedData(t, m.ToSend[0], n, false, 0, 5)
}

// TestEarlyDataBytesBounded (item 3): anyone who can put alice in
// WAITING_AUTH_I can send her large data messages she must keep as
// possible early data: what she keeps is bounded in bytes, and each
// message she cannot keep is reported.
func TestEarlyDataBytesBounded(t *testing.T) {
	clk := newClock()
	alice, bob, id := injectedIdentity(t, clk, false)
	recv(t, alice, id)
	forged := bigForgeries(t, bob, 8)
	full := 0
	for _, w := range forged {
		out := recv(t, alice, w)
		if ev := eventWith(out.Events, EventUnreadable, ErrEarlyDataFull); ev != nil {
			full++
		}
	}
	held := 0
	for _, e := range alice.conv.early {
		held += len(e.msg.Ciphertext) + len(e.msg.RevealedMACs)
	}
	if held > DefaultMaxEarlyDataBytes {
		t.Fatalf("alice keeps %d bytes of early data (limit %d)", held, DefaultMaxEarlyDataBytes)
	}
	if len(alice.conv.early)+full != len(forged) {
		t.Fatalf("%d kept + %d reported of %d", len(alice.conv.early), full, len(forged))
	}
	// The genuine first message of a real new DAKE is still kept and read.
	c, d := freshPair(t, clk)
	c.conv.cfg.MaxEarlyDataBytes = 4096
	start, _ := d.conv.StartInteractive()
	authR := recv(t, c, start.ToSend[0]).ToSend[0]
	authI := recv(t, d, authR).ToSend[0]
	early, _ := d.conv.Send("overtaking")
	recv(t, c, early.ToSend[0])
	if out := recv(t, c, authI); out.Text != "overtaking" {
		t.Fatalf("%+v", out)
	}
}

// TestForgedDataMessageWork (item 4): a forged data message that claims
// to skip as many messages as the receiver accepts must not make it
// derive (and allocate) message keys for them before its authenticator
// is checked. Allocation is measured (deterministic), not time; CPU is in
// BenchmarkForgedDataMessage.
func TestForgedDataMessageWork(t *testing.T) {
	for _, c := range []struct {
		name               string
		newRatchet, withDH bool
	}{{"current-chain", false, false}, {"new-ratchet", true, false}, {"new-ratchet-DH", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			bob, genuine, pn, id := forgeryTarget(t, c.newRatchet, c.withDH)
			forged := forgedData(t, genuine, 8, c.newRatchet, pn, id)
			bob.conv.Receive(forged[0]) // warm up
			allocated := func(f func()) uint64 {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				f()
				runtime.ReadMemStats(&after)
				return after.TotalAlloc - before.TotalAlloc
			}
			per := allocated(func() {
				for _, f := range forged[1:] {
					if _, err := bob.conv.Receive(f); !errors.Is(err, ErrUnreadable) {
						t.Fatal(err)
					}
				}
			}) / uint64(len(forged)-1)
			limit := uint64(64 << 10)
			if c.withDH {
				// The 3072-bit DH step itself is not what this bounds.
				k, _ := dh.GenerateKey(rand.Reader)
				peer, _ := dh.GenerateKey(rand.Reader)
				limit += allocated(func() { k.SharedSecret(peer.Public()) })
			}
			if per > limit {
				t.Fatalf("a forged message allocates %d bytes (limit %d)", per, limit)
			}
			if out := recv(t, bob, genuine); out.Text != "genuine" {
				t.Fatalf("%+v", out)
			}
			t.Logf("%d bytes allocated per forged message (limit %d)", per, limit)
		})
	}
}
