package smp

import (
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
)

// network is an in-memory, in-order channel in each direction between
// Alice and Bob. Bob answers a message 1 at once with his secret.
type network struct {
	t          *testing.T
	alice, bob *SMP
	ba, bb     Binding
	toAlice    []TLV
	toBob      []TLV
	seenA      []Result // results Alice reported
	seenB      []Result
	secret     []byte
}

// step performs the k-th step of an honest exchange (0: Alice starts,
// 1: Bob receives message 1, 2: Bob responds, 3: Alice receives message 2,
// 4: Bob receives message 3, 5: Alice receives message 4).
func (n *network) step(k int) {
	t := n.t
	t.Helper()
	switch k {
	case 0:
		tlvs, err := n.alice.Start(n.ba, "", n.secret)
		if err != nil {
			t.Fatal(err)
		}
		n.toBob = append(n.toBob, tlvs...)
	case 1, 4:
		n.deliver(false)
	case 2:
		tlvs, err := n.bob.Respond(n.bb, n.secret)
		if err != nil {
			t.Fatal(err)
		}
		n.toAlice = append(n.toAlice, tlvs...)
	case 3, 5:
		n.deliver(true)
	}
}

// deliver hands the first queued TLV to its receiver and queues its reply.
func (n *network) deliver(toAlice bool) {
	t := n.t
	t.Helper()
	to, q, back, seen := n.bob, &n.toBob, &n.toAlice, &n.seenB
	if toAlice {
		to, q, back, seen = n.alice, &n.toAlice, &n.toBob, &n.seenA
	}
	if len(*q) == 0 {
		t.Fatal("nothing to deliver")
	}
	tlv := (*q)[0]
	*q = (*q)[1:]
	out, err := to.Receive(tlv)
	if err != nil && out.Result != Error && out.Result != Cheated {
		t.Fatalf("Receive(type %d): %v with result %v", tlv.Type, err, out.Result)
	}
	*seen = append(*seen, out.Result)
	*back = append(*back, out.Reply...)
}

// drain delivers everything queued, alternating directions, first to the
// side given.
func (n *network) drain(aliceFirst bool) {
	for i := 0; len(n.toAlice)+len(n.toBob) > 0; i++ {
		if i > 20 {
			n.t.Fatal("messages keep bouncing")
		}
		toAlice := aliceFirst == (i%2 == 0)
		if toAlice && len(n.toAlice) > 0 || !toAlice && len(n.toBob) == 0 {
			n.deliver(true)
		} else {
			n.deliver(false)
		}
	}
}

// TestAbortAtEveryStep lets either side abort at each step of an exchange
// where it is still in it, with both orders of delivery of the messages in
// flight. Afterwards both sides must be in SMPSTATE_EXPECT1; the aborting
// side reports no result; the other side, if still in the exchange, learns
// of the abort unless every message it needed was already on its way ahead
// of the abort (then it may finish); and a new exchange must succeed.
func TestAbortAtEveryStep(t *testing.T) {
	cases := 0
	for after := 0; after <= 4; after++ {
		for _, aliceAborts := range []bool{true, false} {
			for _, aliceFirst := range []bool{true, false} {
				name := fmt.Sprintf("after step %d/alice aborts %v/deliver to alice first %v", after, aliceAborts, aliceFirst)
				t.Run(name, func(t *testing.T) {
					ba, bb := bindings(t, rand.Reader)
					n := &network{t: t, alice: New(rand.Reader), bob: New(rand.Reader), ba: ba, bb: bb, secret: []byte("s")}
					for k := 0; k <= after; k++ {
						n.step(k)
					}
					aborter := n.alice
					abSeen, otherSeen := &n.seenA, &n.seenB
					if !aliceAborts {
						aborter = n.bob
						abSeen, otherSeen = &n.seenB, &n.seenA
					}
					if aborter.State() == Expect1 {
						t.Skip("the aborting side is not in an exchange")
					}
					cases++
					otherInExchange := n.alice.State() != Expect1 && n.bob.State() != Expect1
					// The other side may finish if its last message is in
					// flight ahead of the abort: Bob once Alice sent
					// message 3, Alice once Bob sent message 4.
					mayFinish := aliceAborts && after == 3
					*abSeen, *otherSeen = nil, nil
					if aliceAborts {
						n.toBob = append(n.toBob, n.alice.Abort())
					} else {
						n.toAlice = append(n.toAlice, n.bob.Abort())
					}
					n.drain(aliceFirst)
					if n.alice.State() != Expect1 || n.bob.State() != Expect1 {
						t.Fatalf("states %v, %v", n.alice.State(), n.bob.State())
					}
					for _, r := range *abSeen {
						if r != None && r != Error && r != Aborted {
							t.Fatalf("aborting side reported %v (it saw %v, the other %v)", r, *abSeen, *otherSeen)
						}
					}
					finished := slices.Contains(*otherSeen, Succeeded)
					if finished && !mayFinish || slices.Contains(*otherSeen, Failed) || slices.Contains(*otherSeen, Cheated) {
						t.Fatalf("other side reported %v", *otherSeen)
					}
					if otherInExchange && !finished && !slices.Contains(*otherSeen, Aborted) && !slices.Contains(*otherSeen, Error) {
						t.Fatalf("the other side never learned of the abort: %v", *otherSeen)
					}
					ra, rb, _ := run(t, n.alice, n.bob, ba, bb, "", []byte("again"), []byte("again"))
					if ra != Succeeded || rb != Succeeded {
						t.Fatalf("new exchange after abort: %v, %v", ra, rb)
					}
				})
			}
		}
	}
	if cases != 16 {
		t.Fatalf("%d abort cases ran, want 16", cases)
	}
}
