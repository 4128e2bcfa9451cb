package smp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"testing"

	"github.com/otrchat/otrchat/otr4/internal/curve"
)

// bindings returns the two sides' views of one conversation: Alice's
// (ours = A) and Bob's (ours = B).
func bindings(t testing.TB, r io.Reader) (alice, bob Binding) {
	t.Helper()
	var fpA, fpB [56]byte
	var ssid [8]byte
	for _, b := range [][]byte{fpA[:], fpB[:], ssid[:]} {
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatal(err)
		}
	}
	return Binding{OurFingerprint: fpA, TheirFingerprint: fpB, SSID: ssid},
		Binding{OurFingerprint: fpB, TheirFingerprint: fpA, SSID: ssid}
}

// transcript holds the four messages of one exchange.
type transcript struct {
	m1, m2, m3, m4 TLV
}

// one returns the single TLV of tlvs.
func one(t testing.TB, tlvs []TLV, want uint16) TLV {
	t.Helper()
	if len(tlvs) != 1 || tlvs[0].Type != want {
		t.Fatalf("got %v, want one TLV of type %d", types(tlvs), want)
	}
	return tlvs[0]
}

func types(tlvs []TLV) []uint16 {
	var out []uint16
	for _, t := range tlvs {
		out = append(out, t.Type)
	}
	return out
}

func mustReceive(t testing.TB, s *SMP, tlv TLV, want Result) Outcome {
	t.Helper()
	out, err := s.Receive(tlv)
	if err != nil {
		t.Fatalf("Receive(type %d): %v", tlv.Type, err)
	}
	if out.Result != want {
		t.Fatalf("Receive(type %d) = %v, want %v", tlv.Type, out.Result, want)
	}
	return out
}

// run performs a full exchange and returns both results and the transcript.
func run(t testing.TB, alice, bob *SMP, ba, bb Binding, question string, secretA, secretB []byte) (ra, rb Result, tr transcript) {
	t.Helper()
	tlvs, err := alice.Start(ba, question, secretA)
	if err != nil {
		t.Fatal(err)
	}
	tr.m1 = one(t, tlvs, TLVMessage1)
	if alice.State() != Expect2 {
		t.Fatalf("alice in %v after Start", alice.State())
	}
	out := mustReceive(t, bob, tr.m1, SecretNeeded)
	if out.Question != question || len(out.Reply) != 0 {
		t.Fatalf("bob got question %q, reply %v", out.Question, types(out.Reply))
	}
	if bob.State() != WaitingForSecret {
		t.Fatalf("bob in %v after message 1", bob.State())
	}
	tlvs, err = bob.Respond(bb, secretB)
	if err != nil {
		t.Fatal(err)
	}
	tr.m2 = one(t, tlvs, TLVMessage2)
	if bob.State() != Expect3 {
		t.Fatalf("bob in %v after Respond", bob.State())
	}
	out = mustReceive(t, alice, tr.m2, InProgress)
	tr.m3 = one(t, out.Reply, TLVMessage3)
	if alice.State() != Expect4 {
		t.Fatalf("alice in %v after message 2", alice.State())
	}
	out, err = bob.Receive(tr.m3)
	if err != nil {
		t.Fatal(err)
	}
	rb = out.Result
	tr.m4 = one(t, out.Reply, TLVMessage4)
	out, err = alice.Receive(tr.m4)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Reply) != 0 {
		t.Fatalf("alice replies %v to message 4", types(out.Reply))
	}
	ra = out.Result
	if alice.State() != Expect1 || bob.State() != Expect1 {
		t.Fatalf("states after the exchange: %v, %v", alice.State(), bob.State())
	}
	return ra, rb, tr
}

func TestEqualSecretsSucceed(t *testing.T) {
	ba, bb := bindings(t, rand.Reader)
	alice, bob := New(rand.Reader), New(rand.Reader)
	ra, rb, _ := run(t, alice, bob, ba, bb, "", []byte("correct horse"), []byte("correct horse"))
	if ra != Succeeded || rb != Succeeded {
		t.Fatalf("results %v, %v; want succeeded on both sides", ra, rb)
	}
	// The same SMP values run again, with roles swapped.
	rb, ra, _ = run(t, bob, alice, bb, ba, "", []byte("x"), []byte("x"))
	if ra != Succeeded || rb != Succeeded {
		t.Fatalf("swapped roles: results %v, %v", ra, rb)
	}
}

