package otr4

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

// clock is an injectable time source for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

type party struct {
	id   *Identity
	tag  InstanceTag
	conv *Conversation
	jid  string
}

func newParty(t testing.TB, jid, peer string, tag InstanceTag, clk *clock, mutate func(*Config)) *party {
	t.Helper()
	id, err := GenerateIdentity(rand.Reader, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Identity: id, InstanceTag: tag, OurAccount: jid, TheirAccount: peer, Now: clk.now}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := NewConversation(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &party{id: id, tag: tag, conv: c, jid: jid}
}

// deliverAll passes messages back and forth until both sides are quiet,
// and returns the texts each side displayed and all events.
func deliverAll(t testing.TB, a, b *party, fromA []string) (textsA, textsB []string, events map[*party][]Event) {
	t.Helper()
	events = map[*party][]Event{}
	queueA, queueB := fromA, []string(nil) // queueA: messages for b
	for i := 0; len(queueA)+len(queueB) > 0; i++ {
		if i > 1000 {
			t.Fatal("conversation does not settle")
		}
		for len(queueA) > 0 {
			m := queueA[0]
			queueA = queueA[1:]
			out, _ := b.conv.Receive(m)
			events[b] = append(events[b], out.Events...)
			if out.Text != "" {
				textsB = append(textsB, out.Text)
			}
			queueB = append(queueB, out.ToSend...)
		}
		for len(queueB) > 0 {
			m := queueB[0]
			queueB = queueB[1:]
			out, _ := a.conv.Receive(m)
			events[a] = append(events[a], out.Events...)
			if out.Text != "" {
				textsA = append(textsA, out.Text)
			}
			queueA = append(queueA, out.ToSend...)
		}
	}
	return
}

func hasEvent(evs []Event, k EventKind) bool {
	for _, e := range evs {
		if e.Kind == k {
			return true
		}
	}
	return false
}

func isOTR(s string) bool { return strings.HasPrefix(s, "?OTR") }

// encryptedPair runs an interactive DAKE (bob starts it) and returns both
// parties in ENCRYPTED_MESSAGES.
func encryptedPair(t testing.TB, clk *clock) (alice, bob *party) {
	t.Helper()
	alice = newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	bob = newParty(t, "bob@example.org", "alice@example.org", 0x2002, clk, nil)
	start, err := bob.conv.StartInteractive()
	if err != nil {
		t.Fatal(err)
	}
	deliverAll(t, bob, alice, start.ToSend)
	if alice.conv.State() != StateEncrypted || bob.conv.State() != StateEncrypted {
		t.Fatalf("states after DAKE: alice %v bob %v", alice.conv.State(), bob.conv.State())
	}
	return alice, bob
}

func parseForTest(b []byte) (*ratchetDataMessage, error) { return parseDataForTest(b) }
