package ratchet

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/dh"
)

// pair sets up both sides as a DAKE would leave them: a shared K and
// each other's first ECDH and DH keys.
func pair(t testing.TB) (alice, bob *State) {
	t.Helper()
	k := make([]byte, 64)
	rand.Read(k)
	ae, _ := curve.GenerateKey(rand.Reader)
	be, _ := curve.GenerateKey(rand.Reader)
	ad, _ := dh.GenerateKey(rand.Reader)
	bd, _ := dh.GenerateKey(rand.Reader)
	var err error
	alice, err = NewFirstSender(rand.Reader, DefaultConfig, Init{K: k, OurECDH: ae, OurDH: ad, TheirECDH: be.Public(), TheirDH: bd.Public()})
	if err != nil {
		t.Fatal(err)
	}
	bob, err = NewFirstReceiver(rand.Reader, DefaultConfig, Init{K: k, OurECDH: be, OurDH: bd, TheirECDH: ae.Public(), TheirDH: ad.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return alice, bob
}

func seal(t testing.TB, s *State, text string) []byte {
	t.Helper()
	out, err := s.Seal(0x100, 0x101, 0, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return out.Message.Marshal()
}

func open(s *State, wireMsg []byte) (string, error) {
	m, err := ParseDataMessage(wireMsg)
	if err != nil {
		return "", err
	}
	o, err := s.Open(m)
	if err != nil {
		return "", err
	}
	return string(o.Plaintext), nil
}

func TestPingPong(t *testing.T) {
	a, b := pair(t)
	for i := 0; i < 12; i++ {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		msg := fmt.Sprintf("message %d", i)
		got, err := open(to, seal(t, from, msg))
		if err != nil || got != msg {
			t.Fatalf("round %d: %q, %v", i, got, err)
		}
	}
	// Alice's first message goes on the DAKE chain; Bob's replies start
	// ratchet 0, and the ratchets alternate: Bob ends on 10, Alice on 9.
	if a.sendID != 9 || b.sendID != 10 {
		t.Fatalf("ratchet ids %d %d", a.sendID, b.sendID)
	}
}

func TestBobSendsFirst(t *testing.T) {
	a, b := pair(t)
	for i := 0; i < 3; i++ {
		got, err := open(a, seal(t, b, "hi"))
		if err != nil || got != "hi" {
			t.Fatal(got, err)
		}
	}
	got, err := open(b, seal(t, a, "back"))
	if err != nil || got != "back" {
		t.Fatal(got, err)
	}
}

func TestDuplicateAndTamper(t *testing.T) {
	a, b := pair(t)
	m := seal(t, a, "once")
	if _, err := open(b, m); err != nil {
		t.Fatal(err)
	}
	if _, err := open(b, m); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("replay: %v", err)
	}
	m2 := seal(t, a, "two")
	bad := append([]byte(nil), m2...)
	bad[len(bad)-70] ^= 1 // inside the ciphertext or MAC
	if _, err := open(b, bad); !errors.Is(err, ErrMAC) {
		t.Fatalf("tampered: %v", err)
	}
	if got, err := open(b, m2); err != nil || got != "two" {
		t.Fatalf("state changed by tampered message: %q %v", got, err)
	}
}

// TestSkippedAcrossRatchets delivers an old ratchet's messages after a newer
// ratchet's.
func TestSkippedAcrossRatchets(t *testing.T) {
	a, b := pair(t)
	late := []([]byte){seal(t, a, "a0"), seal(t, a, "a1")}
	a2 := seal(t, a, "a2")
	if got, _ := open(b, a2); got != "a2" {
		t.Fatal("a2")
	}
	if got, _ := open(a, seal(t, b, "b0")); got != "b0" {
		t.Fatal("b0")
	}
	a3 := seal(t, a, "a3") // new ratchet 1; PN = 3
	if got, err := open(b, a3); got != "a3" {
		t.Fatal("a3", err)
	}
	for i, m := range late {
		if got, err := open(b, m); err != nil || got != fmt.Sprintf("a%d", i) {
			t.Fatalf("late %d: %q %v", i, got, err)
		}
	}
	if b.Stored() != 0 {
		t.Fatalf("%d keys still stored", b.Stored())
	}
}

func TestTooManySkipped(t *testing.T) {
	a, b := pair(t)
	var last []byte
	for i := 0; i <= DefaultConfig.MaxSkip+1; i++ {
		last = seal(t, a, "x")
	}
	if _, err := open(b, last); !errors.Is(err, ErrTooManySkips) {
		t.Fatalf("got %v", err)
	}
}

// TestLossyNetwork runs a seeded conversation over a network that
// reorders, duplicates and drops: every delivered message decrypts exactly
// once and replays are refused.
func TestLossyNetwork(t *testing.T) {
	a, b := pair(t)
	rng := mrand.New(mrand.NewPCG(7, 11))
	type packet struct {
		to   *State
		text string
		data []byte
	}
	var inflight []packet
	seen := map[string]int{}
	sent := 0
	n := 3000
	if testing.Short() {
		n = 500
	}
	for sent < n || len(inflight) > 0 {
		if sent < n && (len(inflight) == 0 || rng.IntN(3) != 0) {
			from, to := a, b
			if rng.IntN(2) == 0 {
				from, to = b, a
			}
			text := fmt.Sprintf("m%d", sent)
			sent++
			d := seal(t, from, text)
			if rng.IntN(10) == 0 {
				continue // dropped
			}
			inflight = append(inflight, packet{to, text, d})
			if rng.IntN(10) == 0 {
				inflight = append(inflight, packet{to, text, d}) // duplicated
			}
			continue
		}
		i := rng.IntN(len(inflight))
		if rng.IntN(4) != 0 {
			i = 0 // mostly in order
		}
		p := inflight[i]
		inflight = append(inflight[:i], inflight[i+1:]...)
		got, err := open(p.to, p.data)
		if err != nil {
			if seen[p.text] == 0 {
				t.Fatalf("%s lost: %v", p.text, err)
			}
			continue
		}
		if got != p.text {
			t.Fatalf("got %q want %q", got, p.text)
		}
		seen[p.text]++
		if seen[p.text] > 1 {
			t.Fatalf("%s decrypted twice", p.text)
		}
	}
}

func TestErase(t *testing.T) {
	a, b := pair(t)
	open(b, seal(t, a, "x"))
	seal(t, a, "lost")
	open(b, seal(t, a, "y"))
	reveal := b.Erase()
	if len(reveal) != 3*64 {
		t.Fatalf("revealed %d bytes", len(reveal))
	}
	if _, err := b.Seal(1, 2, 0, nil); !errors.Is(err, ErrExpired) {
		t.Fatal(err)
	}
	if !bytes.Equal(b.root[:], make([]byte, 64)) {
		t.Fatal("root key not wiped")
	}
}

func FuzzParseDataMessage(f *testing.F) {
	a, _ := pair(f)
	out, _ := a.Seal(0x100, 0x101, 1, []byte("seed"))
	f.Add(out.Message.Marshal())
	f.Add([]byte{0, 4, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseDataMessage(in)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Marshal(), in) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// BenchmarkOneDirection encrypts, encodes, decodes and decrypts a 100-byte
// message, always from the same sender.
func BenchmarkOneDirection(b *testing.B) {
	a, bob := pair(b)
	msg := make([]byte, 100)
	b.ReportAllocs()
	for b.Loop() {
		s, _ := a.Seal(0x100, 0x101, 0, msg)
		m, err := ParseDataMessage(s.Message.Marshal())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bob.Open(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSwitchingDirectionPrepared is BenchmarkSwitchingDirection with
// the next key pairs generated ahead of need (State.Prepare), outside the
// timed message path, as a client does while idle.
func BenchmarkSwitchingDirectionPrepared(b *testing.B) {
	a, bob := pair(b)
	msg := make([]byte, 100)
	from, to := a, bob
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		from.Prepare()
		b.StartTimer()
		s, _ := from.Seal(0x100, 0x101, 0, msg)
		m, err := ParseDataMessage(s.Message.Marshal())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := to.Open(m); err != nil {
			b.Fatal(err)
		}
		from, to = to, from
	}
}

func BenchmarkSwitchingDirection(b *testing.B) {
	a, bob := pair(b)
	msg := make([]byte, 100)
	from, to := a, bob
	for b.Loop() {
		s, _ := from.Seal(0x100, 0x101, 0, msg)
		m, err := ParseDataMessage(s.Message.Marshal())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := to.Open(m); err != nil {
			b.Fatal(err)
		}
		from, to = to, from
	}
}

// TestRevealInBatches: after receiving more messages than a receiver
// accepts revealed keys in one message, the replies reveal them in
// batches, each message within what ParseDataMessage accepts, and
// together every key.
func TestRevealInBatches(t *testing.T) {
	a, b := pair(t)
	const n = MaxRevealedKeys + 1000
	for i := range n {
		if _, err := open(b, seal(t, a, fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if b.PendingReveal() != n {
		t.Fatalf("%d keys to reveal, want %d", b.PendingReveal(), n)
	}
	revealed := 0
	for i := 0; b.PendingReveal() > 0; i++ {
		w := seal(t, b, "reply")
		m, err := ParseDataMessage(w)
		if err != nil {
			t.Fatalf("reply %d refused: %v", i, err)
		}
		if k := len(m.RevealedMACs) / 64; k > RevealBatch || k == 0 {
			t.Fatalf("reply %d reveals %d keys", i, k)
		}
		revealed += len(m.RevealedMACs) / 64
		if got, err := open(a, w); err != nil || got != "reply" {
			t.Fatal(got, err)
		}
	}
	if revealed != n {
		t.Fatalf("revealed %d keys, want %d", revealed, n)
	}
}

// TestSealAndEraseInBatches: the last message of a session reveals every
// pending and stored key, in as many messages as it takes.
func TestSealAndEraseInBatches(t *testing.T) {
	a, b := pair(t)
	const n = MaxRevealedKeys + 100
	for range n {
		open(b, seal(t, a, "x"))
	}
	seal(t, a, "lost")
	open(b, seal(t, a, "after")) // stores the key of "lost"
	out, err := b.SealAndErase(0x101, 0x100, FlagIgnoreUnreadable, []byte("bye"))
	if err != nil {
		t.Fatal(err)
	}
	revealed := 0
	for i, s := range out {
		m, err := ParseDataMessage(s.Message.Marshal())
		if err != nil {
			t.Fatalf("message %d of %d refused: %v", i, len(out), err)
		}
		revealed += len(m.RevealedMACs) / 64
		got, err := a.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{true: "bye", false: ""}[i == len(out)-1]; string(got.Plaintext) != want {
			t.Fatalf("message %d: %q", i, got.Plaintext)
		}
	}
	if revealed != n+2 {
		t.Fatalf("revealed %d keys, want %d", revealed, n+2)
	}
	if !b.erased {
		t.Fatal("not erased")
	}
}

// forge returns a copy of the data message w with another message id,
// previous chain number and (when newKey) ECDH key, and a random MAC.
func forge(t *testing.T, w []byte, newKey bool, pn, id uint32) *DataMessage {
	t.Helper()
	m, err := ParseDataMessage(w)
	if err != nil {
		t.Fatal(err)
	}
	if newKey {
		k, _ := curve.GenerateKey(rand.Reader)
		copy(m.ECDH[:], k.PublicBytes())
	}
	m.PN, m.MessageID = pn, id
	m.MAC = make([]byte, 64)
	rand.Read(m.MAC)
	m.authenticated = nil
	return m
}

// TestForgeryWorkBounded: a forged message costs at most the chain keys
// up to its own, derived once: on the current chain a second forgery that
// far costs fewer than markEvery derivations, and a forged new ratchet
// derives nothing of the previous chain.
func TestForgeryWorkBounded(t *testing.T) {
	a, b := pair(t)
	open(b, seal(t, a, "first"))
	genuine := seal(t, a, "genuine")
	for i := range 20 {
		before := b.unauthSteps
		if _, err := b.Open(forge(t, genuine, false, 0, 1+uint32(DefaultConfig.MaxSkip)-uint32(i))); !errors.Is(err, ErrMAC) {
			t.Fatal(err)
		}
		limit := uint64(DefaultConfig.MaxSkip)
		if i > 0 {
			limit = markEvery
		}
		if d := b.unauthSteps - before; d > limit {
			t.Fatalf("forgery %d on the current chain derived %d chain keys", i, d)
		}
	}
	if got, err := open(b, genuine); err != nil || got != "genuine" {
		t.Fatal(got, err)
	}
	// A new ratchet claiming 1000 skipped messages on each chain.
	open(a, seal(t, b, "turn"))
	next := seal(t, a, "next")
	for i := range 3 {
		before := b.unauthSteps
		if _, err := b.Open(forge(t, next, true, 2+uint32(DefaultConfig.MaxSkip), 7)); !errors.Is(err, ErrMAC) {
			t.Fatal(err)
		}
		if d := b.unauthSteps - before; d != 7 {
			t.Fatalf("forged new ratchet %d derived %d chain keys, want 7", i, d)
		}
	}
	if got, err := open(b, next); err != nil || got != "next" {
		t.Fatal(got, err)
	}
}

// TestSkippedKeysAfterMarks: messages skipped past marks left by forgeries
// are still read, in any order.
func TestSkippedKeysAfterMarks(t *testing.T) {
	a, b := pair(t)
	var ms [][]byte
	for i := range 200 {
		ms = append(ms, seal(t, a, fmt.Sprintf("m%d", i)))
	}
	if _, err := b.Open(forge(t, ms[0], false, 0, 150)); !errors.Is(err, ErrMAC) {
		t.Fatal(err)
	}
	order := []int{70, 5, 199, 64, 63, 0, 150, 96, 97, 1}
	for _, i := range order {
		if got, err := open(b, ms[i]); err != nil || got != fmt.Sprintf("m%d", i) {
			t.Fatalf("m%d: %q %v", i, got, err)
		}
	}
	for i := range ms {
		if got, err := open(b, ms[i]); err == nil && slices.Contains(order, i) {
			t.Fatalf("m%d read twice", i)
		} else if err != nil && !slices.Contains(order, i) {
			t.Fatalf("m%d: %v", i, err)
		} else if err == nil && got != fmt.Sprintf("m%d", i) {
			t.Fatalf("m%d: %q", i, got)
		}
	}
}
