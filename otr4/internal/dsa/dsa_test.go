package dsa

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"

	"github.com/otrchat/otrchat/otr4/internal/wire"
)

var key = func() *PrivateKey {
	k, err := GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}()

func TestSignVerify(t *testing.T) {
	msg := bytes.Repeat([]byte{0xab}, 32)
	for i := 0; i < 20; i++ {
		sig, err := key.Sign(rand.Reader, msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := key.Public().Verify(msg, sig); err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), sig...)
		bad[i%len(bad)] ^= 1
		if err := key.Public().Verify(msg, bad); !errors.Is(err, ErrSignature) {
			t.Fatal("tampered signature verifies")
		}
		if err := key.Public().Verify(append([]byte{1}, msg...), sig); !errors.Is(err, ErrSignature) {
			t.Fatal("signature verifies another message")
		}
	}
}

// TestSignMatchesReference checks s against the textbook formula with
// math/big for a known nonce.
func TestSignMatchesReference(t *testing.T) {
	k := big.NewInt(123456789)
	kb := k.FillBytes(make([]byte, QSize+8))
	msg := []byte("thirty-two bytes of hmac output!")
	sig, err := key.Sign(bytes.NewReader(kb), msg)
	if err != nil {
		t.Fatal(err)
	}
	r := new(big.Int).Exp(key.G, k, key.P)
	r.Mod(r, key.Q)
	x := new(big.Int).SetBytes(key.X())
	s := new(big.Int).Mul(x, r)
	s.Add(s, new(big.Int).SetBytes(msg))
	s.Mul(s, new(big.Int).ModInverse(k, key.Q))
	s.Mod(s, key.Q)
	want := append(r.FillBytes(make([]byte, QSize)), s.FillBytes(make([]byte, QSize))...)
	if !bytes.Equal(sig, want) {
		t.Fatalf("sig %x, want %x", sig, want)
	}
}

func TestPublicKeyEncoding(t *testing.T) {
	b := key.Public().Marshal()
	k, err := Parse(b)
	if err != nil || !k.Equal(key.Public()) {
		t.Fatal(err)
	}
	if k.Fingerprint() != key.Fingerprint() {
		t.Fatal("fingerprint")
	}
	bad := append([]byte{0, 1}, b[2:]...)
	if _, err := Parse(bad); !errors.Is(err, ErrMalformedKey) {
		t.Fatal("key type 1 accepted")
	}
	small := &PublicKey{P: key.P, Q: key.Q, G: big.NewInt(1), Y: key.Y}
	if _, err := Parse(small.Marshal()); !errors.Is(err, ErrMalformedKey) {
		t.Fatal("g = 1 accepted")
	}
	if _, err := NewPrivateKey(*key.Public(), []byte{1}); err == nil {
		t.Fatal("x does not match y, accepted")
	}
	k2, err := NewPrivateKey(*key.Public(), key.X())
	if err != nil || k2.Fingerprint() != key.Fingerprint() {
		t.Fatal(err)
	}
}

// FuzzParse checks that PUBKEY decoding never panics, wraps ErrMalformedKey
// and re-encodes what it accepts to the same bytes.
func FuzzParse(f *testing.F) {
	f.Add(key.Public().Marshal())
	f.Add(wire.AppendInt([]byte{0, 0}, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedKey) {
				t.Fatal(err)
			}
			return
		}
		if !bytes.Equal(k.Marshal(), b) {
			t.Fatal("round trip")
		}
		_ = k.Verify([]byte("x"), make([]byte, SignatureSize))
	})
}
