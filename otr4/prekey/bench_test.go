package prekey

import (
	"crypto/rand"
	"math/big"
	"testing"

	"otrchat/otr4"
	"otrchat/otr4/internal/curve"
	"otrchat/otr4/internal/dh"
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
	for b.Loop() {
		if _, err := proveECDH(rand.Reader, ys, yPub, m, usageProofMessageECDH); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProveDH100(b *testing.B) {
	_, _, _, bs, bPub := proofInputs(b, 100)
	m := make([]byte, 64)
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
	for b.Loop() {
		if !p.verify(bPub, m) {
			b.Fatal("no")
		}
	}
}

// BenchmarkKeyGeneration100 is the key-pair generation for 100 prekey
// messages, reported separately from the proofs.
func BenchmarkKeyGeneration100(b *testing.B) {
	for b.Loop() {
		for i := 0; i < 100; i++ {
			if _, _, err := otr4.NewPrekeyMessage(rand.Reader, 0x100); err != nil {
				b.Fatal(err)
			}
		}
	}
}
