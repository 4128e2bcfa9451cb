// Copyright 2026 The otrchat Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package bigmod

// otrchat's tests of the 3072-bit path: differential tests against math/big
// for Exp, MontgomeryMul (multiplication and in-place squaring), ToMontgomery
// and FromMontgomery, at the sizes OTRv4 uses, and the absence of heap
// allocation. They run the same with -tags purego, where addMulVVW3072 is the
// generic Go loop.

import (
	"bytes"
	"flag"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"
)

var longExp = flag.Bool("bigmod.long", false, "test Exp with exponents of every bit length up to 3072 (slow)")

// rfc3526 is the 3072-bit MODP prime of RFC 3526 (OTRv4's dh_p).
const rfc3526 = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1" +
	"29024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245" +
	"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D" +
	"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
	"83655D23DCA3AD961C62F356208552BB9ED529077096966D" +
	"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
	"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9" +
	"DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
	"15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64" +
	"ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
	"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B" +
	"F12FFA06D98A0864D87602733EC86A64521F2B18177B200C" +
	"BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31" +
	"43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"

type testModulus struct {
	name string
	n    *big.Int
	m    *Modulus
}

// testModuli returns 3072-bit-sized odd moduli that exercise different top
// limbs: dh_p, dh_q = (dh_p-1)/2 (3071 bits), 2^3072-1 (all ones) and a
// random odd 3072-bit number.
func testModuli(t testing.TB) []testModulus {
	p, _ := new(big.Int).SetString(rfc3526, 16)
	q := new(big.Int).Rsh(p, 1)
	ones := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 3072), big.NewInt(1))
	r := mrand.New(mrand.NewPCG(3072, 1))
	rb := make([]byte, 384)
	for i := range rb {
		rb[i] = byte(r.Uint32())
	}
	rb[0] |= 0x80
	rb[383] |= 1
	rnd := new(big.Int).SetBytes(rb)
	var out []testModulus
	for _, c := range []struct {
		name string
		n    *big.Int
	}{{"dh_p", p}, {"dh_q", q}, {"2^3072-1", ones}, {"random", rnd}} {
		m, err := NewModulus(c.n.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if len(m.nat.limbs) != 3072/_W {
			t.Fatalf("%s has %d limbs", c.name, len(m.nat.limbs))
		}
		out = append(out, testModulus{c.name, c.n, m})
	}
	return out
}

// testValues returns the edge values 0, 1, 2, all ones below the modulus'
// bit length, m-1 and m-2, then n random values below n.
func testValues(r *mrand.Rand, n *big.Int, count int) []*big.Int {
	one := big.NewInt(1)
	allOnes := new(big.Int).Sub(new(big.Int).Lsh(one, uint(n.BitLen())), one)
	if allOnes.Cmp(n) >= 0 {
		allOnes.Rsh(allOnes, 1)
	}
	vals := []*big.Int{
		big.NewInt(0), big.NewInt(1), big.NewInt(2), allOnes,
		new(big.Int).Sub(n, one), new(big.Int).Sub(n, big.NewInt(2)),
		new(big.Int).Rsh(n, 1), // about half
	}
	buf := make([]byte, (n.BitLen()+7)/8+8)
	for range count {
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		vals = append(vals, new(big.Int).Mod(new(big.Int).SetBytes(buf), n))
	}
	return vals
}

func natFor(t testing.TB, x *big.Int, m *Modulus) *Nat {
	n, err := NewNat().SetBytes(x.Bytes(), m)
	if err != nil {
		t.Fatalf("SetBytes(%x): %v", x, err)
	}
	return n
}

func natToBig(x *Nat, m *Modulus) *big.Int { return new(big.Int).SetBytes(x.Bytes(m)) }

