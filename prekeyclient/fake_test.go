package prekeyclient

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
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

// fakeServer is an in-process prekey server test double. With respond
// set it is a raw responder: every message the client sends is handed to
// respond, whose answers (bodies) go back to the client. Otherwise it is an
// honest server built on otr4/prekey's ServerSession, whose answers pass
// through tamper (when set) so that tests can make it misbehave.
type fakeServer struct {
	jid     jid.JID
	mu      sync.Mutex
	client  *Client
	respond func(msg []byte) []string
	asm     map[string]*prekey.Assembler // by full JID
	sent    [][]byte

	key  *prekey.ServerKey
	name string
	// sess, when set, replaces the per-JID DAKE sessions (to give the
	// server another key or name).
	sess     *prekey.ServerSession
	sessions map[string]*prekey.ServerSession            // by full JID
	stored   map[string]map[otr4.InstanceTag]*fakeDevice // by bare JID
	// tamper rewrites an answer before it is sent; nil drops it.
	tamper func(answer []byte) []string
	// count, when set, replaces the count of a Storage Status.
	count func(real int) uint32
	// refuse makes the server answer DAKE-3 with a Failure.
	refuse bool
	// publications counts verified publications.
	publications int
}

type fakeDevice struct {
	cp   *otr4.ClientProfile
	pp   *otr4.PrekeyProfile
	msgs []*otr4.PrekeyMessage
}

func newHonestServer(t testing.TB, name string) *fakeServer {
	t.Helper()
	key, err := prekey.GenerateServerKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeServer{jid: jid.MustParse(name), name: name, key: key,
		sessions: map[string]*prekey.ServerSession{}, stored: map[string]map[otr4.InstanceTag]*fakeDevice{}}
}

func (f *fakeServer) session(from jid.JID) *prekey.ServerSession {
	if f.sess != nil {
		return f.sess
	}
	s := f.sessions[from.String()]
	if s == nil {
		s = prekey.NewServerSession(prekey.ServerConfig{Key: f.key, Name: f.name}, from.Bare().String())
		f.sessions[from.String()] = s
	}
	return s
}

// device returns what the server stores for the device d.
func (f *fakeServer) device(d *device) *fakeDevice {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stored[d.account.Bare().String()][d.tag]
}

func (f *fakeServer) fingerprint() []byte {
	fp := f.key.Fingerprint()
	return fp[:]
}

func (f *fakeServer) Send(ctx context.Context, to jid.JID, body string) error {
	if !to.Equal(f.jid) {
		return errors.New("fake: unknown recipient " + to.String())
	}
	f.mu.Lock()
	c := f.client
	f.mu.Unlock()
	answers, err := f.receive(c.cfg.Account, body)
	for _, b := range answers {
		c.HandleMessage(f.jid, b)
	}
	return err
}

// receive handles one body from the client at from and returns the bodies
// to answer with.
func (f *fakeServer) receive(from jid.JID, body string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.asm == nil {
		f.asm = map[string]*prekey.Assembler{}
	}
	if prekey.IsFragment(body) {
		a := f.asm[from.String()]
		if a == nil {
			a = prekey.NewAssembler(0, 0)
			f.asm[from.String()] = a
		}
		enc, done, err := a.Add(body, time.Now())
		if err != nil || !done {
			return nil, err
		}
		body = enc
	}
	msg, err := prekey.Decode(body)
	if err != nil {
		return nil, err
	}
	f.sent = append(f.sent, msg)
	if f.respond != nil {
		respond := f.respond
		f.mu.Unlock()
		defer f.mu.Lock()
		return respond(msg), nil
	}
	a := f.honest(from, msg)
	switch {
	case a == nil:
		return nil, nil
	case f.tamper != nil:
		return f.tamper(a), nil
	}
	return []string{prekey.Encode(a)}, nil
}

// honest answers msg from the client at from as a correct prekey server
// would. f.mu is held.
func (f *fakeServer) honest(from jid.JID, msg []byte) []byte {
	sess := f.session(from)
	t, err := prekey.PeekType(msg)
	if err != nil {
		return nil
	}
	switch t {
	case prekey.TypeDAKE1:
		out, err := sess.HandleDAKE1(msg)
		if err != nil {
			return nil
		}
		return out
	case prekey.TypeDAKE3:
		req, err := sess.HandleDAKE3(msg)
		if err != nil {
			return sess.Failure()
		}
		if f.refuse {
			return sess.Failure()
		}
		acct := f.stored[from.Bare().String()]
		if acct == nil {
			acct = map[otr4.InstanceTag]*fakeDevice{}
			f.stored[from.Bare().String()] = acct
		}
		d := acct[req.InstanceTag]
		if d == nil {
			d = &fakeDevice{}
			acct[req.InstanceTag] = d
		}
		if p := req.Publication; p != nil {
			f.publications++
			if p.ClientProfile != nil {
				d.cp = p.ClientProfile
			}
			if p.PrekeyProfile != nil {
				d.pp = p.PrekeyProfile
			}
			d.msgs = append(d.msgs, p.PrekeyMessages...)
			return sess.Success()
		}
		n := uint32(len(d.msgs))
		if f.count != nil {
			n = f.count(len(d.msgs))
		}
		return sess.StorageStatus(n)
	case prekey.TypeEnsembleQuery:
		q, err := prekey.ParseEnsembleQuery(msg)
		if err != nil {
			return nil
		}
		r := &prekey.EnsembleRetrieval{ReceiverTag: q.SenderTag, Identity: q.Identity}
		{
			for _, d := range f.stored[q.Identity] {
				if d.cp != nil && d.pp != nil && len(d.msgs) > 0 {
					r.Ensembles = append(r.Ensembles, &otr4.PrekeyEnsemble{Client: d.cp, Prekey: d.pp, Message: d.msgs[0]})
					d.msgs = d.msgs[1:]
				}
			}
		}
		if len(r.Ensembles) == 0 {
			return (&prekey.NoEnsembles{ReceiverTag: q.SenderTag, Identity: q.Identity, Text: prekey.NoEnsemblesText}).Marshal()
		}
		return r.Marshal()
	}
	return nil
}

// storedCount returns how many prekey messages the server holds for d.
func (f *fakeServer) storedCount(d *device) int {
	if s := f.device(d); s != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(s.msgs)
	}
	return 0
}

func encodeBody(msg []byte) string { return prekey.Encode(msg) }

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
	return newTestClientSeen(t, d, srv, timeout, nil)
}

func newTestClientSeen(t testing.TB, d *device, srv *fakeServer, timeout time.Duration, seen SeenStore) *Client {
	t.Helper()
	c, err := New(Config{
		Account:     d.account,
		Identity:    d.id,
		InstanceTag: d.tag,
		Device:      d.dev,
		Transport:   srv,
		Pins:        NewMemoryPinStore(),
		Timeout:     timeout,
		Seen:        seen,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	srv.client = c
	srv.mu.Unlock()
	fp := randomFP(t)
	if srv.key != nil {
		fp = srv.fingerprint()
	}
	if err := c.UseServer(Server{JID: srv.jid, Fingerprint: fp}); err != nil {
		t.Fatal(err)
	}
	return c
}
