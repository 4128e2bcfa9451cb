package query

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParseQuery checks that ParseQuery never panics, finds queries only
// where "?OTR" occurs, and that a query message built by QueryMessage is
// found with its versions wherever it is embedded in text that holds no other
// "?OTR".
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"?OTRv3?", "?OTRv45x?", "?OTRv?", "?OTRv?4?", "?OTR?", "?OTRv2?", "?OTRv23?",
		"?OTR?v2?", "?OTRv24x?", "?OTR?v24x?", "?OTR?v?", "?OTR?v34?", "?OTR?v23?...", "hi ?OTRv43? there"} {
		f.Add(s, "", "", uint8(0))
	}
	f.Add("", "Bob wants OTR: ", " (see https://otr.im/)", uint8(3))
	f.Fuzz(func(t *testing.T, msg, prefix, suffix string, vbits uint8) {
		v, ok := ParseQuery(msg)
		if ok && !strings.Contains(msg, QueryPrefix) {
			t.Fatalf("query found in %q", msg)
		}
		if !ok && v != 0 {
			t.Fatalf("versions %v without a query", v)
		}
		if v&^supported != 0 {
			t.Fatalf("unsupported bits %08b", v)
		}
		// Classify agrees with the parsers.
		switch k := Classify(msg); k {
		case KindFragment, KindError, KindEncoded:
			if !strings.HasPrefix(msg, "?OTR") {
				t.Fatalf("Classify(%q) = %v", msg, k)
			}
		case KindQuery:
			if !ok {
				t.Fatalf("Classify(%q) = query, ParseQuery disagrees", msg)
			}
		case KindPlaintextWithTag, KindPlaintext:
			_, _, tagged := StripWhitespaceTag(msg)
			if ok || tagged != (k == KindPlaintextWithTag) {
				t.Fatalf("Classify(%q) = %v, query %v, tag %v", msg, k, ok, tagged)
			}
		default:
			t.Fatalf("Classify(%q) = %v", msg, k)
		}
		want := Versions(vbits) & supported
		if strings.Contains(prefix, QueryPrefix) {
			return
		}
		q := prefix + QueryMessage(want) + suffix
		got, ok := ParseQuery(q)
		if !ok || got != want {
			t.Fatalf("ParseQuery(%q) = %v, %v; want %v", q, got, ok, want)
		}
	})
}

// FuzzStripWhitespaceTag checks that StripWhitespaceTag never panics, that a
// found tag is a contiguous run of the base tag and 8-byte groups of spaces
// and tabs cut out of msg, and that AppendWhitespaceTag round-trips for text
// without tabs.
func FuzzStripWhitespaceTag(f *testing.F) {
	f.Add("hello"+WhitespaceTagBase+WhitespaceTagV3+WhitespaceTagV4, uint8(0x18))
	f.Add("a"+WhitespaceTagBase+WhitespaceTagV1+WhitespaceTagV2+"b"+WhitespaceTagBase+WhitespaceTagV4, uint8(0x10))
	f.Add(WhitespaceTagBase+"        ", uint8(0x08))
	f.Add("plain", uint8(0))
	f.Fuzz(func(t *testing.T, msg string, vbits uint8) {
		plain, v, found := StripWhitespaceTag(msg)
		if !found {
			if plain != msg || v != 0 {
				t.Fatalf("no tag but %q, %v", plain, v)
			}
		} else {
			cut := len(msg) - len(plain)
			if cut < len(WhitespaceTagBase)+whitespaceVersionTagLen || (cut-len(WhitespaceTagBase))%whitespaceVersionTagLen != 0 {
				t.Fatalf("cut %d bytes", cut)
			}
			i := strings.Index(msg, WhitespaceTagBase)
			for i >= 0 && msg[:i]+msg[i+cut:] != plain {
				j := strings.Index(msg[i+1:], WhitespaceTagBase)
				if j < 0 {
					i = -1
				} else {
					i += 1 + j
				}
			}
			if i < 0 || !isSpaceTab(msg[i:i+cut]) {
				t.Fatalf("plain %q is not msg %q without a tag", plain, msg)
			}
		}
		if strings.Contains(msg, "\t") {
			return
		}
		want := Versions(vbits) & supported
		tagged := AppendWhitespaceTag(msg, want)
		p, got, ok := StripWhitespaceTag(tagged)
		if want == 0 {
			if tagged != msg || ok {
				t.Fatal("empty set tagged")
			}
			return
		}
		if !ok || got != want || p != msg {
			t.Fatalf("round trip: %q, %v, %v", p, got, ok)
		}
	})
}

// FuzzDecodeEncoded checks that DecodeEncoded never panics, returns only
// ErrMalformed, and that Encode gives back exactly the accepted input and
// decodes back to the same bytes.
func FuzzDecodeEncoded(f *testing.F) {
	f.Add(specDataMessage, []byte{0, 4, 3})
	f.Add("?OTR:.", []byte{})
	f.Add("?OTR:AAQD\n.", []byte("x"))
	f.Add("?OTR:aGVsbB==.", []byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, msg string, data []byte) {
		b, err := DecodeEncoded(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || b != nil {
				t.Fatalf("DecodeEncoded(%q) = %x, %v", msg, b, err)
			}
		} else if Encode(b) != msg {
			t.Fatalf("Encode(DecodeEncoded(%q)) = %q", msg, Encode(b))
		}
		back, err := DecodeEncoded(Encode(data))
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("DecodeEncoded(Encode(%x)) = %x, %v", data, back, err)
		}
		if Classify(Encode(data)) != KindEncoded {
			t.Fatal("Encode output not classified as encoded")
		}
	})
}

// FuzzParseError checks that ParseError never panics, accepts exactly the
// messages starting with "?OTR Error:", and that a known code and its text
// rebuild the message.
func FuzzParseError(f *testing.F) {
	f.Add("?OTR Error: ERROR_1: Unreadable message")
	f.Add("?OTR Error: ERROR_2: Not in private state message")
	f.Add("?OTR Error: ERROR_3: Malformed message")
	f.Add("?OTR Error:ERROR_9:x")
	f.Add("?OTR Error: free text")
	f.Add("x?OTR Error: ERROR_1: y")
	f.Fuzz(func(t *testing.T, msg string) {
		code, text, ok := ParseError(msg)
		if ok != strings.HasPrefix(msg, ErrorPrefix) {
			t.Fatalf("ParseError(%q) ok = %v", msg, ok)
		}
		if !ok {
			if code != ErrorUnknown || text != "" {
				t.Fatal("result without a match")
			}
			return
		}
		if code > maxErrorCode {
			t.Fatalf("code %d", code)
		}
		if !strings.HasSuffix(msg, text) {
			t.Fatalf("text %q is not the end of %q", text, msg)
		}
		if code != ErrorUnknown {
			rebuilt := false
			for _, sp1 := range []string{"", " "} {
				for _, sp2 := range []string{"", " "} {
					if msg == ErrorPrefix+sp1+code.String()+":"+sp2+text {
						rebuilt = true
					}
				}
			}
			if !rebuilt {
				t.Fatalf("ParseError(%q) = %v, %q", msg, code, text)
			}
		}
		if Classify(msg) != KindError && !strings.HasPrefix(msg, "?OTR|") && !strings.HasPrefix(msg, "?OTR,") {
			t.Fatalf("Classify(%q) = %v", msg, Classify(msg))
		}
	})
}