func TestMontgomery3072(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 3072))
	for _, tm := range testModuli(t) {
		t.Run(tm.name, func(t *testing.T) {
			R := new(big.Int).Lsh(big.NewInt(1), 3072)
			rInv := new(big.Int).ModInverse(R, tm.n)
			vals := testValues(r, tm.n, 24)
			for i, a := range vals {
				// ToMontgomery and FromMontgomery.
				aR := new(big.Int).Mod(new(big.Int).Mul(a, R), tm.n)
				x := natFor(t, a, tm.m).ToMontgomery(tm.m)
				if got := natToBig(x, tm.m); got.Cmp(aR) != 0 {
					t.Fatalf("ToMontgomery(%x) = %x, want %x", a, got, aR)
				}
				if got := natToBig(x.FromMontgomery(tm.m), tm.m); got.Cmp(a) != 0 {
					t.Fatalf("FromMontgomery(ToMontgomery(%x)) = %x", a, got)
				}
				// Squaring in place: x = x*x/R.
				want := new(big.Int).Mul(a, a)
				want.Mul(want, rInv).Mod(want, tm.n)
				x = natFor(t, a, tm.m)
				if got := natToBig(x.MontgomeryMul(x, x, tm.m), tm.m); got.Cmp(want) != 0 {
					t.Fatalf("square of %x = %x, want %x", a, got, want)
				}
				// Multiplication by every other value (and by itself through
				// two distinct Nats), into a third Nat and in place.
				for _, b := range vals[i:] {
					want := new(big.Int).Mul(a, b)
					want.Mul(want, rInv).Mod(want, tm.n)
					an, bn := natFor(t, a, tm.m), natFor(t, b, tm.m)
					if got := natToBig(NewNat().MontgomeryMul(an, bn, tm.m), tm.m); got.Cmp(want) != 0 {
						t.Fatalf("MontgomeryMul(%x, %x) = %x, want %x", a, b, got, want)
					}
					if got := natToBig(bn.MontgomeryMul(an, bn, tm.m), tm.m); got.Cmp(want) != 0 {
						t.Fatalf("in-place MontgomeryMul(%x, %x) = %x, want %x", a, b, got, want)
					}
					// Mul (out of the Montgomery domain) against a*b mod n.
					plain := new(big.Int).Mul(a, b)
					plain.Mod(plain, tm.n)
					if got := natToBig(natFor(t, a, tm.m).Mul(natFor(t, b, tm.m), tm.m), tm.m); got.Cmp(plain) != 0 {
						t.Fatalf("Mul(%x, %x) = %x, want %x", a, b, got, plain)
					}
				}
			}
		})
	}
}

// expCase checks Exp(base, e) against math/big for one exponent.
func expCase(t *testing.T, tm testModulus, base *big.Int, e []byte) {
	t.Helper()
	want := new(big.Int).Exp(base, new(big.Int).SetBytes(e), tm.n)
	got := natToBig(NewNat().Exp(natFor(t, base, tm.m), e, tm.m), tm.m)
	if got.Cmp(want) != 0 {
		t.Fatalf("%x^%x mod %s = %x, want %x", base, e, tm.name, got, want)
	}
}

// exponentOfBits returns a random exponent of exactly bits bits (0 gives
// zero), in a big-endian slice of (bits+7)/8 bytes, or all ones if ones.
func exponentOfBits(r *mrand.Rand, bits int, ones bool) []byte {
	e := make([]byte, (bits+7)/8)
	for i := range e {
		e[i] = byte(r.Uint32())
		if ones {
			e[i] = 0xff
		}
	}
	if bits == 0 {
		return e
	}
	top := uint(bits-1) % 8
	e[0] &= byte(1<<(top+1) - 1)
	e[0] |= 1 << top
	return e
}

