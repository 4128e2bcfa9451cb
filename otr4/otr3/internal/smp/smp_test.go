package smp

import (
	"crypto/rand"
	"errors"
	"math/big"
	"syscall"
	"testing"
	"time"
)

var bind = Binding{OurFingerprint: [20]byte{1}, TheirFingerprint: [20]byte{2}, SSID: [8]byte{3}}
var rbind = Binding{OurFingerprint: bind.TheirFingerprint, TheirFingerprint: bind.OurFingerprint, SSID: bind.SSID}

// run plays a whole exchange and returns both results.
func run(t testing.TB, question, x, y string) (Result, Result) {
	a, b := New(rand.Reader), New(rand.Reader)
	m1, err := a.Start(bind, question, []byte(x))
	if err != nil {
		t.Fatal(err)
	}
	o, err := b.Receive(m1[0])
	if err != nil || o.Result != SecretNeeded || o.Question != question {
		t.Fatalf("message 1: %+v %v", o, err)
	}
	m2, err := b.Respond(rbind, []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	o, err = a.Receive(m2[0])
	if err != nil || o.Result != InProgress {
		t.Fatalf("message 2: %+v %v", o, err)
	}
	ob, err := b.Receive(o.Reply[0])
	if err != nil || len(ob.Reply) != 1 || ob.Reply[0].Type != TLVMessage4 {
		t.Fatalf("message 3: %+v %v", ob, err)
	}
	oa, err := a.Receive(ob.Reply[0])
	if err != nil {
		t.Fatal(err)
	}
	if a.State() != Expect1 || b.State() != Expect1 {
		t.Fatal("not back to EXPECT1")
	}
	return oa.Result, ob.Result
}

func TestSMP(t *testing.T) {
	if a, b := run(t, "", "same", "same"); a != Succeeded || b != Succeeded {
		t.Fatal(a, b)
	}
	if a, b := run(t, "q?", "one", "two"); a != Failed || b != Failed {
		t.Fatal(a, b)
	}
}

func TestTamperedProofs(t *testing.T) {
	a, b := New(rand.Reader), New(rand.Reader)
	m1, _ := a.Start(bind, "", []byte("s"))
	v := append([]byte(nil), m1[0].Value...)
	v[len(v)-1] ^= 1 // D3
	o, err := b.Receive(TLV{Type: TLVMessage1, Value: v})
	if !errors.Is(err, ErrInvalidMessage) || o.Result != Cheated || o.Reply[0].Type != TLVAbort {
		t.Fatalf("%+v %v", o, err)
	}
	// A message out of order aborts.
	o, err = b.Receive(TLV{Type: TLVMessage3, Value: nil})
	if !errors.Is(err, ErrUnexpectedMessage) || o.Result != Error {
		t.Fatalf("%+v %v", o, err)
	}
	// Group element 1 is refused.
	one := marshalMPIs(big.NewInt(1), big.NewInt(1), big.NewInt(1), big.NewInt(1), big.NewInt(1), big.NewInt(1))
	if _, err := New(rand.Reader).Receive(TLV{Type: TLVMessage1, Value: one}); !errors.Is(err, ErrInvalidMessage) {
		t.Fatal(err)
	}
}

func TestNewRequestReplacesPending(t *testing.T) {
	b := New(rand.Reader)
	m1, _ := New(rand.Reader).Start(bind, "first?", []byte("s"))
	if o, err := b.Receive(m1[0]); err != nil || o.Question != "first?" {
		t.Fatal(o, err)
	}
	m1b, _ := New(rand.Reader).Start(bind, "second?", []byte("s"))
	if o, err := b.Receive(m1b[0]); err != nil || o.Result != SecretNeeded || o.Question != "second?" {
		t.Fatal(o, err)
	}
}

func TestAbort(t *testing.T) {
	a := New(rand.Reader)
	a.Start(bind, "", []byte("s"))
	o, _ := a.Receive(TLV{Type: TLVAbort})
	if o.Result != Aborted || a.State() != Expect1 {
		t.Fatal(o)
	}
	// Restarting while under way sends an abort first.
	a.Start(bind, "", []byte("s"))
	tl, _ := a.Start(bind, "", []byte("s"))
	if len(tl) != 2 || tl[0].Type != TLVAbort {
		t.Fatal(tl)
	}
	if _, err := New(rand.Reader).Respond(bind, nil); !errors.Is(err, ErrNoRequest) {
		t.Fatal(err)
	}
}

// clone returns a deep copy of s, so that a fuzz iteration can start from
// a prepared state without recomputing it.
func (s *SMP) clone() *SMP {
	c := *s
	for _, p := range []*[]byte{&c.x, &c.a2, &c.a3, &c.b3} {
		*p = append([]byte(nil), (*p)...)
	}
	c.pending = append([]*big.Int(nil), s.pending...)
	return &c
}

// FuzzReceive feeds arbitrary TLVs to an SMP in each state (EXPECT1,
// EXPECT2, waiting for the secret, EXPECT3, EXPECT4): no panics, and
// errors wrap the package's sentinels.
func FuzzReceive(f *testing.F) {
	a := New(rand.Reader)
	m1, _ := a.Start(bind, "question", []byte("x"))
	expect2 := a.clone()
	b := New(rand.Reader)
	b.Receive(m1[0])
	waiting := b.clone()
	m2, _ := b.Respond(rbind, []byte("x"))
	expect3 := b.clone()
	o, _ := a.Receive(m2[0])
	expect4 := a.clone()
	o4, _ := b.Receive(o.Reply[0])
	states := []*SMP{New(rand.Reader), expect2, waiting, expect3, expect4}
	for i, tl := range []TLV{m1[0], m2[0], o.Reply[0], o4.Reply[0]} {
		f.Add(uint8(i), tl.Type, tl.Value)
		f.Add(uint8(i+1), tl.Type, tl.Value)
	}
	f.Add(uint8(0), TLVAbort, []byte{})
	f.Fuzz(func(t *testing.T, state uint8, typ uint16, v []byte) {
		s := states[int(state)%len(states)].clone()
		_, err := s.Receive(TLV{Type: typ, Value: v})
		if err != nil && !errors.Is(err, ErrInvalidMessage) && !errors.Is(err, ErrUnexpectedMessage) && !errors.Is(err, ErrNotSMP) {
			t.Fatal(err)
		}
	})
}

// BenchmarkSMP measures one whole exchange, both sides.
func BenchmarkSMP(b *testing.B) {
	start := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }()
	for b.Loop() {
		run(b, "", "x", "x")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
