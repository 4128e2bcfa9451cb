package prekeyclient

import (
	"context"
	"encoding/xml"
	"errors"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"

	"github.com/otrchat/otrchat/internal/testbed"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
	"github.com/otrchat/otrchat/prekeyserver"
)

// integration tests run the client over a real XMPP server of the test
// bed (Prosody by default; OTRCHAT_TEST_SERVER=ejabberd for ejabberd).

const componentName = "prekeys.localhost"

// serveSession runs s.Serve(h) until the test ends.
func serveSession(t *testing.T, s *xmpp.Session, h xmpp.Handler) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Serve(h); err != nil {
			t.Logf("serve %s: %v", s.LocalAddr(), err)
		}
	}()
	t.Cleanup(func() { closeSession(t, s, done) })
}

// closeSession closes s and waits for its Serve to return (done), cutting
// the connection if the peer does not close the stream in time.
// (Session.SetCloseDeadline races with Serve in mellium v0.22.0.)
func closeSession(t *testing.T, s *xmpp.Session, done <-chan struct{}) {
	go func() { _ = s.Close() }()
	select {
	case <-done:
		return
	case <-time.After(2 * time.Second):
		_ = s.Conn().Close()
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Errorf("serve %s did not end", s.LocalAddr())
	}
}

// componentDouble serves f as an XEP-0114 component of bed: disco#info
// (the prekey server's identity and features), disco#items (its
// fingerprint item, or f's override) and the prekey traffic. It returns a
// function that disconnects it.
func componentDouble(t *testing.T, bed *testbed.Server, f *fakeServer, fingerprintItems func() []items.Item) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := bed.DialComponent(ctx, f.name)
	if err != nil {
		t.Fatal(err)
	}
	if fingerprintItems == nil {
		fingerprintItems = func() []items.Item {
			f.mu.Lock()
			defer f.mu.Unlock()
			fp := f.key.Fingerprint()
			return []items.Item{{JID: f.jid, Node: FingerprintNode, Name: hexUpper(fp[:])}}
		}
	}
	onMessage := func(msg stanza.Message, r xmlstream.TokenReadEncoder) error {
		var m bodyMessage
		if err := xml.NewTokenDecoder(r).Decode(&m); err != nil {
			return err
		}
		answers, err := f.receive(msg.From, m.Body)
		if err != nil {
			t.Logf("component: %v", err)
		}
		for _, b := range answers {
			if err := r.Encode(bodyMessage{Message: stanza.Message{From: f.jid, To: msg.From, Type: stanza.ChatMessage}, Body: b}); err != nil {
				return err
			}
		}
		return nil
	}
	h := mux.New(component.NSAccept,
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: disco.NSInfo, Local: "query"}, func(iq stanza.IQ, r xmlstream.TokenReadEncoder, _ *xml.StartElement) error {
			_, err := xmlstream.Copy(r, iq.Result(prekeyInfo("OTR Prekey Server").TokenReader()))
			return err
		}),
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: disco.NSItems, Local: "query"}, func(iq stanza.IQ, r xmlstream.TokenReadEncoder, _ *xml.StartElement) error {
			var list []xml.TokenReader
			for _, it := range fingerprintItems() {
				list = append(list, it.TokenReader())
			}
			q := xmlstream.Wrap(xmlstream.MultiReader(list...), xml.StartElement{Name: xml.Name{Space: disco.NSItems, Local: "query"}})
			_, err := xmlstream.Copy(r, iq.Result(q))
			return err
		}),
		mux.MessageFunc(stanza.ChatMessage, xml.Name{Space: component.NSAccept, Local: "body"}, onMessage),
		mux.MessageFunc(stanza.NormalMessage, xml.Name{Space: component.NSAccept, Local: "body"}, onMessage),
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sess.Serve(h)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		closeSession(t, sess, done)
	}
	t.Cleanup(stop)
	return stop
}

// bedDevice is a device logged in to the test bed, with its client.
type bedDevice struct {
	*device
	sess   *xmpp.Session
	client *Client
}

