package otr4

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/query"
)

// Each test here is a row of "Protocol Events": an event in a state and
// what must follow.

func newClock() *clock { return &clock{time.Unix(1_800_000_000, 0)} }

func freshPair(t *testing.T, clk *clock) (*party, *party) {
	return newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil),
		newParty(t, "bob@example.org", "alice@example.org", 0x2002, clk, nil)
}

func recv(t testing.TB, p *party, msg string) *Message {
	t.Helper()
	out, err := p.conv.Receive(msg)
	if err != nil {
		t.Fatalf("%s: Receive: %v", p.jid, err)
	}
	return out
}

func TestPlaintextInStart(t *testing.T) {
	a, _ := freshPair(t, newClock())
	out := recv(t, a, "just text")
	if out.Text != "just text" || out.Encrypted || hasEvent(out.Events, EventUnencrypted) || len(out.ToSend) != 0 {
		t.Fatalf("%+v", out)
	}
	if a.conv.State() != StateStart {
		t.Fatal(a.conv.State())
	}
}

func TestPlaintextInEncryptedAndFinishedWarns(t *testing.T) {
	clk := newClock()
	a, b := encryptedPair(t, clk)
	out := recv(t, a, "sneaky plaintext")
	if out.Text != "sneaky plaintext" || out.Encrypted || !hasEvent(out.Events, EventUnencrypted) {
		t.Fatalf("%+v", out)
	}
	end, _ := b.conv.End()
	recv(t, a, end.ToSend[0])
	if a.conv.State() != StateFinished {
		t.Fatal(a.conv.State())
	}
	if out := recv(t, a, "more"); !hasEvent(out.Events, EventUnencrypted) {
		t.Fatal("no warning in FINISHED")
	}
}

func TestWhitespaceTagInEncryptedDoesNotRestart(t *testing.T) {
	clk := newClock()
	a, _ := encryptedPair(t, clk)
	tagged := query.AppendWhitespaceTag("tagged", query.NewVersions(4))
	out := recv(t, a, tagged)
	if out.Text != "tagged" || !hasEvent(out.Events, EventUnencrypted) || len(out.ToSend) != 0 || a.conv.State() != StateEncrypted {
		t.Fatalf("%+v state %v", out, a.conv.State())
	}
}

func TestWhitespaceTagInStartSendsIdentity(t *testing.T) {
	a, _ := freshPair(t, newClock())
	out := recv(t, a, query.AppendWhitespaceTag("hello", query.NewVersions(3, 4)))
	if out.Text != "hello" || len(out.ToSend) != 1 || a.conv.State() != StateWaitingAuthR {
		t.Fatalf("%+v state %v", out, a.conv.State())
	}
	if b, _ := query.DecodeEncoded(out.ToSend[0]); b[2] != msgTypeIdentity {
		t.Fatal("not an Identity message")
	}
}

func TestQueryWithoutVersion4IsIgnored(t *testing.T) {
	a, _ := freshPair(t, newClock())
	out := recv(t, a, "?OTRv3?")
	if len(out.ToSend) != 0 || a.conv.State() != StateStart {
		t.Fatal("answered a v3-only query")
	}
}

// TestQueryInEncrypted: a query in ENCRYPTED_MESSAGES starts a new DAKE;
// messages of the old session still in flight remain readable.
func TestQueryInEncrypted(t *testing.T) {
	clk := newClock()
	a, b := encryptedPair(t, clk)
	late, _ := b.conv.Send("sent before the re-key")
	// Bob's client may not send a query now; a restarted client would.
	if _, err := b.conv.QueryMessage(); err == nil {
		t.Fatal("query message offered in ENCRYPTED_MESSAGES")
	}
	q := "?OTRv4?"
	out := recv(t, a, q)
	if a.conv.State() != StateWaitingAuthR || len(out.ToSend) != 1 {
		t.Fatalf("state %v", a.conv.State())
	}
	if got := recv(t, a, late.ToSend[0]); got.Text != "sent before the re-key" {
		t.Fatalf("old session message lost: %+v", got)
	}
	deliverAll(t, a, b, out.ToSend)
	if a.conv.State() != StateEncrypted || b.conv.State() != StateEncrypted {
		t.Fatalf("states %v %v", a.conv.State(), b.conv.State())
	}
	exchange(t, a, b, "after the re-key")
}

