package prekeyclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4/prekey"
)

func TestPublishHundredAndRetrieve(t *testing.T) {
	bob := newDevice(t, "bob@example.org/phone")
	srv := newHonestServer(t, testServer)
	c := newTestClient(t, bob, srv, 5*time.Second)
	pins := c.cfg.Pins
	if _, ok, _ := pins.Pinned(srv.jid); ok {
		t.Fatal("pinned before any DAKE")
	}
	n, err := c.Publish(context.Background(), 100, true)
	if err != nil {
		t.Fatal(err)
	}
	if n != 100 || srv.storedCount(bob) != 100 {
		t.Fatalf("published %d, server stores %d", n, srv.storedCount(bob))
	}
	// 100 prekey messages do not fit one 32 KiB stanza: the DAKE-3 went
	// out in fragments and was reassembled by the server.
	if got, _, _ := pins.Pinned(srv.jid); !bytes.Equal(got, srv.fingerprint()) {
		t.Fatal("the server's fingerprint was not pinned after the DAKE")
	}
	if secrets, _ := bob.dev.PrekeySecretCount(); secrets != 100 {
		t.Fatalf("device keeps %d secrets", secrets)
	}
	got, err := c.StorageStatus(context.Background())
	if err != nil || got != 100 {
		t.Fatalf("StorageStatus = %d, %v", got, err)
	}

	// Alice (a client of the same server double) retrieves: one ensemble,
	// whose prekey message bob can answer with its stored secret.
	alice := newDevice(t, "alice@example.org/laptop")
	srv.mu.Lock()
	ac := newTestClient(t, alice, &fakeServer{jid: srv.jid}, time.Second)
	srv.client = ac
	srv.mu.Unlock()
	ac.cfg.Transport = srv
	es, err := ac.Retrieve(context.Background(), jid.MustParse("bob@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	e := es.ByTag[bob.tag]
	if len(es.ByTag) != 1 || e == nil {
		t.Fatalf("ensembles %v", es.ByTag)
	}
	if srv.storedCount(bob) != 99 {
		t.Fatalf("server stores %d after a retrieval", srv.storedCount(bob))
	}
	if _, err := bob.dev.TakePrekeySecret(e.Message.ID); err != nil {
		t.Fatalf("bob has no secret for the prekey message handed out: %v", err)
	}
}

func TestPublishMoreThan255(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 300 prekey messages")
	}
	bob := newDevice(t, "bob@example.org/phone")
	srv := newHonestServer(t, testServer)
	c := newTestClient(t, bob, srv, 10*time.Second)
	n, err := c.Publish(context.Background(), 300, false)
	if err != nil {
		t.Fatal(err)
	}
	if n != 300 || srv.storedCount(bob) != 300 || srv.publications != 2 {
		t.Fatalf("published %d in %d publications; server stores %d", n, srv.publications, srv.storedCount(bob))
	}
}

func TestMaintain(t *testing.T) {
	bob := newDevice(t, "bob@example.org/phone")
	srv := newHonestServer(t, testServer)
	now := time.Now()
	clock := func() time.Time { return now }
	c, err := New(Config{Account: bob.account, Identity: bob.id, InstanceTag: bob.tag, Device: bob.dev,
		Transport: srv, Pins: NewMemoryPinStore(), Timeout: 5 * time.Second,
		Target: 30, Threshold: 10, RenewBefore: 24 * time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv.client = c
	if err := c.UseServer(Server{JID: srv.jid, Fingerprint: srv.fingerprint()}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// First run: nothing stored; profiles and 30 prekey messages go out.
	rep, err := c.Maintain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stored != 0 || rep.Published != 30 || !rep.ProfilesPublished || rep.ProfilesRenewed {
		t.Fatalf("first report %+v", rep)
	}
	cp, _, _, _ := bob.dev.Profiles()
	if srv.device(bob).cp == nil || !bytes.Equal(srv.device(bob).cp.Marshal(), cp.Marshal()) {
		t.Fatal("server does not hold the client profile")
	}
	// Second run: full; nothing to do.
	rep, err = c.Maintain(ctx)
	if err != nil || rep.Stored != 30 || rep.Published != 0 || rep.ProfilesPublished {
		t.Fatalf("second report %+v, %v", rep, err)
	}
	// 25 are handed out: 5 left, below the threshold: refilled to 30.
	srv.device(bob).msgs = srv.device(bob).msgs[25:]
	rep, err = c.Maintain(ctx)
	if err != nil || rep.Stored != 5 || rep.Published != 25 || srv.storedCount(bob) != 30 {
		t.Fatalf("refill report %+v, %v; server stores %d", rep, err, srv.storedCount(bob))
	}
	// 11 left: above the threshold, no refill.
	srv.device(bob).msgs = srv.device(bob).msgs[19:]
	rep, err = c.Maintain(ctx)
	if err != nil || rep.Stored != 11 || rep.Published != 0 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	// Six days later the profiles (valid a week) expire within a day:
	// renewed and republished without any prekey message.
	now = now.Add(6*24*time.Hour + time.Minute)
	rep, err = c.Maintain(ctx)
	if err != nil || !rep.ProfilesRenewed || !rep.ProfilesPublished || rep.Published != 0 {
		t.Fatalf("renewal report %+v, %v", rep, err)
	}
	cp2, _, _, _ := bob.dev.Profiles()
	if bytes.Equal(cp.Marshal(), cp2.Marshal()) || !bytes.Equal(srv.device(bob).cp.Marshal(), cp2.Marshal()) {
		t.Fatal("the renewed client profile was not published")
	}
	if !cp2.Expires.After(now.Add(6 * 24 * time.Hour)) {
		t.Fatalf("renewed profile expires %v", cp2.Expires)
	}
}

// TestDAKEMisbehaviours runs a malicious or broken server double for each
// misbehaviour of the DAKE paths.
func TestDAKEMisbehaviours(t *testing.T) {
	type result struct {
		n   int
		err error
	}
	publish := func(c *Client) result { n, err := c.Publish(context.Background(), 3, true); return result{n, err} }
	status := func(c *Client) result { n, err := c.StorageStatus(context.Background()); return result{n, err} }
	mangleMAC := func(answer []byte) []string {
		b := bytes.Clone(answer)
		b[len(b)-1] ^= 1
		return []string{prekey.Encode(b)}
	}
	onlyDAKE2 := func(f func([]byte) []string) func([]byte) []string {
		return func(a []byte) []string {
			if typ, _ := prekey.PeekType(a); typ == prekey.TypeDAKE2 {
				return []string{prekey.Encode(a)}
			}
			return f(a)
		}
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, srv *fakeServer)
		op    func(*Client) result
		want  []error
	}{
		{"unavailable", func(t *testing.T, srv *fakeServer) {
			srv.tamper = func([]byte) []string { return nil }
		}, status, []error{ErrServerUnavailable}},
		{"refuses publication", func(t *testing.T, srv *fakeServer) { srv.refuse = true }, publish, []error{ErrRefused}},
		{"failure with a bad MAC is ignored", func(t *testing.T, srv *fakeServer) {
			srv.refuse = true
			srv.tamper = onlyDAKE2(mangleMAC)
		}, publish, []error{ErrServerUnavailable, ErrBadReply}},
		{"success with a bad MAC is ignored", func(t *testing.T, srv *fakeServer) {
			srv.tamper = onlyDAKE2(mangleMAC)
		}, publish, []error{ErrServerUnavailable, ErrBadReply}},
		{"storage status with a bad MAC is ignored", func(t *testing.T, srv *fakeServer) {
			srv.tamper = onlyDAKE2(mangleMAC)
		}, status, []error{ErrServerUnavailable, ErrBadReply}},
		{"refuses the DAKE-1", func(t *testing.T, srv *fakeServer) {
			srv.respond = func(b []byte) []string {
				return []string{prekey.Encode(prekey.UnauthenticatedFailure(srv.client.cfg.InstanceTag))}
			}
		}, status, []error{ErrRefused}},
		{"DAKE-2 signed by another key", func(t *testing.T, srv *fakeServer) {
			other, err := prekey.GenerateServerKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			srv.sess = prekey.NewServerSession(prekey.ServerConfig{Key: other, Name: testServer}, "bob@example.org")
		}, status, []error{ErrServerKeyMismatch}},
		{"DAKE-2 under another name", func(t *testing.T, srv *fakeServer) {
			srv.sess = prekey.NewServerSession(prekey.ServerConfig{Key: srv.key, Name: "evil.example.org"}, "bob@example.org")
		}, status, []error{ErrServerKeyMismatch}},
		{"garbage answers", func(t *testing.T, srv *fakeServer) {
			srv.tamper = func([]byte) []string { return []string{"?OTRP|1|2|3,1,1,x,", "AAQ=", "not base64."} }
		}, status, []error{ErrServerUnavailable, ErrBadReply}},
		{"impossible count", func(t *testing.T, srv *fakeServer) {
			srv.count = func(int) uint32 { return 1 << 31 }
		}, status, []error{ErrWrongCount}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bob := newDevice(t, "bob@example.org/phone")
			srv := newHonestServer(t, testServer)
			c := newTestClient(t, bob, srv, 300*time.Millisecond)
			tc.setup(t, srv)
			start := time.Now()
			r := tc.op(c)
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("took %v", el)
			}
			for _, w := range tc.want {
				if !errors.Is(r.err, w) {
					t.Errorf("err = %v; want errors.Is %v", r.err, w)
				}
			}
			if r.n != 0 {
				t.Errorf("n = %d", r.n)
			}
		})
	}
}

// TestMaintainWrongCount: a server claiming to hold more prekey messages
// than the device ever published is not believed.
func TestMaintainWrongCount(t *testing.T) {
	bob := newDevice(t, "bob@example.org/phone")
	srv := newHonestServer(t, testServer)
	srv.count = func(int) uint32 { return 500 }
	c := newTestClient(t, bob, srv, 5*time.Second)
	c.cfg.Target, c.cfg.Threshold = 20, 5
	rep, err := c.Maintain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 1 || !errors.Is(rep.Warnings[0], ErrWrongCount) {
		t.Fatalf("warnings %v", rep.Warnings)
	}
	if rep.Published != 20 || srv.storedCount(bob) != 20 {
		t.Fatalf("published %d; server stores %d", rep.Published, srv.storedCount(bob))
	}
}

// TestChangedKeyAfterPin: once pinned, a server presenting another
// fingerprint is refused before any DAKE, until the user accepts it.
func TestChangedKeyAfterPin(t *testing.T) {
	bob := newDevice(t, "bob@example.org/phone")
	srv := newHonestServer(t, testServer)
	c := newTestClient(t, bob, srv, 5*time.Second)
	if _, err := c.StorageStatus(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The server gets a new key and publishes its fingerprint.
	key, err := prekey.GenerateServerKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv.key = key
	srv.sessions = map[string]*prekey.ServerSession{}
	err = c.UseServer(Server{JID: srv.jid, Fingerprint: srv.fingerprint()})
	var changed *FingerprintChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("UseServer: %v", err)
	}
	// The client keeps the pinned fingerprint: the DAKE with the new key
	// fails.
	if _, err := c.StorageStatus(context.Background()); !errors.Is(err, ErrServerKeyMismatch) {
		t.Fatalf("StorageStatus with the new key: %v", err)
	}
	if err := c.AcceptFingerprint(changed.Server, changed.Offered); err != nil {
		t.Fatal(err)
	}
	if err := c.UseServer(Server{JID: srv.jid, Fingerprint: srv.fingerprint()}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StorageStatus(context.Background()); err != nil {
		t.Fatalf("StorageStatus after accepting: %v", err)
	}
}

// TestRun: the periodic maintenance refills what retrievals took.
func TestRun(t *testing.T) {
	bob := newDevice(t, "bob@example.org/phone")
	srv := newHonestServer(t, testServer)
	c := newTestClient(t, bob, srv, 5*time.Second)
	c.cfg.Target, c.cfg.Threshold = 6, 3
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reports := make(chan *Report, 16)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, 50*time.Millisecond, func(r *Report, err error) {
			if err != nil {
				// A round cut short by the cancel at the end of the test
				// reports the cancellation; anything else is a failure.
				if ctx.Err() == nil {
					t.Error(err)
				}
				return
			}
			select {
			case reports <- r:
			default: // the test stopped reading
			}
		})
	}()
	first := <-reports
	if first.Published != 6 {
		t.Fatalf("first run published %d", first.Published)
	}
	srv.mu.Lock()
	srv.stored["bob@example.org"][bob.tag].msgs = srv.stored["bob@example.org"][bob.tag].msgs[4:]
	srv.mu.Unlock()
	for r := range reports {
		if r.Published > 0 {
			if r.Stored != 2 || r.Published != 4 {
				t.Fatalf("refill report %+v", r)
			}
			break
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	if err := c.Run(context.Background(), 0, nil); err == nil {
		t.Fatal("Run with a zero interval")
	}
}
