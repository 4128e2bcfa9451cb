package prekeyserver

import (
	"context"
	"encoding/xml"
	"errors"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/otrchat/otrchat/internal/testbed"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

// TestXMPP runs the component against every server of the test bed: disco,
// three devices of one account publishing (their DAKEs interleaved),
// retrieval by another account, storage status, a restart, exhaustion and
// refusals, all with a plain XMPP client speaking the prekey messages.
func TestXMPP(t *testing.T) {
	for _, kind := range testbed.Kinds() {
		t.Run(string(kind), func(t *testing.T) { testXMPP(t, kind) })
	}
}

// runningComponent is a Server connected to bed until stop is called.
type runningComponent struct {
	s    *Server
	stop func()
}

func startComponent(t *testing.T, bed *testbed.Server, dir string, limits Limits) *runningComponent {
	t.Helper()
	s, err := New(Config{Name: serverName, DataDir: dir, Logger: testLogger(t), Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess, err := s.Connect(ctx, bed.ComponentAddr, bed.Secret(serverName))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(sess) }()
	stopped := false
	c := &runningComponent{s: s}
	c.stop = func() {
		if stopped {
			return
		}
		stopped = true
		// Bound the close on the connection itself: mellium v0.22.0's
		// SetCloseDeadline races with a running Serve.
		_ = sess.Conn().SetDeadline(time.Now().Add(2 * time.Second))
		_ = sess.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("component did not stop")
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(c.stop)
	return c
}

// xclient is a plain XMPP client: messages from the component arrive on a
// channel; IQs are answered through mellium's Serve.
type xclient struct {
	t    *testing.T
	sess *xmpp.Session
	in   chan messageStanza
}

func dialClient(t *testing.T, bed *testbed.Server, user, resource string) *xclient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess, err := bed.Dial(ctx, user, resource)
	if err != nil {
		t.Fatal(err)
	}
	c := &xclient{t: t, sess: sess, in: make(chan messageStanza, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sess.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			if start.Name.Local != "message" {
				return nil
			}
			var m messageStanza
			if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r)).Decode(&m); err != nil {
				return err
			}
			if m.From.String() == serverName {
				c.in <- m
			}
			return nil
		}))
	}()
	t.Cleanup(func() {
		// Bound the close on the connection itself: mellium v0.22.0's
		// SetCloseDeadline races with a running Serve.
		_ = sess.Conn().SetDeadline(time.Now().Add(2 * time.Second))
		_ = sess.Close()
		<-done
	})
	return c
}

// roundTrip sends body to the component (in ?OTRP| fragments when large)
// and waits for one complete reply.
func (c *xclient) roundTrip(body string) []string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pieces := []string{body}
	if len(body) > 16000 {
		var err error
		if pieces, err = prekey.Fragment(randReader, body, 16000, 0x100, 0); err != nil {
			c.t.Fatal(err)
		}
	}
	for _, p := range pieces {
		m := messageStanza{Message: stanza.Message{To: jid.MustParse(serverName), Type: stanza.ChatMessage}, Body: p}
		if err := c.sess.Encode(ctx, m); err != nil {
			c.t.Fatal(err)
		}
	}
	select {
	case m := <-c.in:
		return []string{m.Body}
	case <-ctx.Done():
		c.t.Fatal("no reply from the prekey server")
		return nil
	}
}

func (c *xclient) transport() transport {
	return func(from jid.JID, body string) []string {
		if !from.Equal(c.sess.LocalAddr()) {
			c.t.Fatalf("transport of %v used for %v", c.sess.LocalAddr(), from)
		}
		return c.roundTrip(body)
	}
}

type discoInfoResult struct {
	XMLName    xml.Name        `xml:"http://jabber.org/protocol/disco#info query"`
	Identities []discoIdentity `xml:"identity"`
	Features   []discoFeature  `xml:"feature"`
}

type discoItemsResult struct {
	XMLName xml.Name    `xml:"http://jabber.org/protocol/disco#items query"`
	Items   []discoItem `xml:"item"`
}

func (c *xclient) disco(ns string, v any) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iq := stanza.IQ{To: jid.MustParse(serverName), Type: stanza.GetIQ}
	q := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: ns, Local: "query"}})
	if err := c.sess.UnmarshalIQElement(ctx, q, iq, v); err != nil {
		c.t.Fatalf("disco %s: %v", ns, err)
	}
}

