package testbed_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/otrchat/otrchat/internal/testbed"
)

// chatMessage is a <message/> with a body, decoded from the stream.
type chatMessage struct {
	stanza.Message
	Body string `xml:"body"`
}

// receiver serves sess and delivers every incoming message on the
// channel. The session is closed, and Serve awaited, when the test ends.
func receiver(t *testing.T, sess *xmpp.Session) <-chan chatMessage {
	t.Helper()
	ch := make(chan chatMessage, 16)
	done := make(chan struct{})
	t.Cleanup(func() {
		// Bound the close on the connection itself: mellium v0.22.0's
		// SetCloseDeadline races with a running Serve.
		_ = sess.Conn().SetDeadline(time.Now().Add(2 * time.Second))
		_ = sess.Close()
		<-done
	})
	go func() {
		defer close(done)
		err := sess.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			if start.Name.Local != "message" {
				return nil
			}
			var m chatMessage
			d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r))
			if err := d.Decode(&m); err != nil {
				return err
			}
			select {
			case ch <- m:
			default:
			}
			return nil
		}))
		if err != nil {
			t.Logf("serve %s: %v", sess.LocalAddr(), err)
		}
	}()
	return ch
}

func sendChat(ctx context.Context, sess *xmpp.Session, to jid.JID, body string) error {
	return sess.Encode(ctx, chatMessage{
		Message: stanza.Message{To: to, Type: stanza.ChatMessage},
		Body:    body,
	})
}

func await(t *testing.T, ch <-chan chatMessage, d time.Duration) chatMessage {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(d):
		t.Fatalf("no message within %v", d)
		return chatMessage{}
	}
}

// TestChat logs alice and bob in through STARTTLS and SASL and sends a chat
// message each way, against every server kind.
func TestChat(t *testing.T) {
	for _, kind := range testbed.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			srv := testbed.Start(t, testbed.Options{Kind: kind, Accounts: testbed.Users("alice", "bob")})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			alice, err := srv.Dial(ctx, "alice", "laptop")
			if err != nil {
				t.Fatal(err)
			}
			defer alice.Close()
			bob, err := srv.Dial(ctx, "bob", "phone")
			if err != nil {
				t.Fatal(err)
			}
			defer bob.Close()

			for _, s := range []*xmpp.Session{alice, bob} {
				st := s.ConnectionState()
				if !st.HandshakeComplete || len(st.VerifiedChains) == 0 {
					t.Fatalf("%s: TLS not verified: %+v", s.LocalAddr(), st)
				}
				if s.State()&xmpp.Authn == 0 || s.State()&xmpp.Ready == 0 {
					t.Fatalf("%s: session state %v", s.LocalAddr(), s.State())
				}
			}
			for s, want := range map[*xmpp.Session]jid.JID{alice: srv.JID("alice", "laptop"), bob: srv.JID("bob", "phone")} {
				if !s.LocalAddr().Equal(want) {
					t.Fatalf("bound JID %s, want %s", s.LocalAddr(), want)
				}
			}
			toAlice, toBob := receiver(t, alice), receiver(t, bob)

			body := fmt.Sprintf("hello bob, from %s at %s", kind, time.Now().Format(time.RFC3339Nano))
			if err := sendChat(ctx, alice, bob.LocalAddr(), body); err != nil {
				t.Fatal(err)
			}
			m := await(t, toBob, 10*time.Second)
			if m.Body != body || !m.From.Equal(alice.LocalAddr()) || m.Type != stanza.ChatMessage {
				t.Fatalf("bob got %+v, want body %q from %s", m, body, alice.LocalAddr())
			}

			if err := sendChat(ctx, bob, alice.LocalAddr(), "hi alice"); err != nil {
				t.Fatal(err)
			}
			m = await(t, toAlice, 10*time.Second)
			if m.Body != "hi alice" || !m.From.Equal(bob.LocalAddr()) {
				t.Fatalf("alice got %+v", m)
			}
		})
	}
}

