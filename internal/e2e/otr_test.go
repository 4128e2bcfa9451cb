package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/internal/testbed"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/xmppconn"
)

// peer is one device: an XMPP client and an OTRv4 conversation with the
// other party's device, fed from the client's events.
type peer struct {
	t      *testing.T
	name   string
	client *xmppconn.Client
	mu     sync.Mutex
	conv   *otr4.Conversation
	remote jid.JID // the other device's full JID, once known
	texts  chan string
	events chan otr4.Event
}

func newPeer(t *testing.T, bed *testbed.Server, user, peerUser string, tag otr4.InstanceTag) *peer {
	t.Helper()
	id, err := otr4.GenerateIdentity(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := otr4.NewConversation(otr4.Config{
		Identity: id, InstanceTag: tag, Mode: otr4.ModeCompatible,
		OurAccount: bed.JID(user, "").String(), TheirAccount: bed.JID(peerUser, "").String(),
		FragmentSize: 4096,
	})
	if err != nil {
		t.Fatal(err)
	}
	return startPeer(t, bed, user, conv, tag, time.Time{})
}

// startPeer connects user's device with instance tag tag and feeds its
// conversation from the client's messages. archiveSince starts the
// device's archive catch-up (zero: none on the first connection).
func startPeer(t *testing.T, bed *testbed.Server, user string, conv *otr4.Conversation, tag otr4.InstanceTag, archiveSince time.Time) *peer {
	t.Helper()
	c, err := xmppconn.New(xmppconn.Config{
		JID: bed.JID(user, ""), Password: bed.Password(user), Addr: bed.C2SAddr, RootCAs: bed.RootCAs(),
		Resource: "laptop", InstanceTag: uint32(tag), ArchiveSince: archiveSince,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, name: user, client: c, conv: conv, texts: make(chan string, 64), events: make(chan otr4.Event, 256)}
	c.Subscribe(func(e xmppconn.Event) {
		m, ok := e.(*xmppconn.MessageEvent)
		if !ok || m.Carbon != xmppconn.NotCarbon {
			return
		}
		if m.From.Localpart() == "" {
			// Services are not the conversation's business: the archive
			// catch-up also returns the account's earlier traffic with the
			// prekey server (its DAKE-2 to the publishing resource).
			return
		}
		p.receive(m.From, m.Body)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("%s: Run: %v", user, err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: Run did not return", user)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := c.WaitOnline(wctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// receive feeds one received body to the conversation and sends what it
// answers.
func (p *peer) receive(from jid.JID, body string) {
	p.mu.Lock()
	out, err := p.conv.Receive(body)
	if p.remote.Resourcepart() == "" {
		p.remote = from
	}
	p.mu.Unlock()
	if err != nil {
		p.t.Logf("%s: rejected a message: %v", p.name, err)
	}
	for _, e := range out.Events {
		p.events <- e
	}
	if out.Text != "" {
		p.texts <- out.Text
	}
	p.send(from, out.ToSend)
}

func (p *peer) send(to jid.JID, msgs []string) {
	p.sendWith(to, msgs, xmppconn.SendOptions{OTR: true})
}

func (p *peer) sendWith(to jid.JID, msgs []string, o xmppconn.SendOptions) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range msgs {
		if _, err := p.client.SendChat(ctx, to, m, o); err != nil {
			p.t.Errorf("%s: SendChat: %v", p.name, err)
		}
	}
}

// do runs a conversation action under the lock and sends its messages.
func (p *peer) do(to jid.JID, f func(c *otr4.Conversation) (*otr4.Message, error)) {
	p.t.Helper()
	p.mu.Lock()
	out, err := f(p.conv)
	p.mu.Unlock()
	if err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
	for _, e := range out.Events {
		p.events <- e
	}
	p.send(to, out.ToSend)
}

// fingerprints returns our fingerprint and the peer's.
func (p *peer) fingerprints() [2]otr4.Fingerprint {
	p.mu.Lock()
	defer p.mu.Unlock()
	theirs, _ := p.conv.TheirFingerprint()
	return [2]otr4.Fingerprint{p.conv.OurFingerprint(), theirs}
}

func (p *peer) state() otr4.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conv.State()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func expectText(t *testing.T, p *peer, want string) {
	t.Helper()
	select {
	case got := <-p.texts:
		if got != want {
			t.Fatalf("%s read %q, want %q", p.name, got, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not receive %q", p.name, want)
	}
}

func expectEvent(t *testing.T, p *peer, kind otr4.EventKind) otr4.Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-p.events:
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("%s: no %v event", p.name, kind)
			return otr4.Event{}
		}
	}
}

// TestOTRv4OverXMPP: two devices start OTRv4 from a query message through a
// real XMPP server, exchange encrypted messages both ways (a long one in
// fragments), verify each other with SMP, and end the conversation.
func TestOTRv4OverXMPP(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(string(kind), func(t *testing.T) {
			bed := testbed.Start(t, testbed.Options{Kind: kind, Accounts: testbed.Users("alice", "bob")})
			alice := newPeer(t, bed, "alice", "bob", 0x1000a11c)
			bob := newPeer(t, bed, "bob", "alice", 0x20000b0b)
			bobJID := bob.client.LocalAddr()

			// Alice asks for OTR with a query message; the DAKE runs over XMPP.
			alice.mu.Lock()
			q, err := alice.conv.QueryMessage()
			alice.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			alice.send(bobJID, []string{q})
			waitFor(t, "both sides to be encrypted", func() bool {
				return alice.state() == otr4.StateEncrypted && bob.state() == otr4.StateEncrypted
			})
			fa, fb := alice.fingerprints(), bob.fingerprints()
			if fa[1] != fb[0] || fb[1] != fa[0] {
				t.Fatal("fingerprints do not match")
			}

			alice.do(bobJID, func(c *otr4.Conversation) (*otr4.Message, error) { return c.Send("hello Bob, over XMPP") })
			expectText(t, bob, "hello Bob, over XMPP")
			long := ""
			for i := 0; i < 400; i++ {
				long += fmt.Sprintf("line %03d of a long message; ", i)
			}
			bob.do(alice.client.LocalAddr(), func(c *otr4.Conversation) (*otr4.Message, error) { return c.Send(long) })
			expectText(t, alice, long)

			// SMP with a question, answered rightly.
			alice.do(bobJID, func(c *otr4.Conversation) (*otr4.Message, error) {
				return c.StartSMP("Where did we meet?", []byte("at the library"))
			})
			if e := expectEvent(t, bob, otr4.EventSMPSecretNeeded); e.Question != "Where did we meet?" {
				t.Fatalf("question %q", e.Question)
			}
			bob.do(alice.client.LocalAddr(), func(c *otr4.Conversation) (*otr4.Message, error) {
				return c.AnswerSMP([]byte("at the library"))
			})
			expectEvent(t, alice, otr4.EventSMPSucceeded)
			expectEvent(t, bob, otr4.EventSMPSucceeded)

			// Alice ends the conversation; Bob's side moves to FINISHED.
			alice.do(bobJID, func(c *otr4.Conversation) (*otr4.Message, error) { return c.End() })
			expectEvent(t, bob, otr4.EventPeerEnded)
			if bob.state() != otr4.StateFinished || alice.state() != otr4.StateStart {
				t.Fatalf("states after End: alice %v bob %v", alice.state(), bob.state())
			}
		})
	}
}

// kinds is Prosody, plus ejabberd when OTRCHAT_TEST_SERVER asks for it
// (.ci/run runs the test-bed packages once more with ejabberd).
func kinds() []testbed.Kind { return []testbed.Kind{testbed.KindFromEnv()} }

func sendForDevice(tag uint32) xmppconn.SendOptions {
	return xmppconn.SendOptions{OTR: true, ToDevice: tag, Store: true}
}