func TestErrorMessageEvent(t *testing.T) {
	a, _ := freshPair(t, newClock())
	out := recv(t, a, "?OTR Error: ERROR_2: Not in private state message")
	if !hasEvent(out.Events, EventErrorMessage) || out.Events[0].Code != 2 {
		t.Fatalf("%+v", out.Events)
	}
	if out := recv(t, a, "?OTR Error: ERROR_9: what"); len(out.Events) != 0 {
		t.Fatal("unknown error code not ignored")
	}
}

func TestIdentityInStartRepliesAuthR(t *testing.T) {
	a, b := freshPair(t, newClock())
	id, _ := b.conv.StartInteractive()
	out := recv(t, a, id.ToSend[0])
	if a.conv.State() != StateWaitingAuthI || len(out.ToSend) != 1 || a.conv.TheirInstanceTag() != b.tag {
		t.Fatalf("state %v", a.conv.State())
	}
	if m, _ := query.DecodeEncoded(out.ToSend[0]); m[2] != msgTypeAuthR {
		t.Fatal("not Auth-R")
	}
}

// TestSimultaneousIdentity: both send Identity messages; the one with the
// higher hashed B wins and the DAKE completes once.
func TestSimultaneousIdentity(t *testing.T) {
	a, b := freshPair(t, newClock())
	ia, _ := a.conv.StartInteractive()
	ib, _ := b.conv.StartInteractive()
	outA := recv(t, a, ib.ToSend[0])
	outB := recv(t, b, ia.ToSend[0])
	toB := append([]string(nil), outA.ToSend...)
	toA := append([]string(nil), outB.ToSend...)
	for i := 0; len(toA)+len(toB) > 0 && i < 20; i++ {
		var nextA, nextB []string
		// Late DAKE messages are refused as unexpected; nothing else fails.
		for _, m := range toB {
			out, err := b.conv.Receive(m)
			if err != nil && !errors.Is(err, ErrUnexpected) {
				t.Fatal(err)
			}
			nextA = append(nextA, out.ToSend...)
		}
		for _, m := range toA {
			out, err := a.conv.Receive(m)
			if err != nil && !errors.Is(err, ErrUnexpected) {
				t.Fatal(err)
			}
			nextB = append(nextB, out.ToSend...)
		}
		toA, toB = nextA, nextB
	}
	if a.conv.State() != StateEncrypted || b.conv.State() != StateEncrypted {
		t.Fatalf("states %v %v", a.conv.State(), b.conv.State())
	}
	exchange(t, a, b, "converged")
}

func TestIdentityInWaitingAuthISendsNewAuthR(t *testing.T) {
	a, b := freshPair(t, newClock())
	id1, _ := b.conv.StartInteractive()
	recv(t, a, id1.ToSend[0])
	// Bob restarts; his new Identity message names Alice's instance now.
	b.conv.theirTag = a.tag
	id2, _ := b.conv.StartInteractive()
	out := recv(t, a, id2.ToSend[0])
	if a.conv.State() != StateWaitingAuthI || len(out.ToSend) != 1 {
		t.Fatal(a.conv.State())
	}
	deliverAll(t, a, b, out.ToSend)
	if a.conv.State() != StateEncrypted || b.conv.State() != StateEncrypted {
		t.Fatalf("states %v %v", a.conv.State(), b.conv.State())
	}
	// An Identity message with receiver 0 is refused in WAITING_AUTH_I.
	c, d := freshPair(t, newClock())
	idc, _ := d.conv.StartInteractive()
	recv(t, c, idc.ToSend[0])
	idd, _ := d.conv.StartInteractive()
	if _, err := c.conv.Receive(idd.ToSend[0]); !errors.Is(err, ErrInstanceTag) {
		t.Fatalf("got %v", err)
	}
}

