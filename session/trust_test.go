package session

import (
	"strings"
	"testing"

	"github.com/otrchat/otrchat/keystore"
)

// trusted reports d's stored decision about a fingerprint of contact.
func (d *dev) trusted(contact *dev, fp string) (bool, bool) {
	f, err := parseFingerprint(fp)
	if err != nil {
		d.t.Fatal(err)
	}
	dec, err := d.store.Trust(d.m.account.String(), contact.jid().String(), f[:])
	if err != nil {
		return false, false
	}
	return dec.Trusted, true
}

// Trust follows the person: alice verifies bob's desktop on her laptop by
// SMP; her phone, which she verified, shows bob's desktop as verified
// without asking; revoking on the phone travels back to the laptop. A
// decision from an own device that is not verified is refused.
func TestTrustSync(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	laptop := w.newDev("alice", "laptop", nil)
	phone := w.newDev("alice", "phone", nil)
	tablet := w.newDev("alice", "tablet", nil)
	bob := w.newDev("bob", "desktop", nil)
	subscribe(t, laptop, bob)
	laptop.waitListed(phone, tablet, bob)
	phone.waitListed(laptop, bob)
	tablet.waitListed(laptop, bob)
	ctx := ctxT(t)

	// alice's laptop and phone verify each other (compared by hand); the
	// tablet trusts the laptop, but the laptop does not trust the tablet.
	for _, p := range [][2]*dev{{laptop, phone}, {phone, laptop}, {tablet, laptop}} {
		if err := p[0].m.SetTrust(ctx, p[1].jid(), p[1].m.Self().Fingerprint, Verified); err != nil {
			t.Fatal(err)
		}
	}
	// Own-device conversations, so that decisions can travel.
	if err := laptop.m.StartOTR(ctx, laptop.jid()); err != nil {
		t.Fatal(err)
	}
	laptop.waitState(phone, Encrypted)
	laptop.waitState(tablet, Encrypted)
	if err := bob.m.StartOTR(ctx, laptop.jid()); err != nil {
		t.Fatal(err)
	}
	laptop.waitState(bob, Encrypted)

	// SMP between the laptop and bob's desktop, with a question.
	if err := laptop.m.StartSMP(ctx, bob.jid(), 0, "Where did we meet?", "in Lisbon"); err != nil {
		t.Fatal(err)
	}
	q := bob.waitEvent("SMP question", func(e Event) bool {
		s, ok := e.(*SMPEvent)
		return ok && s.Kind == SMPAsked
	}).(*SMPEvent)
	if q.Question != "Where did we meet?" || q.Device.Tag != laptop.tag {
		t.Errorf("SMP request %+v", q)
	}
	if err := bob.m.AnswerSMP(ctx, laptop.jid(), 0, "in Lisbon"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*dev{laptop, bob} {
		d.waitEvent("SMP success", func(e Event) bool {
			s, ok := e.(*SMPEvent)
			return ok && s.Kind == SMPSucceeded
		})
	}
	bobFP := bob.m.Self().Fingerprint
	if ok, _ := laptop.trusted(bob, bobFP); !ok {
		t.Fatal("the laptop does not trust bob after SMP")
	}
	c, _ := laptop.m.Contact(bob.jid())
	if c.Trust != Verified {
		t.Errorf("the laptop shows bob as %v", c.Trust)
	}

	// The phone hears of it from the laptop, which it verified.
	e := phone.waitEvent("trust from the laptop", func(e Event) bool {
		tr, ok := e.(*TrustEvent)
		return ok && tr.FromDevice != nil && tr.Level == Verified
	}).(*TrustEvent)
	if e.FromDevice.Tag != laptop.tag || !e.Contact.Equal(bob.jid()) || e.Fingerprint != bobFP {
		t.Errorf("trust event %+v", e)
	}
	if ok, _ := phone.trusted(bob, bobFP); !ok {
		t.Error("the phone does not trust bob's fingerprint")
	}
	// The phone shows bob verified at once when it talks to him.
	if err := phone.m.StartOTR(ctx, bob.jid()); err != nil {
		t.Fatal(err)
	}
	phone.waitState(bob, Encrypted)
	if c, _ := phone.m.Contact(bob.jid()); c.Trust != Verified {
		t.Errorf("the phone shows bob as %v", c.Trust)
	}
	// The tablet is not verified by the laptop: it gets nothing.
	if tablet.has(func(e Event) bool { _, ok := e.(*TrustEvent); return ok && e.(*TrustEvent).FromDevice != nil }) {
		t.Error("the laptop sent its decision to a device it does not trust")
	}

	// Revoking on the phone travels back to the laptop.
	if err := phone.m.SetTrust(ctx, bob.jid(), bobFP, Untrusted); err != nil {
		t.Fatal(err)
	}
	laptop.waitEvent("revocation from the phone", func(e Event) bool {
		tr, ok := e.(*TrustEvent)
		return ok && tr.FromDevice != nil && tr.FromDevice.Tag == phone.tag && tr.Level == Untrusted
	})
	if ok, found := laptop.trusted(bob, bobFP); ok || !found {
		t.Errorf("after revocation the laptop trusts bob: %v (decision found %v)", ok, found)
	}

	// The tablet's decision is refused by the laptop, which never
	// verified the tablet.
	if err := tablet.m.SetTrust(ctx, bob.jid(), bobFP, Verified); err != nil {
		t.Fatal(err)
	}
	laptop.waitEvent("refusal", func(e Event) bool {
		w, ok := e.(*WarningEvent)
		return ok && w.Kind == WarnTrustSync && strings.Contains(w.Text, "not verified")
	})
	if ok, _ := laptop.trusted(bob, bobFP); ok {
		t.Error("the laptop accepted a decision from an unverified own device")
	}
	dec, err := laptop.store.TrustDecisions(laptop.m.account.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dec {
		if d.Contact == bob.jid().String() && d.Method != keystore.MethodManual && d.Method != keystore.MethodSMP {
			t.Errorf("decision with method %v", d.Method)
		}
	}
}

// SMP with the wrong secret fails on both sides and changes no trust.
func TestSMPWrongSecret(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", nil)
	bob := w.newDev("bob", "desktop", nil)
	encryptedPair(t, w, alice, bob)
	ctx := ctxT(t)
	if err := alice.m.StartSMP(ctx, bob.jid(), 0, "", "blue"); err != nil {
		t.Fatal(err)
	}
	bob.waitEvent("SMP request", func(e Event) bool { s, ok := e.(*SMPEvent); return ok && s.Kind == SMPAsked })
	if err := bob.m.AnswerSMP(ctx, alice.jid(), 0, "green"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*dev{alice, bob} {
		d.waitEvent("SMP failure", func(e Event) bool { s, ok := e.(*SMPEvent); return ok && s.Kind == SMPFailed })
	}
	if _, found := alice.trusted(bob, bob.m.Self().Fingerprint); found {
		t.Error("a failed SMP recorded a trust decision")
	}
}