func TestDifferentSecretsFail(t *testing.T) {
	ba, bb := bindings(t, rand.Reader)
	for _, secrets := range [][2]string{
		{"correct horse", "correct horsf"},
		{"a", ""},
		{"secret", "secret\x00"},
	} {
		alice, bob := New(rand.Reader), New(rand.Reader)
		ra, rb, _ := run(t, alice, bob, ba, bb, "", []byte(secrets[0]), []byte(secrets[1]))
		if ra != Failed || rb != Failed {
			t.Fatalf("secrets %q: results %v, %v; want failed on both sides", secrets, ra, rb)
		}
	}
}

// TestBindingMatters: the same user secret in conversations that differ in
// the SSID or a fingerprint (a man in the middle) fails.
func TestBindingMatters(t *testing.T) {
	ba, bb := bindings(t, rand.Reader)
	secret := []byte("shared")
	mutate := map[string]func(b *Binding){
		"ssid":     func(b *Binding) { b.SSID[0] ^= 1 },
		"their fp": func(b *Binding) { b.TheirFingerprint[55] ^= 0x80 },
		"our fp":   func(b *Binding) { b.OurFingerprint[0] ^= 1 },
		"swapped":  func(b *Binding) { b.OurFingerprint, b.TheirFingerprint = b.TheirFingerprint, b.OurFingerprint },
	}
	for name, f := range mutate {
		bob := bb
		f(&bob)
		ra, rb, _ := run(t, New(rand.Reader), New(rand.Reader), ba, bob, "", secret, secret)
		if ra != Failed || rb != Failed {
			t.Errorf("%s changed: results %v, %v; want failed", name, ra, rb)
		}
	}
}

func TestQuestionReachesResponder(t *testing.T) {
	ba, bb := bindings(t, rand.Reader)
	for _, q := range []string{"What is the name of our first cat?", "ünïcødé ✓", string(bytes.Repeat([]byte{'q'}, MaxQuestion))} {
		alice, bob := New(rand.Reader), New(rand.Reader)
		// run checks that out.Question == q on Bob's side.
		ra, rb, tr := run(t, alice, bob, ba, bb, q, []byte("Tom"), []byte("Tom"))
		if ra != Succeeded || rb != Succeeded {
			t.Fatalf("results %v, %v", ra, rb)
		}
		if len(tr.m1.Value) > maxTLVValue {
			t.Fatalf("message 1 of %d bytes does not fit a TLV", len(tr.m1.Value))
		}
	}
	_, err := New(rand.Reader).Start(ba, string(make([]byte, MaxQuestion+1)), nil)
	if !errors.Is(err, ErrQuestionTooLong) {
		t.Fatalf("over-long question: %v", err)
	}
}

// TestHashToScalarIndependent recomputes HashToScalar and the secret with
// SHAKE-256 and math/big, independently of packages kdf and curve.
func TestHashToScalarIndependent(t *testing.T) {
	p := curve.NewIdentityPoint().ScalarBaseMult(curve.NewScalar().SetUint64(12345))
	q := curve.NewGeneratorPoint()
	got := hashToScalar(0x05, p, q).Bytes()
	input := append([]byte("OTRv4\x05"), p.Bytes()...)
	input = append(input, q.Bytes()...)
	want := refScalar(shake(input, 57), false)
	if !bytes.Equal(got, want) {
		t.Fatalf("hashToScalar = %x, want %x", got, want)
	}

	ba, _ := bindings(t, rand.Reader)
	secret := []byte("pass phrase")
	in := []byte("OTRv4\x19\x01")
	in = append(in, ba.OurFingerprint[:]...)
	in = append(in, ba.TheirFingerprint[:]...)
	in = append(in, ba.SSID[:]...)
	in = append(in, 0, 0, 0, byte(len(secret)))
	in = append(in, secret...)
	want = refScalar(shake(in, 57), true)
	if got := secretScalar(&ba, true, secret).Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("initiator secret = %x, want %x", got, want)
	}
	// The responder puts the initiator's (their) fingerprint first.
	bb := Binding{OurFingerprint: ba.TheirFingerprint, TheirFingerprint: ba.OurFingerprint, SSID: ba.SSID}
	if got := secretScalar(&bb, false, secret).Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("responder secret = %x, want %x", got, want)
	}
}