// login connects user/resource and starts a client on the session, with
// pins (shared between the devices of a test when given).
func login(t *testing.T, bed *testbed.Server, user, resource string, pins PinStore, timeout time.Duration) *bedDevice {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := bed.Dial(ctx, user, resource)
	if err != nil {
		t.Fatal(err)
	}
	d := newDevice(t, sess.LocalAddr().String())
	if pins == nil {
		pins = NewMemoryPinStore()
	}
	c, err := New(Config{
		Account: sess.LocalAddr(), Identity: d.id, InstanceTag: d.tag, Device: d.dev,
		Transport: SessionTransport(sess), Discoverer: SessionDiscoverer(sess), Pins: pins,
		Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	serveSession(t, sess, mux.New(stanza.NSClient, Handle(c, nil)))
	return &bedDevice{device: d, sess: sess, client: c}
}

func startBed(t *testing.T, users ...string) *testbed.Server {
	return testbed.Start(t, testbed.Options{
		Accounts:   testbed.Users(users...),
		Components: []testbed.Component{{Name: componentName}},
	})
}

// prekeyBackend is the prekey server a scenario runs against.
type prekeyBackend struct {
	// stored returns the prekey messages the server holds for a device.
	stored func(bare string, tag otr4.InstanceTag) int
	// changeKey gives the server a new long-term key and returns its
	// fingerprint.
	changeKey func() []byte
}

// TestIntegrationDouble runs the scenario against the component test
// double (built on otr4/prekey's ServerSession).
func TestIntegrationDouble(t *testing.T) {
	bed := startBed(t, "alice", "bob", "carol")
	srv := newHonestServer(t, componentName)
	componentDouble(t, bed, srv, nil)
	runScenario(t, bed, prekeyBackend{
		stored: func(bare string, tag otr4.InstanceTag) int {
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if d := srv.stored[bare][tag]; d != nil {
				return len(d.msgs)
			}
			return 0
		},
		changeKey: func() []byte {
			key := newHonestServer(t, componentName).key
			srv.mu.Lock()
			srv.key, srv.sessions = key, map[string]*prekey.ServerSession{}
			srv.mu.Unlock()
			fp := key.Fingerprint()
			return fp[:]
		},
	})
}

// TestIntegrationPrekeyServer runs the scenario against otrchat's own
// prekey server component (prekeyserver).
func TestIntegrationPrekeyServer(t *testing.T) {
	bed := startBed(t, "alice", "bob", "carol")
	start := func(dir string) (*prekeyserver.Server, func()) {
		srv, err := prekeyserver.New(prekeyserver.Config{Name: componentName, DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sess, err := srv.Connect(ctx, bed.ComponentAddr, bed.Secret(componentName))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = srv.Serve(sess)
		}()
		stopped := false
		stop := func() {
			if stopped {
				return
			}
			stopped = true
			closeSession(t, sess, done)
			if err := srv.Close(); err != nil {
				t.Error(err)
			}
		}
		t.Cleanup(stop)
		return srv, stop
	}
	srv, stop := start(t.TempDir())
	runScenario(t, bed, prekeyBackend{
		stored: func(bare string, tag otr4.InstanceTag) int {
			n, err := srv.Stored(bare, tag)
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
		changeKey: func() []byte {
			stop()
			// A new data directory: a new long-term key.
			srv, _ = start(t.TempDir())
			fp := srv.Fingerprint()
			return fp[:]
		},
	})
}

// runScenario runs the whole client over a real XMPP server: discovery,
// publication of 100 prekey messages by one device and of more by two
// others, retrieval by another account (one ensemble per device, storage
// down by one per device), the "No Prekey Ensembles" path, and the refusal
// of a changed fingerprint until it is accepted.
func runScenario(t *testing.T, bed *testbed.Server, be prekeyBackend) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	bobPins := NewMemoryPinStore()
	var bobs []*bedDevice
	for _, res := range []string{"phone", "laptop", "tablet"} {
		b := login(t, bed, "bob", res, bobPins, 10*time.Second)
		s, err := b.client.Connect(ctx)
		if err != nil {
			t.Fatalf("%s: Connect: %v", res, err)
		}
		if s.JID.String() != componentName {
			t.Fatalf("discovered %s", s.JID)
		}
		bobs = append(bobs, b)
	}
	bobBare := bed.JID("bob", "").String()
	start := time.Now()
	n, err := bobs[0].client.Publish(ctx, 100, true)
	if err != nil || n != 100 {
		t.Fatalf("Publish 100: %d, %v", n, err)
	}
	t.Logf("published 100 prekey messages over %s in %v", bed.Kind, time.Since(start))
	if got := be.stored(bobBare, bobs[0].tag); got != 100 {
		t.Fatalf("server stores %d", got)
	}
	// The other two devices publish at the same time.
	errs := make(chan error, 2)
	for _, b := range bobs[1:] {
		go func() {
			n, err := b.client.Publish(ctx, 2, true)
			if err == nil && n != 2 {
				err = errors.New("short publication")
			}
			errs <- err
		}()
	}
	for range bobs[1:] {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Publish: %v", err)
		}
	}
	counts := func() []int {
		var out []int
		for _, b := range bobs {
			n, err := b.client.StorageStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s := be.stored(bobBare, b.tag); s != n {
				t.Fatalf("StorageStatus says %d, the server stores %d", n, s)
			}
			out = append(out, n)
		}
		return out
	}
	before := counts()
	if before[0] != 100 || before[1] != 2 || before[2] != 2 {
		t.Fatalf("stored %v", before)
	}

	alice := login(t, bed, "alice", "desk", nil, 10*time.Second)
	if _, err := alice.client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	es, err := alice.client.Retrieve(ctx, bed.JID("bob", ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(es.ByTag) != 3 || len(es.Warnings) != 0 {
		t.Fatalf("%d ensembles, warnings %v", len(es.ByTag), es.Warnings)
	}
	for _, b := range bobs {
		e := es.ByTag[b.tag]
		if e == nil {
			t.Fatalf("no ensemble for bob's device %v", b.tag)
		}
		// The device holds the secret of the prekey message handed out.
		if _, err := b.dev.TakePrekeySecret(e.Message.ID); err != nil {
			t.Fatalf("device %v: %v", b.tag, err)
		}
	}
	after := counts()
	for i := range bobs {
		if after[i] != before[i]-1 {
			t.Fatalf("stored %v after a retrieval, before %v", after, before)
		}
	}

	// Carol publishes one prekey message: the second retrieval finds none.
	carol := login(t, bed, "carol", "x", nil, 10*time.Second)
	if _, err := carol.client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.client.Publish(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.client.Retrieve(ctx, bed.JID("carol", "")); err != nil {
		t.Fatal(err)
	}
	_, err = alice.client.Retrieve(ctx, bed.JID("carol", ""))
	var none *NoEnsemblesError
	if !errors.As(err, &none) || none.Identity != bed.JID("carol", "").String() {
		t.Fatalf("exhausted storage: err = %v", err)
	}
	t.Logf("exhausted storage: %v", err)

	// The server's key changes: bob's devices (which pinned the first
	// one) refuse it until bob accepts it.
	fp := be.changeKey()
	_, err = bobs[0].client.Connect(ctx)
	var changed *FingerprintChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("Connect after a key change: %v", err)
	}
	if string(changed.Offered) != string(fp) {
		t.Fatalf("error offers %x, want %x", changed.Offered, fp)
	}
	t.Logf("changed key: %v", err)
	if err := bobs[0].client.AcceptFingerprint(changed.Server, changed.Offered); err != nil {
		t.Fatal(err)
	}
	if _, err := bobs[0].client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bobs[0].client.StorageStatus(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationUnavailable: the prekey server component goes away after
// discovery; the XMPP server bounces the client's messages and the client
// reports the server unavailable, quickly and without hanging. Discovery
// then finds no server.
func TestIntegrationUnavailable(t *testing.T) {
	bed := startBed(t, "bob")
	srv := newHonestServer(t, componentName)
	stop := componentDouble(t, bed, srv, nil)
	bob := login(t, bed, "bob", "phone", nil, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := bob.client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	start := time.Now()
	_, err := bob.client.StorageStatus(ctx)
	if !errors.Is(err, ErrServerUnavailable) {
		t.Fatalf("err = %v, want ErrServerUnavailable", err)
	}
	t.Logf("after %v: %v", time.Since(start), err)
	if _, err := bob.client.Retrieve(ctx, bed.JID("alice", "")); !errors.Is(err, ErrServerUnavailable) {
		t.Fatalf("Retrieve: err = %v, want ErrServerUnavailable", err)
	}
	if _, err := bob.client.Connect(ctx); !errors.Is(err, ErrNoServer) {
		t.Fatalf("Connect: err = %v, want ErrNoServer", err)
	}
}

// TestIntegrationLyingFingerprint: a component whose disco fingerprint is
// not the fingerprint of the key it uses in the DAKE is caught at DAKE-2,
// and nothing is pinned.
func TestIntegrationLyingFingerprint(t *testing.T) {
	bed := startBed(t, "bob")
	srv := newHonestServer(t, componentName)
	lie := randomFP(t)
	componentDouble(t, bed, srv, func() []items.Item {
		return []items.Item{{JID: srv.jid, Node: FingerprintNode, Name: hexUpper(lie)}}
	})
	pins := NewMemoryPinStore()
	bob := login(t, bed, "bob", "phone", pins, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := bob.client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.client.Publish(ctx, 1, true); !errors.Is(err, ErrServerKeyMismatch) {
		t.Fatalf("err = %v, want ErrServerKeyMismatch", err)
	}
	if _, ok, _ := pins.Pinned(srv.jid); ok {
		t.Fatal("a lying server's fingerprint was pinned")
	}
	if srv.publications != 0 {
		t.Fatal("the publication reached the server")
	}
}
