package session

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/instancetag"
	"github.com/otrchat/otrchat/internal/libotrpeer"
	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/otr3"
	"github.com/otrchat/otrchat/xmppconn"
)

// testV3Key reads one of otr3's fixed test keys (libotr's format).
func testV3Key(t testing.TB, name string) *otr3.PrivateKey {
	t.Helper()
	data, err := os.ReadFile("../otr4/otr3/testdata/" + name + ".private_key")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := otr3.ImportLibotrKeys(data)
	if err != nil || len(keys) != 1 {
		t.Fatalf("%v %v", keys, err)
	}
	return keys[0].Key
}

// v3Compatible stores an OTRv3 key for the account and turns the compatible mode on.
func v3Compatible(t testing.TB, name string) func(*Config) {
	k := testV3Key(t, name)
	fp := k.Fingerprint()
	return func(c *Config) {
		err := c.Store.PutOTR3Key(c.Account.String(), keystore.OTR3Key{Key: k.Marshal(), Fingerprint: fp[:], Created: time.Now().UTC()}, false)
		if err != nil && !strings.Contains(err.Error(), "already") {
			t.Fatal(err)
		}
		c.V3Compatible = true
	}
}

// libotrUser is a libotr 4.1 client (the otr3 tests' peer) whose wire strings travel over
// a plain XMPP connection, as Pidgin's would.
type libotrUser struct {
	t      *testing.T
	client *xmppconn.Client
	peer   *libotrpeer.Peer
	to     jid.JID

	mu     sync.Mutex // serializes the peer
	texts  []string
	others []string
}

