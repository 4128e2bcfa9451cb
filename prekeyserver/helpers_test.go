package prekeyserver

import (
	"crypto/rand"
	"log/slog"
	"os"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const serverName = "prekeys.localhost"

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func newServer(t testing.TB, dir string, limits Limits) *Server {
	t.Helper()
	s, err := New(Config{Name: serverName, DataDir: dir, Logger: testLogger(t),
		Now: func() time.Time { return testNow }, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// device is one publishing device of an account.
type device struct {
	bare    string
	full    jid.JID
	id      *otr4.Identity
	tag     otr4.InstanceTag
	profile *otr4.ClientProfile
}

func newDevice(t testing.TB, bare, resource string) *device {
	t.Helper()
	id, err := otr4.GenerateIdentity(rand.Reader, false)
	if err != nil {
		t.Fatal(err)
	}
	return newDeviceWith(t, bare, resource, id)
}

func newDeviceWith(t testing.TB, bare, resource string, id *otr4.Identity) *device {
	t.Helper()
	tag, err := otr4.NewInstanceTag(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := otr4.NewClientProfile(id, tag, "4", testNow.Add(14*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &device{bare, jid.MustParse(bare + "/" + resource), id, tag, p}
}

func (d *device) publishRequest(t testing.TB, n int) *prekey.PublishRequest {
	t.Helper()
	pp, ps, err := otr4.NewPrekeyProfile(rand.Reader, d.id, d.tag, testNow.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r := &prekey.PublishRequest{ClientProfile: d.profile, PrekeyProfile: pp, PrekeyProfileSecret: ps}
	r.PrekeyMessages, r.PrekeySecrets = prekeyMessages(t, d.tag, n)
	return r
}

func prekeyMessages(t testing.TB, tag otr4.InstanceTag, n int) ([]*otr4.PrekeyMessage, []*otr4.PrekeySecret) {
	t.Helper()
	var ms []*otr4.PrekeyMessage
	var ss []*otr4.PrekeySecret
	for i := 0; i < n; i++ {
		m, s, err := otr4.NewPrekeyMessage(rand.Reader, tag)
		if err != nil {
			t.Fatal(err)
		}
		ms, ss = append(ms, m), append(ss, s)
	}
	return ms, ss
}

// transport carries bodies to the server and returns its replies.
type transport func(from jid.JID, body string) []string

func direct(s *Server) transport { return s.Handle }

// dake runs a DAKE for req over tr, letting tamper change the DAKE-3, and
// returns the client's result and error.
func (d *device) dake(t testing.TB, tr transport, fp otr4.Fingerprint, req prekey.Request, tamper func([]byte) []byte) (*prekey.Result, error) {
	t.Helper()
	c, d1, err := prekey.NewClientDAKE(prekey.ClientConfig{
		Identity: d.id, Profile: d.profile, Publisher: d.bare, Server: serverName, ServerFingerprint: fp,
	}, req)
	if err != nil {
		t.Fatal(err)
	}
	out := d1
	for i := 0; i < 2; i++ {
		if tamper != nil && i == 1 {
			out = tamper(out)
		}
		replies := tr(d.full, prekey.Encode(out))
		if len(replies) != 1 {
			t.Fatalf("%d replies", len(replies))
		}
		b, err := prekey.Decode(replies[0])
		if err != nil {
			t.Fatal(err)
		}
		var res *prekey.Result
		out, res, err = c.Receive(b)
		if res != nil || err != nil {
			return res, err
		}
	}
	t.Fatal("DAKE did not end")
	return nil, nil
}

// retrieve asks for ensembles of identity and returns the parsed answer.
func retrieve(t testing.TB, tr transport, from jid.JID, tag otr4.InstanceTag, identity string) prekey.Message {
	t.Helper()
	q := &prekey.EnsembleQuery{SenderTag: tag, Identity: identity, Versions: "4"}
	replies := tr(from, prekey.Encode(q.Marshal()))
	if len(replies) != 1 {
		t.Fatalf("%d replies", len(replies))
	}
	b, err := prekey.Decode(replies[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := prekey.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
