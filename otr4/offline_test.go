package otr4

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/query"
	"github.com/otrchat/otrchat/otr4/internal/ring"
)

// memSecrets is an in-memory PrekeySecretStore: Take deletes.
type memSecrets struct {
	mu sync.Mutex
	m  map[uint32][]byte
}

func (s *memSecrets) TakePrekeySecret(id uint32) (*PrekeySecret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[id]
	if !ok {
		return nil, ErrPrekeyUnknown
	}
	delete(s.m, id)
	return ParsePrekeySecret(b)
}

type offlineBob struct {
	*party
	secrets   *memSecrets
	published []*PrekeyMessage
	profile   *PrekeyProfile
}

// publishingBob makes a Bob who published a client profile, a prekey
// profile and n prekey messages, and keeps their secrets.
func publishingBob(t *testing.T, clk *clock, n int) *offlineBob {
	t.Helper()
	secrets := &memSecrets{m: map[uint32][]byte{}}
	id, _ := GenerateIdentity(rand.Reader, false)
	tag := InstanceTag(0x2002)
	pp, ppSecret, err := NewPrekeyProfile(rand.Reader, id, tag, clk.now().Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*PrekeyMessage
	for i := 0; i < n; i++ {
		m, s, err := NewPrekeyMessage(rand.Reader, tag)
		if err != nil {
			t.Fatal(err)
		}
		secrets.m[m.ID] = s.Marshal()
		msgs = append(msgs, m)
	}
	conv, err := NewConversation(Config{Identity: id, InstanceTag: tag, OurAccount: "bob@example.org", TheirAccount: "alice@example.org",
		Now: clk.now, PrekeyProfile: pp, SharedPrekeySecret: ppSecret, PrekeySecrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	return &offlineBob{party: &party{id: id, tag: tag, conv: conv, jid: "bob@example.org"}, secrets: secrets, published: msgs, profile: pp}
}

// ensemble returns what a prekey server would hand out, passed through the
// wire encodings.
func (b *offlineBob) ensemble(t *testing.T, i int) *PrekeyEnsemble {
	t.Helper()
	cp, _, err := ParseClientProfile(b.conv.profile.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	pp, _, err := ParsePrekeyProfile(b.profile.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	pm, _, err := ParsePrekeyMessage(b.published[i].Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return &PrekeyEnsemble{Client: cp, Prekey: pp, Message: pm}
}

func TestOfflineConversation(t *testing.T) {
	clk := newClock()
	bob := publishingBob(t, clk, 5)
	alice := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	// Bob is offline: Alice starts from an ensemble and sends three messages.
	var wire []string
	out, err := alice.conv.StartOffline(bob.ensemble(t, 0), "first, while you were away")
	if err != nil {
		t.Fatal(err)
	}
	if alice.conv.State() != StateEncrypted {
		t.Fatal(alice.conv.State())
	}
	wire = append(wire, out.ToSend...)
	for _, text := range []string{"second", "third"} {
		m, err := alice.conv.Send(text)
		if err != nil {
			t.Fatal(err)
		}
		wire = append(wire, m.ToSend...)
	}
	if len(wire) != 4 {
		t.Fatalf("%d wire messages, want Non-Interactive-Auth and 3 data messages", len(wire))
	}
	// Later Bob comes online and reads all three.
	clk.advance(3 * time.Hour)
	var texts []string
	for _, w := range wire {
		r, err := bob.conv.Receive(w)
		if err != nil {
			t.Fatal(err)
		}
		if r.Text != "" {
			texts = append(texts, r.Text)
		}
	}
	if fmt.Sprint(texts) != "[first, while you were away second third]" {
		t.Fatalf("bob read %q", texts)
	}
	if len(bob.secrets.m) != 4 {
		t.Fatal("the used prekey secret was not deleted")
	}
	fa, _ := alice.conv.TheirFingerprint()
	fb, _ := bob.conv.TheirFingerprint()
	if fa != bob.id.Fingerprint() || fb != alice.id.Fingerprint() {
		t.Fatal("fingerprints")
	}
	sa, _, _ := alice.conv.SSID()
	sb, _, _ := bob.conv.SSID()
	if sa != sb {
		t.Fatal("SSIDs differ")
	}
	// Bob replies and the ratchet carries on in both directions.
	for i := 0; i < 6; i++ {
		from, to := bob.party, alice
		if i%2 == 1 {
			from, to = alice, bob.party
		}
		exchange(t, from, to, fmt.Sprintf("reply %d", i))
	}
	// A replay of the Non-Interactive-Auth message: the prekey is gone.
	if _, err := bob.conv.Receive(wire[0]); !errors.Is(err, ErrPrekeyUnknown) {
		t.Fatalf("reused prekey message: %v", err)
	}
}

func TestOnlineAfterOffline(t *testing.T) {
	clk := newClock()
	bob := publishingBob(t, clk, 1)
	alice := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	out, _ := alice.conv.StartOffline(bob.ensemble(t, 0), "offline hello")
	deliverAll(t, alice, bob.party, out.ToSend)
	// "Starting an online conversation after an offline one": TLV 1, then
	// a new interactive DAKE.
	end, _ := bob.conv.End()
	id, _ := bob.conv.StartInteractive()
	deliverAll(t, bob.party, alice, append(end.ToSend, id.ToSend...))
	if alice.conv.State() != StateEncrypted || bob.conv.State() != StateEncrypted {
		t.Fatalf("%v %v", alice.conv.State(), bob.conv.State())
	}
	exchange(t, alice, bob.party, "online now")
}

func TestOfflineAfterOnline(t *testing.T) {
	clk := newClock()
	bob := publishingBob(t, clk, 1)
	alice := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	id, _ := bob.conv.StartInteractive()
	deliverAll(t, bob.party, alice, id.ToSend)
	exchange(t, alice, bob.party, "online")
	// Bob goes offline; Alice ends the online session and starts offline.
	out, err := alice.conv.StartOffline(bob.ensemble(t, 0), "now offline")
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ToSend) != 3 { // TLV 1, Non-Interactive-Auth, data
		t.Fatalf("%d messages", len(out.ToSend))
	}
	_, texts, _ := deliverAll(t, alice, bob.party, out.ToSend)
	if fmt.Sprint(texts) != "[now offline]" || bob.conv.State() != StateEncrypted {
		t.Fatalf("%q %v", texts, bob.conv.State())
	}
}

func TestEnsembleValidation(t *testing.T) {
	clk := newClock()
	bob := publishingBob(t, clk, 2)
	alice := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)

	e := bob.ensemble(t, 0)
	e.Message.InstanceTag = 0x3003
	if _, err := alice.conv.StartOffline(e, "x"); !errors.Is(err, ErrEnsembleTags) {
		t.Fatalf("wrong instance tag: %v", err)
	}
	e = bob.ensemble(t, 0)
	mallory, _ := GenerateIdentity(rand.Reader, false)
	e.Prekey, _, _ = NewPrekeyProfile(rand.Reader, mallory, bob.tag, clk.now().Add(time.Hour))
	if _, err := alice.conv.StartOffline(e, "x"); !errors.Is(err, ErrProfileKey) {
		t.Fatalf("prekey profile of another key: %v", err)
	}
	e = bob.ensemble(t, 0)
	clk.advance(8 * 24 * time.Hour)
	if _, err := alice.conv.StartOffline(e, "x"); !errors.Is(err, ErrProfileExpired) {
		t.Fatalf("expired profiles: %v", err)
	}
	if alice.conv.State() != StateStart {
		t.Fatal("state changed by a rejected ensemble")
	}
	// SelectEnsembles keeps the latest-expiring valid ensemble per tag.
	clk.advance(-8 * 24 * time.Hour)
	good := bob.ensemble(t, 1)
	bad := bob.ensemble(t, 0)
	bad.Message.InstanceTag = 0x4004
	sel, errs := SelectEnsembles([]*PrekeyEnsemble{bad, good}, clk.now())
	if len(sel) != 1 || sel[bob.tag] != good || len(errs) != 1 {
		t.Fatalf("selected %v, errors %v", sel, errs)
	}
}

func TestNonInteractiveAuthRejections(t *testing.T) {
	clk := newClock()
	bob := publishingBob(t, clk, 3)
	alice := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	out, _ := alice.conv.StartOffline(bob.ensemble(t, 0), "")
	raw := decode(t, out.ToSend[0])
	m, err := parseNonInteractiveAuth(raw)
	if err != nil {
		t.Fatal(err)
	}
	// A ring signature over the wrong transcript.
	s, _ := curve.RandomScalar(rand.Reader)
	y := curve.NewIdentityPoint().ScalarBaseMult(s)
	m.sigma, _ = ring.Sign(rand.Reader, alice.id.key.Scalar(), bob.id.forging, alice.id.key.Public(), y, []byte("wrong"))
	if _, err := bob.conv.Receive(query.Encode(m.marshal())); !errors.Is(err, ErrInvalidRingSig) {
		t.Fatalf("wrong transcript: %v", err)
	}
	// Wrong receiver instance tag.
	alice2 := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	out2, _ := alice2.conv.StartOffline(bob.ensemble(t, 1), "")
	m2, _ := parseNonInteractiveAuth(decode(t, out2.ToSend[0]))
	m2.receiver = 0x5005
	if _, err := bob.conv.Receive(query.Encode(m2.marshal())); !errors.Is(err, ErrWrongInstance) {
		t.Fatalf("wrong receiver: %v", err)
	}
	// A tampered Auth MAC.
	m3, _ := parseNonInteractiveAuth(decode(t, out2.ToSend[0]))
	m3.authMAC = append([]byte(nil), m3.authMAC...)
	m3.authMAC[0] ^= 1
	if _, err := bob.conv.Receive(query.Encode(m3.marshal())); !errors.Is(err, ErrAuthMAC) {
		t.Fatalf("tampered MAC: %v", err)
	}
	if bob.conv.State() != StateStart {
		t.Fatal(bob.conv.State())
	}
	// An unknown prekey identifier.
	alice3 := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	out3, _ := alice3.conv.StartOffline(bob.ensemble(t, 2), "")
	m4, _ := parseNonInteractiveAuth(decode(t, out3.ToSend[0]))
	m4.prekeyID ^= 0xFFFF
	if _, err := bob.conv.Receive(query.Encode(m4.marshal())); !errors.Is(err, ErrPrekeyUnknown) {
		t.Fatalf("unknown prekey: %v", err)
	}
	// Interactive-only mode refuses offline conversations.
	io := newParty(t, "carol@example.org", "bob@example.org", 0x6006, clk, func(c *Config) { c.Mode = ModeInteractiveOnly })
	if _, err := io.conv.StartOffline(bob.ensemble(t, 2), "x"); !errors.Is(err, ErrOfflineNotInMode) {
		t.Fatal(err)
	}
}