func TestStartWhileInProgressRestarts(t *testing.T) {
	ba, bb := bindings(t, rand.Reader)
	alice, bob := New(rand.Reader), New(rand.Reader)
	tlvs, err := alice.Start(ba, "", []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	mustReceive(t, bob, one(t, tlvs, TLVMessage1), SecretNeeded)
	tlvs, err = alice.Start(ba, "again?", []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tlvs) != 2 || tlvs[0].Type != TLVAbort || tlvs[1].Type != TLVMessage1 {
		t.Fatalf("restart sent %v, want [abort, message 1]", types(tlvs))
	}
	mustReceive(t, bob, tlvs[0], Aborted)
	out := mustReceive(t, bob, tlvs[1], SecretNeeded)
	if out.Question != "again?" {
		t.Fatalf("question %q", out.Question)
	}
	m2, err := bob.Respond(bb, []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	out = mustReceive(t, alice, one(t, m2, TLVMessage2), InProgress)
	out = mustReceive(t, bob, one(t, out.Reply, TLVMessage3), Succeeded)
	mustReceive(t, alice, one(t, out.Reply, TLVMessage4), Succeeded)
}

func TestRespondWithoutRequest(t *testing.T) {
	_, bb := bindings(t, rand.Reader)
	for _, st := range []State{Expect1, Expect2} {
		s := New(rand.Reader)
		if st == Expect2 {
			if _, err := s.Start(bb, "", []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Respond(bb, []byte("x")); !errors.Is(err, ErrNoRequest) {
			t.Fatalf("Respond in %v: %v", st, err)
		}
		if s.State() != st {
			t.Fatalf("Respond without request moved %v to %v", st, s.State())
		}
	}
}

func TestNotSMPTypeLeavesStateAlone(t *testing.T) {
	ba, _ := bindings(t, rand.Reader)
	s := New(rand.Reader)
	if _, err := s.Start(ba, "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []uint16{0, 1, 7, 8, 0xFFFF} {
		out, err := s.Receive(TLV{Type: typ})
		if !errors.Is(err, ErrNotSMP) || len(out.Reply) != 0 || s.State() != Expect2 {
			t.Fatalf("type %d: %v %+v, state %v", typ, err, out, s.State())
		}
	}
}

// failingReader fails after n bytes.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("entropy exhausted")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestRandomnessFailure(t *testing.T) {
	ba, bb := bindings(t, rand.Reader)
	// Start: state unchanged.
	s := New(&failingReader{r: rand.Reader, n: 100})
	if _, err := s.Start(ba, "", []byte("x")); !errors.Is(err, ErrRandom) || s.State() != Expect1 {
		t.Fatalf("Start: %v, state %v", err, s.State())
	}
	// Respond: the request stays pending.
	alice := New(rand.Reader)
	m1, err := alice.Start(ba, "", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	fr := &failingReader{r: rand.Reader, n: 0}
	bob := New(fr)
	mustReceive(t, bob, m1[0], SecretNeeded)
	if _, err := bob.Respond(bb, []byte("x")); !errors.Is(err, ErrRandom) || bob.State() != WaitingForSecret {
		t.Fatalf("Respond: %v, state %v", err, bob.State())
	}
	fr.n = 1 << 20
	m2, err := bob.Respond(bb, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	// Alice cannot continue after message 2: abort with Result Error.
	alice.rand = &failingReader{r: rand.Reader, n: 0}
	out, err := alice.Receive(m2[0])
	if !errors.Is(err, ErrRandom) || out.Result != Error || len(out.Reply) != 1 || out.Reply[0].Type != TLVAbort || alice.State() != Expect1 {
		t.Fatalf("message 2 without randomness: %v %+v %v", err, out, alice.State())
	}
}

// TestDeterministic replays an exchange from a seeded reader: the transcript
// is a function of the randomness alone.
func TestDeterministic(t *testing.T) {
	transcriptOf := func(seed byte) transcript {
		r := mrand.NewChaCha8([32]byte{seed})
		ba, bb := bindings(t, r)
		_, _, tr := run(t, New(r), New(r), ba, bb, "q", []byte("s"), []byte("s"))
		return tr
	}
	a, b, c := transcriptOf(1), transcriptOf(1), transcriptOf(2)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same seed, different transcripts")
	}
	if bytes.Equal(a.m2.Value, c.m2.Value) {
		t.Fatal("different seeds, same message 2")
	}
}

// TestSecretsWiped checks that finishing or aborting zeroes the secret
// scalars the SMP held.
func TestSecretsWiped(t *testing.T) {
	ba, bb := bindings(t, rand.Reader)
	alice, bob := New(rand.Reader), New(rand.Reader)
	m1, _ := alice.Start(ba, "", []byte("s"))
	x, a2, a3 := alice.x, alice.a2, alice.a3
	mustReceive(t, bob, m1[0], SecretNeeded)
	m2, _ := bob.Respond(bb, []byte("s"))
	b2, b3 := bob.b2, bob.b3
	out := mustReceive(t, alice, m2[0], InProgress)
	if !x.IsZero() || !a2.IsZero() || alice.x != nil || alice.a2 != nil {
		t.Fatal("x and a2 not wiped after message 3 was built")
	}
	if a3.IsZero() {
		t.Fatal("a3 wiped too early")
	}
	out = mustReceive(t, bob, out.Reply[0], Succeeded)
	if !b3.IsZero() || !b2.IsZero() || bob.b3 != nil || bob.b2 != nil || bob.g2a != nil {
		t.Fatal("bob's values not wiped after message 3")
	}
	mustReceive(t, alice, out.Reply[0], Succeeded)
	if !a3.IsZero() || alice.a3 != nil || alice.qaQb != nil {
		t.Fatal("alice's values not wiped after message 4")
	}
	// Abort wipes too.
	alice.Start(ba, "", []byte("s"))
	x = alice.x
	if tlv := alice.Abort(); tlv.Type != TLVAbort || len(tlv.Value) != 0 {
		t.Fatalf("Abort returned %+v", tlv)
	}
	if !x.IsZero() || alice.State() != Expect1 {
		t.Fatal("Abort did not wipe")
	}
}

// TestZeroValue: an SMP not made by New refuses to start instead of
// panicking.
func TestZeroValue(t *testing.T) {
	ba, _ := bindings(t, rand.Reader)
	var s SMP
	if _, err := s.Start(ba, "", []byte("x")); !errors.Is(err, ErrRandom) || s.State() != Expect1 {
		t.Fatalf("Start on the zero value: %v, %v", err, s.State())
	}
}

// TestGenerator checks the factored shared generator against the spec's two
// steps, (G2a*b2)*e, and that a zero exponent is refused as degenerate.
func TestGenerator(t *testing.T) {
	base := curve.NewIdentityPoint().ScalarBaseMult(curve.NewScalar().SetUint64(987654321))
	k, _ := curve.RandomScalar(rand.Reader)
	e, _ := curve.RandomScalar(rand.Reader)
	g, err := newGenerator(base, k)
	if err != nil {
		t.Fatal(err)
	}
	twoSteps := curve.NewIdentityPoint().ScalarMult(e, curve.NewIdentityPoint().ScalarMult(k, base))
	if g.mul(e).Equal(twoSteps) != 1 {
		t.Fatal("generator.mul differs from (base*k)*e")
	}
	if _, err := newGenerator(base, curve.NewScalar()); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("zero exponent: %v", err)
	}
}
