package smp

import (
	"crypto/rand"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user and system) used by the process so far.
// This machine is shared; wall-clock ns/op rises with other people's load,
// CPU time per operation much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ns/op metric to b, measured from start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkSMP measures one full exchange, both sides: Start, message 1
// received, Respond, message 2 received (message 3 built), message 3
// received (message 4 built) and message 4 received.
func BenchmarkSMP(b *testing.B) {
	ba, bb := bindings(b, rand.Reader)
	alice, bob := New(rand.Reader), New(rand.Reader)
	secret := []byte("correct horse battery staple")
	b.ReportAllocs()
	start := cpuTime()
	defer reportCPU(b, start)
	for b.Loop() {
		m1, err := alice.Start(ba, "question?", secret)
		if err != nil {
			b.Fatal(err)
		}
		if out, err := bob.Receive(m1[0]); err != nil || out.Result != SecretNeeded {
			b.Fatal(out.Result, err)
		}
		m2, err := bob.Respond(bb, secret)
		if err != nil {
			b.Fatal(err)
		}
		out, err := alice.Receive(m2[0])
		if err != nil {
			b.Fatal(err)
		}
		out, err = bob.Receive(out.Reply[0])
		if err != nil || out.Result != Succeeded {
			b.Fatal(out.Result, err)
		}
		out, err = alice.Receive(out.Reply[0])
		if err != nil || out.Result != Succeeded {
			b.Fatal(out.Result, err)
		}
	}
}

// Benchmarks of the curve operations SMP is built from, to explain
// BenchmarkSMP's figure.
func BenchmarkOps(b *testing.B) {
	k, _ := randomScalar(rand.Reader)
	l, _ := randomScalar(rand.Reader)
	g := pointG()
	p := g.ScalarBaseMult(k)
	enc := p.Bytes()
	b.Run("ScalarBaseMult", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			g.ScalarBaseMult(k)
		}
	})
	b.Run("ScalarMult", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			g.ScalarMult(k, p)
		}
	})
	b.Run("VarTimeDoubleScalarBaseMult", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			g.VarTimeDoubleScalarBaseMult(k, p, l)
		}
	})
	b.Run("SetBytes", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			if _, err := g.SetBytes(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Bytes", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			p.Bytes()
		}
	})
}
