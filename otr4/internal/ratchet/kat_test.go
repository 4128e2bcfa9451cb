package ratchet

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

func readVector(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, val, ok := strings.Cut(sc.Text(), ": ")
		if ok {
			v[k] = val
		}
	}
	return v
}

// TestChaCha20KAT: the data message cipher is RFC 7539's ChaCha20 with the
// all-zero nonce and block counter 0, so with an all-zero key its
// keystream is RFC 7539's test vector #1 (docs/spec-notes.md, "ChaCha20").
func TestChaCha20KAT(t *testing.T) {
	v := readVector(t, "testdata/rfc7539-a1.txt")
	key, _ := hex.DecodeString(v["key"])
	want, _ := hex.DecodeString(v["keystream"])
	mkEnc := append(key, make([]byte, 32)...) // only the first 32 bytes of MKenc are the key
	if got := xorKeyStream(mkEnc, make([]byte, len(want))); !bytes.Equal(got, want) {
		t.Fatalf("keystream %x\nwant      %x", got, want)
	}
}
