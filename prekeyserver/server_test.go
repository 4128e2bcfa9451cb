package prekeyserver

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

func TestPublishStatusRetrieve(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, dir, Limits{})
	fp := s.Fingerprint()
	alice := []*device{newDevice(t, "alice@localhost", "laptop")}
	alice = append(alice, newDeviceWith(t, "alice@localhost", "phone", alice[0].id), newDeviceWith(t, "alice@localhost", "tablet", alice[0].id))
	counts := []int{100, 3, 1}
	for i, d := range alice {
		res, err := d.dake(t, direct(s), fp, d.publishRequest(t, counts[i]), nil)
		if err != nil || res.Kind != prekey.ResultSuccess {
			t.Fatalf("device %d publish: %v %v", i, res, err)
		}
	}
	res, err := alice[0].dake(t, direct(s), fp, prekey.StorageRequest{}, nil)
	if err != nil || res.Kind != prekey.ResultStorageStatus || res.Stored != 100 {
		t.Fatalf("status: %v %v", res, err)
	}

	bob := jid.MustParse("bob@localhost/pc")
	m := retrieve(t, direct(s), bob, 0x1234, "alice@localhost")
	r, ok := m.(*prekey.EnsembleRetrieval)
	if !ok || len(r.Ensembles) != 3 || r.ReceiverTag != 0x1234 {
		t.Fatalf("retrieval: %#v", m)
	}
	sel, errs := otr4.SelectEnsembles(r.Ensembles, testNow)
	if len(sel) != 3 || len(errs) != 0 {
		t.Fatalf("ensembles: %d valid, errors %v", len(sel), errs)
	}
	for i, d := range alice {
		if n, _ := s.Stored("alice@localhost", d.tag); n != counts[i]-1 {
			t.Fatalf("device %d: %d stored after one retrieval, want %d", i, n, counts[i]-1)
		}
	}

	// A restart keeps the key and the storage.
	s.Close()
	s2 := newServer(t, dir, Limits{})
	if s2.Fingerprint() != fp {
		t.Fatal("fingerprint changed across a restart")
	}
	res, err = alice[0].dake(t, direct(s2), fp, prekey.StorageRequest{}, nil)
	if err != nil || res.Stored != 99 {
		t.Fatalf("status after restart: %v %v", res, err)
	}
	// The tablet had one prekey message: now only two devices answer, and
	// once the phone's run out, one.
	m = retrieve(t, direct(s2), bob, 0x1234, "alice@localhost")
	if r := m.(*prekey.EnsembleRetrieval); len(r.Ensembles) != 2 {
		t.Fatalf("%d ensembles", len(r.Ensembles))
	}
	retrieve(t, direct(s2), bob, 0x1234, "alice@localhost")
	m = retrieve(t, direct(s2), bob, 0x1234, "alice@localhost")
	if r := m.(*prekey.EnsembleRetrieval); len(r.Ensembles) != 1 || r.Ensembles[0].Client.InstanceTag != alice[0].tag {
		t.Fatalf("ensembles %#v", r)
	}
	// Nobody published for carol.
	m = retrieve(t, direct(s2), bob, 0x1234, "carol@localhost")
	if n, ok := m.(*prekey.NoEnsembles); !ok || n.Text != prekey.NoEnsemblesText || n.ReceiverTag != 0x1234 {
		t.Fatalf("carol: %#v", m)
	}
}

func TestExhausted(t *testing.T) {
	s := newServer(t, t.TempDir(), Limits{})
	d := newDevice(t, "alice@localhost", "laptop")
	if _, err := d.dake(t, direct(s), s.Fingerprint(), d.publishRequest(t, 2), nil); err != nil {
		t.Fatal(err)
	}
	bob := jid.MustParse("bob@localhost/pc")
	for i := 0; i < 2; i++ {
		if _, ok := retrieve(t, direct(s), bob, 0x1234, "alice@localhost").(*prekey.EnsembleRetrieval); !ok {
			t.Fatal("no ensemble")
		}
	}
	if _, ok := retrieve(t, direct(s), bob, 0x1234, "alice@localhost").(*prekey.NoEnsembles); !ok {
		t.Fatal("exhausted storage did not give No Prekey Ensembles")
	}
}

