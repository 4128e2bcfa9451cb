package session

import (
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
)

// The encryption policies of a contact: manual, opportunistic, always.
func TestEncryptionPolicies(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", nil)
	bob := w.newDev("bob", "desktop", nil)
	subscribe(t, alice, bob)
	alice.waitListed(bob)
	bob.waitListed(alice)
	ctx := ctxT(t)

	t.Run("manual", func(t *testing.T) {
		if err := alice.m.SetEncryptionPolicy(bob.jid(), EncryptManual); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.m.Send(ctx, bob.jid(), "plain hello"); err != nil {
			t.Fatal(err)
		}
		e := bob.waitEvent("plaintext", text("plain hello")).(*MessageEvent)
		if e.Encrypted {
			t.Error("manual: the message arrived encrypted")
		}
		alice.waitEvent("sent-plaintext warning", warning(WarnSentPlaintext))
		bob.waitEvent("unencrypted warning (bob's policy is always)", warning(WarnUnencryptedReceived))
		if s := alice.deviceState(bob.jid(), bob.tag); s != Plaintext {
			t.Errorf("manual: OTR started by itself (%v)", s)
		}
	})
	t.Run("opportunistic", func(t *testing.T) {
		for _, p := range [][2]*dev{{alice, bob}, {bob, alice}} {
			if err := p[0].m.SetEncryptionPolicy(p[1].jid(), EncryptOpportunistic); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := alice.m.Send(ctx, bob.jid(), "tagged hello"); err != nil {
			t.Fatal(err)
		}
		e := bob.waitEvent("tagged plaintext", text("tagged hello")).(*MessageEvent)
		if e.Encrypted {
			t.Error("the first message arrived encrypted")
		}
		// Bob answers the whitespace tag by starting OTR.
		alice.waitState(bob, Encrypted)
		bob.waitState(alice, Encrypted)
		if _, err := alice.m.Send(ctx, bob.jid(), "now private"); err != nil {
			t.Fatal(err)
		}
		bob.waitEvent("encrypted", encryptedText("now private"))
		if err := alice.m.EndOTR(ctx, bob.jid()); err != nil {
			t.Fatal(err)
		}
		bob.waitState(alice, Finished)
		if err := bob.m.EndOTR(ctx, alice.jid()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("always", func(t *testing.T) {
		for _, p := range [][2]*dev{{alice, bob}, {bob, alice}} {
			if err := p[0].m.SetEncryptionPolicy(p[1].jid(), EncryptAlways); err != nil {
				t.Fatal(err)
			}
		}
		before := bob.count(func(e Event) bool { m, ok := e.(*MessageEvent); return ok && !m.Encrypted })
		if _, err := alice.m.Send(ctx, bob.jid(), "never in clear"); err != nil {
			t.Fatal(err)
		}
		alice.waitEvent("queued for the DAKE", func(e Event) bool {
			d, ok := e.(*DeliveryEvent)
			return ok && d.Status == Queued
		})
		bob.waitEvent("encrypted after the DAKE", encryptedText("never in clear"))
		if after := bob.count(func(e Event) bool { m, ok := e.(*MessageEvent); return ok && !m.Encrypted }); after != before {
			t.Error("a plaintext message arrived under the always policy")
		}
	})
}

// The trust modes decide the level of fingerprints never verified.
func TestTrustModes(t *testing.T) {
	s, err := keystore.Create(filepath.Join(t.TempDir(), "k.db"), []byte("p"), &keystore.Options{KDF: cheapKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, err := otr4.GenerateIdentity(rand.Reader, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutIdentity("alice@example.org", keystore.Identity{InstanceTag: 0x1234, LongTermSeed: id.Seed(), ForgingPublic: id.ForgingKey(), Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Account: jid.MustParse("alice@example.org"), Password: "unused", Addr: "127.0.0.1:1", Store: s})
	if err != nil {
		t.Fatal(err)
	}
	c := m.contact(jid.MustParse("bob@example.org"))
	var fp1, fp2 otr4.Fingerprint
	fp1[0], fp2[0] = 1, 2
	level := func(mode TrustMode, fp otr4.Fingerprint, changed bool) TrustLevel {
		m.trustMode = mode
		return m.trustLevel(c, fp[:], changed)
	}
	for _, tc := range []struct {
		mode    TrustMode
		changed bool
		want    TrustLevel
	}{
		{TrustManual, false, Untrusted},
		{TrustTOFU, false, Assumed},
		{TrustTOFU, true, Untrusted},
		{TrustBlind, false, Assumed},
		{TrustBlind, true, Untrusted},
		{TrustBlindBeforeVerification, false, Assumed},
	} {
		if got := level(tc.mode, fp1, tc.changed); got != tc.want {
			t.Errorf("%s (changed %v): %v, want %v", tc.mode, tc.changed, got, tc.want)
		}
	}
	// A verified fingerprint ends blind trust before verification for the
	// contact's other fingerprints; an explicit distrust beats every mode.
	if err := s.SetTrust("alice@example.org", keystore.TrustDecision{Contact: "bob@example.org", Fingerprint: fp1[:], Trusted: true, Method: keystore.MethodManual, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := level(TrustBlindBeforeVerification, fp2, false); got != Untrusted {
		t.Errorf("blind-before-verification after a verification: %v", got)
	}
	if got := level(TrustManual, fp1, false); got != Verified {
		t.Errorf("verified fingerprint: %v", got)
	}
	if err := s.SetTrust("alice@example.org", keystore.TrustDecision{Contact: "bob@example.org", Fingerprint: fp2[:], Trusted: false, Method: keystore.MethodManual, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := level(TrustBlind, fp2, false); got != Untrusted {
		t.Errorf("distrusted fingerprint under blind: %v", got)
	}
	for _, name := range []string{"manual", "TOFU", "blind-before-verification", "blind"} {
		if _, err := ParseTrustMode(name); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseEncryptionPolicy("sometimes"); err == nil {
		t.Error("ParseEncryptionPolicy accepted nonsense")
	}
}

// Under "always", a message to a contact whose devices are unknown (no
// device list) waits: a query message asks, and the message goes out
// encrypted once the first device answered.
func TestAlwaysWaitsWithoutDeviceList(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", nil)
	bob := w.newDev("bob", "desktop", nil)
	subscribe(t, alice, bob)
	ctx := ctxT(t)
	bob.m.pep.Stop()
	if err := bob.m.pep.Publish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob's list empty", func() bool {
		l, err := alice.m.pep.Fetch(ctx, bob.jid())
		return err == nil && len(l) == 0
	})
	id, err := alice.m.Send(ctx, bob.jid(), "wait for it")
	if err != nil {
		t.Fatal(err)
	}
	bob.waitEvent("encrypted message", encryptedText("wait for it"))
	alice.waitEvent("sent after the DAKE", func(e Event) bool {
		d, ok := e.(*DeliveryEvent)
		return ok && d.ID == id && d.Status == Sent && d.Device.Tag == bob.tag
	})
	if bob.has(func(e Event) bool { m, ok := e.(*MessageEvent); return ok && !m.Encrypted && m.Text == "wait for it" }) {
		t.Error("the message went out in plaintext")
	}
}
