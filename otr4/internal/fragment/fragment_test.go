package fragment

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// The examples of otrv4.md "Receiving Fragments" and otrv3-protocol.txt
// "Fragmentation", from testdata (see vectors_test.go).
var (
	specV4          = mustReadVector("otrv4-example.txt")
	specV3          = mustReadVector("otrv3-example.txt")
	specMessage     = specV4.message
	specFragmentsV4 = specV4.fragments
	specFragmentsV3 = specV3.fragments
)

const (
	alice = 0x5a73a599
	bob   = 0x27e31597
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestSpecExampleParse(t *testing.T) {
	f, err := Parse(specFragmentsV4[0])
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != FormatV4 || f.Identifier != 0x3c5b5f03 || f.Sender != alice || f.Receiver != bob ||
		f.Index != 1 || f.Total != 3 || !strings.HasPrefix(f.Piece, "?OTR:AAMD") || !strings.HasSuffix(f.Piece, "8v") {
		t.Fatalf("parsed %+v", f)
	}
	f3, err := Parse(specFragmentsV3[2])
	if err != nil {
		t.Fatal(err)
	}
	if f3.Format != FormatV3 || f3.Identifier != 0 || f3.Sender != alice || f3.Receiver != bob ||
		f3.Index != 3 || f3.Total != 3 || f3.Piece != "pkTtquknfx6HodLvk3RAAAAAA==." {
		t.Fatalf("parsed %+v", f3)
	}
	// The spec's fragments are in the canonical form Split writes.
	for _, s := range append(append([]string{}, specFragmentsV4...), specFragmentsV3...) {
		f, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if f.String() != s {
			t.Errorf("String() = %q, want %q", f.String(), s)
		}
	}
}

func TestSpecExampleAssemble(t *testing.T) {
	for name, frags := range map[string][]string{"v4": specFragmentsV4, "v3": specFragmentsV3} {
		a := NewAssembler(bob, Limits{})
		for i, s := range frags {
			got, done, err := a.Add(s, t0)
			if err != nil {
				t.Fatalf("%s: fragment %d: %v", name, i+1, err)
			}
			if done != (i == len(frags)-1) {
				t.Fatalf("%s: fragment %d: done = %v", name, i+1, done)
			}
			if done && got != specMessage {
				t.Fatalf("%s: reassembled %q", name, got)
			}
		}
		if a.Pending() != 0 || a.Buffered() != 0 {
			t.Fatalf("%s: %d pending, %d bytes buffered after completion", name, a.Pending(), a.Buffered())
		}
	}
	// OTRv4 fragments may arrive in any order.
	a := NewAssembler(bob, Limits{})
	for i, j := range []int{2, 0, 1} {
		got, done, err := a.Add(specFragmentsV4[j], t0)
		if err != nil || done != (i == 2) || (done && got != specMessage) {
			t.Fatalf("step %d: %q %v %v", i, got, done, err)
		}
	}
}

func randomMessage(r *rand.Rand, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return "?OTR:" + string(b) + "."
}

func TestSplitRoundTripRandomOrder(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	formats := []Format{FormatV4, FormatPrekey, FormatV3, FormatV2}
	for iter := 0; iter < 500; iter++ {
		format := formats[iter%len(formats)]
		msg := randomMessage(r, r.Intn(3000))
		maxSize := format.overhead() + 1 + r.Intn(400)
		id, sender := r.Uint32(), MinInstanceTag+r.Uint32()%0xfffff00
		frags, err := format.Split(msg, maxSize, id, sender, bob)
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		room := maxSize - format.overhead()
		want := 1
		if len(msg) > maxSize {
			want = (len(msg) + room - 1) / room
		}
		if len(frags) != want {
			t.Fatalf("iter %d: %d fragments, want %d", iter, len(frags), want)
		}
		for _, s := range frags {
			if len(s) > maxSize {
				t.Fatalf("iter %d: fragment of %d bytes > %d", iter, len(s), maxSize)
			}
		}
		if len(frags) == 1 {
			if frags[0] != msg {
				t.Fatalf("iter %d: message that fits was changed", iter)
			}
			continue
		}
		if format == FormatV4 || format == FormatPrekey {
			r.Shuffle(len(frags), func(i, j int) { frags[i], frags[j] = frags[j], frags[i] })
		}
		a := NewAssembler(bob, Limits{})
		for i, s := range frags {
			got, done, err := a.Add(s, t0)
			if err != nil {
				t.Fatalf("iter %d (%v): fragment %d: %v", iter, format, i, err)
			}
			if done != (i == len(frags)-1) {
				t.Fatalf("iter %d: done = %v at %d of %d", iter, done, i, len(frags))
			}
			if done && got != msg {
				t.Fatalf("iter %d: reassembled message differs", iter)
			}
		}
	}
}

func TestSplitFits(t *testing.T) {
	msg := "?OTR:AAQD,with,commas."
	got, err := Split(msg, len(msg), 1, alice, bob)
	if err != nil || len(got) != 1 || got[0] != msg {
		t.Fatalf("Split = %q, %v", got, err)
	}
}

func TestSplitUTF8(t *testing.T) {
	msg := strings.Repeat("é€𝄞x", 50)
	r := rand.New(rand.NewSource(8))
	for i := 0; i < 50; i++ {
		maxSize := overheadV4 + 4 + r.Intn(20)
		frags, err := Split(msg, maxSize, 7, alice, 0)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, s := range frags {
			f, err := Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			if !utf8Valid(f.Piece) {
				t.Fatalf("piece %q cuts a rune", f.Piece)
			}
			b.WriteString(f.Piece)
		}
		if b.String() != msg {
			t.Fatal("pieces do not concatenate to the message")
		}
	}
	// Three bytes of room cannot hold the 4-byte rune.
	if _, err := Split("𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞", overheadV4+3, 7, alice, 0); !errors.Is(err, ErrMaxSize) {
		t.Fatalf("err = %v, want ErrMaxSize", err)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestSplitErrors(t *testing.T) {
	long := randomMessage(rand.New(rand.NewSource(1)), 200)
	tests := []struct {
		name             string
		format           Format
		msg              string
		maxSize          int
		sender, receiver uint32
		want             error
	}{
		{"no room for a piece", FormatV4, long, overheadV4, alice, bob, ErrMaxSize},
		{"no room v3", FormatV3, long, overheadV3, alice, bob, ErrMaxSize},
		{"no room prekey", FormatPrekey, long, overheadPrekey, 0, 0, ErrMaxSize},
		{"zero max", FormatV4, long, 0, alice, bob, ErrMaxSize},
		{"negative max", FormatV4, long, -5, alice, bob, ErrMaxSize},
		{"too many fragments", FormatV2, strings.Repeat("A", MaxTotal+1), overheadV2 + 1, 0, 0, ErrMaxSize},
		{"empty", FormatV4, "", 100, alice, bob, ErrCannotSplit},
		{"comma", FormatV4, long + ",", 100, alice, bob, ErrCannotSplit},
		{"fragment of fragment", FormatV4, specFragmentsV4[0], 60, alice, bob, ErrCannotSplit},
		{"small sender", FormatV4, long, 100, 0xff, bob, ErrInstanceTag},
		{"small receiver", FormatV3, long, 100, alice, 0x01, ErrInstanceTag},
	}
	for _, tt := range tests {
		_, err := tt.format.Split(tt.msg, tt.maxSize, 9, tt.sender, tt.receiver)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fragment: ") {
			t.Errorf("%s: error %q lacks the package prefix", tt.name, err)
		}
	}
	// Exactly one byte of room works, and exactly 65535 fragments work.
	frags, err := FormatV2.Split(strings.Repeat("A", MaxTotal), overheadV2+1, 0, 0, 0)
	if err != nil || len(frags) != MaxTotal {
		t.Fatalf("65535 fragments: %d, %v", len(frags), err)
	}
	if _, err := Format(0).Split(long, 100, 0, alice, bob); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func TestParseMalformed(t *testing.T) {
	ok := "?OTR|3c5b5f03|5a73a599|27e31597,00001,00003,abc,"
	if _, err := Parse(ok); err != nil {
		t.Fatalf("baseline rejected: %v", err)
	}
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrMalformed},
		{"?OTR:AAQD.", ErrMalformed},
		{"?OTR|", ErrMalformed},
		{"?OTR|3c5b5f03|5a73a599|27e31597,00001,00003,abc", ErrMalformed},   // no trailing comma
		{"?OTR|3c5b5f03|5a73a599|27e31597,00001,00003,abc,,", ErrMalformed}, // two commas
		{"?OTR|3c5b5f03|5a73a599|27e31597,00001,00003,abc, ", ErrMalformed}, // text after
		{"?OTR|3c5b5f03|5a73a599|27e31597,00001,00003,a,b,", ErrMalformed},  // comma in piece
		{"?OTR|3c5b5f03|5a73a599|27e31597,00001,00003,,", ErrMalformed},     // empty piece
		{"?OTR|3c5b5f03|5a73a599|27e31597,00000,00003,abc,", ErrMalformed},  // index 0
		{"?OTR|3c5b5f03|5a73a599|27e31597,00001,00000,abc,", ErrMalformed},  // total 0
		{"?OTR|3c5b5f03|5a73a599|27e31597,00004,00003,abc,", ErrMalformed},  // index > total
		{"?OTR|3c5b5f03|5a73a599|27e31597,65536,65536,abc,", ErrMalformed},  // overflow
		{"?OTR|3c5b5f03|5a73a599|27e31597,1,99999,abc,", ErrMalformed},      // overflow
		{"?OTR|3c5b5f03|5a73a599|27e31597,000001,00003,abc,", ErrMalformed}, // 6 digits
		{"?OTR|3c5b5f03|5a73a599|27e31597,+1,3,abc,", ErrMalformed},         // sign
		{"?OTR|3c5b5f03|5a73a599|27e31597, 1,3,abc,", ErrMalformed},         // space
		{"?OTR|3c5b5f03|5a73a599|27e31597,1 ,3,abc,", ErrMalformed},         // space
		{"?OTR|3c5b5f03|5a73a599|27e31597,-1,3,abc,", ErrMalformed},         // minus
		{"?OTR|3c5b5f03|5a73a599|27e31597,0x1,3,abc,", ErrMalformed},        // hex index
		{"?OTR|3c5b5f03|5a73a599|27e31597,,3,abc,", ErrMalformed},           // empty index
		{"?OTR|3c5b5f03|5a73a599|27e31597,1,3", ErrMalformed},               // truncated
		{"?OTR|3c5b5f03|5a73a599|27e31597,1,", ErrMalformed},                // truncated
		{"?OTR|13c5b5f03|5a73a599|27e31597,1,3,abc,", ErrMalformed},         // 9 hex digits
		{"?OTR|3c5b5f03|5a73a599|27e31597|00000100,1,3,abc,", ErrMalformed}, // 4 fields
		{"?OTR|3c5b5f03,1,3,abc,", ErrMalformed},                            // 1 field
		{"?OTR||5a73a599|27e31597,1,3,abc,", ErrMalformed},                  // empty field
		{"?OTR|3c5b5f0g|5a73a599|27e31597,1,3,abc,", ErrMalformed},          // bad hex
		{"?OTR| 3c5b5f03|5a73a599|27e31597,1,3,abc,", ErrMalformed},         // space
		{"?OTR|+3c5b5f03|5a73a599|27e31597,1,3,abc,", ErrMalformed},         // sign
		{"?OTR|0x3c5b5f03|5a73a599|27e31597,1,3,abc,", ErrMalformed},        // 0x
		{"?OTRP|5a73a599|27e31597,1,3,abc,", ErrMalformed},                  // prekey needs 3 fields
		{"?OTR,1,3|abc,", ErrMalformed},                                     // v2 ok? piece "3|abc"? no: total "3|abc"
		{"?OTR,1,3,abc", ErrMalformed},                                      // v2 no trailing comma
		{"?OTR|3c5b5f03|000000ff|27e31597,1,3,abc,", ErrInstanceTag},        // small sender
		{"?OTR|3c5b5f03|00000000|27e31597,1,3,abc,", ErrInstanceTag},        // zero sender
		{"?OTR|3c5b5f03|5a73a599|000000ff,1,3,abc,", ErrInstanceTag},        // small receiver
		{"?OTR|000000ff|00000001,1,3,abc,", ErrInstanceTag},                 // v3 small tags
	}
	for _, tt := range tests {
		f, err := Parse(tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("Parse(%q) = %+v, %v; want %v", tt.in, f, err, tt.want)
		}
		a := NewAssembler(bob, Limits{})
		if _, done, err := a.Add(tt.in, t0); !errors.Is(err, tt.want) || done || a.Pending() != 0 {
			t.Errorf("Add(%q): done %v, err %v, pending %d", tt.in, done, err, a.Pending())
		}
	}
}

// TestParseLenient pins what the parser accepts beyond the canonical form:
// leading zeros are optional ("may have leading zeros"), hexadecimal digits
// may be upper case, and a receiver tag of 0 means "any instance".
func TestParseLenient(t *testing.T) {
	tests := []struct {
		in   string
		want Fragment
	}{
		{"?OTR|1|100|0,1,2,x,", Fragment{FormatV4, 1, 0x100, 0, 1, 2, "x"}},
		{"?OTR|ABCDEF01|FFFFFFFF|100,2,2,?OTR:x,", Fragment{FormatV4, 0xabcdef01, 0xffffffff, 0x100, 2, 2, "?OTR:x"}},
		{"?OTR|100|0,65535,65535,y,", Fragment{FormatV3, 0, 0x100, 0, 65535, 65535, "y"}},
		{"?OTRP|0|0|0,1,1,AAQD.,", Fragment{FormatPrekey, 0, 0, 0, 1, 1, "AAQD."}},
		{"?OTR,00001,00002,z|z,", Fragment{FormatV2, 0, 0, 0, 1, 2, "z|z"}},
		{"?OTR|0|100|0,1,1,a b\tc\n,", Fragment{FormatV4, 0, 0x100, 0, 1, 1, "a b\tc\n"}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestIsFragment(t *testing.T) {
	for s, want := range map[string]bool{
		specFragmentsV4[0]:      true,
		"?OTR,1,2,a,":           true,
		"?OTRP|1|2|3,1,1,a,":    true,
		"?OTR:AAQD.":            false,
		"?OTRv4?":               false,
		"hello ?OTR|1|2,1,1,a,": false,
		"":                      false,
		"?OTR":                  false,
	} {
		if IsFragment(s) != want {
			t.Errorf("IsFragment(%q) = %v", s, !want)
		}
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[Format]string{FormatV4: "v4", FormatV3: "v3", FormatV2: "v2", FormatPrekey: "prekey", 9: "Format(9)"} {
		if f.String() != want {
			t.Errorf("%d.String() = %q", f, f.String())
		}
	}
}

func ExampleSplit() {
	frags, err := Split("?OTR:AAQDIGEgZGF0YSBtZXNzYWdlIHNwbGl0IGludG8gdGhyZWUgZnJhZ21lbnRzIGZvciB0aGlzIGV4YW1wbGU=.", 80, 0x3c5b5f03, 0x5a73a599, 0x27e31597)
	if err != nil {
		panic(err)
	}
	for _, f := range frags {
		fmt.Println(f)
	}
	a := NewAssembler(0x27e31597, Limits{})
	for _, f := range []string{frags[2], frags[0], frags[1]} {
		if msg, done, err := a.Add(f, time.Now()); err != nil {
			panic(err)
		} else if done {
			fmt.Println(msg)
		}
	}
	// Output:
	// ?OTR|3c5b5f03|5a73a599|27e31597,00001,00003,?OTR:AAQDIGEgZGF0YSBtZXNzYWdlIHNwbG,
	// ?OTR|3c5b5f03|5a73a599|27e31597,00002,00003,l0IGludG8gdGhyZWUgZnJhZ21lbnRzIGZvc,
	// ?OTR|3c5b5f03|5a73a599|27e31597,00003,00003,iB0aGlzIGV4YW1wbGU=.,
	// ?OTR:AAQDIGEgZGF0YSBtZXNzYWdlIHNwbGl0IGludG8gdGhyZWUgZnJhZ21lbnRzIGZvciB0aGlzIGV4YW1wbGU=.
}
