package prekey

import (
	"crypto/rand"
	"math/big"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/dh"
)

// proofInputs generates n prekey key pairs in the form the proofs take.
func proofInputs(b testing.TB, n int) (ys []*curve.Scalar, yPub [][]byte, yPts []*curve.Point, bs [][]byte, bPub []*big.Int) {
	b.Helper()
	for i := 0; i < n; i++ {
		k, err := curve.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		d, err := dh.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		ys, yPub, yPts = append(ys, k.Scalar()), append(yPub, k.PublicBytes()), append(yPts, k.Public())
		bs, bPub = append(bs, d.Secret()), append(bPub, d.Public())
	}
	return
}

// BenchmarkPublish100Proofs is the proof work of publishing 100 prekey
// messages: the client's two batch proofs and the server's verification.
func BenchmarkPublish100Proofs(b *testing.B) {
	ys, yPub, yPts, bs, bPub := proofInputs(b, 100)
	m := make([]byte, 64)
	b.ResetTimer()
	defer measureCPU(b)()
	for b.Loop() {
		pe, err := proveECDH(rand.Reader, ys, yPub, m, usageProofMessageECDH)
		if err != nil {
			b.Fatal(err)
		}
		pd, err := proveDH(rand.Reader, bs, bPub, m)
		if err != nil {
			b.Fatal(err)
		}
		if !pe.verify(yPts, m, usageProofMessageECDH) || !pd.verify(bPub, m) {
			b.Fatal("proof does not verify")
		}
	}
}

func BenchmarkProveECDH100(b *testing.B) {
	ys, yPub, _, _, _ := proofInputs(b, 100)
	m := make([]byte, 64)
	defer measureCPU(b)()
	for b.Loop() {
		if _, err := proveECDH(rand.Reader, ys, yPub, m, usageProofMessageECDH); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProveDH100(b *testing.B) {
	_, _, _, bs, bPub := proofInputs(b, 100)
	m := make([]byte, 64)
	defer measureCPU(b)()
	for b.Loop() {
		if _, err := proveDH(rand.Reader, bs, bPub, m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyECDH100(b *testing.B) {
	ys, yPub, yPts, _, _ := proofInputs(b, 100)
	m := make([]byte, 64)
	p, _ := proveECDH(rand.Reader, ys, yPub, m, usageProofMessageECDH)
	defer measureCPU(b)()
	for b.Loop() {
		if !p.verify(yPts, m, usageProofMessageECDH) {
			b.Fatal("no")
		}
	}
}

func BenchmarkVerifyDH100(b *testing.B) {
	_, _, _, bs, bPub := proofInputs(b, 100)
	m := make([]byte, 64)
	p, _ := proveDH(rand.Reader, bs, bPub, m)
	defer measureCPU(b)()
	for b.Loop() {
		if !p.verify(bPub, m) {
			b.Fatal("no")
		}
	}
}

// BenchmarkKeyGeneration100 is the key-pair generation for 100 prekey
// messages, reported separately from the proofs.
func BenchmarkKeyGeneration100(b *testing.B) {
	defer measureCPU(b)()
	for b.Loop() {
		for i := 0; i < 100; i++ {
			if _, _, err := otr4.NewPrekeyMessage(rand.Reader, 0x100); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPublish100Messages is a whole publication of a client profile,
// a prekey profile and 100 prekey messages, in two parts: "client" is the
// client's DAKE-3 (ring signature, three proofs, MAC), "server" the
// server's checks of it (parsing with the group checks, ring signature,
// MAC, proofs, profiles). The DAKE-1/DAKE-2 exchange and the key
// generation are not timed.
func BenchmarkPublish100Messages(b *testing.B) {
	d, s := newDevice(b), newTestServer(b)
	req := d.publishRequest(b, 100)
	setup := func() (*ClientDAKE, *ServerSession, []byte) {
		c, d1, err := NewClientDAKE(d.clientConfig(s), req)
		if err != nil {
			b.Fatal(err)
		}
		sess := NewServerSession(s.cfg, "alice@example.org")
		d2, err := sess.HandleDAKE1(d1)
		if err != nil {
			b.Fatal(err)
		}
		return c, sess, d2
	}
	b.Run("client", func(b *testing.B) {
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			c, _, d2 := setup()
			b.StartTimer()
			t0 := cpuTime()
			if _, _, err := c.Receive(d2); err != nil {
				b.Fatal(err)
			}
			cpu += cpuTime() - t0
		}
		b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	})
	b.Run("server", func(b *testing.B) {
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			c, sess, d2 := setup()
			d3, _, err := c.Receive(d2)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			t0 := cpuTime()
			if _, err := sess.HandleDAKE3(d3); err != nil {
				b.Fatal(err)
			}
			cpu += cpuTime() - t0
		}
		b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	})
}
