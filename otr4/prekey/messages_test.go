package prekey

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/otrchat/otrchat/otr4"
)

// sampleMessages returns one valid instance of every message type, built by
// a real DAKE where the type needs one.
func sampleMessages(t testing.TB) []Message {
	t.Helper()
	d, s := newDevice(t), newTestServer(t)
	req := d.publishRequest(t, 3)
	c, dake1, err := NewClientDAKE(d.clientConfig(s), req)
	if err != nil {
		t.Fatal(err)
	}
	sess := NewServerSession(s.cfg, "alice@example.org")
	dake2, err := sess.HandleDAKE1(dake1)
	if err != nil {
		t.Fatal(err)
	}
	dake3, _, err := c.Receive(dake2)
	if err != nil {
		t.Fatal(err)
	}
	var out []Message
	for _, b := range [][]byte{dake1, dake2, dake3} {
		m, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	pub, err := ParsePublication(out[2].(*DAKE3).Message)
	if err != nil {
		t.Fatal(err)
	}
	onlyMsgs := &Publication{PrekeyMessages: req.PrekeyMessages[:1]}
	ens := []*otr4.PrekeyEnsemble{{Client: d.profile, Prekey: req.PrekeyProfile, Message: req.PrekeyMessages[0]},
		{Client: d.profile, Prekey: req.PrekeyProfile, Message: req.PrekeyMessages[1]}}
	out = append(out, pub, onlyMsgs,
		&Publication{ClientProfile: d.profile},
		&StorageInfoRequest{MAC: [MACSize]byte{1, 2, 3}},
		&StorageStatus{ReceiverTag: d.tag, Stored: 77, MAC: [MACSize]byte{4}},
		&Success{ReceiverTag: d.tag, MAC: [MACSize]byte{5}},
		&Failure{ReceiverTag: d.tag, MAC: [MACSize]byte{6}},
		&EnsembleQuery{SenderTag: d.tag, Identity: "bob@example.org", Versions: "45"},
		&EnsembleRetrieval{ReceiverTag: d.tag, Identity: "alice@example.org", Ensembles: ens},
		&NoEnsembles{ReceiverTag: d.tag, Identity: "bob@example.org", Text: NoEnsemblesText},
	)
	// onlyMsgs has proofs fields nil: the parser requires them when N > 0,
	// so give it real ones.
	onlyMsgs.MessageECDHProof, onlyMsgs.MessageDHProof = pub.MessageECDHProof, pub.MessageDHProof
	return out
}

func TestRoundTrip(t *testing.T) {
	seen := map[MessageType]bool{}
	for _, m := range sampleMessages(t) {
		b := m.Marshal()
		got, err := Parse(b)
		if err != nil {
			t.Fatalf("%v: %v", m.Type(), err)
		}
		if got.Type() != m.Type() {
			t.Fatalf("type %v, want %v", got.Type(), m.Type())
		}
		if !bytes.Equal(got.Marshal(), b) {
			t.Fatalf("%v: marshal(parse(b)) != b", m.Type())
		}
		// Encoded form.
		dec, err := Decode(Encode(b))
		if err != nil || !bytes.Equal(dec, b) {
			t.Fatalf("%v: Decode(Encode(b)): %v", m.Type(), err)
		}
		// Every strict prefix is refused, and so is a trailing byte.
		for _, n := range []int{0, 2, 3, len(b) / 2, len(b) - 1} {
			if _, err := Parse(b[:n]); err == nil {
				t.Fatalf("%v: prefix of %d bytes accepted", m.Type(), n)
			}
		}
		if _, err := Parse(append(append([]byte(nil), b...), 0)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%v: trailing byte: %v", m.Type(), err)
		}
		seen[m.Type()] = true
	}
	if len(seen) != 11 {
		t.Fatalf("only %d message types covered", len(seen))
	}
}

func TestHeaderChecks(t *testing.T) {
	b := (&Success{ReceiverTag: 0x100}).Marshal()
	old := append([]byte(nil), b...)
	old[1] = 3
	if _, err := ParseSuccess(old); !errors.Is(err, ErrVersion) {
		t.Fatalf("version 3: %v", err)
	}
	if _, err := ParseFailure(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong type: %v", err)
	}
	if _, err := Parse([]byte{0, 4, 0x99}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unknown type: %v", err)
	}
}

func TestPublicationCounts(t *testing.T) {
	d := newDevice(t)
	ms, _ := prekeyMessages(t, d.tag, 2)
	p := &Publication{PrekeyMessages: ms}
	b := p.Marshal() // no proofs: the parser must want them
	if _, err := ParsePublication(b); err == nil {
		t.Fatal("publication without proofs accepted")
	}
	// N says 3, two follow.
	q := &Publication{ClientProfile: d.profile}
	b = q.Marshal()
	b[3] = 3
	if _, err := ParsePublication(b); err == nil {
		t.Fatal("wrong N accepted")
	}
	// K = 2.
	b = q.Marshal()
	b[4] = 2
	if _, err := ParsePublication(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("K=2: %v", err)
	}
}

func TestEnsembleRetrievalCount(t *testing.T) {
	m := &EnsembleRetrieval{ReceiverTag: 0x100, Identity: "a@b"}
	if _, err := ParseEnsembleRetrieval(m.Marshal()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("L = 0: %v", err)
	}
}

func TestDecode(t *testing.T) {
	for _, s := range []string{"", ".", "AAQG", "AAQG..", "AA QG.", "AAR=.", "AAQG\n."} {
		if b, err := Decode(s); err == nil && s != "." {
			t.Errorf("Decode(%q) = %x", s, b)
		}
	}
	if b, err := Decode("AAQG."); err != nil || !bytes.Equal(b, []byte{0, 4, 6}) {
		t.Fatalf("Decode: %x %v", b, err)
	}
}

func TestFragments(t *testing.T) {
	b := make([]byte, 3000)
	rand.Read(b)
	enc := Encode(b)
	frags, err := Fragment(rand.Reader, enc, 500, 0x1234, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(frags) < 8 {
		t.Fatalf("%d fragments", len(frags))
	}
	a := NewAssembler(0, 0)
	// Reverse order: ?OTRP| fragments may arrive in any order.
	for i := len(frags) - 1; i >= 0; i-- {
		if !IsFragment(frags[i]) || len(frags[i]) > 500 {
			t.Fatalf("fragment %q", frags[i])
		}
		msg, done, err := a.Add(frags[i], testNow)
		if err != nil {
			t.Fatal(err)
		}
		if done != (i == 0) {
			t.Fatalf("done=%v at %d", done, i)
		}
		if done && msg != enc {
			t.Fatal("reassembled message differs")
		}
	}
	if _, _, err := a.Add("?OTR|1|2|3,1,1,x,", testNow); err == nil {
		t.Fatal("OTRv4 data fragment accepted as a prekey fragment")
	}
}

func TestPhi(t *testing.T) {
	// The XMPP section's order (publisher, then server) is used even when
	// it is not the lexicographic one.
	got := Phi("zed@example.org", "prekey.example.org")
	want := append([]byte{0, 0, 0, 15}, "zed@example.org"...)
	want = append(append(want, 0, 0, 0, 18), "prekey.example.org"...)
	if !bytes.Equal(got, want) {
		t.Fatalf("phi = %q", got)
	}
}

func TestAssemblerLimit(t *testing.T) {
	b := make([]byte, 6000)
	rand.Read(b)
	frags, err := Fragment(rand.Reader, Encode(b), 1000, 0x100, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAssembler(0, 4000)
	var sawLimit bool
	for _, f := range frags {
		_, done, err := a.Add(f, testNow)
		if done {
			t.Fatal("a message over the limit was reassembled")
		}
		if errors.Is(err, ErrTooLarge) {
			sawLimit = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !sawLimit {
		t.Fatal("no ErrTooLarge")
	}
	if _, _, err := a.Add("?OTRP|zz|100|0,1,1,A,", testNow); !errors.Is(err, ErrMalformed) {
		t.Fatalf("malformed fragment: %v", err)
	}
}
