package otr4

import (
	"crypto/rand"
	"runtime"
	"syscall"
	"testing"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/query"
)

// Benchmarks of the attacks of issue 16: what a message that does not
// authenticate costs the receiver, and what early data holds in memory.

// cpuNs is the process CPU time (user + system) so far.
func cpuNs(tb testing.TB) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// forgedData builds n forged data messages from genuine, each with its own
// fresh public ECDH key when newKey is set, the given previous chain
// message number and message id, and a random authenticator.
func forgedData(tb testing.TB, genuine string, n int, newKey bool, pn, id uint32) []string {
	tb.Helper()
	raw, err := query.DecodeEncoded(genuine)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]string, n)
	for i := range out {
		m, err := parseDataForTest(raw)
		if err != nil {
			tb.Fatal(err)
		}
		if newKey {
			k, err := curve.GenerateKey(rand.Reader)
			if err != nil {
				tb.Fatal(err)
			}
			copy(m.ECDH[:], k.PublicBytes())
		}
		m.PN, m.MessageID = pn, id
		m.MAC = make([]byte, 64)
		rand.Read(m.MAC)
		out[i] = query.Encode(m.Marshal())
	}
	return out
}

// forgeryTarget returns bob and a genuine message from alice that bob has
// not received: on alice's current chain (newRatchet false) or starting a
// new ratchet that carries a new DH key (withDH) or not.
func forgeryTarget(tb testing.TB, newRatchet, withDH bool) (bob *party, genuine string, pn, id uint32) {
	clk := newClock()
	alice, bob := encryptedPair(tb, clk)
	for range 12 {
		exchange(tb, alice, bob, "a")
		if !newRatchet {
			exchange(tb, alice, bob, "a") // the forgery goes on this chain
			m, _ := alice.conv.Send("genuine")
			raw, _ := query.DecodeEncoded(m.ToSend[0])
			dm, _ := parseDataForTest(raw)
			return bob, m.ToSend[0], dm.PN, dm.MessageID + 999
		}
		exchange(tb, bob, alice, "b")
		m, _ := alice.conv.Send("genuine")
		raw, _ := query.DecodeEncoded(m.ToSend[0])
		dm, _ := parseDataForTest(raw)
		if (dm.DH != nil) == withDH {
			// The previous chain was one message long: skip 999 of it.
			return bob, m.ToSend[0], dm.PN + 999, 999
		}
		if _, err := bob.conv.Receive(m.ToSend[0]); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Fatal("no suitable ratchet")
	return
}

// BenchmarkForgedDataMessage measures the receiver's CPU for one forged
// data message (random authenticator) that asks for the most work the
// receiver accepts: 999 skipped keys on the current chain, or a new
// ratchet that skips 999 keys of the current chain and 999 of the new one,
// with or without a new 3072-bit DH key. Each forgery has its own ECDH key
// where it starts a new ratchet, as an attacker would.
func BenchmarkForgedDataMessage(b *testing.B) {
	for _, c := range []struct {
		name               string
		newRatchet, withDH bool
	}{
		{"current-chain", false, false},
		{"new-ratchet", true, false},
		{"new-ratchet-DH", true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			bob, genuine, pn, id := forgeryTarget(b, c.newRatchet, c.withDH)
			forged := forgedData(b, genuine, 64, c.newRatchet, pn, id)
			b.ResetTimer()
			start := cpuNs(b)
			for i := 0; i < b.N; i++ {
				if _, err := bob.conv.Receive(forged[i%len(forged)]); err == nil {
					b.Fatal("forged message accepted")
				}
			}
			b.ReportMetric(float64(cpuNs(b)-start)/float64(b.N), "cpu-ns/op")
			b.StopTimer()
			if out, _ := bob.conv.Receive(genuine); out.Text != "genuine" {
				b.Fatalf("genuine message lost: %+v", out)
			}
		})
	}
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkEarlyDataAttack forces a conversation into WAITING_AUTH_I with
// a self-made Identity message and then sends it 200 data messages of 1 MiB
// that it must keep as possible early data. It reports the heap the
// conversation holds afterwards (held-bytes).
func BenchmarkEarlyDataAttack(b *testing.B) {
	clk := newClock()
	var held uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		alice, bob := encryptedPair(b, clk)
		mallory := newParty(b, "mallory@example.org", "alice@example.org", bob.tag, clk, nil)
		id, _ := mallory.conv.StartInteractive()
		big := make([]byte, 1<<20-16)
		for j := range big {
			big[j] = 'x'
		}
		m, _ := bob.conv.Send(string(big))
		forged := forgedData(b, m.ToSend[0], 1, true, 0, 0)[0]
		base := heapInUse()
		b.StartTimer()
		alice.conv.Receive(id.ToSend[0])
		if alice.conv.State() != StateWaitingAuthI {
			b.Fatal(alice.conv.State())
		}
		for range 200 {
			alice.conv.Receive(forged)
		}
		b.StopTimer()
		held = heapInUse() - base
		runtime.KeepAlive(alice)
		runtime.KeepAlive(forged)
	}
	b.ReportMetric(float64(held), "held-bytes")
}
