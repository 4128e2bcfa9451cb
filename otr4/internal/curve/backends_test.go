package curve

// Differential tests, fuzz targets and benchmarks that run both backends
// (circlcurve and refcurve) in one binary, whatever the build tag.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"testing"

	circled448 "github.com/cloudflare/circl/sign/ed448"

	"github.com/otrchat/otrchat/otr4/internal/curve/internal/bigref"
	"github.com/otrchat/otrchat/otr4/internal/curve/internal/circlcurve"
	"github.com/otrchat/otrchat/otr4/internal/curve/internal/common"
	"github.com/otrchat/otrchat/otr4/internal/curve/internal/refcurve"
)

// The low-level set both backends implement.
type beScalar[S any] interface {
	*S
	SetReducedBytes([]byte)
	SetUint64(uint64)
	Bytes(*[common.ScalarSize]byte)
	Set(*S)
	Add(a, b *S)
	Sub(a, b *S)
	Mul(a, b *S)
	Neg(a *S)
	Equal(*S) int
	Wipe()
}

type bePoint[P, S any] interface {
	*P
	SetIdentity()
	SetGenerator()
	SetBytes([]byte) common.Status
	Bytes(*[common.PointSize]byte)
	Set(*P)
	Add(a, b *P)
	Sub(a, b *P)
	Neg(a *P)
	ScalarMult(s *S, a *P)
	ScalarBaseMult(s *S)
	VarTimeDoubleScalarBaseMult(a *S, A *P, b *S)
	Equal(*P) int
	IsIdentity() bool
}

// backendOps exposes a backend through byte encodings so that both can be
// compared; points passed in must be valid encodings.
type backendOps struct {
	name       string
	decode     func(b []byte) (enc []byte, st common.Status)
	add        func(a, b []byte) []byte
	sub        func(a, b []byte) []byte
	neg        func(a []byte) []byte
	equal      func(a, b []byte) int
	isIdentity func(a []byte) bool
	scalarMult func(s, a []byte) []byte
	baseMult   func(s []byte) []byte
	doubleMult func(a, A, b []byte) []byte // a*A + b*G
	reduce     func(b []byte) []byte
	scalarOp   func(op string, a, b []byte) []byte
	keygen     func(seed []byte) (sk, pub []byte)
	sign       func(seed, msg []byte) []byte
	verify     func(pub, msg, sig []byte) (decoded common.Status, ok bool)
}

