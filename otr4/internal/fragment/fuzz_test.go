package fragment

import (
	"errors"
	"math/rand"
	"strings"
	"testing"
	"time"
)

var sentinels = []error{ErrMalformed, ErrInstanceTag, ErrNotForUs, ErrDuplicate, ErrInconsistent, ErrLimit}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzParse checks that Parse never panics, that accepted fragments satisfy
// the spec's constraints, and that the canonical encoding parses back to the
// same fragment.
func FuzzParse(f *testing.F) {
	for _, v := range allVectors(f) {
		for _, s := range v.fragments {
			f.Add(s)
		}
	}
	f.Add("?OTR,1,2,abc,")
	f.Add("?OTRP|1|2|3,00001,00001,AAQD.,")
	f.Add("?OTR|1|100|0,1,2,x,")
	f.Add("?OTR|3c5b5f03|5a73a599|27e31597,65535,65535,a,")
	f.Fuzz(func(t *testing.T, s string) {
		fr, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInstanceTag) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if fr.Index < 1 || fr.Index > fr.Total || fr.Piece == "" || strings.Contains(fr.Piece, ",") || !fr.Format.valid() {
			t.Fatalf("accepted %+v", fr)
		}
		if !IsFragment(s) || !strings.HasSuffix(s, ",") {
			t.Fatalf("accepted %q", s)
		}
		again, err := Parse(fr.String())
		if err != nil || again != fr {
			t.Fatalf("round trip: %+v -> %q -> %+v, %v", fr, fr.String(), again, err)
		}
	})
}

// FuzzAssemblerAdd feeds newline-separated fragments to an Assembler with
// small limits. It checks that Add never panics, returns only the package's
// errors, keeps within its limits, and that every reassembled message is the
// concatenation, in index order, of pieces that Add accepted for that
// message.
func FuzzAssemblerAdd(f *testing.F) {
	for i, v := range allVectors(f) {
		f.Add(strings.Join(v.fragments, "\n"), uint8(i))
	}
	f.Add(specFragmentsV4[2]+"\n"+specFragmentsV4[0]+"\n"+specFragmentsV4[0]+"\n"+specFragmentsV4[1], uint8(2))
	f.Add("?OTR,1,2,a,\n?OTR,2,2,b,\n?OTR|1|100|0,1,1,x,", uint8(3))
	f.Add("?OTR|1|100|0,1,3,x,\n?OTR|1|100|0,2,2,x,\n?OTR|1|100|0,3,3,y,", uint8(4))
	f.Add("?OTR|5|100|0,2,2,|x,\n?OTR|5|100|0,1,2,?OTR,", uint8(5))
	f.Fuzz(func(t *testing.T, input string, step uint8) {
		runModel(t, strings.Split(input, "\n"), time.Duration(step)*time.Second)
	})
}

// FuzzAssemblerOps is FuzzAssemblerAdd with fragments built from the fuzzer's
// bytes, 4 bytes each, so that most are well formed and collide on few
// senders, identifiers, indexes and totals: it reaches duplicates,
// inconsistent totals, sequence breaks, eviction and expiry far more often
// than random strings do.
func FuzzAssemblerOps(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 0, 0, 2, 2}, uint8(1))
	f.Add([]byte{1, 0, 1, 3, 1, 0, 2, 3, 1, 0, 3, 3, 2, 0, 1, 2, 2, 0, 2, 2}, uint8(0))
	f.Add([]byte{0, 1, 2, 0x8a, 0, 1, 2, 0x8a, 0, 1, 1, 0x8a, 0, 2, 1, 0xf2, 0, 3, 1, 0xf2, 0, 4, 1, 0xf2}, uint8(20))
	f.Add([]byte{4, 0, 1, 2, 8, 0, 1, 2, 12, 0, 1, 2, 0, 2, 1, 2, 3, 0, 1, 1}, uint8(40))
	f.Fuzz(func(t *testing.T, ops []byte, step uint8) {
		if len(ops) > 512 {
			ops = ops[:512] // 128 fragments are plenty for limits of 3 messages
		}
		var frags []string
		for i := 0; i+4 <= len(ops); i += 4 {
			b0, b1, b2, b3 := ops[i], ops[i+1], ops[i+2], ops[i+3]
			fr := Fragment{
				Format:     Format(b0%4 + 1),
				Receiver:   []uint32{0, bob, 0x999, 0x5}[b0>>2&3],
				Sender:     []uint32{alice, carolTag, 0x50, 0}[b1&3],
				Identifier: uint32(b1 >> 2 & 3),
				Index:      uint16(b2 % 6),
				Total:      uint16(b3 % 6),
				Piece:      strings.Repeat(string(rune('a'+i/4%26)), int(b3>>3)*8+int(b0>>4)),
			}
			if fr.Format == FormatV2 {
				fr.Sender, fr.Receiver = 0, 0
			}
			if fr.Format == FormatV3 || fr.Format == FormatV2 {
				fr.Identifier = 0
			}
			frags = append(frags, fr.String())
		}
		runModel(t, frags, time.Duration(step)*time.Second)
	})
}

