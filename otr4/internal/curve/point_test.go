package curve

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/otrchat/otrchat/otr4/internal/curve/internal/bigref"
	"github.com/otrchat/otrchat/otr4/internal/curve/internal/common"
)

func mustRandomScalar(t testing.TB) *Scalar {
	t.Helper()
	s, err := RandomScalar(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomBig(t testing.TB, max *big.Int) *big.Int {
	t.Helper()
	k, err := rand.Int(rand.Reader, max)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func scalarFromBig(t testing.TB, k *big.Int) *Scalar {
	t.Helper()
	s, err := new(Scalar).SetCanonicalBytes(common.LittleEndian(k, ScalarSize))
	if err != nil {
		t.Fatalf("scalar %v: %v", k, err)
	}
	return s
}

func TestGeneratorAndIdentity(t *testing.T) {
	if got, want := NewGeneratorPoint().Bytes(), bigref.Encode(bigref.Generator()); !bytes.Equal(got, want) {
		t.Fatalf("G = %x, want %x", got, want)
	}
	if got := NewIdentityPoint().Bytes(); !bytes.Equal(got, common.IdentityEncoding[:]) {
		t.Fatalf("I = %x", got)
	}
	if !NewIdentityPoint().IsIdentity() || NewGeneratorPoint().IsIdentity() {
		t.Fatal("IsIdentity wrong")
	}
	// q*G = I.
	q := new(Scalar) // q mod q = 0; check (q-1)*G + G instead.
	qm1 := scalarFromBig(t, new(big.Int).Sub(common.Q, big.NewInt(1)))
	p := new(Point).ScalarBaseMult(qm1)
	if !p.Add(p, NewGeneratorPoint()).IsIdentity() {
		t.Fatal("(q-1)G + G != I")
	}
	if !new(Point).ScalarBaseMult(q).IsIdentity() {
		t.Fatal("0*G != I")
	}
}

// TestPointArithmeticAgainstBigRef compares every operation with the math/big
// affine model.
func TestPointArithmeticAgainstBigRef(t *testing.T) {
	G := bigref.Generator()
	for i := 0; i < 4; i++ {
		a := randomBig(t, common.Q)
		b := randomBig(t, common.Q)
		if i == 0 {
			a.SetInt64(1)
			b.SetInt64(2)
		}
		A := bigref.ScalarMult(a, G)
		B := bigref.ScalarMult(b, G)
		sa, sb := scalarFromBig(t, a), scalarFromBig(t, b)

		pa := new(Point).ScalarBaseMult(sa)
		if got := pa.Bytes(); !bytes.Equal(got, bigref.Encode(A)) {
			t.Fatalf("ScalarBaseMult(%v) = %x, want %x", a, got, bigref.Encode(A))
		}
		pb, err := new(Point).SetBytes(bigref.Encode(B))
		if err != nil {
			t.Fatal(err)
		}
		check := func(name string, got *Point, want bigref.Point) {
			t.Helper()
			if !bytes.Equal(got.Bytes(), bigref.Encode(want)) {
				t.Fatalf("%s = %x, want %x", name, got.Bytes(), bigref.Encode(want))
			}
		}
		check("Add", new(Point).Add(pa, pb), bigref.Add(A, B))
		check("Add(P,P)", new(Point).Add(pa, pa), bigref.Add(A, A))
		check("Subtract", new(Point).Subtract(pa, pb), bigref.Add(A, bigref.Neg(B)))
		check("Negate", new(Point).Negate(pa), bigref.Neg(A))
		check("ScalarMult", new(Point).ScalarMult(sa, pb), bigref.ScalarMult(a, B))
		ab := new(big.Int).Mul(a, b)
		ab.Mod(ab, common.Q)
		check("ScalarMult(a, bG)", new(Point).ScalarMult(sa, pb), bigref.ScalarMult(ab, G))
		// a*B + b*G
		check("VarTimeDoubleScalarBaseMult", new(Point).VarTimeDoubleScalarBaseMult(sa, pb, sb),
			bigref.Add(bigref.ScalarMult(a, B), B))
		// Aliasing: receiver is an argument.
		x := new(Point).Set(pa)
		check("aliased Add", x.Add(x, x), bigref.Add(A, A))
		y := new(Point).Set(pb)
		check("aliased ScalarMult", y.ScalarMult(sa, y), bigref.ScalarMult(a, B))
		if pa.Equal(new(Point).Set(pa)) != 1 || pa.Equal(pb) != 0 {
			t.Fatal("Equal wrong")
		}
		// Equal on differently-computed representations of the same point.
		if new(Point).Add(pa, pb).Equal(new(Point).Add(pb, pa)) != 1 {
			t.Fatal("a+b != b+a")
		}
		if !new(Point).Subtract(pa, pa).IsIdentity() {
			t.Fatal("a-a is not the identity")
		}
	}
}

// TestPointSetBytesRejects covers each rule of "Verifying that a point is on
// the curve" and of RFC 8032 decoding.
func TestPointSetBytesRejects(t *testing.T) {
	G := bigref.Generator()
	g := bigref.Encode(G)
	pMinus1 := new(big.Int).Sub(common.P, big.NewInt(1))
	enc := func(y *big.Int, sign byte) []byte {
		b := common.LittleEndian(y, PointSize)
		b[PointSize-1] |= sign << 7
		return b
	}
	// An off-curve y: no square root of (y^2-1)/(dy^2-1).
	var offCurve []byte
	for y := int64(2); ; y++ {
		b := enc(big.NewInt(y), 0)
		if common.CheckEncoding(b) == common.Invalid {
			offCurve = b
			break
		}
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrInvalidPoint},
		{"56 bytes", g[:56], ErrInvalidPoint},
		{"58 bytes", append(bytes.Clone(g), 0), ErrInvalidPoint},
		{"y = p", enc(common.P, 0), ErrInvalidPoint},
		{"y = p+1 (non-canonical identity)", enc(new(big.Int).Add(common.P, big.NewInt(1)), 0), ErrInvalidPoint},
		{"y = 2^448-1", enc(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 448), big.NewInt(1)), 0), ErrInvalidPoint},
		{"padding bit set", func() []byte { b := bytes.Clone(g); b[56] |= 0x01; return b }(), ErrInvalidPoint},
		{"x = 0 with sign bit (identity)", enc(big.NewInt(1), 1), ErrInvalidPoint},
		{"x = 0 with sign bit (order 2)", enc(pMinus1, 1), ErrInvalidPoint},
		{"off curve", offCurve, ErrInvalidPoint},
		{"off curve with sign", func() []byte { b := bytes.Clone(offCurve); b[56] |= 0x80; return b }(), ErrInvalidPoint},
		{"identity", enc(big.NewInt(1), 0), ErrIdentityPoint},
		{"order 2 (0,-1)", enc(pMinus1, 0), ErrSmallOrder},
		{"order 4 (1,0)", bigref.Encode(bigref.Torsion()[2]), ErrSmallOrder},
		{"order 4 (-1,0)", bigref.Encode(bigref.Torsion()[3]), ErrSmallOrder},
	}
	for i, T := range bigref.Torsion()[1:] {
		cases = append(cases, struct {
			name string
			b    []byte
			want error
		}{"G + torsion " + string(rune('1'+i)), bigref.Encode(bigref.Add(G, T)), ErrSmallOrder})
		k := randomBig(t, common.Q)
		cases = append(cases, struct {
			name string
			b    []byte
			want error
		}{"kG + torsion " + string(rune('1'+i)), bigref.Encode(bigref.Add(bigref.ScalarMult(k, G), T)), ErrSmallOrder})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := NewGeneratorPoint()
			before := p.Bytes()
			got, err := p.SetBytes(c.b)
			if !errors.Is(err, c.want) || got != nil {
				t.Fatalf("SetBytes(%x) = %v, %v; want nil, %v", c.b, got, err, c.want)
			}
			if !bytes.Equal(p.Bytes(), before) {
				t.Fatal("rejected input changed the receiver")
			}
		})
	}
	// Accepts canonical subgroup points and round-trips them.
	for i := 0; i < 3; i++ {
		P := bigref.ScalarMult(randomBig(t, common.Q), G)
		b := bigref.Encode(P)
		p, err := new(Point).SetBytes(b)
		if err != nil {
			t.Fatalf("SetBytes(%x): %v", b, err)
		}
		if !bytes.Equal(p.Bytes(), b) {
			t.Fatal("round trip differs")
		}
	}
}

// TestPointBytesDoesNotMutate runs Bytes from many goroutines on a point that
// is not normalised; with -race it catches in-place normalisation.
func TestPointBytesDoesNotMutate(t *testing.T) {
	p := new(Point).Add(NewGeneratorPoint(), NewGeneratorPoint())
	p.Add(p, NewGeneratorPoint())
	want := p.Bytes()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if !bytes.Equal(p.Bytes(), want) {
					t.Error("Bytes differs")
					return
				}
				_ = p.IsIdentity()
				_ = p.Equal(p)
			}
		}()
	}
	wg.Wait()
}

func TestScalarMultRandomMatchesBase(t *testing.T) {
	s := mustRandomScalar(t)
	G := NewGeneratorPoint()
	a := new(Point).ScalarMult(s, G)
	b := new(Point).ScalarBaseMult(s)
	c := new(Point).VarTimeDoubleScalarBaseMult(new(Scalar), G, s)
	d := new(Point).VarTimeDoubleScalarBaseMult(s, G, new(Scalar))
	if a.Equal(b) != 1 || a.Equal(c) != 1 || a.Equal(d) != 1 {
		t.Fatal("s*G differs between ScalarMult, ScalarBaseMult and VarTimeDoubleScalarBaseMult")
	}
}
