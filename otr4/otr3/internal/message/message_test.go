package message

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"

	"github.com/otrchat/otrchat/otr4/internal/dsa"
)

var testPub = func() *dsa.PublicKey {
	k, err := dsa.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k.Public()
}()

func hdr() Header { return Header{Sender: 0x1234, Receiver: 0x5678} }

// samples returns one well-formed message of each type.
func samples() [][]byte {
	gx := new(big.Int).Lsh(big.NewInt(3), 1500)
	return [][]byte{
		(&DHCommit{Header: Header{Sender: 0x100}, EncryptedGx: bytes.Repeat([]byte{7}, 196), HashedGx: make([]byte, 32)}).Marshal(),
		(&DHKey{Header: hdr(), Gy: gx}).Marshal(),
		(&RevealSig{Header: hdr(), Key: make([]byte, 16), EncryptedSig: []byte("enc"), MAC: make([]byte, 20)}).Marshal(),
		(&Signature{Header: hdr(), EncryptedSig: []byte("encrypted signature"), MAC: bytes.Repeat([]byte{1}, 20)}).Marshal(),
		(&Data{Header: hdr(), Flags: 1, SenderKeyID: 2, RecipientKeyID: 3, NextDH: gx, Counter: [8]byte{0, 0, 0, 0, 0, 0, 0, 1},
			Encrypted: []byte("ciphertext"), MAC: make([]byte, 20), OldMACKeys: make([]byte, 40)}).Marshal(),
	}
}

// parseAny decodes any message by its type and re-encodes it.
func parseAny(b []byte) ([]byte, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	switch h.Type {
	case TypeDHCommit:
		m, err := ParseDHCommit(b)
		if err != nil {
			return nil, err
		}
		return m.Marshal(), nil
	case TypeDHKey:
		m, err := ParseDHKey(b)
		if err != nil {
			return nil, err
		}
		return m.Marshal(), nil
	case TypeRevealSig:
		m, err := ParseRevealSig(b)
		if err != nil {
			return nil, err
		}
		return m.Marshal(), nil
	case TypeSignature:
		m, err := ParseSignature(b)
		if err != nil {
			return nil, err
		}
		return m.Marshal(), nil
	case TypeData:
		m, err := ParseData(b)
		if err != nil {
			return nil, err
		}
		return m.Marshal(), nil
	}
	return nil, ErrMalformed
}

func TestRoundTrip(t *testing.T) {
	for _, b := range samples() {
		back, err := parseAny(b)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("%x: %v", b[:3], err)
		}
	}
}

func TestRejects(t *testing.T) {
	s := samples()
	cases := map[string][]byte{
		"short":               s[0][:10],
		"version 4":           append([]byte{0, 4}, s[1][2:]...),
		"sender below 0x100":  append(append([]byte{}, s[1][:3]...), append([]byte{0, 0, 0, 0xff}, s[1][7:]...)...),
		"receiver 1":          append(append([]byte{}, s[1][:7]...), append([]byte{0, 0, 0, 1}, s[1][11:]...)...),
		"trailing":            append(append([]byte{}, s[3]...), 0),
		"truncated data":      s[4][:len(s[4])-1],
		"hash of 31 bytes":    (&DHCommit{Header: hdr(), EncryptedGx: []byte{1}, HashedGx: make([]byte, 31)}).Marshal(),
		"key of 15 bytes":     (&RevealSig{Header: hdr(), Key: make([]byte, 15), MAC: make([]byte, 20)}).Marshal(),
		"empty gy":            (&DHKey{Header: hdr()}).Marshal(),
		"keyid 0":             (&Data{Header: hdr(), RecipientKeyID: 1, NextDH: big.NewInt(5), MAC: make([]byte, 20)}).Marshal(),
		"odd old MAC keys":    (&Data{Header: hdr(), SenderKeyID: 1, RecipientKeyID: 1, NextDH: big.NewInt(5), MAC: make([]byte, 20), OldMACKeys: make([]byte, 21)}).Marshal(),
		"non-minimal MPI":     append(append([]byte{}, s[1][:11]...), 0, 0, 0, 2, 0, 1),
		"unknown type (0x42)": append(append([]byte{}, s[1][:2]...), append([]byte{0x42}, s[1][3:]...)...),
	}
	for name, b := range cases {
		if _, err := parseAny(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestX(t *testing.T) {
	x := &X{Pub: testPub, KeyID: 1, Sig: bytes.Repeat([]byte{9}, dsa.SignatureSize)}
	b := x.Marshal()
	y, err := ParseX(b)
	if err != nil || !bytes.Equal(y.Marshal(), b) {
		t.Fatal(err)
	}
	if _, err := ParseX(b[:len(b)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
}

func TestPlaintext(t *testing.T) {
	b, err := EncodePlaintext("hi", []TLV{{Type: 1}, {Type: 8, Value: []byte{0, 0, 0, 1, 'x'}}})
	if err != nil {
		t.Fatal(err)
	}
	text, tlvs, err := ParsePlaintext(b)
	if err != nil || text != "hi" || len(tlvs) != 2 || tlvs[1].Type != 8 || string(tlvs[1].Value) != "\x00\x00\x00\x01x" {
		t.Fatalf("%q %v %v", text, tlvs, err)
	}
	if _, _, err := ParsePlaintext([]byte("hi\x00\x00\x01\x00\x05ab")); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
}

// FuzzParse checks that every decoder is total (no panics, only
// ErrMalformed) and that what it accepts re-encodes to the same bytes.
func FuzzParse(f *testing.F) {
	for _, b := range samples() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		back, err := parseAny(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !bytes.Equal(back, b) {
			t.Fatalf("Marshal(Parse(%x)) = %x", b, back)
		}
	})
}

// FuzzParseX checks the AKE's signed structure the same way.
func FuzzParseX(f *testing.F) {
	f.Add((&X{Pub: testPub, KeyID: 1, Sig: make([]byte, 40)}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ParseX(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		if !bytes.Equal(x.Marshal(), b) {
			t.Fatalf("Marshal(ParseX(%x)) differs", b)
		}
	})
}

// FuzzParsePlaintext checks that plaintext parsing never panics and that
// text and TLVs it accepts encode back to the same bytes.
func FuzzParsePlaintext(f *testing.F) {
	f.Add([]byte("hello\x00\x00\x01\x00\x00"))
	f.Add([]byte("\x00\x00\x02\x00\x04abcd\x00\x00\x00\x03xyz"))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, b []byte) {
		text, tlvs, err := ParsePlaintext(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		back, err := EncodePlaintext(text, tlvs)
		if err != nil {
			t.Fatal(err)
		}
		// A trailing NUL with no TLVs is accepted but not written back.
		if !bytes.Equal(back, b) && !(len(tlvs) == 0 && bytes.Equal(append(back, 0), b)) {
			t.Fatalf("EncodePlaintext(ParsePlaintext(%q)) = %q", b, back)
		}
	})
}