func newBackendOps[S, P any, PS beScalar[S], PP bePoint[P, S]](name string,
	sign func(*[common.SignatureSize]byte, *S, []byte, []byte, []byte),
	verify func(*P, []byte, []byte) bool) *backendOps {
	pt := func(b []byte) *P {
		p := new(P)
		if b == nil {
			PP(p).SetIdentity()
			return p
		}
		if st := PP(p).SetBytes(b); st != common.OK {
			panic(fmt.Sprintf("%s: test passed an invalid point %x (%d)", name, b, st))
		}
		return p
	}
	enc := func(p *P) []byte {
		var b [common.PointSize]byte
		PP(p).Bytes(&b)
		return b[:]
	}
	sc := func(b []byte) *S {
		s := new(S)
		PS(s).SetReducedBytes(b)
		return s
	}
	senc := func(s *S) []byte {
		var b [common.ScalarSize]byte
		PS(s).Bytes(&b)
		return b[:]
	}
	keygen := func(seed []byte) (*S, []byte, []byte) {
		h := common.ExpandSeed(seed)
		common.Prune(h[:57])
		s := sc(h[:57])
		p := new(P)
		PP(p).ScalarBaseMult(s)
		return s, h[57:], enc(p)
	}
	return &backendOps{
		name: name,
		decode: func(b []byte) ([]byte, common.Status) {
			p := new(P)
			PP(p).SetGenerator()
			st := PP(p).SetBytes(b)
			if st != common.OK {
				var g P
				PP(&g).SetGenerator()
				if PP(p).Equal(&g) != 1 {
					panic(name + ": rejected input changed the receiver")
				}
				return nil, st
			}
			return enc(p), st
		},
		add: func(a, b []byte) []byte { r := new(P); PP(r).Add(pt(a), pt(b)); return enc(r) },
		sub: func(a, b []byte) []byte { r := new(P); PP(r).Sub(pt(a), pt(b)); return enc(r) },
		neg: func(a []byte) []byte { r := new(P); PP(r).Neg(pt(a)); return enc(r) },
		equal: func(a, b []byte) int {
			return PP(pt(a)).Equal(pt(b))
		},
		isIdentity: func(a []byte) bool { return PP(pt(a)).IsIdentity() },
		scalarMult: func(s, a []byte) []byte { r := new(P); PP(r).ScalarMult(sc(s), pt(a)); return enc(r) },
		baseMult:   func(s []byte) []byte { r := new(P); PP(r).ScalarBaseMult(sc(s)); return enc(r) },
		doubleMult: func(a, A, b []byte) []byte {
			r := new(P)
			PP(r).VarTimeDoubleScalarBaseMult(sc(a), pt(A), sc(b))
			return enc(r)
		},
		reduce: func(b []byte) []byte { return senc(sc(b)) },
		scalarOp: func(op string, a, b []byte) []byte {
			r := new(S)
			switch op {
			case "add":
				PS(r).Add(sc(a), sc(b))
			case "sub":
				PS(r).Sub(sc(a), sc(b))
			case "mul":
				PS(r).Mul(sc(a), sc(b))
			case "neg":
				PS(r).Neg(sc(a))
			case "set":
				PS(r).Set(sc(a))
			}
			return senc(r)
		},
		keygen: func(seed []byte) ([]byte, []byte) {
			s, _, pub := keygen(seed)
			return senc(s), pub
		},
		sign: func(seed, msg []byte) []byte {
			s, prefix, pub := keygen(seed)
			var sig [common.SignatureSize]byte
			sign(&sig, s, prefix, pub, msg)
			return sig[:]
		},
		verify: func(pub, msg, sig []byte) (common.Status, bool) {
			p := new(P)
			if st := PP(p).SetBytes(pub); st != common.OK {
				return st, false
			}
			return common.OK, verify(p, msg, sig)
		},
	}
}

