package otr3

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4"
)

// cpuTime returns the CPU time (user and system) the process has used. The
// machine is shared: CPU time per operation moves much less with other
// people's load than wall-clock ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkAKE measures one whole OTRv3 AKE, both sides: D-H Commit, D-H
// Key, Reveal Signature (a DSA signature and verification each way) and
// Signature, and the first data keys.
func BenchmarkAKE(b *testing.B) {
	a, c := newPair(b)
	b.ReportAllocs()
	start := cpuTime()
	defer reportCPU(b, start)
	for b.Loop() {
		out, err := a.StartAKE()
		if err != nil {
			b.Fatal(err)
		}
		for msgs, from, to := out.ToSend, a, c; len(msgs) > 0; from, to = to, from {
			var next []string
			for _, m := range msgs {
				o, err := to.Receive(m)
				if err != nil {
					b.Fatal(err)
				}
				next = append(next, o.ToSend...)
			}
			msgs = next
		}
		if a.State() != otr4.StateEncrypted || c.State() != otr4.StateEncrypted {
			b.Fatal("AKE did not finish")
		}
	}
}

// BenchmarkDataMessage measures one 1 KiB data message: sealed by one side
// and read by the other, with the key rotation (a new D-H key pair and a
// shared secret) each message triggers when the sides take turns.
func BenchmarkDataMessage(b *testing.B) {
	a, c := newPair(b)
	out, _ := a.StartAKE()
	exchange(b, a, c, out.ToSend)
	text := strings.Repeat("x", 1024)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	start := cpuTime()
	defer reportCPU(b, start)
	from, to := a, c
	for b.Loop() {
		o, err := from.Send(text)
		if err != nil {
			b.Fatal(err)
		}
		r, err := to.Receive(o.ToSend[0])
		if err != nil || r.Text != text {
			b.Fatal(err)
		}
		from, to = to, from
	}
}

// BenchmarkDataMessageSameSender measures data messages in one direction,
// where keys rotate only once: the cost of AES-CTR and HMAC-SHA1 alone.
func BenchmarkDataMessageSameSender(b *testing.B) {
	a, c := newPair(b)
	out, _ := a.StartAKE()
	exchange(b, a, c, out.ToSend)
	text := strings.Repeat("x", 1024)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	start := cpuTime()
	defer reportCPU(b, start)
	for b.Loop() {
		o, err := a.Send(text)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Receive(o.ToSend[0]); err != nil {
			b.Fatal(err)
		}
	}
}
