package otr4_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/otr3"
)

func TestTransitionalClientProfile(t *testing.T) {
	id, err := otr4.GenerateIdentity(rand.Reader, false)
	if err != nil {
		t.Fatal(err)
	}
	v3, err := otr3.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tag := otr4.InstanceTag(0x1234)
	p, err := otr4.NewTransitionalClientProfile(id, v3, tag, "34", time.Now().Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(tag, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := p.VerifyTransitional(); err != nil {
		t.Fatal(err)
	}
	fp, ok := p.DSAFingerprint()
	if !ok || otr3.Fingerprint(fp) != v3.Fingerprint() {
		t.Fatal("DSA fingerprint")
	}
	// Through the wire encoding.
	q, rest, err := otr4.ParseClientProfile(p.Marshal())
	if err != nil || len(rest) != 0 {
		t.Fatal(err)
	}
	if err := q.Validate(tag, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := q.VerifyTransitional(); err != nil {
		t.Fatal(err)
	}
	// Another OTRv3 key cannot have made the signature.
	other, _ := otr3.GenerateKey(rand.Reader)
	q.DSAKey = other.DSAPublicKey()
	if err := q.VerifyTransitional(); !errors.Is(err, otr4.ErrTransitionalSignature) {
		t.Fatal(err)
	}
	// Nor does it verify with a changed signature.
	q2, _, _ := otr4.ParseClientProfile(p.Marshal())
	q2.TransitionalSignature[5] ^= 1
	if err := q2.VerifyTransitional(); !errors.Is(err, otr4.ErrTransitionalSignature) {
		t.Fatal(err)
	}
	if _, err := otr4.NewTransitionalClientProfile(id, v3, tag, "4", time.Now().Add(time.Hour), nil); err == nil {
		t.Fatal("a transitional profile without version 3")
	}
	plain, _ := otr4.NewClientProfile(id, tag, "4", time.Now().Add(time.Hour))
	if err := plain.VerifyTransitional(); !errors.Is(err, otr4.ErrTransitionalSignature) {
		t.Fatal(err)
	}
}

// TestAllowV3Offers: with AllowV3 our offers include version 3, and a
// libotr-only peer's answer goes to the OTRv3 engine while a v4 peer's
// goes to this one.
func TestAllowV3Offers(t *testing.T) {
	id, _ := otr4.GenerateIdentity(rand.Reader, false)
	both := otr3.Policy{AllowV3: true, AllowV4: true}
	for _, allow := range []bool{false, true} {
		c, err := otr4.NewConversation(otr4.Config{Identity: id, InstanceTag: 0x100, AllowV3: allow})
		if err != nil {
			t.Fatal(err)
		}
		q, _ := c.QueryMessage()
		tagged, _ := c.TagPlaintext("hi")
		want := otr3.Version4
		if q != map[bool]string{false: "?OTRv4?", true: "?OTRv43?"}[allow] {
			t.Fatalf("AllowV3 %v: query %q", allow, q)
		}
		if got := both.Choose(tagged); got != want {
			t.Fatalf("AllowV3 %v: tag chooses %v", allow, got)
		}
		// A peer with only OTRv3 sees version 3 offered only with AllowV3.
		v3only := otr3.Policy{AllowV3: true}
		wantV3 := otr3.VersionNone
		if allow {
			wantV3 = otr3.Version3
		}
		if got := v3only.Choose(q); got != wantV3 {
			t.Fatalf("AllowV3 %v: a v3-only peer chooses %v", allow, got)
		}
		if got := v3only.Choose(tagged); got != wantV3 {
			t.Fatalf("AllowV3 %v: a v3-only peer chooses %v for the tag", allow, got)
		}
	}
}

// TestTransitionalProfileInDAKE: a profile carrying the OTRv3 key and the
// transitional signature works in the interactive DAKE, and the peer can
// check it against the OTRv3 fingerprint it knew.
func TestTransitionalProfileInDAKE(t *testing.T) {
	now := time.Now()
	idA, _ := otr4.GenerateIdentity(rand.Reader, false)
	idB, _ := otr4.GenerateIdentity(rand.Reader, false)
	v3, _ := otr3.GenerateKey(rand.Reader)
	prof, err := otr4.NewTransitionalClientProfile(idA, v3, 0x1111, "34", now.Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := otr4.NewConversation(otr4.Config{Identity: idA, InstanceTag: 0x1111, ClientProfile: prof,
		OurAccount: "alice@example.org", TheirAccount: "bob@example.org", AllowV3: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := otr4.NewConversation(otr4.Config{Identity: idB, InstanceTag: 0x2222,
		OurAccount: "bob@example.org", TheirAccount: "alice@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := a.QueryMessage()
	msgs, to, from := []string{q}, b, a
	for n := 0; len(msgs) > 0; n++ {
		if n > 10 {
			t.Fatal("DAKE does not settle")
		}
		var next []string
		for _, m := range msgs {
			out, err := to.Receive(m)
			if err != nil {
				t.Fatal(err)
			}
			next = append(next, out.ToSend...)
		}
		msgs, to, from = next, from, to
	}
	if a.State() != otr4.StateEncrypted || b.State() != otr4.StateEncrypted {
		t.Fatalf("%v %v", a.State(), b.State())
	}
	if fp, ok := b.TheirFingerprint(); !ok || fp != idA.Fingerprint() {
		t.Fatal("v4 fingerprint")
	}
	theirs, ok := b.TheirClientProfile()
	if !ok {
		t.Fatal("no profile")
	}
	if err := theirs.VerifyTransitional(); err != nil {
		t.Fatal(err)
	}
	if fp, ok := theirs.DSAFingerprint(); !ok || otr3.Fingerprint(fp) != v3.Fingerprint() {
		t.Fatal("the profile does not carry Alice's OTRv3 key")
	}
}