// TestComponent connects an XEP-0114 component (the prekey server's way
// in) to every server kind, checks that a message from alice reaches it and
// that its reply reaches alice, and that a wrong secret is refused.
func TestComponent(t *testing.T) {
	const name = "prekeys.localhost"
	for _, kind := range testbed.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			srv := testbed.Start(t, testbed.Options{
				Kind:       kind,
				Accounts:   testbed.Users("alice"),
				Components: []testbed.Component{{Name: name}},
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			if _, err := srv.DialComponentSecret(ctx, name, "not-the-secret"); err == nil {
				t.Fatal("component handshake with a wrong secret succeeded")
			}
			if _, err := srv.DialComponent(ctx, "other.localhost"); !errors.Is(err, testbed.ErrUnknownComponent) {
				t.Fatalf("DialComponent(unknown) = %v, want ErrUnknownComponent", err)
			}

			comp, err := srv.DialComponent(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if got := comp.LocalAddr().String(); got != name {
				t.Fatalf("component address %q, want %q", got, name)
			}
			toComp := receiver(t, comp)

			alice, err := srv.Dial(ctx, "alice", "laptop")
			if err != nil {
				t.Fatal(err)
			}
			toAlice := receiver(t, alice)

			if err := sendChat(ctx, alice, jid.MustParse(name), "prekey please"); err != nil {
				t.Fatal(err)
			}
			m := await(t, toComp, 10*time.Second)
			if m.Body != "prekey please" || !m.From.Equal(alice.LocalAddr()) {
				t.Fatalf("component got %+v", m)
			}
			// A component addresses stanzas explicitly: from its own domain.
			reply := chatMessage{
				Message: stanza.Message{From: jid.MustParse(name), To: alice.LocalAddr(), Type: stanza.ChatMessage},
				Body:    "here you are",
			}
			if err := comp.Encode(ctx, reply); err != nil {
				t.Fatal(err)
			}
			m = await(t, toAlice, 10*time.Second)
			if m.Body != "here you are" || m.From.String() != name {
				t.Fatalf("alice got %+v", m)
			}
		})
	}
}

// TestRestart stops (gracefully, then by SIGKILL) and restarts a server on
// the same port, and checks that the accounts survive and that a client
// that was connected sees its session end each time.
func TestRestart(t *testing.T) {
	for _, kind := range testbed.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			srv := testbed.Start(t, testbed.Options{Kind: kind, Accounts: testbed.Users("alice", "bob")})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			addr := srv.C2SAddr

			bob, err := srv.Dial(ctx, "bob", "desk")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- bob.Serve(nil) }()

			for i := 0; i < 2; i++ {
				if err := srv.Restart(); err != nil {
					t.Fatalf("restart %d: %v", i+1, err)
				}
				t.Logf("restart %d: %s ready again in %v", i+1, kind, srv.ReadyTime().Round(time.Millisecond))
			}
			select {
			case <-served:
			case <-time.After(10 * time.Second):
				t.Fatal("bob's session did not end when the server was stopped")
			}
			if srv.C2SAddr != addr {
				t.Fatalf("address changed from %s to %s", addr, srv.C2SAddr)
			}

			alice, err := srv.Dial(ctx, "alice", "laptop")
			if err != nil {
				t.Fatalf("login after restart: %v", err)
			}
			aliceServed := make(chan error, 1)
			go func() { aliceServed <- alice.Serve(nil) }()

			// A crash: no stream close, and the data still there after.
			if err := srv.Kill(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-aliceServed:
				t.Logf("after Kill, alice's session ended with %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("alice's session did not end when the server was killed")
			}
			if err := srv.Restart(); err != nil {
				t.Fatalf("restart after kill: %v", err)
			}
			t.Logf("after kill: %s ready again in %v", kind, srv.ReadyTime().Round(time.Millisecond))
			bob2, err := srv.Dial(ctx, "bob", "desk")
			if err != nil {
				t.Fatalf("login after kill and restart: %v", err)
			}
			bob2.Close()

			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			dctx, dcancel := context.WithTimeout(ctx, 3*time.Second)
			defer dcancel()
			if s, err := srv.Dial(dctx, "alice", "laptop"); err == nil {
				s.Close()
				t.Fatal("login succeeded on a stopped server")
			}
		})
	}
}

// TestLoopbackOnly checks from /proc that every socket the server listens
// on is on 127.0.0.1, and that the ports it was given are among them.
func TestLoopbackOnly(t *testing.T) {
	for _, kind := range testbed.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			srv := testbed.Start(t, testbed.Options{
				Kind:       kind,
				Components: []testbed.Component{{Name: "prekeys.localhost"}},
			})
			ls, err := srv.Listeners()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s listens on %v", kind, ls)
			want := map[string]bool{srv.C2SAddr: false, srv.ComponentAddr: false}
			for _, l := range ls {
				if !strings.HasPrefix(l, "127.") {
					t.Errorf("listener on %s", l)
				}
				if _, ok := want[l]; ok {
					want[l] = true
				}
			}
			for addr, seen := range want {
				if !seen {
					t.Errorf("no listener on %s", addr)
				}
			}
		})
	}
}

