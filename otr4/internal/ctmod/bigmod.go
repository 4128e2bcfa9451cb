// Package ctmod is constant-time arithmetic modulo a public odd modulus, for
// the secret values of the OTRv3 engine: DSA signing, the 1536-bit D-H
// exchange and the Socialist Millionaires' Protocol. Secrets live in Nats and
// byte slices; only public results are turned into math/big values.
//
// This file is the engine's only importer of otr4/internal/bigmod (otrchat's
// copy of filippo.io/bigmod v0.1.0), so moving to another copy of bigmod
// changes one import line.
package ctmod

import (
	"math/big"
	"sync"

	"github.com/otrchat/otrchat/otr4/internal/bigmod"
)

// Nat is a residue modulo a Modulus.
type Nat = bigmod.Nat

// Modulus is a public odd modulus.
type Modulus struct {
	m    *bigmod.Modulus
	n    *big.Int
	size int
}

// New returns the modulus n, which must be odd and greater than one.
func New(n *big.Int) *Modulus {
	m, err := bigmod.NewModulus(n.Bytes())
	if err != nil || n.Bit(0) == 0 {
		panic("ctmod: modulus must be odd and greater than one")
	}
	return &Modulus{m: m, n: new(big.Int).Set(n), size: m.Size()}
}

// Int returns the modulus as a big.Int (a copy).
func (m *Modulus) Int() *big.Int { return new(big.Int).Set(m.n) }

// Size returns the modulus size in bytes.
func (m *Modulus) Size() int { return m.size }

var (
	wideMu sync.Mutex
	wide   = map[int]*bigmod.Modulus{}
)

// wideModulus returns 256^n, a modulus above every n-byte value.
func wideModulus(n int) *bigmod.Modulus {
	wideMu.Lock()
	defer wideMu.Unlock()
	w, ok := wide[n]
	if !ok {
		b := make([]byte, n+1)
		b[0] = 1
		w, _ = bigmod.NewModulus(b)
		wide[n] = w
	}
	return w
}

// Reduce returns b (big-endian, any length) reduced modulo m. Its timing
// depends only on len(b).
func (m *Modulus) Reduce(b []byte) *Nat {
	if len(b) == 0 {
		return bigmod.NewNat().ExpandFor(m.m)
	}
	x, err := bigmod.NewNat().SetBytes(b, wideModulus(len(b)))
	if err != nil {
		panic("ctmod: " + err.Error())
	}
	return bigmod.NewNat().Mod(x, m.m)
}

// FromInt returns the public value x (non-negative) reduced modulo m.
func (m *Modulus) FromInt(x *big.Int) *Nat {
	return m.Reduce(new(big.Int).Mod(x, m.n).Bytes())
}

// Exp returns base^e mod m for a secret exponent e (big-endian bytes).
func (m *Modulus) Exp(base *Nat, e []byte) *Nat {
	return bigmod.NewNat().Exp(base, e, m.m)
}

// ExpInt returns base^e mod m for a public base and a secret exponent.
func (m *Modulus) ExpInt(base *big.Int, e []byte) *Nat { return m.Exp(m.FromInt(base), e) }

// Mul returns a*b mod m in a new Nat.
func (m *Modulus) Mul(a, b *Nat) *Nat {
	return bigmod.NewNat().ExpandFor(m.m).Mod(a, m.m).Mul(b, m.m)
}

// Add returns a+b mod m in a new Nat.
func (m *Modulus) Add(a, b *Nat) *Nat {
	return bigmod.NewNat().ExpandFor(m.m).Mod(a, m.m).Add(b, m.m)
}

// Sub returns a-b mod m in a new Nat.
func (m *Modulus) Sub(a, b *Nat) *Nat {
	return bigmod.NewNat().ExpandFor(m.m).Mod(a, m.m).Sub(b, m.m)
}

// InversePrime returns a^(m-2) mod m, the inverse of a when m is prime, in
// constant time.
func (m *Modulus) InversePrime(a *Nat) *Nat {
	e := new(big.Int).Sub(m.n, big.NewInt(2))
	return m.Exp(a, e.FillBytes(make([]byte, m.size)))
}

// Bytes returns x as big-endian bytes of the modulus size.
func (m *Modulus) Bytes(x *Nat) []byte { return x.Bytes(m.m) }

// IsZero reports whether x is zero (1) or not (0).
func (m *Modulus) IsZero(x *Nat) int { return int(x.IsZero()) }

// Public returns x as a big.Int; use it only for values that are public.
func (m *Modulus) Public(x *Nat) *big.Int { return new(big.Int).SetBytes(x.Bytes(m.m)) }
