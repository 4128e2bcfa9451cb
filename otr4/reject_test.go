package otr4

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/query"
	"github.com/otrchat/otrchat/otr4/internal/ring"
)

// Every rejection leaves the conversation as it was: the genuine message
// is accepted afterwards.

func decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := query.DecodeEncoded(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rejectThenAccept(t *testing.T, p *party, bad []byte, want error, good string) {
	t.Helper()
	before := p.conv.State()
	_, err := p.conv.Receive(query.Encode(bad))
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	if p.conv.State() != before {
		t.Fatalf("state moved from %v to %v", before, p.conv.State())
	}
	if _, err := p.conv.Receive(good); err != nil {
		t.Fatalf("genuine message refused after a rejection: %v", err)
	}
}

func TestTamperedDataMAC(t *testing.T) {
	clk := newClock()
	a, b := encryptedPair(t, clk)
	m, _ := a.conv.Send("authentic")
	raw := decode(t, m.ToSend[0])
	for _, off := range []int{len(raw) - 4 - 1, len(raw) - 4 - 64 - 2} { // MAC, ciphertext
		bad := append([]byte(nil), raw...)
		bad[off] ^= 0x40
		out, err := b.conv.Receive(query.Encode(bad))
		if !errors.Is(err, ErrUnreadable) || out.Text != "" {
			t.Fatalf("tampered byte %d: %v %q", off, err, out.Text)
		}
	}
	if out := recv(t, b, m.ToSend[0]); out.Text != "authentic" {
		t.Fatalf("%q", out.Text)
	}
}

func TestInstanceTagsChecked(t *testing.T) {
	clk := newClock()
	a, b := encryptedPair(t, clk)
	m, _ := a.conv.Send("tagged")
	raw := decode(t, m.ToSend[0])
	other := append([]byte(nil), raw...)
	binary.BigEndian.PutUint32(other[7:], uint32(b.tag)+1) // another receiver
	rejectThenAccept(t, b, other, ErrWrongInstance, query.Encode(raw))
	m2, _ := a.conv.Send("tagged again")
	raw2 := decode(t, m2.ToSend[0])
	small := append([]byte(nil), raw2...)
	binary.BigEndian.PutUint32(small[3:], 0xFF) // sender below 0x100
	rejectThenAccept(t, b, small, ErrInstanceTag, m2.ToSend[0])
	m3, _ := a.conv.Send("tagged thrice")
	raw3 := decode(t, m3.ToSend[0])
	smallRecv := append([]byte(nil), raw3...)
	binary.BigEndian.PutUint32(smallRecv[7:], 0x42) // receiver in 1..0xFF
	rejectThenAccept(t, b, smallRecv, ErrWrongInstance, m3.ToSend[0])
}

// identityWith builds bob's Identity message with a modified profile.
func identityWith(t *testing.T, bob *party, mutate func(m *identityMessage)) (bad []byte, good string) {
	t.Helper()
	id, _ := bob.conv.StartInteractive()
	m, err := parseIdentity(decode(t, id.ToSend[0]))
	if err != nil {
		t.Fatal(err)
	}
	mutate(m)
	return m.marshal(), id.ToSend[0]
}

func TestExpiredClientProfile(t *testing.T) {
	clk := newClock()
	a, b := freshPair(t, clk)
	bad, good := identityWith(t, b, func(m *identityMessage) {
		p, _ := NewClientProfile(b.id, b.tag, "4", clk.now().Add(-time.Minute))
		m.profile = p
	})
	rejectThenAccept(t, a, bad, ErrProfileExpired, good)
}

func TestBadlySignedClientProfile(t *testing.T) {
	clk := newClock()
	a, b := freshPair(t, clk)
	bad, good := identityWith(t, b, func(m *identityMessage) {
		m.profile.signature = append([]byte(nil), m.profile.signature...)
		m.profile.signature[10] ^= 1
	})
	rejectThenAccept(t, a, bad, ErrProfileSignature, good)
	// A profile signed by another key than its own.
	mallory, _ := GenerateIdentity(rand.Reader, false)
	bad2, good2 := identityWith(t, b, func(m *identityMessage) {
		p, _ := NewClientProfile(mallory, b.tag, "4", clk.now().Add(time.Hour))
		p.publicKey = b.id.key.Public()
		m.profile = p
	})
	a2 := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	rejectThenAccept(t, a2, bad2, ErrProfileSignature, good2)
	// A profile whose owner tag is not the sender's.
	bad3, good3 := identityWith(t, b, func(m *identityMessage) {
		p, _ := NewClientProfile(b.id, b.tag+1, "4", clk.now().Add(time.Hour))
		m.profile = p
	})
	a3 := newParty(t, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	rejectThenAccept(t, a3, bad3, ErrProfileTag, good3)
}

func TestInvalidPointsRejected(t *testing.T) {
	clk := newClock()
	a, b := freshPair(t, clk)
	id, _ := b.conv.StartInteractive()
	raw := decode(t, id.ToSend[0])
	m, _ := parseIdentity(raw)
	prefix := len(raw) - (57 + 4 + len(m.b.Bytes()) + 57 + 4 + len(m.dhFirst.Bytes()))
	for name, p := range map[string][]byte{
		"identity":  curve.NewIdentityPoint().Bytes(),
		"off curve": append([]byte{2}, make([]byte, 56)...),
		"y too big": append(bytesOf(0xff, 56), 0x7f),
		// (0, -1) has order 2: y = p - 1 = 2^448 - 2^224 - 2, little-endian.
		"small order": append(append([]byte{0xfe}, bytesOf(0xff, 55)...), 0),
	} {
		bad := append([]byte(nil), raw...)
		copy(bad[prefix:], p)
		if _, err := a.conv.Receive(query.Encode(bad)); !errors.Is(err, ErrMalformedMessage) {
			t.Errorf("%s point: %v", name, err)
		}
	}
	if recv(t, a, id.ToSend[0]); a.conv.State() != StateWaitingAuthI {
		t.Fatal("genuine Identity refused")
	}
}

func bytesOf(v byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v
	}
	return b
}

func TestInvalidRingSignatures(t *testing.T) {
	clk := newClock()
	a, b := freshPair(t, clk)
	id, _ := b.conv.StartInteractive()
	authR := recv(t, a, id.ToSend[0]).ToSend[0]
	m, err := parseAuthR(decode(t, authR))
	if err != nil {
		t.Fatal(err)
	}
	// A valid ring signature over another transcript.
	s, _ := curve.RandomScalar(rand.Reader)
	other, _ := ring.Sign(rand.Reader, a.id.key.Scalar(), b.id.forging, a.id.key.Public(), curve.NewIdentityPoint().ScalarBaseMult(s), []byte("another transcript"))
	m.sigma = other
	rejectThenAccept(t, b, m.marshal(), ErrInvalidRingSig, authR)
	if b.conv.State() != StateEncrypted {
		t.Fatal(b.conv.State())
	}
	// Auth-I with a ring signature made by someone outside the ring.
	c, d := freshPair(t, clk)
	id2, _ := d.conv.StartInteractive()
	authR2 := recv(t, c, id2.ToSend[0]).ToSend[0]
	authI := recv(t, d, authR2).ToSend[0]
	mi, _ := parseAuthI(decode(t, authI))
	mallory, _ := GenerateIdentity(rand.Reader, false)
	forged, _ := ring.Sign(rand.Reader, mallory.key.Scalar(), mallory.key.Public(), c.id.forging, c.id.key.Public(), []byte("t"))
	mi.sigma = forged
	rejectThenAccept(t, c, mi.marshal(), ErrInvalidRingSig, authI)
	if c.conv.State() != StateEncrypted {
		t.Fatal(c.conv.State())
	}
}