var backends = []*backendOps{
	newBackendOps[circlcurve.Scalar, circlcurve.Point](circlcurve.Name, circlcurve.Sign, circlcurve.Verify),
	newBackendOps[refcurve.Scalar, refcurve.Point](refcurve.Name, refcurve.Sign, refcurve.Verify),
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// edgeScalars are encodings of 0, 1, 2, 4, 1/4, q-1, q-2, (q-1)/2 and a few
// random values.
func edgeScalars(t testing.TB) [][]byte {
	q := common.Q
	le := func(x *big.Int) []byte { return common.LittleEndian(x, common.ScalarSize) }
	quarter := new(big.Int).ModInverse(big.NewInt(4), q)
	out := [][]byte{
		le(big.NewInt(0)), le(big.NewInt(1)), le(big.NewInt(2)), le(big.NewInt(4)), le(quarter),
		le(new(big.Int).Sub(q, big.NewInt(1))), le(new(big.Int).Sub(q, big.NewInt(2))),
		le(new(big.Int).Rsh(q, 1)),
	}
	for i := 0; i < 4; i++ {
		out = append(out, le(randomBig(t, q)))
	}
	return out
}

// samplePoints returns valid encodings: G, 2G, -G, and random multiples.
func samplePoints(t testing.TB) [][]byte {
	G := bigref.Generator()
	out := [][]byte{bigref.Encode(G), bigref.Encode(bigref.Add(G, G)), bigref.Encode(bigref.Neg(G))}
	for i := 0; i < 3; i++ {
		out = append(out, bigref.Encode(bigref.ScalarMult(randomBig(t, common.Q), G)))
	}
	return out
}

// sameOutput runs f on every backend and requires identical results.
func sameOutput(t *testing.T, what string, f func(b *backendOps) string) {
	t.Helper()
	want := f(backends[0])
	for _, b := range backends[1:] {
		if got := f(b); got != want {
			t.Fatalf("%s: %s gives %s, %s gives %s", what, backends[0].name, want, b.name, got)
		}
	}
}

func TestBackendsAgreeDecoding(t *testing.T) {
	var inputs [][]byte
	pts := samplePoints(t)
	inputs = append(inputs, pts...)
	for _, p := range pts[:3] {
		P, _ := bigref.Decode(p)
		for _, T := range bigref.Torsion() {
			inputs = append(inputs, bigref.Encode(bigref.Add(P, T)))
		}
		for i := 0; i < 57*8; i += 13 { // bit flips
			b := bytes.Clone(p)
			b[i/8] ^= 1 << (i % 8)
			inputs = append(inputs, b)
		}
	}
	for _, T := range bigref.Torsion() {
		inputs = append(inputs, bigref.Encode(T))
	}
	inputs = append(inputs, make([]byte, 57), bytes.Repeat([]byte{0xff}, 57), nil, make([]byte, 56), make([]byte, 58),
		common.LittleEndian(common.P, 57), common.LittleEndian(new(big.Int).Add(common.P, big.NewInt(1)), 57))
	for i := 0; i < 40; i++ {
		b := randBytes(t, 57)
		if i%2 == 0 {
			b[56] &= 0x80
		}
		inputs = append(inputs, b)
	}
	valid := 0
	for _, in := range inputs {
		sameOutput(t, fmt.Sprintf("decode %x", in), func(b *backendOps) string {
			enc, st := b.decode(in)
			if st == common.OK {
				valid++
				if !bytes.Equal(enc, in) {
					t.Fatalf("%s: decode(%x) re-encodes as %x", b.name, in, enc)
				}
			}
			return fmt.Sprintf("%d %x", st, enc)
		})
		// The math/big model agrees on what is on the curve.
		_, st := backends[0].decode(in)
		_, onCurve := bigref.Decode(in)
		if onCurve != (st != common.Invalid) {
			t.Fatalf("decode(%x) = %d, but bigref on-curve = %v", in, st, onCurve)
		}
	}
	if valid < 2*len(pts) {
		t.Fatalf("only %d valid decodings", valid)
	}
}

func TestBackendsAgreeArithmetic(t *testing.T) {
	pts := samplePoints(t)
	scs := edgeScalars(t)
	for i, a := range pts {
		b := pts[(i+1)%len(pts)]
		sameOutput(t, "add", func(be *backendOps) string { return hex.EncodeToString(be.add(a, b)) })
		sameOutput(t, "add self", func(be *backendOps) string { return hex.EncodeToString(be.add(a, a)) })
		sameOutput(t, "add identity", func(be *backendOps) string { return hex.EncodeToString(be.add(a, nil)) })
		sameOutput(t, "sub", func(be *backendOps) string { return hex.EncodeToString(be.sub(a, b)) })
		sameOutput(t, "sub self", func(be *backendOps) string { return hex.EncodeToString(be.sub(a, a)) })
		sameOutput(t, "neg", func(be *backendOps) string { return hex.EncodeToString(be.neg(a)) })
		sameOutput(t, "equal", func(be *backendOps) string { return fmt.Sprint(be.equal(a, b), be.equal(a, a)) })
		sameOutput(t, "isIdentity", func(be *backendOps) string { return fmt.Sprint(be.isIdentity(a), be.isIdentity(nil)) })
		for j, s := range scs {
			s2 := scs[(j+3)%len(scs)]
			sameOutput(t, "scalarMult", func(be *backendOps) string { return hex.EncodeToString(be.scalarMult(s, a)) })
			sameOutput(t, "baseMult", func(be *backendOps) string { return hex.EncodeToString(be.baseMult(s)) })
			sameOutput(t, "doubleMult", func(be *backendOps) string { return hex.EncodeToString(be.doubleMult(s, a, s2)) })
		}
	}
	// Scalar arithmetic, including reduction of every length up to 130.
	for j, a := range scs {
		b := scs[(j*5+1)%len(scs)]
		for _, op := range []string{"add", "sub", "mul", "neg", "set"} {
			sameOutput(t, "scalar "+op, func(be *backendOps) string { return hex.EncodeToString(be.scalarOp(op, a, b)) })
		}
	}
	for n := 0; n <= 130; n++ {
		for _, in := range [][]byte{randBytes(t, n), bytes.Repeat([]byte{0xff}, n)} {
			sameOutput(t, fmt.Sprintf("reduce %d bytes", n), func(be *backendOps) string {
				r := be.reduce(in)
				want := new(big.Int).Mod(common.FromLittleEndian(in), common.Q)
				if common.FromLittleEndian(r).Cmp(want) != 0 || len(r) != 57 {
					t.Fatalf("%s: reduce(%x) = %x", be.name, in, r)
				}
				return hex.EncodeToString(r)
			})
		}
	}
}

func TestBackendsAgreeSignatures(t *testing.T) {
	for i := 0; i < 6; i++ {
		seed := randBytes(t, 57)
		msg := randBytes(t, i*37)
		ref := circled448.NewKeyFromSeed(seed)
		sameOutput(t, "keygen", func(be *backendOps) string {
			sk, pub := be.keygen(seed)
			if !bytes.Equal(pub, ref.Public().(circled448.PublicKey)) {
				t.Fatalf("%s: public key differs from circl sign/ed448", be.name)
			}
			return hex.EncodeToString(sk) + hex.EncodeToString(pub)
		})
		_, pub := backends[0].keygen(seed)
		sig := circled448.Sign(ref, msg, "")
		sameOutput(t, "sign", func(be *backendOps) string {
			got := be.sign(seed, msg)
			if !bytes.Equal(got, sig) {
				t.Fatalf("%s: signature differs from circl sign/ed448", be.name)
			}
			return hex.EncodeToString(got)
		})
		// Verify the signature, tampered copies and non-canonical S.
		cases := [][]byte{sig}
		for k := 0; k < 114; k += 19 {
			b := bytes.Clone(sig)
			b[k] ^= 0x40
			cases = append(cases, b)
		}
		sPlusQ := new(big.Int).Add(common.FromLittleEndian(sig[57:]), common.Q)
		cases = append(cases, append(bytes.Clone(sig[:57]), common.LittleEndian(sPlusQ, 57)...))
		for k, c := range cases {
			sameOutput(t, "verify", func(be *backendOps) string {
				st, ok := be.verify(pub, msg, c)
				if ok != (k == 0) {
					t.Fatalf("%s: verify case %d = %v", be.name, k, ok)
				}
				return fmt.Sprint(st, ok)
			})
		}
	}
}

// FuzzPointSetBytes: both backends classify every input alike, never panic,
// and an accepted input re-encodes to itself.
func FuzzPointSetBytes(f *testing.F) {
	for _, p := range samplePoints(f) {
		f.Add(p)
		P, _ := bigref.Decode(p)
		f.Add(bigref.Encode(bigref.Add(P, bigref.Torsion()[2])))
	}
	for _, T := range bigref.Torsion() {
		f.Add(bigref.Encode(T))
	}
	f.Add(make([]byte, 57))
	f.Add(bytes.Repeat([]byte{0xff}, 57))
	f.Add(common.LittleEndian(common.P, 57))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := NewGeneratorPoint()
		got, err := p.SetBytes(b)
		if err == nil {
			if got != p || !bytes.Equal(p.Bytes(), b) {
				t.Fatalf("accepted %x but re-encodes as %x", b, p.Bytes())
			}
		} else if got != nil || p.Equal(NewGeneratorPoint()) != 1 {
			t.Fatal("rejected input returned a point or changed the receiver")
		}
		var first string
		for i, be := range backends {
			enc, st := be.decode(b)
			s := fmt.Sprintf("%d %x", st, enc)
			if i == 0 {
				first = s
			} else if s != first {
				t.Fatalf("decode(%x): %s gives %s, %s gives %s", b, backends[0].name, first, be.name, s)
			}
		}
		_, onCurve := bigref.Decode(b)
		_, st := backends[0].decode(b)
		if onCurve != (st != common.Invalid) {
			t.Fatalf("decode(%x) = %d, bigref on-curve %v", b, st, onCurve)
		}
	})
}

