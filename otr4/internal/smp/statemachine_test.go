package smp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/otrchat/otrchat/otr4/internal/curve"
)

// clone deep-copies an SMP so that one recorded state can be used many
// times. Points are never modified in place by this package; scalars are
// wiped, so they are copied.
func (s *SMP) clone() *SMP {
	c := *s
	for _, p := range []**curve.Scalar{&c.x, &c.a2, &c.a3, &c.b2, &c.b3} {
		if *p != nil {
			*p = curve.NewScalar().Set(*p)
		}
	}
	if s.pending != nil {
		m := *s.pending
		c.pending = &m
	}
	return &c
}

// snapshots records, for one honest exchange, each message and the state of
// its receiver just before receiving it, plus the responder in
// WaitingForSecret.
type snapshots struct {
	msgs      [5]TLV  // msgs[k] is SMP message k (1..4)
	receivers [5]*SMP // receivers[k] is about to receive msgs[k]
	waiting   *SMP    // Bob in WaitingForSecret
	ba, bb    Binding
}

func record(t testing.TB, question string, secretA, secretB []byte) *snapshots {
	t.Helper()
	sn := &snapshots{}
	sn.ba, sn.bb = bindings(t, rand.Reader)
	alice, bob := New(rand.Reader), New(rand.Reader)
	tlvs, err := alice.Start(sn.ba, question, secretA)
	if err != nil {
		t.Fatal(err)
	}
	sn.msgs[1], sn.receivers[1] = tlvs[0], bob.clone()
	mustReceive(t, bob, sn.msgs[1], SecretNeeded)
	sn.waiting = bob.clone()
	tlvs, err = bob.Respond(sn.bb, secretB)
	if err != nil {
		t.Fatal(err)
	}
	sn.msgs[2], sn.receivers[2] = tlvs[0], alice.clone()
	out := mustReceive(t, alice, sn.msgs[2], InProgress)
	sn.msgs[3], sn.receivers[3] = out.Reply[0], bob.clone()
	out, err = bob.Receive(sn.msgs[3])
	if err != nil {
		t.Fatal(err)
	}
	sn.msgs[4], sn.receivers[4] = out.Reply[0], alice.clone()
	return sn
}

// TestSnapshotsReplay checks the recording itself: each receiver, cloned,
// accepts its message again with the expected result.
func TestSnapshotsReplay(t *testing.T) {
	sn := record(t, "", []byte("s"), []byte("s"))
	want := [5]Result{0, SecretNeeded, InProgress, Succeeded, Succeeded}
	for k := 1; k <= 4; k++ {
		for range 2 {
			mustReceive(t, sn.receivers[k].clone(), sn.msgs[k], want[k])
		}
	}
}

// wantAbortReply checks the outcome of a rejected message: the given result,
// an error wrapping target, a single abort TLV to send and SMPSTATE_EXPECT1.
func wantAbortReply(t *testing.T, s *SMP, out Outcome, err error, result Result, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
	if out.Result != result {
		t.Fatalf("result %v, want %v (err %v)", out.Result, result, err)
	}
	if len(out.Reply) != 1 || out.Reply[0].Type != TLVAbort || len(out.Reply[0].Value) != 0 {
		t.Fatalf("reply %v, want one empty abort TLV", types(out.Reply))
	}
	if s.State() != Expect1 {
		t.Fatalf("state %v after rejection, want %v", s.State(), Expect1)
	}
}

// fields lists the offsets and kinds of the fixed fields of each message
// (after the question DATA of message 1).
var fields = [5][]byte{
	1: []byte("PSSPSS"),
	2: []byte("PSSPSSPPSSS"),
	3: []byte("PPSSSPSS"),
	4: []byte("PSS"),
}

