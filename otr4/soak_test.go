package otr4

import (
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"testing"
	"time"
)

var soak = flag.Bool("soak", false, "run TestSoak: 100,000 messages with SMP runs and session restarts (minutes)")

// heapInuse returns HeapInuse after two garbage collections.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestSoak sends 100,000 messages through the seeded lossy network of
// TestTenThousandMessagesLossyNetwork (bursts, 1 in 20 dropped, 1 in 20
// duplicated, reordering within 6 messages in flight), with an SMP run every
// 2,500 messages (alternately with equal and different secrets) and a
// session restart every 10,000 (alternately a new DAKE from a query message
// and End followed by StartInteractive). Every delivered message decrypts
// exactly once; the heap in use after GC (sampled at every restart and at
// the end) and the number of goroutines must stay where they were after the
// first 10,000 messages.
//
// Run it with: go test -run TestSoak -soak -timeout 60m ./otr4
func TestSoak(t *testing.T) {
	if !*soak {
		t.Skip("run with -soak")
	}
	const n = 100_000
	start := time.Now()
	goroutines0 := runtime.NumGoroutine()
	clk := newClock()
	alice, bob := encryptedPair(t, clk)
	rng := mrand.New(mrand.NewPCG(2026, 17))
	type packet struct {
		to   *party
		num  int
		text string
		wire string
		dup  bool
	}
	var net []packet
	// Which messages were delivered, allocated once so that the test's own
	// bookkeeping does not grow the heap.
	delivered := make([]bool, n)
	var nDelivered, nDropped, nDup, nSMP, nRestart int
	receive := func(p packet) {
		out, err := p.to.conv.Receive(p.wire)
		if err == nil && out.Text != "" {
			if out.Text != p.text {
				t.Fatalf("got %q, want %q", out.Text, p.text)
			}
			if delivered[p.num] {
				t.Fatalf("%s decrypted twice", p.text)
			}
			delivered[p.num] = true
			nDelivered++
			return
		}
		if !p.dup && !delivered[p.num] {
			t.Fatalf("%s could not be read: %v", p.text, err)
		}
	}
	drain := func() {
		for len(net) > 0 {
			i := rng.IntN(min(len(net), 6))
			p := net[i]
			net = append(net[:i], net[i+1:]...)
			receive(p)
		}
	}
	smpRun := func(k int) {
		drain()
		asker, answerer := alice, bob
		if k%2 == 1 {
			asker, answerer = bob, alice
		}
		secret := "the library"
		answer := secret
		if k%4 == 3 {
			answer = "the park"
		}
		startMsg, err := asker.conv.StartSMP(fmt.Sprintf("question %d", k), []byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		_, _, ev1 := deliverAll(t, asker, answerer, startMsg.ToSend)
		if !hasEvent(ev1[answerer], EventSMPSecretNeeded) {
			t.Fatalf("SMP %d: no secret request: %+v", k, ev1[answerer])
		}
		ans, err := answerer.conv.AnswerSMP([]byte(answer))
		if err != nil {
			t.Fatal(err)
		}
		_, _, ev := deliverAll(t, answerer, asker, ans.ToSend)
		want := EventSMPSucceeded
		if answer != secret {
			want = EventSMPFailed
		}
		if !hasEvent(ev[asker], want) || !hasEvent(ev[answerer], want) {
			t.Fatalf("SMP %d: want %v: %+v / %+v", k, want, ev[asker], ev[answerer])
		}
		nSMP++
	}
	restart := func(k int) {
		drain()
		if k%2 == 0 {
			// A query message inside the encrypted session: bob answers
			// with an Identity message and the new DAKE replaces the
			// session (docs/spec-notes.md, "Query message in
			// ENCRYPTED_MESSAGES").
			deliverAll(t, alice, bob, []string{"?OTRv4?"})
		} else {
			end, err := alice.conv.End()
			if err != nil {
				t.Fatal(err)
			}
			deliverAll(t, alice, bob, end.ToSend)
			if bob.conv.State() != StateFinished {
				t.Fatalf("bob in %v after End", bob.conv.State())
			}
			if _, err := bob.conv.End(); err != nil {
				t.Fatal(err)
			}
			id, err := alice.conv.StartInteractive()
			if err != nil {
				t.Fatal(err)
			}
			deliverAll(t, alice, bob, id.ToSend)
		}
		if alice.conv.State() != StateEncrypted || bob.conv.State() != StateEncrypted {
			t.Fatalf("restart %d: states %v %v", k, alice.conv.State(), bob.conv.State())
		}
		nRestart++
	}

	var heapWarm, heapMax uint64
	var goroutinesWarm int
	from, to := alice, bob
	sent := 0
	for sent < n || len(net) > 0 {
		if sent < n && (len(net) == 0 || rng.IntN(2) == 0) {
			if sent > 0 && sent%2500 == 0 && sent%10000 != 0 {
				smpRun(sent / 2500)
			}
			if sent > 0 && sent%10000 == 0 {
				restart(sent / 10000)
				if sent == 10000 {
					heapWarm = heapInuse()
					goroutinesWarm = runtime.NumGoroutine()
					t.Logf("after %d messages (%v): HeapInuse %d KiB, %d goroutines", sent, time.Since(start).Round(time.Second), heapWarm>>10, goroutinesWarm)
				}
				if h := heapInuse(); sent > 10000 {
					heapMax = max(heapMax, h)
					t.Logf("after %d messages (%v): HeapInuse %d KiB", sent, time.Since(start).Round(time.Second), h>>10)
				}
			}
			if rng.IntN(4) == 0 {
				from, to = to, from
			}
			text := fmt.Sprintf("message %d", sent)
			sent++
			clk.advance(time.Second)
			out, err := from.conv.Send(text)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.ToSend) != 1 {
				t.Fatalf("%d wire messages for one text", len(out.ToSend))
			}
			if rng.IntN(20) == 0 {
				nDropped++
				continue
			}
			net = append(net, packet{to: to, num: sent - 1, text: text, wire: out.ToSend[0]})
			if rng.IntN(20) == 0 {
				nDup++
				net = append(net, packet{to: to, num: sent - 1, text: text, wire: out.ToSend[0], dup: true})
			}
			continue
		}
		i := rng.IntN(min(len(net), 6))
		p := net[i]
		net = append(net[:i], net[i+1:]...)
		receive(p)
	}
	if nDelivered+nDropped != n {
		t.Fatalf("%d delivered + %d dropped != %d sent", nDelivered, nDropped, n)
	}
	for _, p := range []*party{alice, bob} {
		if s := p.conv.rat.Stored(); s > 2000 {
			t.Errorf("%s stores %d skipped keys", p.jid, s)
		}
	}
	heapEnd := heapInuse()
	heapMax = max(heapMax, heapEnd)
	goroutinesEnd := runtime.NumGoroutine()
	elapsed := time.Since(start)
	t.Logf("%d messages in %v (%.0f us/message): %d delivered, %d dropped, %d duplicates, %d SMP runs, %d restarts",
		n, elapsed.Round(time.Millisecond), float64(elapsed.Microseconds())/n, nDelivered, nDropped, nDup, nSMP, nRestart)
	t.Logf("HeapInuse after GC: %d KiB after 10,000 messages, at most %d KiB later, %d KiB at the end; goroutines %d at start, %d after 10,000, %d at the end",
		heapWarm>>10, heapMax>>10, heapEnd>>10, goroutines0, goroutinesWarm, goroutinesEnd)
	// Flat: no later sample may exceed the warm figure by more than 1 MiB.
	if heapMax > heapWarm+1<<20 {
		t.Errorf("HeapInuse grew from %d KiB to %d KiB", heapWarm>>10, heapMax>>10)
	}
	if goroutinesEnd > goroutinesWarm || goroutinesWarm > goroutines0 {
		t.Errorf("goroutines: %d at start, %d warm, %d at the end", goroutines0, goroutinesWarm, goroutinesEnd)
	}
}