func TestRateLimit(t *testing.T) {
	s := newServer(t, t.TempDir(), Limits{RetrievalBurst: 3})
	d := newDevice(t, "alice@localhost", "laptop")
	if _, err := d.dake(t, direct(s), s.Fingerprint(), d.publishRequest(t, 10), nil); err != nil {
		t.Fatal(err)
	}
	mallory := jid.MustParse("mallory@localhost/x")
	for i := 0; i < 3; i++ {
		retrieve(t, direct(s), mallory, 0x1234, "alice@localhost")
	}
	// Another resource of the same account shares the budget.
	m := retrieve(t, direct(s), jid.MustParse("mallory@localhost/y"), 0x1234, "alice@localhost")
	if n, ok := m.(*prekey.NoEnsembles); !ok || n.Text != RateLimitedText {
		t.Fatalf("over the limit: %#v", m)
	}
	if n, _ := s.Stored("alice@localhost", d.tag); n != 7 {
		t.Fatalf("%d stored", n)
	}
	// Others are not affected.
	if _, ok := retrieve(t, direct(s), jid.MustParse("bob@localhost/pc"), 0x1234, "alice@localhost").(*prekey.EnsembleRetrieval); !ok {
		t.Fatal("bob limited by mallory")
	}
}

// refused runs a publication that the server must refuse with a Failure,
// and checks that nothing was stored.
func refused(t *testing.T, s *Server, d *device, req *prekey.PublishRequest, tamper func([]byte) []byte) {
	t.Helper()
	res, err := d.dake(t, direct(s), s.Fingerprint(), req, tamper)
	if !errors.Is(err, prekey.ErrFailure) || res.Kind != prekey.ResultFailure {
		t.Fatalf("want an authenticated Failure, got %v %v", res, err)
	}
	if n, _ := s.Stored(d.bare, d.tag); n != 0 {
		t.Fatalf("%d prekey messages stored", n)
	}
	if _, ok := retrieve(t, direct(s), jid.MustParse("bob@localhost/pc"), 0x1234, d.bare).(*prekey.NoEnsembles); !ok {
		t.Fatal("something is stored")
	}
}

// tamperPublication flips a bit of the publication attached to a DAKE-3.
func tamperPublication(off func(n int) int) func([]byte) []byte {
	return func(b []byte) []byte {
		m, err := prekey.ParseDAKE3(b)
		if err != nil {
			panic(err)
		}
		m.Message[off(len(m.Message))] ^= 0x01
		return m.Marshal()
	}
}

func TestRefusals(t *testing.T) {
	s := newServer(t, t.TempDir(), Limits{MaxBodyBytes: 64 << 10})
	t.Run("tampered MAC", func(t *testing.T) {
		d := newDevice(t, "alice@localhost", "a")
		refused(t, s, d, d.publishRequest(t, 3), tamperPublication(func(n int) int { return n - 1 }))
	})
	t.Run("tampered proof bytes", func(t *testing.T) {
		// The last proof is the profile's ECDH proof; its v ends 64 bytes
		// before the MAC (which then fails too).
		d := newDevice(t, "alice@localhost", "b")
		refused(t, s, d, d.publishRequest(t, 3), tamperPublication(func(n int) int { return n - 64 - 10 }))
	})
	t.Run("proofs with a valid MAC that do not hold", func(t *testing.T) {
		// A client that does not know the secrets: proofs made with the
		// secrets of other prekey messages, correctly MAC'd.
		d := newDevice(t, "alice@localhost", "b2")
		req := d.publishRequest(t, 3)
		req.PrekeySecrets[0], req.PrekeySecrets[1] = req.PrekeySecrets[1], req.PrekeySecrets[0]
		req.SkipChecks = true
		refused(t, s, d, req, nil)
	})
	t.Run("prekey profile proof that does not hold", func(t *testing.T) {
		d := newDevice(t, "alice@localhost", "b3")
		req := d.publishRequest(t, 1)
		_, req.PrekeyProfileSecret, _ = otr4.NewPrekeyProfile(rand.Reader, d.id, d.tag, testNow.Add(24*3600e9))
		req.SkipChecks = true
		refused(t, s, d, req, nil)
	})
	t.Run("oversized in fragments", func(t *testing.T) {
		d := newDevice(t, "alice@localhost", "f")
		tr := func(from jid.JID, body string) []string {
			frags, err := prekey.Fragment(rand.Reader, body, 8000, d.tag, 0)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, f := range frags {
				out = append(out, s.Handle(from, f)...)
			}
			return out
		}
		res, err := d.dake(t, tr, s.Fingerprint(), d.publishRequest(t, 200), nil)
		if !errors.Is(err, prekey.ErrFailure) || res.Kind != prekey.ResultFailure {
			t.Fatalf("want an authenticated Failure, got %v %v", res, err)
		}
		if n, _ := s.Stored(d.bare, d.tag); n != 0 {
			t.Fatalf("%d stored", n)
		}
	})
	t.Run("profile signed by another key", func(t *testing.T) {
		d := newDevice(t, "alice@localhost", "c")
		other := newDevice(t, "alice@localhost", "c")
		req := d.publishRequest(t, 2)
		req.ClientProfile, _ = otr4.NewClientProfile(other.id, d.tag, "4", testNow.Add(24*3600e9))
		refused(t, s, d, req, nil)
	})
	t.Run("prekey message with another instance tag", func(t *testing.T) {
		d := newDevice(t, "alice@localhost", "d")
		req := d.publishRequest(t, 2)
		ms, ss := prekeyMessages(t, d.tag^0x8000_0000, 1)
		req.PrekeyMessages = append(req.PrekeyMessages, ms...)
		req.PrekeySecrets = append(req.PrekeySecrets, ss...)
		req.SkipChecks = true
		refused(t, s, d, req, nil)
	})
	t.Run("oversized", func(t *testing.T) {
		d := newDevice(t, "alice@localhost", "e")
		refused(t, s, d, d.publishRequest(t, 255), nil)
	})
}

