package curve

import (
	"bytes"
	"crypto/rand"
	"crypto/sha3"
	"errors"
	"math/big"
	"testing"
	"testing/iotest"

	"github.com/otrchat/otrchat/otr4/internal/curve/internal/common"
)

func bigOf(s *Scalar) *big.Int { return common.FromLittleEndian(s.Bytes()) }

func TestScalarSetCanonicalBytes(t *testing.T) {
	q := common.Q
	le := func(x *big.Int) []byte { return common.LittleEndian(x, ScalarSize) }
	one := big.NewInt(1)
	accept := []*big.Int{big.NewInt(0), one, new(big.Int).Sub(q, one), new(big.Int).Rsh(q, 1)}
	for _, x := range accept {
		s, err := new(Scalar).SetCanonicalBytes(le(x))
		if err != nil {
			t.Fatalf("%v rejected: %v", x, err)
		}
		if !bytes.Equal(s.Bytes(), le(x)) {
			t.Fatalf("%v round trip = %x", x, s.Bytes())
		}
	}
	allOnes := bytes.Repeat([]byte{0xff}, ScalarSize)
	topByte := le(one)
	topByte[56] = 1
	reject := map[string][]byte{
		"q":             le(q),
		"q+1":           le(new(big.Int).Add(q, one)),
		"2q":            le(new(big.Int).Lsh(q, 1)),
		"2^448-1":       le(new(big.Int).Sub(new(big.Int).Lsh(one, 448), one)),
		"last byte set": topByte,
		"all ones":      allOnes,
		"56 bytes":      make([]byte, 56),
		"58 bytes":      make([]byte, 58),
		"empty":         nil,
	}
	for name, b := range reject {
		s := new(Scalar).SetUint64(7)
		got, err := s.SetCanonicalBytes(b)
		if got != nil || !errors.Is(err, ErrInvalidScalar) {
			t.Errorf("%s: got %v, %v", name, got, err)
		}
		if bigOf(s).Int64() != 7 {
			t.Errorf("%s: rejected input changed the receiver", name)
		}
	}
}

func TestScalarArithmeticAgainstBig(t *testing.T) {
	q := common.Q
	mod := func(x *big.Int) *big.Int { return x.Mod(x, q) }
	edge := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(2), new(big.Int).Sub(q, big.NewInt(1)), new(big.Int).Sub(q, big.NewInt(2))}
	var vals []*big.Int
	vals = append(vals, edge...)
	for i := 0; i < 20; i++ {
		vals = append(vals, randomBig(t, q))
	}
	for i, x := range vals {
		y := vals[(i*7+3)%len(vals)]
		sx, sy := scalarFromBig(t, x), scalarFromBig(t, y)
		check := func(name string, got *Scalar, want *big.Int) {
			t.Helper()
			if bigOf(got).Cmp(want) != 0 {
				t.Fatalf("%s(%v, %v) = %v, want %v", name, x, y, bigOf(got), want)
			}
			if got.Bytes()[56] != 0 {
				t.Fatalf("%s: last byte not zero", name)
			}
		}
		check("Add", new(Scalar).Add(sx, sy), mod(new(big.Int).Add(x, y)))
		check("Subtract", new(Scalar).Subtract(sx, sy), mod(new(big.Int).Sub(x, y)))
		check("Multiply", new(Scalar).Multiply(sx, sy), mod(new(big.Int).Mul(x, y)))
		check("Negate", new(Scalar).Negate(sx), mod(new(big.Int).Neg(x)))
		check("Set", new(Scalar).Set(sx), x)
		a := new(Scalar).Set(sx)
		check("aliased Multiply", a.Multiply(a, a), mod(new(big.Int).Mul(x, x)))
		if sx.Equal(scalarFromBig(t, x)) != 1 || (x.Cmp(y) != 0 && sx.Equal(sy) != 0) {
			t.Fatal("Equal wrong")
		}
		if sx.IsZero() != (x.Sign() == 0) {
			t.Fatal("IsZero wrong")
		}
	}
	v := uint64(0xfedcba9876543210)
	if bigOf(new(Scalar).SetUint64(v)).Cmp(new(big.Int).SetUint64(v)) != 0 {
		t.Fatal("SetUint64 wrong")
	}
}

