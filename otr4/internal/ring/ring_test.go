package ring

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/otrchat/otrchat/otr4/internal/curve"
)

func keyPair(t testing.TB) (*curve.Scalar, *curve.Point) {
	s, err := curve.RandomScalar(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return s, curve.NewIdentityPoint().ScalarBaseMult(s)
}

// TestSignVerifyEveryPosition signs with the secret of each of the three
// ring members in turn; every signature verifies and survives encoding.
func TestSignVerifyEveryPosition(t *testing.T) {
	var sec [3]*curve.Scalar
	var pub [3]*curve.Point
	for i := range sec {
		sec[i], pub[i] = keyPair(t)
	}
	m := []byte("transcript")
	for i := range sec {
		sig, err := Sign(rand.Reader, sec[i], pub[0], pub[1], pub[2], m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(sig.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(pub[0], pub[1], pub[2], back, m); err != nil {
			t.Fatalf("position %d: %v", i, err)
		}
		// Another message, another ring order, or a flipped bit: rejected.
		if Verify(pub[0], pub[1], pub[2], back, []byte("other")) == nil {
			t.Fatal("signature verified over another message")
		}
		if Verify(pub[1], pub[0], pub[2], back, m) == nil {
			t.Fatal("signature verified with another ring order")
		}
		enc := sig.Marshal()
		for _, off := range []int{0, 57, 120, 300} {
			bad := append([]byte(nil), enc...)
			bad[off] ^= 1
			if s, err := Parse(bad); err == nil && Verify(pub[0], pub[1], pub[2], s, m) == nil {
				t.Fatalf("flipped byte %d still verifies", off)
			}
		}
	}
}

func TestSignerNotInRing(t *testing.T) {
	s, _ := keyPair(t)
	_, a := keyPair(t)
	_, b := keyPair(t)
	_, c := keyPair(t)
	if _, err := Sign(rand.Reader, s, a, b, c, nil); !errors.Is(err, ErrNotInRing) {
		t.Fatalf("got %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	if _, err := Parse(make([]byte, SignatureSize-1)); err == nil {
		t.Fatal("short signature accepted")
	}
	bad := make([]byte, SignatureSize)
	for i := 0; i < 57; i++ {
		bad[i] = 0xff // c1 >= q
	}
	if _, err := Parse(bad); err == nil {
		t.Fatal("non-canonical scalar accepted")
	}
}

func FuzzParseVerify(f *testing.F) {
	sec, pub := keyPair(f)
	_, b := keyPair(f)
	_, c := keyPair(f)
	sig, _ := Sign(rand.Reader, sec, pub, b, c, []byte("m"))
	f.Add(sig.Marshal())
	f.Add(make([]byte, SignatureSize))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := Parse(in)
		if err != nil {
			return
		}
		if string(s.Marshal()) != string(in) {
			t.Fatal("re-encoding differs")
		}
		_ = Verify(pub, b, c, s, []byte("m"))
	})
}

func BenchmarkSign(b *testing.B) {
	s, p := keyPair(b)
	_, q := keyPair(b)
	_, r := keyPair(b)
	for b.Loop() {
		Sign(rand.Reader, s, q, p, r, []byte("m"))
	}
}

func BenchmarkVerify(b *testing.B) {
	s, p := keyPair(b)
	_, q := keyPair(b)
	_, r := keyPair(b)
	sig, _ := Sign(rand.Reader, s, q, p, r, []byte("m"))
	for b.Loop() {
		Verify(q, p, r, sig, []byte("m"))
	}
}

// TestHashDomainsSeparate: a signature made with one challenge hash does
// not verify under another.
func TestHashDomainsSeparate(t *testing.T) {
	s, p := keyPair(t)
	_, b := keyPair(t)
	_, c := keyPair(t)
	other := Hash{Domain: "OTR-Prekey-Server", Usage: 0x11}
	sig, err := other.Sign(rand.Reader, s, p, b, c, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Verify(p, b, c, sig, []byte("m")); err != nil {
		t.Fatal(err)
	}
	if Verify(p, b, c, sig, []byte("m")) == nil {
		t.Fatal("prekey-server signature verified as an OTRv4 one")
	}
}