func TestUnexpected(t *testing.T) {
	s := newServer(t, t.TempDir(), Limits{})
	from := jid.MustParse("alice@localhost/x")
	for _, body := range []string{"hello", "AAQG.", prekey.Encode((&prekey.Success{ReceiverTag: 0x100}).Marshal()),
		prekey.Encode([]byte{0, 4, 0x37, 0, 0, 1, 0}), strings.Repeat("A", 100) + "."} {
		replies := s.Handle(from, body)
		if len(replies) != 1 {
			t.Fatalf("%q: %d replies", body, len(replies))
		}
		b, err := prekey.Decode(replies[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prekey.ParseFailure(b); err != nil {
			t.Fatalf("%q: reply is not a Failure: %v", body, err)
		}
	}
	// Incomplete fragments are held silently.
	if r := s.Handle(from, "?OTRP|1|100|0,1,2,AAQ,"); r != nil {
		t.Fatalf("replied to a partial fragment: %v", r)
	}
}

func TestFragmentedPublication(t *testing.T) {
	s := newServer(t, t.TempDir(), Limits{FragmentSize: 300})
	d := newDevice(t, "alice@localhost", "laptop")
	// The transport fragments what the client sends and reassembles what
	// the server sends.
	asm := prekey.NewAssembler(0, 0)
	tr := func(from jid.JID, body string) []string {
		frags, err := prekey.Fragment(rand.Reader, body, 250, d.tag, 0)
		if err != nil {
			t.Fatal(err)
		}
		var replies []string
		for _, f := range frags {
			replies = append(replies, s.Handle(from, f)...)
		}
		var whole []string
		for _, r := range replies {
			if !prekey.IsFragment(r) {
				whole = append(whole, r)
				continue
			}
			if len(r) > 300 {
				t.Fatalf("fragment of %d bytes", len(r))
			}
			msg, done, err := asm.Add(r, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if done {
				whole = append(whole, msg)
			}
		}
		return whole
	}
	res, err := d.dake(t, tr, s.Fingerprint(), d.publishRequest(t, 5), nil)
	if err != nil || res.Kind != prekey.ResultSuccess {
		t.Fatal(res, err)
	}
	m := retrieve(t, tr, jid.MustParse("bob@localhost/pc"), 0x1234, "alice@localhost")
	if r, ok := m.(*prekey.EnsembleRetrieval); !ok || len(r.Ensembles) != 1 {
		t.Fatalf("%#v", m)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, dir, Limits{})
	fp := s.Fingerprint()
	s.Close()
	if err := writeFile(dir, keyFile, []byte("short")); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Name: serverName, DataDir: dir}); err == nil {
		t.Fatal("a damaged key file was accepted (or replaced)")
	}
	if b, _ := readFile(dir, keyFile); !bytes.Equal(b, []byte("short")) {
		t.Fatal("the damaged key file was overwritten")
	}
	_ = fp
}

func TestProfileKeyConsistency(t *testing.T) {
	s := newServer(t, t.TempDir(), Limits{})
	fp := s.Fingerprint()
	d := newDevice(t, "alice@localhost", "laptop")
	bob := jid.MustParse("bob@localhost/pc")

	// Prekey messages alone, before any client profile: refused.
	ms, ss := prekeyMessages(t, d.tag, 2)
	only := &prekey.PublishRequest{PrekeyMessages: ms, PrekeySecrets: ss}
	if _, err := d.dake(t, direct(s), fp, only, nil); !errors.Is(err, prekey.ErrFailure) {
		t.Fatalf("prekey messages without a profile: %v", err)
	}
	// Profiles first, then prekey messages alone: accepted.
	pr := d.publishRequest(t, 0)
	if res, err := d.dake(t, direct(s), fp, pr, nil); err != nil || res.Kind != prekey.ResultSuccess {
		t.Fatal(res, err)
	}
	if res, err := d.dake(t, direct(s), fp, only, nil); err != nil || res.Kind != prekey.ResultSuccess {
		t.Fatal(res, err)
	}
	if n, _ := s.Stored(d.bare, d.tag); n != 2 {
		t.Fatalf("%d stored", n)
	}
	// The device gets a new long-term key and publishes only its new client
	// profile: the old prekey profile (signed by the old key) is dropped,
	// so no invalid ensemble is handed out and the prekey messages stay.
	nd := newDevice(t, "alice@localhost", "laptop")
	nd.tag = d.tag
	nd.profile, _ = otr4.NewClientProfile(nd.id, d.tag, "4", testNow.Add(24*3600e9))
	if res, err := nd.dake(t, direct(s), fp, &prekey.PublishRequest{ClientProfile: nd.profile}, nil); err != nil || res.Kind != prekey.ResultSuccess {
		t.Fatal(res, err)
	}
	if _, ok := retrieve(t, direct(s), bob, 0x1234, "alice@localhost").(*prekey.NoEnsembles); !ok {
		t.Fatal("an ensemble with a stale prekey profile was handed out")
	}
	if n, _ := s.Stored(d.bare, d.tag); n != 2 {
		t.Fatalf("%d stored", n)
	}
	// The old key can no longer add prekey messages for this device.
	ms2, ss2 := prekeyMessages(t, d.tag, 1)
	if _, err := d.dake(t, direct(s), fp, &prekey.PublishRequest{PrekeyMessages: ms2, PrekeySecrets: ss2}, nil); !errors.Is(err, prekey.ErrFailure) {
		t.Fatalf("old key: %v", err)
	}
	// With a new prekey profile, ensembles are complete again.
	pp, ps, _ := otr4.NewPrekeyProfile(rand.Reader, nd.id, d.tag, testNow.Add(24*3600e9))
	if _, err := nd.dake(t, direct(s), fp, &prekey.PublishRequest{PrekeyProfile: pp, PrekeyProfileSecret: ps}, nil); err != nil {
		t.Fatal(err)
	}
	r, ok := retrieve(t, direct(s), bob, 0x1234, "alice@localhost").(*prekey.EnsembleRetrieval)
	if !ok || len(r.Ensembles) != 1 || r.Ensembles[0].Validate(testNow) != nil {
		t.Fatalf("%#v", r)
	}
}

// TestDAKE1Refused: a DAKE-1 with an expired client profile gets an
// unauthenticated Failure for its instance tag, which the client reports.
func TestDAKE1Refused(t *testing.T) {
	s := newServer(t, t.TempDir(), Limits{})
	d := newDevice(t, "alice@localhost", "laptop")
	d.profile, _ = otr4.NewClientProfile(d.id, d.tag, "4", testNow.Add(-time.Minute))
	res, err := d.dake(t, direct(s), s.Fingerprint(), prekey.StorageRequest{}, nil)
	if !errors.Is(err, prekey.ErrUnauthenticatedFailure) || res.Kind != prekey.ResultFailure {
		t.Fatalf("%v %v", res, err)
	}
}

func TestStorageLimits(t *testing.T) {
	s := newServer(t, t.TempDir(), Limits{MaxStoredPerDevice: 5, MaxDevicesPerAccount: 2})
	fp := s.Fingerprint()
	d := newDevice(t, "alice@localhost", "a")
	if _, err := d.dake(t, direct(s), fp, d.publishRequest(t, 4), nil); err != nil {
		t.Fatal(err)
	}
	// 4 + 2 > 5: refused as a whole.
	ms, ss := prekeyMessages(t, d.tag, 2)
	if _, err := d.dake(t, direct(s), fp, &prekey.PublishRequest{PrekeyMessages: ms, PrekeySecrets: ss}, nil); !errors.Is(err, prekey.ErrFailure) {
		t.Fatalf("over the per-device limit: %v", err)
	}
	if n, _ := s.Stored(d.bare, d.tag); n != 4 {
		t.Fatalf("%d stored", n)
	}
	// A third device of the account is refused.
	for i, r := range []string{"b", "c"} {
		o := newDeviceWith(t, "alice@localhost", r, d.id)
		_, err := o.dake(t, direct(s), fp, o.publishRequest(t, 1), nil)
		if (i == 0) != (err == nil) {
			t.Fatalf("device %d: %v", i+2, err)
		}
	}
}

func TestSessionTimeout(t *testing.T) {
	now := testNow
	s, err := New(Config{Name: serverName, DataDir: t.TempDir(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := newDevice(t, "alice@localhost", "a")
	late := func(from jid.JID, body string) []string {
		r := s.Handle(from, body)
		now = now.Add(10 * time.Minute) // every answer arrives after the DAKE timed out
		return r
	}
	res, err := d.dake(t, late, s.Fingerprint(), prekey.StorageRequest{}, nil)
	// The server forgot the DAKE: its Failure cannot be MAC'd, and the
	// client, already past DAKE-2, cannot verify it.
	if !errors.Is(err, prekey.ErrBadMAC) {
		t.Fatalf("%v %v", res, err)
	}
	if len(s.sessions) != 0 {
		t.Fatalf("%d sessions kept", len(s.sessions))
	}
}
