package fragment

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"runtime"
	"testing"
	"testing/iotest"
)

func TestRandomIdentifier(t *testing.T) {
	id, err := RandomIdentifier(bytes.NewReader([]byte{0x3c, 0x5b, 0x5f, 0x03, 0xff}))
	if err != nil || id != 0x3c5b5f03 {
		t.Fatalf("RandomIdentifier = %#x, %v", id, err)
	}
	if _, err := RandomIdentifier(bytes.NewReader([]byte{1, 2, 3})); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short reader: %v", err)
	}
	if _, err := RandomIdentifier(iotest.ErrReader(io.ErrClosedPipe)); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("failing reader: %v", err)
	}
}

// BenchmarkSplit splits a 64 KiB encoded message into fragments of at most
// 4000 bytes (17 fragments).
func BenchmarkSplit(b *testing.B) {
	msg := randomMessage(rand.New(rand.NewSource(1)), 64<<10)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Split(msg, 4000, 1, alice, bob); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssemble reassembles the same 17 fragments, shuffled.
func BenchmarkAssemble(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	msg := randomMessage(r, 64<<10)
	frags, err := Split(msg, 4000, 1, alice, bob)
	if err != nil {
		b.Fatal(err)
	}
	r.Shuffle(len(frags), func(i, j int) { frags[i], frags[j] = frags[j], frags[i] })
	a := NewAssembler(bob, Limits{})
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		for _, s := range frags {
			if _, _, err := a.Add(s, t0); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkFloodMemory fills an Assembler with the default limits with one
// partial message of 65534 one-byte pieces (out of a total of 65535) and
// reports the heap it holds against what Buffered counts.
func BenchmarkFloodMemory(b *testing.B) {
	frags := make([]string, MaxTotal-1)
	for i := range frags {
		frags[i] = Fragment{FormatV4, 1, alice, bob, uint16(i + 1), MaxTotal, "x"}.String()
	}
	var heap, buffered float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		a := NewAssembler(bob, Limits{})
		for _, s := range frags {
			if _, _, err := a.Add(s, t0); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapAlloc) - float64(before.HeapAlloc)
		buffered = float64(a.Buffered())
		runtime.KeepAlive(a)
	}
	b.ReportMetric(heap, "heap-bytes")
	b.ReportMetric(buffered, "counted-bytes")
}