// FuzzScalarSetCanonicalBytes: SetCanonicalBytes accepts exactly the 57-byte
// encodings below q and round-trips them; both backends reduce any input
// alike.
func FuzzScalarSetCanonicalBytes(f *testing.F) {
	for _, s := range edgeScalars(f) {
		f.Add(s)
	}
	f.Add(common.LittleEndian(common.Q, 57))
	f.Add(bytes.Repeat([]byte{0xff}, 57))
	f.Add(bytes.Repeat([]byte{0xff}, 114))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := new(Scalar).SetUint64(9)
		got, err := s.SetCanonicalBytes(b)
		canonical := len(b) == 57 && common.FromLittleEndian(b).Cmp(common.Q) < 0
		if (err == nil) != canonical {
			t.Fatalf("SetCanonicalBytes(%x) err = %v, canonical = %v", b, err, canonical)
		}
		if err == nil && (got != s || !bytes.Equal(s.Bytes(), b)) {
			t.Fatal("canonical scalar does not round-trip")
		}
		if err != nil && common.FromLittleEndian(s.Bytes()).Int64() != 9 {
			t.Fatal("rejected input changed the receiver")
		}
		want := common.LittleEndian(new(big.Int).Mod(common.FromLittleEndian(b), common.Q), 57)
		for _, be := range backends {
			if r := be.reduce(b); !bytes.Equal(r, want) {
				t.Fatalf("%s: reduce(%x) = %x, want %x", be.name, b, r, want)
			}
		}
	})
}

