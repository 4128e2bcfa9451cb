package prekey

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type device struct {
	id      *otr4.Identity
	tag     otr4.InstanceTag
	profile *otr4.ClientProfile
}

func newDevice(t testing.TB) *device {
	t.Helper()
	id, err := otr4.GenerateIdentity(rand.Reader, false)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := otr4.NewInstanceTag(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := otr4.NewClientProfile(id, tag, "4", testNow.Add(14*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &device{id, tag, p}
}

// publishRequest builds a request with both profiles and n prekey messages.
func (d *device) publishRequest(t testing.TB, n int) *PublishRequest {
	t.Helper()
	pp, ps, err := otr4.NewPrekeyProfile(rand.Reader, d.id, d.tag, testNow.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r := &PublishRequest{ClientProfile: d.profile, PrekeyProfile: pp, PrekeyProfileSecret: ps}
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

type testServer struct {
	key *ServerKey
	cfg ServerConfig
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	k, err := GenerateServerKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{k, ServerConfig{Key: k, Name: "prekey.example.org", Now: func() time.Time { return testNow }}}
}

func (d *device) clientConfig(s *testServer) ClientConfig {
	return ClientConfig{Identity: d.id, Profile: d.profile, Publisher: "alice@example.org",
		Server: s.cfg.Name, ServerFingerprint: s.key.Fingerprint()}
}

// runDAKE runs DAKE-1, DAKE-2 and returns the client, the session and DAKE-3.
func runDAKE(t testing.TB, d *device, s *testServer, req Request) (*ClientDAKE, *ServerSession, []byte) {
	t.Helper()
	c, d1, err := NewClientDAKE(d.clientConfig(s), req)
	if err != nil {
		t.Fatal(err)
	}
	sess := NewServerSession(s.cfg, "alice@example.org")
	d2, err := sess.HandleDAKE1(d1)
	if err != nil {
		t.Fatal(err)
	}
	d3, res, err := c.Receive(d2)
	if err != nil || res != nil {
		t.Fatalf("DAKE-2: %v %v", res, err)
	}
	return c, sess, d3
}
