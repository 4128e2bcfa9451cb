package xmppconn_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"otrchat/internal/testbed"
	"otrchat/xmppconn"
)

// recorder collects a client's events for assertions.
type recorder struct {
	mu     sync.Mutex
	events []xmppconn.Event
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) add(e xmppconn.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// waitFor waits until pred holds for the events so far, or fails the test.
func (r *recorder) waitFor(t *testing.T, d time.Duration, what string, pred func([]xmppconn.Event) bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := pred(r.events)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.signal:
		case <-time.After(50 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

func (r *recorder) messages() []xmppconn.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []xmppconn.Message
	for _, e := range r.events {
		if m, ok := e.(*xmppconn.MessageEvent); ok {
			out = append(out, m.Message)
		}
	}
	return out
}

func bodies(evs []xmppconn.Event) []string {
	var out []string
	for _, e := range evs {
		if m, ok := e.(*xmppconn.MessageEvent); ok {
			out = append(out, m.Body)
		}
	}
	return out
}

func hasBody(body string) func([]xmppconn.Event) bool {
	return func(evs []xmppconn.Event) bool {
		for _, b := range bodies(evs) {
			if b == body {
				return true
			}
		}
		return false
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("OTRCHAT_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// device is one running client in a test.
type device struct {
	c      *xmppconn.Client
	rec    *recorder
	cancel context.CancelFunc
	done   chan struct{}
}

func (d *device) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancellation")
	}
}

func config(srv *testbed.Server, user string, tag uint32) xmppconn.Config {
	return xmppconn.Config{
		JID:         srv.JID(user, ""),
		Password:    srv.Password(user),
		Addr:        srv.C2SAddr,
		RootCAs:     srv.RootCAs(),
		InstanceTag: tag,
		MinBackoff:  50 * time.Millisecond,
		MaxBackoff:  500 * time.Millisecond,
	}
}

// startDevice runs a client and waits until it is online.
func startDevice(t *testing.T, cfg xmppconn.Config) *device {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	c, err := xmppconn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := &device{c: c, rec: newRecorder(), done: make(chan struct{})}
	c.Subscribe(d.rec.add)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() {
		defer close(d.done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := c.WaitOnline(wctx); err != nil {
		t.Fatal(err)
	}
	return d
}

func send(t *testing.T, d *device, to jid.JID, body string, o xmppconn.SendOptions) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.c.SendChat(ctx, to, body, o); err != nil {
		t.Fatal(err)
	}
	if err := d.c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func startServer(t *testing.T, kind testbed.Kind, users ...string) *testbed.Server {
	return testbed.Start(t, testbed.Options{Kind: kind, Accounts: testbed.Users(users...)})
}

// forKinds runs fn against the server named by $OTRCHAT_TEST_SERVER
// (Prosody by default; set it to "ejabberd" for the other server).
func forKinds(t *testing.T, fn func(t *testing.T, kind testbed.Kind)) {
	k := testbed.KindFromEnv()
	t.Run(k.String(), func(t *testing.T) { fn(t, k) })
}

var _ = fmt.Sprint

func TestChatRoundTrip(t *testing.T) {
	forKinds(t, func(t *testing.T, kind testbed.Kind) {
		srv := startServer(t, kind, "alice", "bob")
		a := startDevice(t, config(srv, "alice", 0x1111aaaa))
		b := startDevice(t, config(srv, "bob", 0x2222bbbb))
		send(t, a, srv.JID("bob", ""), "hello bob", xmppconn.SendOptions{})
		b.rec.waitFor(t, 10*time.Second, "plaintext message", hasBody("hello bob"))
		m := b.rec.messages()[0]
		if !m.From.Bare().Equal(srv.JID("alice", "")) || m.OTR || m.Carbon != xmppconn.NotCarbon {
			t.Fatalf("got %+v", m)
		}
	})
}