// TestLoginRefused checks that the test bed does not hide authentication
// or certificate failures.
func TestLoginRefused(t *testing.T) {
	srv := testbed.Start(t, testbed.Options{Accounts: []testbed.Account{{Name: "carol", Password: "right-password"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if _, err := srv.Dial(ctx, "mallory", ""); !errors.Is(err, testbed.ErrUnknownAccount) {
		t.Fatalf("Dial(unknown) = %v, want ErrUnknownAccount", err)
	}
	if srv.Password("carol") != "right-password" {
		t.Fatalf("Password(carol) = %q", srv.Password("carol"))
	}

	// Wrong password through the same STARTTLS + SASL path.
	conn, err := net.Dial("tcp", srv.C2SAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = xmpp.NewClientSession(ctx, srv.JID("carol", ""), conn,
		xmpp.StartTLS(srv.TLSConfig(srv.Domain)),
		xmpp.SASL("", "wrong-password", sasl.ScramSha256, sasl.ScramSha1),
		xmpp.BindResource())
	if err == nil {
		t.Fatal("login with a wrong password succeeded")
	}

	// A client that does not trust the test bed CA must not connect.
	conn2, err := net.Dial("tcp", srv.C2SAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	_, err = xmpp.NewClientSession(ctx, srv.JID("carol", ""), conn2,
		xmpp.StartTLS(&tls.Config{ServerName: srv.Domain, RootCAs: x509.NewCertPool()}),
		xmpp.SASL("", "right-password", sasl.ScramSha256, sasl.ScramSha1),
		xmpp.BindResource())
	var unknownAuthority x509.UnknownAuthorityError
	if !errors.As(err, &unknownAuthority) {
		t.Fatalf("login without the CA: %v, want x509.UnknownAuthorityError", err)
	}
}

// TestFeatures asks each server for what otrchat relies on: stream
// management in the stream features; carbons, ping and offline storage on
// the server and MAM and PEP on the account through XEP-0030.
func TestFeatures(t *testing.T) {
	for _, kind := range testbed.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			srv := testbed.Start(t, testbed.Options{Kind: kind, Accounts: testbed.Users("alice")})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			alice, err := srv.Dial(ctx, "alice", "laptop")
			if err != nil {
				t.Fatal(err)
			}
			// Stream management (XEP-0198) is a stream feature, listed
			// after authentication; mellium keeps the last list it read.
			if _, ok := alice.Feature("urn:xmpp:sm:3"); !ok {
				t.Errorf("%s does not offer stream management", kind)
			}
			receiver(t, alice) // serves the session, so IQ replies are read

			features := func(to jid.JID) map[string]bool {
				t.Helper()
				var reply disco.Info
				err := alice.UnmarshalIQElement(ctx, disco.InfoQuery{}.TokenReader(), stanza.IQ{To: to, Type: stanza.GetIQ}, &reply)
				if err != nil {
					t.Fatalf("disco#info %s: %v", to, err)
				}
				got := map[string]bool{}
				for _, f := range reply.Features {
					got[f.Var] = true
				}
				return got
			}
			server := features(jid.MustParse(srv.Domain))
			for _, ns := range []string{"urn:xmpp:carbons:2", "urn:xmpp:ping", "msgoffline"} {
				if !server[ns] {
					t.Errorf("server %s does not advertise %s", kind, ns)
				}
			}
			account := features(srv.JID("alice", ""))
			for _, ns := range []string{"urn:xmpp:mam:2", "http://jabber.org/protocol/pubsub#publish"} {
				if !account[ns] {
					t.Errorf("account on %s does not advertise %s", kind, ns)
				}
			}
		})
	}
}

// BenchmarkLaunch measures how long each server takes from Launch until a
// login succeeds, with two accounts (go test -run='^$' -bench=Launch
// -benchtime=5x ./internal/testbed).
func BenchmarkLaunch(b *testing.B) {
	for _, kind := range testbed.Kinds() {
		b.Run(string(kind), func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				srv, err := testbed.Launch(context.Background(), testbed.Options{Kind: kind, Accounts: testbed.Users("alice", "bob")})
				if errors.Is(err, testbed.ErrUnavailable) {
					b.Skip(err)
				}
				if err != nil {
					b.Fatal(err)
				}
				total += srv.ReadyTime()
				b.StopTimer()
				if err := srv.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-ready")
		})
	}
}