// runModel feeds frags to an Assembler with small limits, advancing the clock
// by step before each, and checks it against a model built from the pieces
// Add accepted: Add never panics and returns only the package's errors, stays
// within its limits, holds exactly the accepted pieces of each partial
// message, and every reassembled message is the concatenation, in index
// order, of pieces it accepted for that message.
func runModel(t *testing.T, frags []string, step time.Duration) {
	t.Helper()
	limits := Limits{MaxMessageBytes: 300, MaxBufferedBytes: 600, MaxPending: 3, MaxTotal: 50, Expiry: time.Minute}
	a := NewAssembler(bob, limits)
	// model: the pieces Add accepted, per message key, since that message
	// last started being buffered.
	model := map[key]map[uint16]string{}
	now := t0
	for _, s := range frags {
		now = now.Add(step)
		fr, perr := Parse(s)
		k := key{fr.Format, fr.Sender, fr.Identifier}
		prev, had := a.partials[k]
		msg, done, err := a.Add(s, now)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Add(%q): unexpected error %v", s, err)
			}
			if done || msg != "" {
				t.Fatal("error with a result")
			}
		}
		if perr != nil {
			if err == nil {
				t.Fatalf("Add accepted %q that Parse rejects: %v", s, perr)
			}
			continue
		}
		if err == nil {
			// A partial message that expired during this Add or was
			// restarted (OTRv3 k == 1) is a new one.
			if p, ok := a.partials[k]; !had || ok && p != prev {
				model[k] = map[uint16]string{}
			}
			if model[k] == nil {
				model[k] = map[uint16]string{}
			}
			model[k][fr.Index] = fr.Piece
		}
		if done {
			var b strings.Builder
			for i := 1; i <= int(fr.Total); i++ {
				p, ok := model[k][uint16(i)]
				if !ok {
					t.Fatalf("reassembled %q without piece %d", msg, i)
				}
				b.WriteString(p)
			}
			if b.String() != msg {
				t.Fatalf("reassembled %q, accepted pieces give %q", msg, b.String())
			}
			if _, ok := a.partials[k]; ok {
				t.Fatal("completed message still buffered")
			}
			delete(model, k)
		}
		if a.Buffered() > limits.MaxBufferedBytes || a.Pending() > limits.MaxPending || a.Buffered() < 0 {
			t.Fatalf("limits exceeded: %d bytes, %d pending", a.Buffered(), a.Pending())
		}
		for mk := range model {
			if _, ok := a.partials[mk]; !ok {
				delete(model, mk)
			}
		}
		sum := 0
		for pk, p := range a.partials {
			sum += p.cost
			m := model[pk]
			if len(m) != len(p.pieces) || len(p.pieces) >= int(p.total) {
				t.Fatalf("partial %+v holds %d of %d pieces, model %d", pk, len(p.pieces), p.total, len(m))
			}
			n := 0
			for i, piece := range p.pieces {
				if m[i] != piece {
					t.Fatalf("partial %+v piece %d = %q, model %q", pk, i, piece, m[i])
				}
				n += len(piece)
			}
			if n != p.bytes || p.cost != n+len(p.pieces)*PieceOverhead || n > limits.MaxMessageBytes {
				t.Fatalf("partial %+v: %d bytes, counted %d, cost %d", pk, n, p.bytes, p.cost)
			}
		}
		if sum != a.Buffered() {
			t.Fatalf("Buffered() = %d, pieces cost %d", a.Buffered(), sum)
		}
	}
}

// FuzzSplitRoundTrip splits a message, shuffles the fragments of the
// out-of-order formats and reassembles them.
func FuzzSplitRoundTrip(f *testing.F) {
	f.Add(specMessage, 100, uint32(1), uint32(alice), uint32(bob), uint8(0), int64(1))
	f.Add("?OTR:AAQD.", 46, uint32(0), uint32(0x100), uint32(0), uint8(1), int64(2))
	f.Add("héllo wörld 𝄞", 19, uint32(0), uint32(0), uint32(0), uint8(2), int64(3))
	f.Add(specMessage, 47, uint32(7), uint32(0), uint32(0), uint8(3), int64(4))
	f.Fuzz(func(t *testing.T, msg string, maxSize int, id, sender, receiver uint32, format uint8, seed int64) {
		fm := Format(format%4 + 1)
		if maxSize > 1<<16 {
			maxSize %= 1 << 16
		}
		frags, err := fm.Split(msg, maxSize, id, sender, receiver)
		if err != nil {
			if !errors.Is(err, ErrMaxSize) && !errors.Is(err, ErrCannotSplit) && !errors.Is(err, ErrInstanceTag) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(frags) == 1 && frags[0] == msg {
			if len(msg) > maxSize {
				t.Fatal("oversized message returned whole")
			}
			return
		}
		for _, s := range frags {
			if len(s) > maxSize {
				t.Fatalf("fragment of %d bytes, max %d", len(s), maxSize)
			}
		}
		if fm == FormatV4 || fm == FormatPrekey {
			r := rand.New(rand.NewSource(seed))
			r.Shuffle(len(frags), func(i, j int) { frags[i], frags[j] = frags[j], frags[i] })
		}
		a := NewAssembler(receiver, Limits{})
		for i, s := range frags {
			got, done, err := a.Add(s, t0)
			if err != nil {
				t.Fatalf("fragment %d: %v", i, err)
			}
			if done != (i == len(frags)-1) || done && got != msg {
				t.Fatalf("fragment %d: done %v, %q", i, done, got)
			}
		}
	})
}
