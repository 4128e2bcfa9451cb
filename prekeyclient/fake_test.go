package prekeyclient

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"

	"otrchat/otr4"
)

// fakeDisco answers disco queries from tables, counting them.
type fakeDisco struct {
	mu      sync.Mutex
	items   map[string][]items.Item
	infos   map[string]disco.Info
	failing map[string]error
	queries int
}

func newFakeDisco() *fakeDisco {
	return &fakeDisco{items: map[string][]items.Item{}, infos: map[string]disco.Info{}, failing: map[string]error{}}
}

func (f *fakeDisco) Items(ctx context.Context, to jid.JID, node string) ([]items.Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	if err := f.failing[to.String()]; err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			f.mu.Unlock()
			<-ctx.Done()
			f.mu.Lock()
			return nil, ctx.Err()
		}
		return nil, err
	}
	return f.items[to.String()], nil
}

func (f *fakeDisco) Info(ctx context.Context, to jid.JID, node string) (disco.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	if err := f.failing["info:"+to.String()]; err != nil {
		return disco.Info{}, err
	}
	i, ok := f.infos[to.String()]
	if !ok {
		return disco.Info{}, errors.New("item-not-found")
	}
	return i, nil
}

func prekeyInfo(name string) disco.Info {
	return disco.Info{
		Identity: []info.Identity{{Category: IdentityCategory, Type: IdentityType, Name: name}},
		Features: []info.Feature{{Var: disco.NSInfo}, {Var: disco.NSItems}, {Var: NS}},
	}
}

// addServer registers a prekey server at name with fingerprint fp.
func (f *fakeDisco) addServer(domain, name string, fp []byte) {
	f.items[domain] = append(f.items[domain], items.Item{JID: jid.MustParse(name), Name: "OTR Prekey Server"})
	f.infos[name] = prekeyInfo("OTR Prekey Server")
	f.items[name] = []items.Item{{JID: jid.MustParse(name), Node: FingerprintNode, Name: hexUpper(fp)}}
}

func hexUpper(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

func randomFP(t testing.TB) []byte {
	fp := make([]byte, FingerprintSize)
	if _, err := rand.Read(fp); err != nil {
		t.Fatal(err)
	}
	return fp
}

// fakeServer is an in-process prekey server test double: every body the
// client sends is handed to respond, whose answers (bodies) are delivered
// back to the client as messages from the server's JID.
type fakeServer struct {
	jid     jid.JID
	mu      sync.Mutex
	client  *Client
	respond func(msg []byte) []string
	sent    [][]byte
}

func (f *fakeServer) Send(ctx context.Context, to jid.JID, body string) error {
	if !to.Equal(f.jid) {
		return errors.New("fake: unknown recipient " + to.String())
	}
	msg, err := DecodeMessage(body)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.sent = append(f.sent, msg)
	respond, c := f.respond, f.client
	f.mu.Unlock()
	if respond == nil {
		return nil // a silent server
	}
	for _, b := range respond(msg) {
		c.HandleMessage(f.jid, b)
	}
	return nil
}

func encodeBody(msg []byte) string { return base64.StdEncoding.EncodeToString(msg) + "." }

// device is one test device: its identity, tag and in-memory key store.
type device struct {
	account jid.JID
	id      *otr4.Identity
	tag     otr4.InstanceTag
	dev     *MemoryDevice
}

func newDevice(t testing.TB, account string) *device {
	t.Helper()
	id, err := otr4.GenerateIdentity(rand.Reader, false)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := otr4.NewInstanceTag(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := &device{account: jid.MustParse(account), id: id, tag: tag, dev: NewMemoryDevice(id, tag, 7*24*time.Hour, rand.Reader)}
	if _, _, _, err := d.dev.RenewProfiles(time.Now()); err != nil {
		t.Fatal(err)
	}
	return d
}

// ensemble makes a valid ensemble of d with a fresh prekey message.
func (d *device) ensemble(t testing.TB) *otr4.PrekeyEnsemble {
	t.Helper()
	cp, pp, _, _ := d.dev.Profiles()
	m, s, err := otr4.NewPrekeyMessage(rand.Reader, d.tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.dev.AddPrekeySecrets([]*otr4.PrekeySecret{s}); err != nil {
		t.Fatal(err)
	}
	return &otr4.PrekeyEnsemble{Client: cp, Prekey: pp, Message: m}
}

const testServer = "prekeys.example.org"

// newTestClient returns a client for d talking to a fake server that
// already passed discovery.
func newTestClient(t testing.TB, d *device, srv *fakeServer, timeout time.Duration) *Client {
	t.Helper()
	c, err := New(Config{
		Account:     d.account,
		Identity:    d.id,
		InstanceTag: d.tag,
		Device:      d.dev,
		Transport:   srv,
		Pins:        NewMemoryPinStore(),
		Timeout:     timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	srv.client = c
	srv.mu.Unlock()
	if err := c.UseServer(Server{JID: srv.jid, Fingerprint: randomFP(t)}); err != nil {
		t.Fatal(err)
	}
	return c
}