// FuzzVerify: both backends and circl's sign/ed448 agree on every (public
// key, message, signature), and nothing panics.
func FuzzVerify(f *testing.F) {
	for _, v := range loadRFC8032(f) {
		f.Add(v.public, v.message, v.sig)
		bad := bytes.Clone(v.sig)
		bad[60] ^= 1
		f.Add(v.public, v.message, bad)
	}
	f.Add(make([]byte, 57), []byte("m"), make([]byte, 114))
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		var first string
		for i, be := range backends {
			st, ok := be.verify(pub, msg, sig)
			s := fmt.Sprint(st, ok)
			if i == 0 {
				first = s
			} else if s != first {
				t.Fatalf("verify: %s gives %s, %s gives %s", backends[0].name, first, be.name, s)
			}
		}
		st, ok := backends[0].verify(pub, msg, sig)
		if st == common.OK {
			// Our checks are at least as strict as circl's sign/ed448, which
			// does no subgroup check on R or A; on subgroup keys they agree.
			if circl := circled448.Verify(circled448.PublicKey(pub), msg, sig, ""); circl != ok {
				t.Fatalf("verify = %v, circl sign/ed448 = %v", ok, circl)
			}
		}
		p, err := new(Point).SetBytes(pub)
		if (err == nil) != (st == common.OK) {
			t.Fatal("curve.SetBytes disagrees with the backend")
		}
		if err == nil && (Verify(p, msg, sig) == nil) != ok {
			t.Fatal("curve.Verify disagrees with the backend")
		}
	})
}
