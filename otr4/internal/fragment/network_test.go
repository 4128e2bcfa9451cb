package fragment

import (
	"math/rand"
	"testing"
	"time"
)

// TestLossyNetwork sends 300 messages from two senders through a network that
// drops, duplicates and reorders fragments (seeded). Every message whose
// fragments all arrive is delivered; nothing else is; and the Assembler ends
// holding only partial messages of messages that lost a fragment (or of late
// duplicates), within its limits. Duplicates of a completed message may
// complete it again: the fragment layer does not remember finished
// identifiers, the ratchet rejects the replay.
func TestLossyNetwork(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		t.Run("", func(t *testing.T) { lossyNetwork(t, seed) })
	}
}

func lossyNetwork(t *testing.T, seed int64) {
	r := rand.New(rand.NewSource(seed))
	type packet struct {
		msg int
		s   string
	}
	senders := []uint32{alice, carolTag}
	var msgs []string
	var net []packet
	lost := map[int]bool{}
	for i := 0; i < 300; i++ {
		m := randomMessage(r, 500+r.Intn(2000)) // longer than maxSize: always fragmented
		msgs = append(msgs, m)
		id := r.Uint32()
		frags, err := Split(m, 100+r.Intn(400), id, senders[i%2], []uint32{0, bob}[r.Intn(2)])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range frags {
			switch x := r.Intn(100); {
			case x < 3:
				lost[i] = true // dropped
			case x < 13:
				net = append(net, packet{i, s}, packet{i, s}) // duplicated
			default:
				net = append(net, packet{i, s})
			}
		}
	}
	// Reorder within a sliding window of 40 packets.
	for i := range net {
		j := i + r.Intn(min(40, len(net)-i))
		net[i], net[j] = net[j], net[i]
	}
	a := NewAssembler(bob, Limits{MaxPending: 64, Expiry: time.Hour})
	delivered := map[int]int{}
	now := t0
	for _, p := range net {
		now = now.Add(time.Second)
		got, done, err := a.Add(p.s, now)
		if err != nil && !isSentinel(err) {
			t.Fatal(err)
		}

		if done {
			if got != msgs[p.msg] {
				t.Fatalf("delivered a message that was not sent")
			}
			delivered[p.msg]++
		}
	}
	for i := range msgs {
		if !lost[i] && delivered[i] == 0 {
			t.Errorf("message %d arrived whole but was not delivered", i)
		}
		if lost[i] && delivered[i] > 0 {
			t.Errorf("message %d lost a fragment but was delivered", i)
		}
	}
	if a.Buffered() > DefaultLimits().MaxBufferedBytes || a.Pending() > 64 {
		t.Fatalf("%d pending, %d bytes", a.Pending(), a.Buffered())
	}
	t.Logf("%d messages, %d lost, %d delivered, %d packets, %d partial messages left", len(msgs), len(lost), len(delivered), len(net), a.Pending())
}
