package otr4

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/query"
	"github.com/otrchat/otrchat/otr4/internal/ring"
)

// TestForgeTranscript: Alice, with only Bob's public profile, forges a
// conversation with him; every DAKE signature verifies with the honest
// verification functions, and her own conversation reads Bob's lines.
func TestForgeTranscript(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	alice, _ := GenerateIdentity(rand.Reader, false)
	bob, _ := GenerateIdentity(rand.Reader, false)
	pa, _ := NewClientProfile(alice, 0x1001, "4", now.Add(time.Hour))
	pb, _ := NewClientProfile(bob, 0x2002, "4", now.Add(time.Hour))
	lines := []TranscriptLine{{false, "I never said this"}, {true, "but here it is"}, {false, "and again"}, {false, "twice"}, {true, "ok"}}
	tr, err := ForgeTranscript(alice, pa, pb, "alice@example.org", "bob@example.org", lines, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Messages) != 3+len(lines) {
		t.Fatalf("%d messages", len(tr.Messages))
	}
	// The Auth-I claims to come from Bob and verifies in Bob's ring.
	idm, _ := parseIdentity(decode(t, tr.Messages[0]))
	ar, _ := parseAuthR(decode(t, tr.Messages[1]))
	ai, _ := parseAuthI(decode(t, tr.Messages[2]))
	ph := phi(idm.sender, ar.sender, idm.ecdhFirst, idm.dhFirst, ar.ecdhFirst, ar.dhFirst, "alice@example.org", "bob@example.org")
	tI := authTranscript(true, idm.profile, ar.profile, idm.y, ar.x, idm.b, ar.a, ph)
	if err := ring.Verify(pb.publicKey, pa.forgingKey, ar.x, ai.sigma, tI); err != nil {
		t.Fatal("forged Auth-I does not verify:", err)
	}
	for _, m := range tr.Messages {
		if d, err := Describe(m); err != nil || d == "" {
			t.Fatalf("Describe: %v", err)
		}
	}
	if d, _ := Describe(tr.Messages[3]); !strings.HasPrefix(d, "Data message\nsender: 0x00002002") {
		t.Fatalf("first line not from bob: %s", d)
	}
}

// TestModifyWithRevealedMACKey: after Bob reveals the MAC key of Alice's
// message, anyone can change "hi" into "yo" and produce a valid MAC.
func TestModifyWithRevealedMACKey(t *testing.T) {
	clk := newClock()
	a, b := encryptedPair(t, clk)
	orig, _ := a.conv.Send("hi bob")
	recv(t, b, orig.ToSend[0])
	reply, _ := b.conv.Send("reply reveals") // first message of Bob's new ratchet
	raw := decode(t, reply.ToSend[0])
	dm, _ := parseDataForTest(raw)
	om, _ := parseDataForTest(decode(t, orig.ToSend[0]))
	var macKey []byte
	for i := 0; i+64 <= len(dm.RevealedMACs); i += 64 {
		k := dm.RevealedMACs[i : i+64]
		if bytes.Equal(ratchetAuthenticate(k, om), om.MAC) {
			macKey = k
		}
	}
	if macKey == nil {
		t.Fatal("the MAC key of the received message was not revealed")
	}
	forged, err := ModifyDataMessage(orig.ToSend[0], macKey, 0, "hi", "yo")
	if err != nil {
		t.Fatal(err)
	}
	fm, _ := parseDataForTest(decode(t, forged))
	if !bytes.Equal(ratchetAuthenticate(macKey, fm), fm.MAC) || bytes.Equal(fm.Ciphertext, om.Ciphertext) {
		t.Fatal("forged message is not validly MACed or unchanged")
	}
	if fm.Ciphertext[0]^om.Ciphertext[0] != 'h'^'y' {
		t.Fatal("wrong bytes changed")
	}
	if _, err := ReMAC(orig.ToSend[0], macKey); err != nil {
		t.Fatal(err)
	}
	_ = query.Encode
}
