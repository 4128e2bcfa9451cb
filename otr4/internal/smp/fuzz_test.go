package smp

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

var (
	fuzzOnce  sync.Once
	fuzzSnaps *snapshots
)

// fuzzStates returns recorded SMPs in each state, created once per process.
func fuzzStates(t testing.TB) []*SMP {
	fuzzOnce.Do(func() { fuzzSnaps = record(t, "q?", []byte("s"), []byte("s")) })
	sn := fuzzSnaps
	// Expect1, WaitingForSecret, Expect2, Expect3, Expect4.
	return []*SMP{sn.receivers[1], sn.waiting, sn.receivers[2], sn.receivers[3], sn.receivers[4]}
}

// FuzzReceive feeds arbitrary SMP TLVs to an SMP in each state. It must never
// panic; a rejected message must leave SMPSTATE_EXPECT1 with exactly one
// abort to send; an accepted one must give a known result. Every message
// decoder is reached through it (type 2..5 in the matching state).
func FuzzReceive(f *testing.F) {
	states := fuzzStates(f)
	sn := fuzzSnaps
	for k := 1; k <= 4; k++ {
		for st := range states {
			f.Add(byte(st), sn.msgs[k].Type, sn.msgs[k].Value)
		}
		expecting := k // the index in states of the state that expects message k
		if k == 1 {
			expecting = 0
		}
		f.Add(byte(expecting), sn.msgs[k].Type, sn.msgs[k].Value[:len(sn.msgs[k].Value)-1])
	}
	f.Add(byte(0), TLVMessage1, []byte{0, 0, 0, 0})
	f.Add(byte(2), TLVAbort, []byte(nil))
	f.Add(byte(1), uint16(7), []byte("x"))
	f.Fuzz(func(t *testing.T, st byte, typ uint16, value []byte) {
		s := states[int(st)%len(states)].clone()
		before := s.State()
		out, err := s.Receive(TLV{Type: typ, Value: value})
		switch {
		case errors.Is(err, ErrNotSMP):
			if IsSMPType(typ) || s.State() != before || len(out.Reply) != 0 {
				t.Fatalf("ErrNotSMP for type %d, state %v -> %v", typ, before, s.State())
			}
		case err != nil:
			if s.State() != Expect1 || len(out.Reply) != 1 || out.Reply[0].Type != TLVAbort {
				t.Fatalf("rejected (%v) but state %v, reply %v", err, s.State(), types(out.Reply))
			}
			if errors.Is(err, ErrInvalidMessage) != (out.Result == Cheated) {
				t.Fatalf("error %v with result %v", err, out.Result)
			}
		default:
			if out.Result < None || out.Result > Error {
				t.Fatalf("unknown result %d", out.Result)
			}
		}
	})
}

// FuzzParse checks each decoder round-trips: whatever it accepts re-encodes
// to the same bytes.
func FuzzParse(f *testing.F) {
	fuzzStates(f)
	for k := 1; k <= 4; k++ {
		f.Add(byte(k-1), fuzzSnaps.msgs[k].Value)
	}
	f.Add(byte(0), []byte{0, 0, 0, 1, 'x'})
	f.Fuzz(func(t *testing.T, kind byte, b []byte) {
		var enc []byte
		var err error
		switch kind % 4 {
		case 0:
			var m *message1
			if m, err = parseMessage1(b); err == nil {
				enc = m.marshal()
			}
		case 1:
			var m *message2
			if m, err = parseMessage2(b); err == nil {
				enc = m.marshal()
			}
		case 2:
			var m *message3
			if m, err = parseMessage3(b); err == nil {
				enc = m.marshal()
			}
		case 3:
			var m *message4
			if m, err = parseMessage4(b); err == nil {
				enc = m.marshal()
			}
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("parse error %v does not wrap ErrInvalidMessage", err)
			}
			return
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("round trip changed the message:\n%x\n%x", b, enc)
		}
	})
}