// TestExp3072 compares Exp with math/big's Exp on the edge and random bases,
// for exponents of every byte length from 0 to 384 (every 7th with -short;
// the top bit of each length at a different position, random and all-ones
// contents, plus leading zero bytes), and of every bit length up to 200 and
// from 632 to 648 (OTRv4's exponents have 640). -bigmod.long tries every bit
// length up to 3072.
func TestExp3072(t *testing.T) {
	r := mrand.New(mrand.NewPCG(2, 3072))
	mods := testModuli(t)
	p := mods[0]
	bases := testValues(r, p.n, 4)

	// Edge bases with edge exponents, on every modulus.
	for _, tm := range mods {
		for _, base := range testValues(r, tm.n, 1) {
			for _, e := range [][]byte{nil, {0}, {1}, {2}, {0, 0, 1}, bytes.Repeat([]byte{0xff}, 80), bytes.Repeat([]byte{0xff}, 384),
				new(big.Int).Sub(tm.n, big.NewInt(1)).Bytes(), tm.n.Bytes()} {
				expCase(t, tm, base, e)
			}
		}
	}

	// Every bit length up to 200 and around OTRv4's 640 (up to 3072 with
	// -bigmod.long).
	for bits := 0; bits <= 3072; bits++ {
		if !*longExp && bits > 200 && (bits < 632 || bits > 648) {
			continue
		}
		expCase(t, p, bases[7+bits%4], exponentOfBits(r, bits, false))
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	for nbytes := 0; nbytes <= 384; nbytes += step {
		bits := 8*nbytes - nbytes%8
		if nbytes == 0 {
			bits = 0
		}
		base := bases[(nbytes)%len(bases)]
		expCase(t, p, base, exponentOfBits(r, bits, false))
		if nbytes%32 == 0 {
			expCase(t, p, base, exponentOfBits(r, 8*nbytes, true))
			expCase(t, p, base, append(make([]byte, 3), exponentOfBits(r, bits, false)...))
		}
	}
}

// TestAddMulVVW3072Paths checks the amd64 routine's ADX and MULQ paths (or
// the generic one elsewhere) against addMulVVW on random and extreme inputs.
func TestAddMulVVW3072Paths(t *testing.T) {
	const n = 3072 / _W
	r := mrand.New(mrand.NewPCG(4, 3072))
	rnd := func() []uint {
		x := make([]uint, n)
		for i := range x {
			x[i] = uint(r.Uint64())
		}
		return x
	}
	paths := []bool{false}
	if adxSwitch != nil && *adxSwitch {
		paths = append(paths, true)
		defer func() { *adxSwitch = true }()
	}
	for _, adx := range paths {
		if adxSwitch != nil {
			*adxSwitch = adx
		}
		t.Run(fmt.Sprintf("adx=%v", adx), func(t *testing.T) {
			for i := range 200 {
				x, z, y := rnd(), rnd(), uint(r.Uint64())
				switch i {
				case 0:
					x, z, y = makeTestValue(3072), makeTestValue(3072), ^uint(0)
				case 1:
					x, z, y = make([]uint, n), makeTestValue(3072), ^uint(0)
				case 2:
					y = 0
				}
				z2 := slices.Clone(z)
				c := addMulVVW(z, x, y)
				c2 := addMulVVW3072(&z2[0], &x[0], y)
				if !slices.Equal(z, z2) || c != c2 {
					t.Fatalf("case %d: addMulVVW3072 disagrees with addMulVVW", i)
				}
			}
		})
	}
}

// TestNoAllocation3072 checks that the 3072-bit operations OTRv4's DH uses
// do not allocate, once their operands exist.
func TestNoAllocation3072(t *testing.T) {
	tm := testModuli(t)[0]
	x := natFor(t, big.NewInt(5), tm.m)
	y := natFor(t, new(big.Int).Rsh(tm.n, 3), tm.m)
	out := NewNat().ExpandFor(tm.m)
	e := bytes.Repeat([]byte{0xa5}, 80)
	for name, f := range map[string]func(){
		"MontgomeryMul":  func() { out.MontgomeryMul(x, y, tm.m) },
		"ToMontgomery":   func() { out.Assign(1, x).ToMontgomery(tm.m) },
		"FromMontgomery": func() { out.Assign(1, y).FromMontgomery(tm.m) },
		"Mul":            func() { out.Assign(1, x).Mul(y, tm.m) },
		"Exp":            func() { out.Exp(x, e, tm.m) },
	} {
		if a := testing.AllocsPerRun(5, f); a != 0 {
			t.Errorf("%s allocates %v times per call", name, a)
		}
	}
}

// TestAddMulVVWn checks the run-time-length routine of the squaring, on both
// amd64 paths, for every length from 0 to 64 against addMulVVW, with random
// and all-ones inputs; the words past n must stay untouched.
func TestAddMulVVWn(t *testing.T) {
	r := mrand.New(mrand.NewPCG(5, 3072))
	paths := []bool{false}
	if adxSwitch != nil && *adxSwitch {
		paths = append(paths, true)
		defer func() { *adxSwitch = true }()
	}
	for _, adx := range paths {
		if adxSwitch != nil {
			*adxSwitch = adx
		}
		for n := 0; n <= 64; n++ {
			for k := range 6 {
				x, z := make([]uint, n+1), make([]uint, n+1)
				y := uint(r.Uint64())
				for i := range x {
					x[i], z[i] = uint(r.Uint64()), uint(r.Uint64())
					if k == 0 {
						x[i], z[i], y = ^uint(0), ^uint(0), ^uint(0)
					}
				}
				z2 := slices.Clone(z)
				var c uint
				if n > 0 {
					c = addMulVVW(z[:n], x[:n], y)
				}
				c2 := addMulVVWn(&z2[0], &x[0], y, n)
				if !slices.Equal(z, z2) || c != c2 {
					t.Fatalf("adx=%v n=%d case %d: addMulVVWn disagrees with addMulVVW", adx, n, k)
				}
			}
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMontgomery3072 times one multiplication and one squaring modulo
// dh_p, with process CPU per operation (cpu-ns/op) next to wall time.
func BenchmarkMontgomery3072(b *testing.B) {
	tm := testModuli(b)[0]
	x := natFor(b, new(big.Int).Rsh(tm.n, 3), tm.m)
	y := natFor(b, new(big.Int).Rsh(tm.n, 5), tm.m)
	out := NewNat().ExpandFor(tm.m)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"mul", func() { out.MontgomeryMul(x, y, tm.m) }},
		{"square", func() { out.MontgomeryMul(x, x, tm.m) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			start := cpuTime()
			for b.Loop() {
				c.f()
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// FuzzMontgomery3072 compares MontgomeryMul, its in-place squaring and Exp
// modulo dh_p with math/big on fuzzed operands (reduced mod p) and exponents.
func FuzzMontgomery3072(f *testing.F) {
	f.Add([]byte{2}, []byte{3}, []byte{1, 0})
	f.Add(bytes.Repeat([]byte{0xff}, 384), bytes.Repeat([]byte{0xff}, 384), bytes.Repeat([]byte{0xff}, 80))
	f.Add([]byte{}, []byte{1}, []byte{})
	tm := testModuli(f)[0]
	R := new(big.Int).Lsh(big.NewInt(1), 3072)
	rInv := new(big.Int).ModInverse(R, tm.n)
	f.Fuzz(func(t *testing.T, ab, bb, e []byte) {
		if len(ab) > 400 || len(bb) > 400 || len(e) > 400 {
			return
		}
		a := new(big.Int).Mod(new(big.Int).SetBytes(ab), tm.n)
		b := new(big.Int).Mod(new(big.Int).SetBytes(bb), tm.n)
		want := new(big.Int).Mul(a, b)
		want.Mul(want, rInv).Mod(want, tm.n)
		if got := natToBig(NewNat().MontgomeryMul(natFor(t, a, tm.m), natFor(t, b, tm.m), tm.m), tm.m); got.Cmp(want) != 0 {
			t.Fatalf("MontgomeryMul(%x, %x) = %x, want %x", a, b, got, want)
		}
		sq := new(big.Int).Mul(a, a)
		sq.Mul(sq, rInv).Mod(sq, tm.n)
		x := natFor(t, a, tm.m)
		if got := natToBig(x.MontgomeryMul(x, x, tm.m), tm.m); got.Cmp(sq) != 0 {
			t.Fatalf("square of %x = %x, want %x", a, got, sq)
		}
		expWant := new(big.Int).Exp(a, new(big.Int).SetBytes(e), tm.n)
		if got := natToBig(NewNat().Exp(natFor(t, a, tm.m), e, tm.m), tm.m); got.Cmp(expWant) != 0 {
			t.Fatalf("%x^%x = %x, want %x", a, e, got, expWant)
		}
	})
}
