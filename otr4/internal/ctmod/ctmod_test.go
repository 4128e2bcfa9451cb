package ctmod

import (
	"crypto/rand"
	"math/big"
	"testing"
)

// TestAgainstBig compares every operation with math/big on random values.
func TestAgainstBig(t *testing.T) {
	n, _ := rand.Prime(rand.Reader, 521)
	m := New(n)
	for i := 0; i < 50; i++ {
		a, _ := rand.Int(rand.Reader, n)
		b, _ := rand.Int(rand.Reader, n)
		raw := make([]byte, 100)
		rand.Read(raw)
		an, bn := m.FromInt(a), m.FromInt(b)
		check := func(name string, got *Nat, want *big.Int) {
			t.Helper()
			want.Mod(want, n)
			if m.Public(got).Cmp(want) != 0 {
				t.Fatalf("%s: got %v want %v", name, m.Public(got), want)
			}
		}
		check("reduce", m.Reduce(raw), new(big.Int).SetBytes(raw))
		check("mul", m.Mul(an, bn), new(big.Int).Mul(a, b))
		check("add", m.Add(an, bn), new(big.Int).Add(a, b))
		check("sub", m.Sub(an, bn), new(big.Int).Sub(a, b))
		check("exp", m.ExpInt(a, raw), new(big.Int).Exp(a, new(big.Int).SetBytes(raw), n))
		if a.Sign() != 0 {
			check("inverse", m.InversePrime(an), new(big.Int).ModInverse(a, n))
		}
		if len(m.Bytes(an)) != m.Size() {
			t.Fatal("Bytes size")
		}
	}
	if m.IsZero(m.Reduce(nil)) != 1 || m.IsZero(m.Reduce(n.Bytes())) != 1 {
		t.Fatal("zero")
	}
}
