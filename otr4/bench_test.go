package otr4

import (
	"crypto/rand"
	"syscall"
	"testing"
	"time"
)

// cpuMeter adds a cpu-ns/op metric, the process CPU time (getrusage: user
// and system, GC included) per operation while the benchmark timer runs.
// This machine is shared; wall-clock ns/op rises with other people's load,
// CPU time per operation much less.
type cpuMeter struct {
	b            *testing.B
	start, total time.Duration
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// meterCPU starts metering; call it right before the timed loop.
func meterCPU(b *testing.B) *cpuMeter { return &cpuMeter{b: b, start: cpuTime()} }

// pause and resume bracket untimed work, with b.StopTimer and b.StartTimer.
func (m *cpuMeter) pause()  { m.b.StopTimer(); m.total += cpuTime() - m.start }
func (m *cpuMeter) resume() { m.start = cpuTime(); m.b.StartTimer() }

// report adds the metric; call it after the timed loop.
func (m *cpuMeter) report() {
	m.total += cpuTime() - m.start
	m.b.ReportMetric(float64(m.total)/float64(m.b.N), "cpu-ns/op")
}

// BenchmarkInteractiveDAKE measures both parties' CPU for a whole DAKE:
// Identity, Auth-R, Auth-I, encodings included.
func BenchmarkInteractiveDAKE(b *testing.B) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	ida, _ := GenerateIdentity(rand.Reader, false)
	idb, _ := GenerateIdentity(rand.Reader, false)
	pa, _ := NewClientProfile(ida, 0x1001, "4", clk.now().Add(time.Hour))
	pb, _ := NewClientProfile(idb, 0x2002, "4", clk.now().Add(time.Hour))
	b.ReportAllocs()
	cpu := meterCPU(b)
	for b.Loop() {
		a, _ := NewConversation(Config{Identity: ida, InstanceTag: 0x1001, ClientProfile: pa, Now: clk.now})
		c, _ := NewConversation(Config{Identity: idb, InstanceTag: 0x2002, ClientProfile: pb, Now: clk.now})
		id, _ := c.StartInteractive()
		r, _ := a.Receive(id.ToSend[0])
		i, _ := c.Receive(r.ToSend[0])
		if _, err := a.Receive(i.ToSend[0]); err != nil || a.State() != StateEncrypted {
			b.Fatal(err)
		}
	}
	cpu.report()
}

// BenchmarkInteractiveDAKEPrepared is the DAKE with each side's ephemeral
// key pairs generated ahead of need (Conversation.Prepare), outside the
// timer, as a client does while idle.
func BenchmarkInteractiveDAKEPrepared(b *testing.B) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	ida, _ := GenerateIdentity(rand.Reader, false)
	idb, _ := GenerateIdentity(rand.Reader, false)
	pa, _ := NewClientProfile(ida, 0x1001, "4", clk.now().Add(time.Hour))
	pb, _ := NewClientProfile(idb, 0x2002, "4", clk.now().Add(time.Hour))
	b.ReportAllocs()
	cpu := meterCPU(b)
	for i := 0; i < b.N; i++ {
		cpu.pause()
		a, _ := NewConversation(Config{Identity: ida, InstanceTag: 0x1001, ClientProfile: pa, Now: clk.now})
		c, _ := NewConversation(Config{Identity: idb, InstanceTag: 0x2002, ClientProfile: pb, Now: clk.now})
		a.Prepare()
		c.Prepare()
		cpu.resume()
		id, _ := c.StartInteractive()
		r, _ := a.Receive(id.ToSend[0])
		ai, _ := c.Receive(r.ToSend[0])
		if _, err := a.Receive(ai.ToSend[0]); err != nil || a.State() != StateEncrypted {
			b.Fatal(err)
		}
	}
	cpu.report()
}

// BenchmarkNonInteractiveDAKE measures both sides of the offline DAKE:
// building the Non-Interactive-Auth message from a validated ensemble and
// receiving it. Prekey generation (the publisher's work ahead of time) is
// outside the timer.
func BenchmarkNonInteractiveDAKE(b *testing.B) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	ida, _ := GenerateIdentity(rand.Reader, false)
	idb, _ := GenerateIdentity(rand.Reader, false)
	pa, _ := NewClientProfile(ida, 0x1001, "4", clk.now().Add(time.Hour))
	pb, _ := NewClientProfile(idb, 0x2002, "4", clk.now().Add(time.Hour))
	pp, ppSecret, _ := NewPrekeyProfile(rand.Reader, idb, 0x2002, clk.now().Add(time.Hour))
	b.ReportAllocs()
	cpu := meterCPU(b)
	for i := 0; i < b.N; i++ {
		cpu.pause()
		secrets := &memSecrets{m: map[uint32][]byte{}}
		pm, s, _ := NewPrekeyMessage(rand.Reader, 0x2002)
		secrets.m[pm.ID] = s.Marshal()
		e := &PrekeyEnsemble{Client: pb, Prekey: pp, Message: pm}
		a, _ := NewConversation(Config{Identity: ida, InstanceTag: 0x1001, ClientProfile: pa, Now: clk.now})
		c, _ := NewConversation(Config{Identity: idb, InstanceTag: 0x2002, ClientProfile: pb, Now: clk.now,
			PrekeyProfile: pp, SharedPrekeySecret: ppSecret, PrekeySecrets: secrets})
		cpu.resume()
		out, err := a.StartOffline(e, "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Receive(out.ToSend[0]); err != nil || c.State() != StateEncrypted {
			b.Fatal(err)
		}
	}
	cpu.report()
}

func BenchmarkSMP(b *testing.B) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	alice, bob := encryptedPair(b, clk)
	b.ReportAllocs()
	cpu := meterCPU(b)
	for b.Loop() {
		s, _ := alice.conv.StartSMP("", []byte("secret"))
		r, _ := bob.conv.Receive(s.ToSend[0])
		_ = r
		ans, _ := bob.conv.AnswerSMP([]byte("secret"))
		m3, _ := alice.conv.Receive(ans.ToSend[0])
		m4, _ := bob.conv.Receive(m3.ToSend[0])
		done, _ := alice.conv.Receive(m4.ToSend[0])
		if !hasEvent(done.Events, EventSMPSucceeded) {
			b.Fatal("SMP did not succeed")
		}
	}
	cpu.report()
}

// BenchmarkMessageOneDirection: encrypt, encode, decode, decrypt 100 bytes.
func BenchmarkMessageOneDirection(b *testing.B) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	alice, bob := encryptedPair(b, clk)
	text := string(make([]byte, 0, 100)) + "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	b.ReportAllocs()
	cpu := meterCPU(b)
	for b.Loop() {
		out, _ := alice.conv.Send(text)
		if r, err := bob.conv.Receive(out.ToSend[0]); err != nil || r.Text != text {
			b.Fatal(err)
		}
	}
	cpu.report()
}

// BenchmarkMessageSwitchingDirection: every message answers the previous
// one, so each is a DH ratchet step (a new 3072-bit DH key every third).
func BenchmarkMessageSwitchingDirection(b *testing.B) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	alice, bob := encryptedPair(b, clk)
	text := "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	from, to := alice, bob
	b.ReportAllocs()
	cpu := meterCPU(b)
	for b.Loop() {
		out, _ := from.conv.Send(text)
		if r, err := to.conv.Receive(out.ToSend[0]); err != nil || r.Text != text {
			b.Fatal(err)
		}
		from, to = to, from
	}
	cpu.report()
}
