package otr4

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"testing"
	"time"
)

func TestDAKEFromQueryMessage(t *testing.T) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	alice := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	bob := newParty(t, "bob@example.org", "alice@example.org", 0x2002, clk, nil)
	q, err := alice.conv.QueryMessage()
	if err != nil {
		t.Fatal(err)
	}
	if q != "?OTRv4?" {
		t.Fatalf("query message %q", q)
	}
	deliverAll(t, alice, bob, []string{q})
	if alice.conv.State() != StateEncrypted || bob.conv.State() != StateEncrypted {
		t.Fatalf("states: %v %v", alice.conv.State(), bob.conv.State())
	}
	fa, _ := alice.conv.TheirFingerprint()
	fb, _ := bob.conv.TheirFingerprint()
	if fa != bob.id.Fingerprint() || fb != alice.id.Fingerprint() {
		t.Fatal("fingerprints do not match the identities")
	}
	sa, boldA, _ := alice.conv.SSID()
	sb, boldB, _ := bob.conv.SSID()
	if sa != sb || boldA == boldB {
		t.Fatalf("SSIDs %x/%v %x/%v", sa, boldA, sb, boldB)
	}
	exchange(t, alice, bob, "hello bob")
	exchange(t, bob, alice, "hello alice")
}

func TestDAKEFromWhitespaceTag(t *testing.T) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	alice := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	bob := newParty(t, "bob@example.org", "alice@example.org", 0x2002, clk, nil)
	tagged, err := alice.conv.TagPlaintext("hi, shall we talk privately?")
	if err != nil {
		t.Fatal(err)
	}
	_, textsB, events := deliverAll(t, alice, bob, []string{tagged})
	if len(textsB) != 1 || textsB[0] != "hi, shall we talk privately?" {
		t.Fatalf("bob displayed %q", textsB)
	}
	if hasEvent(events[bob], EventUnencrypted) {
		t.Fatal("a tagged plaintext in START is not a warning")
	}
	if alice.conv.State() != StateEncrypted || bob.conv.State() != StateEncrypted {
		t.Fatalf("states: %v %v", alice.conv.State(), bob.conv.State())
	}
	exchange(t, bob, alice, "encrypted now")
}

// exchange sends text from one party and checks the other displays it once.
func exchange(t testing.TB, from, to *party, text string) {
	t.Helper()
	out, err := from.conv.Send(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ToSend) == 0 {
		t.Fatalf("nothing to send (state %v)", from.conv.State())
	}
	_, texts, _ := deliverAll(t, from, to, out.ToSend)
	if len(texts) != 1 || texts[0] != text {
		t.Fatalf("received %q, want %q", texts, text)
	}
}

// TestTenThousandMessagesLossyNetwork is the conversation test: 10,000
// messages in both directions through a seeded network that reorders,
// duplicates and drops. Every delivered message decrypts exactly once,
// duplicates are refused, a drop never blocks later messages.
func TestTenThousandMessagesLossyNetwork(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	clk := &clock{time.Unix(1_800_000_000, 0)}
	alice, bob := encryptedPair(t, clk)
	rng := mrand.New(mrand.NewPCG(2026, 11))
	type packet struct {
		to   *party
		text string
		wire string
		dup  bool
	}
	var net []packet
	delivered := map[string]int{}
	dropped := map[string]bool{}
	from, to := alice, bob
	sent := 0
	receive := func(p packet) {
		out, err := p.to.conv.Receive(p.wire)
		if err == nil && out.Text != "" {
			if out.Text != p.text {
				t.Fatalf("got %q, want %q", out.Text, p.text)
			}
			delivered[p.text]++
			if delivered[p.text] > 1 {
				t.Fatalf("%s decrypted twice", p.text)
			}
			return
		}
		if !p.dup && delivered[p.text] == 0 {
			t.Fatalf("%s could not be read: %v", p.text, err)
		}
	}
	for sent < n || len(net) > 0 {
		if sent < n && (len(net) == 0 || rng.IntN(2) == 0) {
			// Bursts: the direction switches on one message in four.
			if rng.IntN(4) == 0 {
				from, to = to, from
			}
			text := fmt.Sprintf("message %d", sent)
			sent++
			clk.advance(time.Second)
			out, err := from.conv.Send(text)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.ToSend) != 1 {
				t.Fatalf("%d wire messages for one text", len(out.ToSend))
			}
			if rng.IntN(20) == 0 {
				dropped[text] = true
				continue
			}
			net = append(net, packet{to: to, text: text, wire: out.ToSend[0]})
			if rng.IntN(20) == 0 {
				net = append(net, packet{to: to, text: text, wire: out.ToSend[0], dup: true})
			}
			continue
		}
		// Reorder within a window of in-flight messages, as a network
		// with several paths does.
		i := rng.IntN(min(len(net), 6))
		p := net[i]
		net = append(net[:i], net[i+1:]...)
		receive(p)
	}
	for text := range dropped {
		if delivered[text] != 0 {
			t.Fatalf("dropped %s was delivered", text)
		}
	}
	if got := len(delivered) + len(dropped); got != n {
		t.Fatalf("%d delivered + %d dropped != %d sent", len(delivered), len(dropped), n)
	}
	t.Logf("%d delivered, %d dropped", len(delivered), len(dropped))
}

func TestReplayRejected(t *testing.T) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	alice, bob := encryptedPair(t, clk)
	out, _ := alice.conv.Send("once")
	if r, err := bob.conv.Receive(out.ToSend[0]); err != nil || r.Text != "once" {
		t.Fatal(r, err)
	}
	r, err := bob.conv.Receive(out.ToSend[0])
	if !errors.Is(err, ErrUnreadable) || r.Text != "" {
		t.Fatalf("replay: %v %q", err, r.Text)
	}
	if len(r.ToSend) != 1 || r.ToSend[0] != "?OTR Error: ERROR_1: Unreadable message" {
		t.Fatalf("replay answered with %q", r.ToSend)
	}
}