// TestTamperedFieldDetected changes each field of each message two ways: a
// flipped bit (often no longer decodable) and a different valid value (which
// only the zero-knowledge proofs can catch). Both must be rejected as
// Cheated with an abort, and the receiver reset.
func TestTamperedFieldDetected(t *testing.T) {
	sn := record(t, "q", []byte("s"), []byte("s"))
	for k := 1; k <= 4; k++ {
		start := 0
		if k == 1 {
			start = 4 + 1 // DATA("q")
		}
		for f, kind := range fields[k] {
			off := start + 57*f
			name := fmt.Sprintf("message %d field %d (%c)", k, f, kind)
			t.Run(name+" bit flip", func(t *testing.T) {
				for _, bit := range []int{0, 7, 8*30 + 3, 8*55 + 7, 8*56 + 7} {
					v := slices.Clone(sn.msgs[k].Value)
					v[off+bit/8] ^= 1 << (bit % 8)
					r := sn.receivers[k].clone()
					out, err := r.Receive(TLV{Type: sn.msgs[k].Type, Value: v})
					wantAbortReply(t, r, out, err, Cheated, ErrInvalidMessage)
				}
			})
			t.Run(name+" valid substitute", func(t *testing.T) {
				v := slices.Clone(sn.msgs[k].Value)
				e, err := curve.RandomScalar(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				if kind == 'P' {
					copy(v[off:], curve.NewIdentityPoint().ScalarBaseMult(e).Bytes())
				} else {
					copy(v[off:], e.Bytes())
				}
				r := sn.receivers[k].clone()
				out, err := r.Receive(TLV{Type: sn.msgs[k].Type, Value: v})
				wantAbortReply(t, r, out, err, Cheated, ErrBadProof)
			})
		}
		t.Run(fmt.Sprintf("message %d length", k), func(t *testing.T) {
			m := sn.msgs[k].Value
			for _, v := range [][]byte{m[:len(m)-1], append(slices.Clone(m), 0), m[:57], nil} {
				r := sn.receivers[k].clone()
				out, err := r.Receive(TLV{Type: sn.msgs[k].Type, Value: v})
				wantAbortReply(t, r, out, err, Cheated, ErrInvalidMessage)
			}
		})
	}
}

// TestQuestionLengthTampered: a message 1 whose question length does not
// match its content is rejected.
func TestQuestionLengthTampered(t *testing.T) {
	sn := record(t, "q", []byte("s"), []byte("s"))
	for _, l := range []byte{0, 2, 0xFF} {
		v := slices.Clone(sn.msgs[1].Value)
		v[3] = l
		r := sn.receivers[1].clone()
		out, err := r.Receive(TLV{Type: TLVMessage1, Value: v})
		wantAbortReply(t, r, out, err, Cheated, ErrInvalidMessage)
	}
}

// TestMessagesInWrongState sends every SMP message to an SMP in every state:
// outside the state that expects it, the spec resets to SMPSTATE_EXPECT1 and
// sends an abort. An abort is honoured in every state.
func TestMessagesInWrongState(t *testing.T) {
	sn := record(t, "", []byte("s"), []byte("s"))
	states := map[State]*SMP{
		Expect1:          New(rand.Reader),
		WaitingForSecret: sn.waiting,
		Expect2:          sn.receivers[2],
		Expect3:          sn.receivers[3],
		Expect4:          sn.receivers[4],
	}
	expects := map[int][]State{1: {Expect1, WaitingForSecret}, 2: {Expect2}, 3: {Expect3}, 4: {Expect4}}
	for st, base := range states {
		if base.State() != st {
			t.Fatalf("recorded %v as %v", base.State(), st)
		}
		for k := 1; k <= 4; k++ {
			r := base.clone()
			out, err := r.Receive(sn.msgs[k])
			if slices.Contains(expects[k], st) {
				if err != nil {
					t.Errorf("message %d in %v: %v", k, st, err)
				}
				continue
			}
			t.Run(fmt.Sprintf("message %d in %v", k, st), func(t *testing.T) {
				wantAbortReply(t, r, out, err, Error, ErrUnexpectedMessage)
			})
		}
		r := base.clone()
		out, err := r.Receive(TLV{Type: TLVAbort})
		want := Aborted
		if st == Expect1 {
			want = None
		}
		if err != nil || out.Result != want || len(out.Reply) != 0 || r.State() != Expect1 {
			t.Errorf("abort in %v: %v %+v, state %v", st, err, out, r.State())
		}
	}
}

// TestNewMessage1ReplacesPending: a second message 1 while waiting for the
// user's secret replaces the first, as in SMPSTATE_EXPECT1.
func TestNewMessage1ReplacesPending(t *testing.T) {
	sn := record(t, "first", []byte("s"), []byte("s"))
	alice := New(rand.Reader)
	m1, err := alice.Start(sn.ba, "second", []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	bob := sn.waiting.clone()
	out := mustReceive(t, bob, m1[0], SecretNeeded)
	if out.Question != "second" {
		t.Fatalf("question %q", out.Question)
	}
	m2, err := bob.Respond(sn.bb, []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	out = mustReceive(t, alice, m2[0], InProgress)
	out = mustReceive(t, bob, out.Reply[0], Succeeded)
	mustReceive(t, alice, out.Reply[0], Succeeded)
}