func testXMPP(t *testing.T, kind testbed.Kind) {
	bed := testbed.Start(t, testbed.Options{
		Kind:       kind,
		Accounts:   testbed.Users("alice", "bob"),
		Components: []testbed.Component{{Name: serverName}},
	})
	dir := t.TempDir()
	limits := Limits{RetrievalBurst: 100, MaxBodyBytes: 96 << 10}
	comp := startComponent(t, bed, dir, limits)
	fp := comp.s.Fingerprint()

	// Service discovery, exactly as the spec's XMPP section shows.
	alice := []*xclient{dialClient(t, bed, "alice", "laptop"), dialClient(t, bed, "alice", "phone"), dialClient(t, bed, "alice", "tablet")}
	var info discoInfoResult
	alice[0].disco(NSDiscoInfo, &info)
	if len(info.Identities) != 1 || info.Identities[0] != (discoIdentity{
		XMLName: xml.Name{Space: NSDiscoInfo, Local: "identity"}, Category: "auth", Type: "otr-prekey", Name: "OTR Prekey Server"}) {
		t.Fatalf("disco#info identities %+v", info.Identities)
	}
	features := map[string]bool{}
	for _, f := range info.Features {
		features[f.Var] = true
	}
	if !features["http://jabber.org/protocol/otrv4-prekey-server"] || !features[NSDiscoInfo] || !features[NSDiscoItems] {
		t.Fatalf("disco#info features %v", features)
	}
	var items discoItemsResult
	alice[0].disco(NSDiscoItems, &items)
	if len(items.Items) != 1 || items.Items[0].JID != serverName || items.Items[0].Node != "fingerprint" ||
		len(items.Items[0].Name) != 112 {
		t.Fatalf("disco#items %+v", items.Items)
	}
	pinned, err := otr4.ParseFingerprint(items.Items[0].Name)
	if err != nil || pinned != fp {
		t.Fatalf("fingerprint item %q: %v", items.Items[0].Name, err)
	}

	// Three devices of alice publish 100, 2 and 1 prekey messages, their
	// DAKEs interleaved: the server keeps one DAKE per full JID.
	counts := []int{100, 2, 1}
	devs := make([]*device, 3)
	clients := make([]*prekey.ClientDAKE, 3)
	for i, c := range alice {
		devs[i] = newDevice(t, "alice@localhost", "x")
		devs[i].full = c.sess.LocalAddr()
		devs[i].profile, _ = otr4.NewClientProfile(devs[i].id, devs[i].tag, "4", time.Now().Add(24*time.Hour))
		var d1 []byte
		clients[i], d1, err = prekey.NewClientDAKE(prekey.ClientConfig{Identity: devs[i].id, Profile: devs[i].profile,
			Publisher: "alice@localhost", Server: serverName, ServerFingerprint: pinned}, realTimeRequest(t, devs[i], counts[i]))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.sess.Encode(ctx, messageStanza{Message: stanza.Message{To: jid.MustParse(serverName)}, Body: prekey.Encode(d1)}); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	dake2 := make([][]byte, 3)
	for i, c := range alice {
		select {
		case m := <-c.in:
			if dake2[i], err = prekey.Decode(m.Body); err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("device %d: no DAKE-2", i)
		}
	}
	for i, c := range alice {
		d3, _, err := clients[i].Receive(dake2[i])
		if err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
		b, err := prekey.Decode(c.roundTrip(prekey.Encode(d3))[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, res, err := clients[i].Receive(b); err != nil || res.Kind != prekey.ResultSuccess {
			t.Fatalf("device %d publication: %v %v", i, res, err)
		}
	}
	res, err := devs[0].dake(t, alice[0].transport(), fp, prekey.StorageRequest{}, nil)
	if err != nil || res.Stored != 100 {
		t.Fatalf("storage status: %v %v", res, err)
	}

	// bob retrieves one ensemble per device; every count drops by one.
	bob := dialClient(t, bed, "bob", "pc")
	got := retrieve(t, bob.transport(), bob.sess.LocalAddr(), 0x4321, "alice@localhost")
	r, ok := got.(*prekey.EnsembleRetrieval)
	if !ok || len(r.Ensembles) != 3 {
		t.Fatalf("retrieval: %#v", got)
	}
	if sel, errs := otr4.SelectEnsembles(r.Ensembles, time.Now()); len(sel) != 3 || len(errs) != 0 {
		t.Fatalf("%d valid ensembles, errors %v", len(sel), errs)
	}
	for i, d := range devs {
		if n, _ := comp.s.Stored("alice@localhost", d.tag); n != counts[i]-1 {
			t.Fatalf("device %d: %d stored, want %d", i, n, counts[i]-1)
		}
	}

	// Refusals: a tampered MAC and a profile of another key get a Failure
	// over XMPP, and nothing is stored.
	bobDev := newDevice(t, "bob@localhost", "pc")
	bobDev.full = bob.sess.LocalAddr()
	bobDev.profile, _ = otr4.NewClientProfile(bobDev.id, bobDev.tag, "4", time.Now().Add(24*time.Hour))
	res, err = bobDev.dake(t, bob.transport(), fp, realTimeRequest(t, bobDev, 2), tamperPublication(func(n int) int { return n - 1 }))
	if !errors.Is(err, prekey.ErrFailure) {
		t.Fatalf("tampered MAC: %v %v", res, err)
	}
	req := realTimeRequest(t, bobDev, 2)
	req.ClientProfile, _ = otr4.NewClientProfile(devs[0].id, bobDev.tag, "4", time.Now().Add(time.Hour))
	if res, err = bobDev.dake(t, bob.transport(), fp, req, nil); !errors.Is(err, prekey.ErrFailure) {
		t.Fatalf("profile of another key: %v %v", res, err)
	}
	req = realTimeRequest(t, bobDev, 2)
	ms, ss := prekeyMessages(t, bobDev.tag^0x8000_0000, 1)
	req.PrekeyMessages, req.PrekeySecrets = append(req.PrekeyMessages, ms...), append(req.PrekeySecrets, ss...)
	req.SkipChecks = true
	if res, err = bobDev.dake(t, bob.transport(), fp, req, nil); !errors.Is(err, prekey.ErrFailure) {
		t.Fatalf("prekey message of another instance tag: %v %v", res, err)
	}
	req = realTimeRequest(t, bobDev, 3)
	req.PrekeySecrets[0], req.PrekeySecrets[2] = req.PrekeySecrets[2], req.PrekeySecrets[0]
	req.SkipChecks = true
	if res, err = bobDev.dake(t, bob.transport(), fp, req, nil); !errors.Is(err, prekey.ErrFailure) {
		t.Fatalf("proofs that do not hold: %v %v", res, err)
	}
	// 200 prekey messages (about 130 KB, sent in fragments) exceed the
	// component's 96 KiB limit.
	if res, err = bobDev.dake(t, bob.transport(), fp, realTimeRequest(t, bobDev, 200), nil); !errors.Is(err, prekey.ErrFailure) {
		t.Fatalf("oversized: %v %v", res, err)
	}
	if n, _ := comp.s.Stored("bob@localhost", bobDev.tag); n != 0 {
		t.Fatalf("%d stored after refusals", n)
	}
	if _, ok := retrieve(t, alice[0].transport(), alice[0].sess.LocalAddr(), devs[0].tag, "bob@localhost").(*prekey.NoEnsembles); !ok {
		t.Fatal("bob has ensembles after refused publications")
	}

	// A restart of the component keeps key and storage.
	comp.stop()
	comp = startComponent(t, bed, dir, limits)
	if comp.s.Fingerprint() != fp {
		t.Fatal("fingerprint changed across a restart")
	}
	got = retrieve(t, bob.transport(), bob.sess.LocalAddr(), 0x4321, "alice@localhost")
	if r, ok := got.(*prekey.EnsembleRetrieval); !ok || len(r.Ensembles) != 2 {
		t.Fatalf("after restart: %#v", got)
	}
	got = retrieve(t, bob.transport(), bob.sess.LocalAddr(), 0x4321, "alice@localhost")
	if r, ok := got.(*prekey.EnsembleRetrieval); !ok || len(r.Ensembles) != 1 || r.Ensembles[0].Client.InstanceTag != devs[0].tag {
		t.Fatalf("after the small devices ran out: %#v", got)
	}
	// bob publishes one prekey message; alice drains it; then there are none.
	if res, err = bobDev.dake(t, bob.transport(), fp, realTimeRequest(t, bobDev, 1), nil); err != nil || res.Kind != prekey.ResultSuccess {
		t.Fatalf("bob publishes: %v %v", res, err)
	}
	if _, ok := retrieve(t, alice[1].transport(), alice[1].sess.LocalAddr(), devs[1].tag, "bob@localhost").(*prekey.EnsembleRetrieval); !ok {
		t.Fatal("no ensemble for bob")
	}
	got = retrieve(t, alice[1].transport(), alice[1].sess.LocalAddr(), devs[1].tag, "bob@localhost")
	if n, ok := got.(*prekey.NoEnsembles); !ok || n.Text != prekey.NoEnsemblesText || n.ReceiverTag != devs[1].tag {
		t.Fatalf("exhausted: %#v", got)
	}
}

// realTimeRequest is publishRequest with profiles valid at the real time
// (the component runs on the real clock).
func realTimeRequest(t *testing.T, d *device, n int) *prekey.PublishRequest {
	t.Helper()
	pp, ps, err := otr4.NewPrekeyProfile(randReader, d.id, d.tag, time.Now().Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r := &prekey.PublishRequest{ClientProfile: d.profile, PrekeyProfile: pp, PrekeyProfileSecret: ps}
	r.PrekeyMessages, r.PrekeySecrets = prekeyMessages(t, d.tag, n)
	return r
}

// TestReconnect restarts the XMPP server under a component run by
// RunReconnecting and checks that it comes back and keeps its storage.
func TestReconnect(t *testing.T) {
	bed := testbed.Start(t, testbed.Options{
		Accounts:   testbed.Users("alice"),
		Components: []testbed.Component{{Name: serverName}},
	})
	s, err := New(Config{Name: serverName, DataDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.RunReconnecting(ctx, bed.ComponentAddr, bed.Secret(serverName)) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("RunReconnecting: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("RunReconnecting did not stop")
		}
	}()
	publish := func(n int) *device {
		alice := dialClient(t, bed, "alice", "laptop")
		d := newDevice(t, "alice@localhost", "x")
		d.full = alice.sess.LocalAddr()
		d.profile, _ = otr4.NewClientProfile(d.id, d.tag, "4", time.Now().Add(time.Hour))
		// The component may still be (re)connecting: retry the first DAKE.
		deadline := time.Now().Add(30 * time.Second)
		for {
			var info discoInfoResult
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err := alice.sess.UnmarshalIQElement(ctx, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: NSDiscoInfo, Local: "query"}}),
				stanza.IQ{To: jid.MustParse(serverName), Type: stanza.GetIQ}, &info)
			cancel()
			if err == nil && len(info.Identities) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("component not reachable: %v", err)
			}
			time.Sleep(500 * time.Millisecond)
		}
		if res, err := d.dake(t, alice.transport(), s.Fingerprint(), realTimeRequest(t, d, n), nil); err != nil || res.Kind != prekey.ResultSuccess {
			t.Fatalf("publish: %v %v", res, err)
		}
		return d
	}
	first := publish(1)
	if err := bed.Restart(); err != nil {
		t.Fatal(err)
	}
	second := publish(2)
	for d, want := range map[*device]int{first: 1, second: 2} {
		if n, _ := s.Stored("alice@localhost", d.tag); n != want {
			t.Fatalf("%d stored, want %d", n, want)
		}
	}
}

// TestIQErrors: through a real XMPP server, every IQ get or set the
// component does not handle gets an error reply (RFC 6120 §8.2.3):
// service-unavailable for ping, version and any set, item-not-found for
// disco on an unknown node (XEP-0030); disco itself still answers
// (issue 16, item 8).
func TestIQErrors(t *testing.T) {
	bed := testbed.Start(t, testbed.Options{Accounts: testbed.Users("alice"), Components: []testbed.Component{{Name: serverName}}})
	startComponent(t, bed, t.TempDir(), Limits{})
	alice := dialClient(t, bed, "alice", "laptop")
	cases := []struct {
		name string
		typ  stanza.IQType
		ns   string
		el   string
		node string
		want stanza.Condition // "" for a result
	}{
		{"ping", stanza.GetIQ, "urn:xmpp:ping", "ping", "", stanza.ServiceUnavailable},
		{"version", stanza.GetIQ, "jabber:iq:version", "query", "", stanza.ServiceUnavailable},
		{"set", stanza.SetIQ, "jabber:iq:private", "query", "", stanza.ServiceUnavailable},
		{"disco#info set", stanza.SetIQ, NSDiscoInfo, "query", "", stanza.ServiceUnavailable},
		{"disco#info unknown node", stanza.GetIQ, NSDiscoInfo, "query", "nope", stanza.ItemNotFound},
		{"disco#items unknown node", stanza.GetIQ, NSDiscoItems, "query", "nope", stanza.ItemNotFound},
		{"disco#info", stanza.GetIQ, NSDiscoInfo, "query", "", ""},
		{"disco#info fingerprint node", stanza.GetIQ, NSDiscoInfo, "query", prekey.FingerprintNode, ""},
		{"disco#items", stanza.GetIQ, NSDiscoItems, "query", "", ""},
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := xml.StartElement{Name: xml.Name{Space: tc.ns, Local: tc.el}}
		if tc.node != "" {
			start.Attr = []xml.Attr{{Name: xml.Name{Local: "node"}, Value: tc.node}}
		}
		var sink struct{}
		err := alice.sess.UnmarshalIQElement(ctx, xmlstream.Wrap(nil, start),
			stanza.IQ{To: jid.MustParse(serverName), Type: tc.typ}, &sink)
		cancel()
		var se stanza.Error
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "":
		case errors.As(err, &se):
			if se.Condition != tc.want || se.Type != stanza.Cancel {
				t.Errorf("%s: error %s/%s, want cancel/%s", tc.name, se.Type, se.Condition, tc.want)
			}
		default:
			t.Errorf("%s: %v, want a %s error", tc.name, err, tc.want)
		}
	}
}
