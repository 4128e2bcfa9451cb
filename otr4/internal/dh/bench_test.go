package dh

import (
	"crypto/rand"
	"crypto/subtle"
	"math/big"
	"sync"
	"syscall"
	"testing"
	"time"

	oldbigmod "filippo.io/bigmod"
)

// Benchmarks of one exponentiation, old against new in one binary: "old" is
// filippo.io/bigmod v0.1.0 as this package used it until otr4/internal/bigmod
// replaced it (its Exp, and the comb with a byte table), kept here in a test
// file only; "new" is this package; "math/big" is the variable-time Exp.
// With -count the variants alternate, so a busy machine loads them alike.
// cpu-ns/op is the process CPU (getrusage) per operation.

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

var (
	oldOnce    sync.Once
	oldModulus *oldbigmod.Modulus
	oldComb    [][combEntries][]byte
)

func oldSetup() {
	oldModulus, _ = oldbigmod.NewModulus(p.Bytes())
	oldComb = make([][combEntries][]byte, combRows)
	base := oldbigmod.NewNat().ExpandFor(oldModulus)
	base.SetBytes([]byte{2}, oldModulus)
	for i := 0; i < combRows; i++ {
		acc, _ := oldbigmod.NewNat().SetBytes([]byte{1}, oldModulus)
		for j := 0; j < combEntries; j++ {
			oldComb[i][j] = acc.Bytes(oldModulus)
			acc.Mul(base, oldModulus)
		}
		base = acc
	}
}

// oldSharedSecretExp is SharedSecret's exponentiation before this change.
func oldSharedSecretExp(peer *big.Int, e []byte) []byte {
	oldOnce.Do(oldSetup)
	base, _ := oldbigmod.NewNat().SetBytes(peer.Bytes(), oldModulus)
	return oldbigmod.NewNat().Exp(base, e, oldModulus).Bytes(oldModulus)
}

// oldFixedBaseExp is fixedBaseExp before this change.
func oldFixedBaseExp(e []byte) []byte {
	oldOnce.Do(oldSetup)
	acc, _ := oldbigmod.NewNat().SetBytes([]byte{1}, oldModulus)
	entry := make([]byte, ModulusSize)
	sel := oldbigmod.NewNat().ExpandFor(oldModulus)
	for i := 0; i < combRows; i++ {
		b := e[len(e)-1-i/2]
		w := int(b>>(4*(i%2))) & 0xF
		clear(entry)
		for j := 0; j < combEntries; j++ {
			subtle.ConstantTimeCopy(subtle.ConstantTimeEq(int32(j), int32(w)), entry, oldComb[i][j])
		}
		sel.SetBytes(entry, oldModulus)
		acc.Mul(sel, oldModulus)
	}
	return acc.Bytes(oldModulus)
}

func TestOldPathsAgree(t *testing.T) {
	e := make([]byte, SecretSize)
	rand.Read(e)
	k, _ := GenerateKey(rand.Reader)
	if new(big.Int).SetBytes(oldFixedBaseExp(e)).Cmp(new(big.Int).SetBytes(fixedBaseExp(e))) != 0 {
		t.Fatal("old and new comb differ")
	}
	ref := new(big.Int).Exp(k.public, new(big.Int).SetBytes(e), p)
	if new(big.Int).SetBytes(oldSharedSecretExp(k.public, e)).Cmp(ref) != 0 {
		t.Fatal("old Exp differs from math/big")
	}
}

// BenchmarkExp is one variable-base exponentiation with an 80-byte secret
// exponent, as in SharedSecret.
func BenchmarkExp(b *testing.B) {
	k, _ := GenerateKey(rand.Reader)
	o, _ := GenerateKey(rand.Reader)
	peer, e := o.Public(), k.secret[:]
	eBig := new(big.Int).SetBytes(e)
	oldOnce.Do(oldSetup)
	b.Run("old=bigmod-v0.1.0", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			oldSharedSecretExp(peer, e)
		}
		reportCPU(b, start)
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			k.SharedSecret(peer)
		}
		reportCPU(b, start)
	})
	b.Run("math-big", func(b *testing.B) {
		b.ReportAllocs()
		out := new(big.Int)
		start := cpuTime()
		for b.Loop() {
			out.Exp(peer, eBig, p)
		}
		reportCPU(b, start)
	})
}

// BenchmarkFixedBase is g3^r with an 80-byte r, as in GenerateKey.
func BenchmarkFixedBase(b *testing.B) {
	e := make([]byte, SecretSize)
	rand.Read(e)
	eBig := new(big.Int).SetBytes(e)
	oldOnce.Do(oldSetup)
	combOnce.Do(buildComb)
	b.Run("old=comb-bytes", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			oldFixedBaseExp(e)
		}
		reportCPU(b, start)
	})
	b.Run("new=comb-montgomery", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			fixedBaseExp(e)
		}
		reportCPU(b, start)
	})
	b.Run("math-big", func(b *testing.B) {
		b.ReportAllocs()
		out := new(big.Int)
		start := cpuTime()
		for b.Loop() {
			out.Exp(g, eBig, p)
		}
		reportCPU(b, start)
	})
}