func TestIdentityInEncryptedAndFinishedStartsNewDAKE(t *testing.T) {
	clk := newClock()
	a, b := encryptedPair(t, clk)
	id, _ := b.conv.StartInteractive()
	deliverAll(t, b, a, id.ToSend)
	if a.conv.State() != StateEncrypted || b.conv.State() != StateEncrypted {
		t.Fatal("re-DAKE from ENCRYPTED failed")
	}
	end, _ := b.conv.End()
	recv(t, a, end.ToSend[0])
	id2, _ := b.conv.StartInteractive()
	deliverAll(t, b, a, id2.ToSend)
	if a.conv.State() != StateEncrypted {
		t.Fatalf("re-DAKE from FINISHED failed: %v", a.conv.State())
	}
}

func TestAuthMessagesOutOfStateIgnored(t *testing.T) {
	a, b := freshPair(t, newClock())
	id, _ := b.conv.StartInteractive()
	authR := recv(t, a, id.ToSend[0]).ToSend[0]
	authI := recv(t, b, authR).ToSend[0]
	// Auth-R again to Bob, now in ENCRYPTED_MESSAGES: ignored.
	if _, err := b.conv.Receive(authR); !errors.Is(err, ErrUnexpected) || b.conv.State() != StateEncrypted {
		t.Fatalf("%v %v", err, b.conv.State())
	}
	recv(t, a, authI)
	if a.conv.State() != StateEncrypted {
		t.Fatal(a.conv.State())
	}
	// Auth-I again to Alice, now in ENCRYPTED_MESSAGES: ignored.
	if _, err := a.conv.Receive(authI); !errors.Is(err, ErrUnexpected) || a.conv.State() != StateEncrypted {
		t.Fatalf("%v %v", err, a.conv.State())
	}
	exchange(t, a, b, "unharmed")
}

func TestDataMessageInStartGivesError2(t *testing.T) {
	clk := newClock()
	a, b := encryptedPair(t, clk)
	msg, _ := a.conv.Send("to a stranger")
	c := newParty(t, "bob@example.org", "alice@example.org", b.tag, clk, nil)
	out, err := c.conv.Receive(msg.ToSend[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ToSend) != 1 || out.ToSend[0] != "?OTR Error: ERROR_2: Not in private state message" || !hasEvent(out.Events, EventUnreadable) {
		t.Fatalf("%+v", out)
	}
}

// TestDataBeforeAuthI: Bob's first data message overtakes his Auth-I; Alice
// keeps it and reads it once the DAKE is done.
func TestDataBeforeAuthI(t *testing.T) {
	a, b := freshPair(t, newClock())
	id, _ := b.conv.StartInteractive()
	authR := recv(t, a, id.ToSend[0]).ToSend[0]
	authI := recv(t, b, authR).ToSend[0]
	data, _ := b.conv.Send("overtaking")
	if out := recv(t, a, data.ToSend[0]); out.Text != "" || len(out.ToSend) != 0 {
		t.Fatalf("%+v", out)
	}
	out := recv(t, a, authI)
	if out.Text != "overtaking" || a.conv.State() != StateEncrypted {
		t.Fatalf("%+v %v", out, a.conv.State())
	}
}

func TestDisconnectedTLV(t *testing.T) {
	clk := newClock()
	a, b := encryptedPair(t, clk)
	end, err := b.conv.End()
	if err != nil || b.conv.State() != StateStart {
		t.Fatal(err, b.conv.State())
	}
	out := recv(t, a, end.ToSend[0])
	if a.conv.State() != StateFinished || !hasEvent(out.Events, EventPeerEnded) {
		t.Fatalf("%v %+v", a.conv.State(), out.Events)
	}
	if _, err := a.conv.Send("into the void"); !errors.Is(err, ErrFinished) {
		t.Fatalf("send in FINISHED: %v", err)
	}
	if out, _ := a.conv.End(); a.conv.State() != StateStart || len(out.ToSend) != 0 {
		t.Fatal("End in FINISHED")
	}
	if out, _ := a.conv.End(); len(out.ToSend) != 0 || len(out.Events) != 0 {
		t.Fatal("End in START did something")
	}
}

func TestSendInStartIsQueued(t *testing.T) {
	a, b := freshPair(t, newClock())
	out, err := a.conv.Send("waiting for keys")
	if err != nil || len(out.ToSend) != 0 || !hasEvent(out.Events, EventQueued) {
		t.Fatal(err, out)
	}
	q, _ := a.conv.QueryMessage()
	_, textsB, _ := deliverAll(t, a, b, []string{q})
	if len(textsB) != 1 || textsB[0] != "waiting for keys" {
		t.Fatalf("bob got %q", textsB)
	}
}

func TestSessionExpiry(t *testing.T) {
	clk := newClock()
	a, b := encryptedPair(t, clk)
	exchange(t, a, b, "one")
	lost, _ := b.conv.Send("never arrives")
	_ = lost
	exchange(t, b, a, "two") // alice stores the key of "never arrives"
	clk.advance(2*time.Hour + time.Second)
	out, err := a.conv.Tick()
	if err != nil {
		t.Fatal(err)
	}
	if a.conv.State() != StateFinished || !hasEvent(out.Events, EventSessionExpired) || len(out.ToSend) != 1 {
		t.Fatalf("%v %+v", a.conv.State(), out)
	}
	raw, _ := query.DecodeEncoded(out.ToSend[0])
	dm, _ := parseForTest(raw)
	if len(dm.RevealedMACs) < 64 {
		t.Fatal("expiry did not reveal the stored key's MAC key")
	}
	got := recv(t, b, out.ToSend[0])
	if b.conv.State() != StateFinished || !hasEvent(got.Events, EventPeerEnded) {
		t.Fatal("peer did not finish")
	}
}

func TestHeartbeat(t *testing.T) {
	clk := newClock()
	a, b := encryptedPair(t, clk)
	clk.advance(2 * time.Minute)
	m, _ := a.conv.Send("ping")
	out := recv(t, b, m.ToSend[0])
	if len(out.ToSend) != 1 {
		t.Fatalf("no heartbeat: %+v", out)
	}
	hb := recv(t, a, out.ToSend[0])
	if hb.Text != "" || len(hb.ToSend) != 0 {
		t.Fatalf("heartbeat displayed or answered: %+v", hb)
	}
}

func TestStandaloneModeIgnoresQueries(t *testing.T) {
	clk := newClock()
	a := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, func(c *Config) { c.Mode = ModeStandalone })
	out := recv(t, a, "?OTRv4?")
	if len(out.ToSend) != 0 || a.conv.State() != StateStart || !hasEvent(out.Events, EventUnencrypted) {
		t.Fatalf("%+v", out)
	}
	if _, err := a.conv.QueryMessage(); err == nil {
		t.Fatal("query message in standalone mode")
	}
	if _, err := a.conv.TagPlaintext("x"); !errors.Is(err, ErrPlaintextMode) {
		t.Fatal(err)
	}
}

