package query

import (
	"strings"
	"testing"
)

// BenchmarkClassifyPlaintext classifies 4 KiB of plaintext with no OTR
// marker, the common case on an unencrypted conversation.
func BenchmarkClassifyPlaintext(b *testing.B) {
	msg := strings.Repeat("Hello Bob, how are you? ", 171)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if Classify(msg) != KindPlaintext {
			b.Fatal("kind")
		}
	}
}

// BenchmarkDecodeEncoded decodes a 4 KiB encoded message.
func BenchmarkDecodeEncoded(b *testing.B) {
	msg := Encode(make([]byte, 3072))
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if Classify(msg) != KindEncoded {
			b.Fatal("kind")
		}
		if _, err := DecodeEncoded(msg); err != nil {
			b.Fatal(err)
		}
	}
}