func TestScalarSetUniformBytes(t *testing.T) {
	for n := 0; n <= 130; n++ {
		for _, fill := range []byte{0xff, 0x00, 0x5a} {
			b := make([]byte, n)
			if fill == 0x5a {
				rand.Read(b)
			} else {
				for i := range b {
					b[i] = fill
				}
			}
			want := new(big.Int).Mod(common.FromLittleEndian(b), common.Q)
			if got := bigOf(new(Scalar).SetUniformBytes(b)); got.Cmp(want) != 0 {
				t.Fatalf("len %d fill %#x: got %v want %v", n, fill, got, want)
			}
		}
	}
}

func TestRandomScalarAndPruning(t *testing.T) {
	// Deterministic reader: the result must follow the spec's recipe.
	v := bytes.Repeat([]byte{0x42}, ScalarSize)
	s, err := RandomScalar(bytes.NewReader(v))
	if err != nil {
		t.Fatal(err)
	}
	h := sha3.SumSHAKE256(v, ScalarSize)
	h[0] &= 0xfc
	h[56] = 0
	h[55] |= 0x80
	want := new(big.Int).Mod(common.FromLittleEndian(h), common.Q)
	if bigOf(s).Cmp(want) != 0 {
		t.Fatalf("RandomScalar = %v, want %v", bigOf(s), want)
	}
	// PrunedScalar does not modify its input.
	in := bytes.Repeat([]byte{0xff}, ScalarSize)
	ps := PrunedScalar(in)
	if !bytes.Equal(in, bytes.Repeat([]byte{0xff}, ScalarSize)) {
		t.Fatal("PrunedScalar modified its input")
	}
	pr := bytes.Repeat([]byte{0xff}, ScalarSize)
	pr[0], pr[56] = 0xfc, 0
	if bigOf(ps).Cmp(new(big.Int).Mod(common.FromLittleEndian(pr), common.Q)) != 0 {
		t.Fatal("PrunedScalar wrong")
	}
	// Short reads and reader errors are reported.
	if _, err := RandomScalar(bytes.NewReader(v[:10])); err == nil {
		t.Fatal("short randomness accepted")
	}
	if _, err := RandomScalar(iotest.ErrReader(errors.New("boom"))); err == nil {
		t.Fatal("reader error ignored")
	}
	a, b := mustRandomScalar(t), mustRandomScalar(t)
	if a.Equal(b) == 1 || a.IsZero() {
		t.Fatal("RandomScalar repeated itself")
	}
	a.Wipe()
	if !a.IsZero() {
		t.Fatal("Wipe did not zero")
	}
}

func TestKeys(t *testing.T) {
	if _, err := NewKeyFromSeed(make([]byte, 56)); !errors.Is(err, ErrInvalidSeed) {
		t.Fatalf("56-byte seed: %v", err)
	}
	if _, err := GenerateKey(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Fatal("short randomness accepted")
	}
	k, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := NewKeyFromSeed(k.Seed())
	if err != nil || !bytes.Equal(k2.PublicBytes(), k.PublicBytes()) {
		t.Fatal("key not reproducible from its seed")
	}
	msg := []byte("otrv4")
	sig := k.Sign(msg)
	if err := Verify(k.Public(), msg, sig); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sig, k2.Sign(msg)) {
		t.Fatal("signing is not deterministic")
	}
	// Returned values are copies.
	k.Public().Add(NewGeneratorPoint(), NewGeneratorPoint())
	k.Scalar().SetUint64(1)
	k.Seed()[0] ^= 1
	k.PublicBytes()[0] ^= 1
	if !bytes.Equal(k.PublicBytes(), k2.PublicBytes()) || k.Scalar().Equal(k2.Scalar()) != 1 || !bytes.Equal(k.Seed(), k2.Seed()) {
		t.Fatal("accessor exposed internal state")
	}
	// The key's scalar is the pruned lower half of SHAKE-256(seed, 114).
	h := sha3.SumSHAKE256(k.Seed(), 114)
	if PrunedScalar(h[:57]).Equal(k.Scalar()) != 1 {
		t.Fatal("Scalar is not the pruned hash")
	}
	// Verifying against the identity is rejected.
	if err := Verify(NewIdentityPoint(), msg, sig); !errors.Is(err, ErrInvalidSignature) {
		t.Fatal("identity public key accepted")
	}
	k.Wipe()
	if !k.Scalar().IsZero() || !bytes.Equal(k.Seed(), make([]byte, SeedSize)) {
		t.Fatal("Wipe left secrets")
	}
}