func newLibotrUser(t *testing.T, w *world, user, resource string, contact jid.JID) *libotrUser {
	t.Helper()
	bin := libotrpeer.Build(t)
	dir := t.TempDir()
	account := w.bed.JID(user, "").String()
	kf := filepath.Join(dir, "otr.private_key")
	if err := os.WriteFile(kf, []byte(otr3.ExportLibotrKey(account, "xmpp", testV3Key(t, "bob"))), 0o600); err != nil {
		t.Fatal(err)
	}
	u := &libotrUser{t: t, to: contact}
	u.peer = libotrpeer.Start(t, bin, user, kf, account, contact.String())
	c, err := xmppconn.New(xmppconn.Config{JID: w.bed.JID(user, ""), Password: w.bed.Password(user), Resource: resource,
		Addr: w.bed.C2SAddr, RootCAs: w.bed.RootCAs(), MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	u.client = c
	c.Subscribe(func(e xmppconn.Event) {
		if m, ok := e.(*xmppconn.MessageEvent); ok && m.Message.From.Bare().Equal(contact.Bare()) && m.Message.Carbon == xmppconn.NotCarbon {
			u.mu.Lock()
			r := u.peer.Do("recv", m.Message.Body)
			u.take(r)
			u.mu.Unlock()
			u.send(r.Wires)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("libotr user's connection did not stop")
		}
	})
	if err := c.WaitOnline(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return u
}

// take records what the peer showed. Called with u.mu held.
func (u *libotrUser) take(r libotrpeer.Reply) {
	u.texts = append(u.texts, r.Texts...)
	u.others = append(u.others, r.Other...)
}

func (u *libotrUser) send(wires []string) {
	for _, w := range wires {
		if _, err := u.client.SendChat(context.Background(), u.to, w, xmppconn.SendOptions{}); err != nil {
			u.t.Errorf("libotr user: send: %v", err)
		}
	}
}

// do runs a peer command and sends what it produced.
func (u *libotrUser) do(cmd, arg string) libotrpeer.Reply {
	u.mu.Lock()
	r := u.peer.Do(cmd, arg)
	u.take(r)
	u.mu.Unlock()
	u.send(r.Wires)
	return r
}

func (u *libotrUser) state() (int, uint32, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.peer.State()
}

func (u *libotrUser) saw(f func(texts, others []string) bool) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return f(u.texts, u.others)
}

func (u *libotrUser) waitText(s string) {
	u.t.Helper()
	waitFor(u.t, "libotr reads "+s, func() bool {
		return u.saw(func(texts, _ []string) bool { return slices.Contains(texts, s) })
	})
}

func (u *libotrUser) waitOther(prefix string) {
	u.t.Helper()
	waitFor(u.t, "libotr: "+prefix, func() bool {
		return u.saw(func(_, others []string) bool {
			return slices.ContainsFunc(others, func(l string) bool { return strings.HasPrefix(l, prefix) })
		})
	})
}

// deviceInfo returns what d's Manager shows of the device tag of account.
func (d *dev) deviceInfo(account jid.JID, tag uint32) (DeviceInfo, bool) {
	c, _ := d.m.Contact(account)
	for _, x := range c.Devices {
		if x.Tag == tag {
			return x, true
		}
	}
	return DeviceInfo{}, false
}

// TestV3LibotrOverXMPP: alice's Manager in the OTRv3-compatible mode and bob's libotr 4.1
// (offering only versions 2 and 3) over the real server: the AKE in OTRv3 started by
// libotr's query message, messages both ways, SMP to success (trust stored for the 20-byte
// fingerprint), the end, and a new AKE that alice starts.
func TestV3LibotrOverXMPP(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", v3Compatible(t, "alice"))
	bob := newLibotrUser(t, w, "bob", "pidgin", alice.jid())
	ctx := ctxT(t)
	aliceFP := testV3Key(t, "alice").Fingerprint().String()

	q := bob.do("query", "")
	if len(q.Wires) != 1 || !strings.HasPrefix(q.Wires[0], "?OTRv23?") {
		t.Fatalf("libotr's query message %q", q.Wires)
	}
	tag := bob.peer.Tag
	waitFor(t, "alice encrypted with libotr", func() bool {
		di, ok := alice.deviceInfo(bob.client.Account(), tag)
		return ok && di.State == Encrypted
	})
	waitFor(t, "libotr encrypted", func() bool { st, _, _ := bob.state(); return st == 1 })
	di, _ := alice.deviceInfo(bob.client.Account(), tag)
	if di.Version != 3 || di.Fingerprint != bob.peer.FP || di.Trust != Untrusted {
		t.Fatalf("alice shows bob's libotr as %+v; want version 3, fingerprint %s, untrusted", di, bob.peer.FP)
	}
	if _, theirTag, fp := bob.state(); theirTag != alice.tag || fp != aliceFP {
		t.Fatalf("libotr talks to %08x with fingerprint %s; want %08x %s", theirTag, fp, alice.tag, aliceFP)
	}
	alice.waitEvent("the OTRv3 warning", func(e Event) bool {
		w, ok := e.(*WarningEvent)
		return ok && w.Kind == WarnOTRv3 && w.Device.Tag == tag && strings.Contains(w.Text, "OTR version 3")
	})
	alice.waitEvent("state event of version 3", func(e Event) bool {
		s, ok := e.(*StateEvent)
		return ok && s.State == Encrypted && s.Version == 3 && s.Device.Tag == tag
	})

	// Messages both ways.
	if _, err := alice.m.Send(ctx, bob.client.Account(), "hello libotr"); err != nil {
		t.Fatal(err)
	}
	bob.waitText("hello libotr")
	alice.waitEvent("delivery", func(e Event) bool {
		d, ok := e.(*DeliveryEvent)
		return ok && d.Status == Sent && d.Device.Tag == tag
	})
	bob.do("send", "hello alice, from pidgin")
	m := alice.waitEvent("bob's message", encryptedText("hello alice, from pidgin")).(*MessageEvent)
	if m.Version != 3 || m.From.Tag != tag {
		t.Fatalf("message %+v; want version 3 from %08x", m, tag)
	}

	// SMP with a question, started by alice, answered in libotr.
	if err := alice.m.StartSMP(ctx, bob.client.Account(), 0, "our cat?", "felix"); err != nil {
		t.Fatal(err)
	}
	bob.waitOther("smp askforanswer")
	bob.do("smpanswer", "felix")
	alice.waitEvent("SMP success", func(e Event) bool {
		s, ok := e.(*SMPEvent)
		return ok && s.Kind == SMPSucceeded && s.Device.Tag == tag
	})
	bob.waitOther("smp success")
	// libotr asks; a wrong answer fails on both sides (libotr expects SMP message 4).
	bob.do("smp", "felix")
	alice.waitEvent("SMP request from libotr", func(e Event) bool {
		s, ok := e.(*SMPEvent)
		return ok && s.Kind == SMPAsked && s.Device.Tag == tag
	})
	if err := alice.m.AnswerSMP(ctx, bob.client.Account(), 0, "garfield"); err != nil {
		t.Fatal(err)
	}
	alice.waitEvent("SMP failure", func(e Event) bool {
		s, ok := e.(*SMPEvent)
		return ok && s.Kind == SMPFailed && s.Device.Tag == tag
	})
	bob.waitOther("smp failure")
	waitFor(t, "bob's libotr verified", func() bool {
		di, _ := alice.deviceInfo(bob.client.Account(), tag)
		return di.Trust == Verified
	})
	fp := testV3Key(t, "bob").Fingerprint()
	dec, err := alice.store.Trust(alice.jid().String(), bob.client.Account().String(), fp[:])
	if err != nil || !dec.Trusted || dec.Method != keystore.MethodSMP {
		t.Fatalf("stored decision %+v, %v", dec, err)
	}

	// The end: alice ends, libotr learns it (MSGSTATE_FINISHED).
	if err := alice.m.EndOTR(ctx, bob.client.Account()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "libotr finished", func() bool { st, _, _ := bob.state(); return st == 2 })
	if di, _ := alice.deviceInfo(bob.client.Account(), tag); di.State != Plaintext {
		t.Fatalf("alice after the end: %+v", di)
	}
	bob.do("end", "")

	// Alice starts again: an AKE with the instance she knows.
	if err := alice.m.StartOTR(ctx, bob.client.Account()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "encrypted again", func() bool {
		di, _ := alice.deviceInfo(bob.client.Account(), tag)
		st, _, _ := bob.state()
		return di.State == Encrypted && st == 1
	})
	if di, _ := alice.deviceInfo(bob.client.Account(), tag); di.Trust != Verified {
		t.Fatalf("the verified fingerprint is forgotten: %+v", di)
	}
	if _, err := alice.m.Send(ctx, bob.client.Account(), "again"); err != nil {
		t.Fatal(err)
	}
	bob.waitText("again")
	// A manual decision on the fingerprint as libotr prints it: revoked.
	if err := alice.m.SetTrust(ctx, bob.client.Account(), bob.peer.FP, Untrusted); err != nil {
		t.Fatal(err)
	}
	if di, _ := alice.deviceInfo(bob.client.Account(), tag); di.Trust != Untrusted {
		t.Fatalf("after revoking: %+v", di)
	}
}

// TestV3AliceQueries: alice (compatible mode, encryption "always") writes to a contact with
// no device list; her message waits, her query message offers 4 and 3, libotr answers in v3
// and the message goes out when the AKE is done. Long messages travel in OTRv3 fragments
// both ways.
func TestV3AliceQueries(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	v3 := v3Compatible(t, "alice")
	alice := w.newDev("alice", "laptop", func(c *Config) { v3(c); c.FragmentSize = 400 })
	bob := newLibotrUser(t, w, "bob", "pidgin", alice.jid())
	ctx := ctxT(t)
	if _, err := alice.m.Send(ctx, bob.client.Account(), "waited for the AKE"); err != nil {
		t.Fatal(err)
	}
	bob.waitText("waited for the AKE")
	di, ok := alice.deviceInfo(bob.client.Account(), bob.peer.Tag)
	if !ok || di.Version != 3 || di.State != Encrypted {
		t.Fatalf("alice shows %+v", di)
	}
	long := strings.Repeat("a long line, fragmented. ", 80)
	if _, err := alice.m.Send(ctx, bob.client.Account(), long); err != nil {
		t.Fatal(err)
	}
	bob.waitText(long)
	bob.do("maxsize", "300")
	if r := bob.do("send", long+"(back)"); len(r.Wires) < 3 || !strings.HasPrefix(r.Wires[1], "?OTR|") {
		t.Fatalf("libotr did not fragment: %d wire strings", len(r.Wires))
	}
	if m := alice.waitEvent("libotr's fragmented message", encryptedText(long+"(back)")).(*MessageEvent); m.Version != 3 {
		t.Fatalf("version %d", m.Version)
	}
	// Plaintext that libotr sends now is reported as unencrypted.
	if _, err := bob.client.SendChat(ctx, alice.jid(), "not through OTR", xmppconn.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	alice.waitEvent("unencrypted warning", warning(WarnUnencryptedReceived))
}

// TestV3BothOfferV4: two Managers in the compatible mode, starting from a query message
// that offers 3 and 4, end up on OTRv4.
func TestV3BothOfferV4(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", v3Compatible(t, "alice"))
	bob := w.newDev("bob", "desktop", v3Compatible(t, "bob"))
	ctx := ctxT(t)
	// Alice's client profile is transitional: it carries her OTRv3 key.
	cr, err := alice.store.ClientProfile(alice.jid().String(), alice.tag)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, err := otr4.ParseClientProfile(cr.Encoded)
	if err != nil || cp.Versions != "34" || cp.VerifyTransitional() != nil {
		t.Fatalf("client profile %+v, %v", cp, err)
	}
	if fp, ok := cp.DSAFingerprint(); !ok || otr3.Fingerprint(fp) != testV3Key(t, "alice").Fingerprint() {
		t.Fatal("the client profile does not carry alice's OTRv3 key")
	}
	// The query message alice sends to a contact she knows nothing of offers 4 and 3.
	q := alice.m.queryMessage()
	if r := otr4.PeekRoute(q); !slices.Equal(r.Offers, []int{4, 3}) && !slices.Equal(r.Offers, []int{3, 4}) {
		t.Fatalf("query %q offers %v", q, r.Offers)
	}
	if _, err := alice.m.Client().SendChat(ctx, bob.jid(), q, xmppconn.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	alice.waitState(bob, Encrypted)
	bob.waitState(alice, Encrypted)
	if _, err := bob.m.Send(ctx, alice.jid(), "on v4"); err != nil {
		t.Fatal(err)
	}
	m := alice.waitEvent("message", encryptedText("on v4")).(*MessageEvent)
	if m.Version != 4 {
		t.Fatalf("version %d, want 4", m.Version)
	}
	if di, _ := alice.deviceInfo(bob.jid(), bob.tag); di.Version != 4 {
		t.Fatalf("device %+v", di)
	}
	if alice.has(warning(WarnOTRv3)) || bob.has(warning(WarnOTRv3)) {
		t.Fatal("an OTRv3 warning between two OTRv4 devices")
	}
}

// TestV3Multicast: under MULTICASTING an OTRv3 instance gets the message only when it is
// the contact's only encrypted device.
func TestV3Multicast(t *testing.T) {
	c := &contact{devices: map[uint32]*device{
		0x100: {tag: 0x100, state: Encrypted},
		0x200: {tag: 0x200, state: Encrypted, v3: &v3dev{}},
		0x300: {tag: 0x300, state: Plaintext},
	}}
	m := &Manager{}
	if got := m.applyV3(c, instancetag.Multicasting, []uint32{0x100, 0x200, 0x300}); !slices.Equal(got, []uint32{0x100, 0x300}) {
		t.Fatalf("with an encrypted OTRv4 device: %x", got)
	}
	c.devices[0x100].state = Finished
	if got := m.applyV3(c, instancetag.Multicasting, []uint32{0x100, 0x200, 0x300}); !slices.Equal(got, []uint32{0x100, 0x300, 0x200}) {
		t.Fatalf("the OTRv3 instance is the only encrypted one: %x", got)
	}
	if got := m.applyV3(c, instancetag.Best, []uint32{0x200}); !slices.Equal(got, []uint32{0x200}) {
		t.Fatalf("a single choice is kept: %x", got)
	}
}

// TestTrustSyncV3Format: a decision on an OTRv3 fingerprint travels in version 2 of the
// trust TLV; one on an OTRv4 fingerprint stays version 1, which older devices read.
func TestTrustSyncV3Format(t *testing.T) {
	at := time.UnixMilli(time.Now().UnixMilli())
	fp3 := testV3Key(t, "bob").Fingerprint()
	ts := trustSync{contact: jid.MustParse("bob@example.org"), fingerprint: fp3[:], level: Verified, method: 1, at: at}
	v := ts.tlv().Value
	if v[0] != 2 || v[11] != 20 {
		t.Fatalf("OTRv3 decision encoded as %x", v[:12])
	}
	back, err := parseTrustSync(v)
	if err != nil || !bytes.Equal(back.fingerprint, fp3[:]) || !back.at.Equal(at) || !back.contact.Equal(ts.contact) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	ts.fingerprint = make([]byte, 56)
	v = ts.tlv().Value
	if v[0] != 1 || len(v) != 11+56+2+len("bob@example.org") {
		t.Fatalf("OTRv4 decision encoded as version %d, %d bytes", v[0], len(v))
	}
	v[0] = 2 // version 2 needs the length byte (here the fingerprint's first byte, 0)
	if _, err := parseTrustSync(v); err == nil {
		t.Fatal("version 2 without a valid length accepted")
	}
	// A formatted OTRv3 fingerprint is libotr's, and SetTrust's parser takes it.
	if formatFP(fp3[:]) != fp3.String() {
		t.Fatalf("%s, libotr shows %s", formatFP(fp3[:]), fp3)
	}
	if b, err := parseFingerprint(fp3.String()); err != nil || !bytes.Equal(b, fp3[:]) {
		t.Fatalf("parseFingerprint: %x %v", b, err)
	}
}

// TestV3TrustSync: a decision on an OTRv3 fingerprint (in libotr's form) made on alice's
// laptop reaches her verified phone (trust TLV version 2) and is stored there with the
// 20-byte fingerprint; revoking it on the phone travels back.
func TestV3TrustSync(t *testing.T) {
	w := newWorld(t, "alice")
	laptop := w.newDev("alice", "laptop", v3Compatible(t, "alice"))
	phone := w.newDev("alice", "phone", v3Compatible(t, "alice"))
	laptop.waitListed(phone)
	phone.waitListed(laptop)
	ctx := ctxT(t)
	for _, p := range [][2]*dev{{laptop, phone}, {phone, laptop}} {
		if err := p[0].m.SetTrust(ctx, p[1].jid(), p[1].m.Self().Fingerprint, Verified); err != nil {
			t.Fatal(err)
		}
	}
	if err := laptop.m.StartOTR(ctx, laptop.jid()); err != nil {
		t.Fatal(err)
	}
	laptop.waitState(phone, Encrypted)
	phone.waitState(laptop, Encrypted)

	pidgin := testV3Key(t, "bob").Fingerprint()
	carol := jid.MustParse("carol@example.org")
	if err := laptop.m.SetTrust(ctx, carol, pidgin.String(), Verified); err != nil {
		t.Fatal(err)
	}
	e := phone.waitEvent("synced OTRv3 decision", func(e Event) bool {
		tr, ok := e.(*TrustEvent)
		return ok && tr.FromDevice != nil && tr.Fingerprint == pidgin.String()
	}).(*TrustEvent)
	if e.Level != Verified || !e.Contact.Equal(carol) || e.FromDevice.Tag != laptop.tag {
		t.Fatalf("trust event %+v", e)
	}
	dec, err := phone.store.Trust(phone.jid().String(), carol.String(), pidgin[:])
	if err != nil || !dec.Trusted || len(dec.Fingerprint) != 20 {
		t.Fatalf("phone's decision %+v, %v", dec, err)
	}
	if err := phone.m.SetTrust(ctx, carol, pidgin.String(), Untrusted); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "revocation on the laptop", func() bool {
		dec, err := laptop.store.Trust(laptop.jid().String(), carol.String(), pidgin[:])
		return err == nil && !dec.Trusted
	})
}

// TestV3WhitespaceTag: libotr tags its first plaintext message (SEND_WHITESPACE_TAG, only
// versions 2 and 3); alice shows the text and answers with an OTRv3 AKE.
func TestV3WhitespaceTag(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", v3Compatible(t, "alice"))
	bob := newLibotrUser(t, w, "bob", "pidgin", alice.jid())
	if alice.m.V3Fingerprint() != testV3Key(t, "alice").Fingerprint().String() {
		t.Fatalf("V3Fingerprint %q", alice.m.V3Fingerprint())
	}
	// OTRL_POLICY_ALLOW_V2 | ALLOW_V3 | SEND_WHITESPACE_TAG | WHITESPACE_START_AKE
	bob.do("policy", "54") // 0x02 | 0x04 | 0x10 | 0x20
	r := bob.do("send", "hi there")
	if len(r.Wires) != 1 || !strings.HasPrefix(r.Wires[0], "hi there \t  \t\t\t\t \t \t \t  ") {
		t.Fatalf("libotr sent %q", r.Wires)
	}
	alice.waitEvent("the plaintext", func(e Event) bool {
		m, ok := e.(*MessageEvent)
		return ok && m.Text == "hi there" && !m.Encrypted
	})
	waitFor(t, "encrypted after the tag", func() bool {
		di, _ := alice.deviceInfo(bob.client.Account(), bob.peer.Tag)
		st, _, _ := bob.state()
		return di.State == Encrypted && di.Version == 3 && st == 1
	})
}
