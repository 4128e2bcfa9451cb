package kdf

import (
	"bytes"
	"encoding/hex"
	"testing"

	"golang.org/x/crypto/sha3"
)

// TestKDFIsPrefixedShake checks the construction against an independent
// SHAKE-256 computation over the concatenated input.
func TestKDFIsPrefixedShake(t *testing.T) {
	got := KDF(UsageSSID, 8, []byte("ab"), []byte("c"))
	want := make([]byte, 8)
	sha3.ShakeSum256(want, []byte("OTRv4\x04abc"))
	if !bytes.Equal(got, want) {
		t.Fatalf("KDF = %x, want %x", got, want)
	}
	if bytes.Equal(KDF(UsageSSID, 8, []byte("abc")), KDF(UsageSMPSecret, 8, []byte("abc"))) {
		t.Fatal("usage ID does not separate outputs")
	}
	p := PrekeyServer.Sum(0x01, 64, []byte("x"))
	q := OTRv4.Sum(0x01, 64, []byte("x"))
	if bytes.Equal(p, q) {
		t.Fatal("domain does not separate outputs")
	}
}

// TestShake256KAT is the empty-input SHAKE-256 value from the NIST examples.
func TestShake256KAT(t *testing.T) {
	want, _ := hex.DecodeString("46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f")
	if got := Shake256(32); !bytes.Equal(got, want) {
		t.Fatalf("SHAKE-256('') = %x", got)
	}
}