func TestFragmentedConversation(t *testing.T) {
	clk := newClock()
	small := func(c *Config) { c.FragmentSize = 200 }
	a := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, small)
	b := newParty(t, "bob@example.org", "alice@example.org", 0x2002, clk, small)
	id, _ := b.conv.StartInteractive()
	if len(id.ToSend) < 5 {
		t.Fatalf("identity message in %d fragments", len(id.ToSend))
	}
	// Deliver the fragments in reverse order.
	for i, j := 0, len(id.ToSend)-1; i < j; i, j = i+1, j-1 {
		id.ToSend[i], id.ToSend[j] = id.ToSend[j], id.ToSend[i]
	}
	deliverAll(t, b, a, id.ToSend)
	if a.conv.State() != StateEncrypted {
		t.Fatal(a.conv.State())
	}
	exchange(t, a, b, strings.Repeat("long message ", 40))
}

// TestPrepareUsesKeysOnce: keys made ahead by Prepare serve one DAKE
// message only; a second Identity message has fresh keys.
func TestPrepareUsesKeysOnce(t *testing.T) {
	a, b := freshPair(t, newClock())
	if err := b.conv.Prepare(); err != nil {
		t.Fatal(err)
	}
	spare := b.conv.spare
	id1, _ := b.conv.StartInteractive()
	if b.conv.spare != nil || b.conv.ourECDH != spare.ecdh {
		t.Fatal("prepared keys not used")
	}
	id2, _ := b.conv.StartInteractive()
	if id1.ToSend[0] == id2.ToSend[0] {
		t.Fatal("two Identity messages with the same keys")
	}
	deliverAll(t, b, a, id2.ToSend)
	if a.conv.State() != StateEncrypted {
		t.Fatal(a.conv.State())
	}
}
