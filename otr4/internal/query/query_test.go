package query

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const (
	none = Versions(0)
	v3   = Version3
	v4   = Version4
	v34  = Version3 | Version4
)

// TestParseQuerySpecExamples runs every query message example of the specs.
func TestParseQuerySpecExamples(t *testing.T) {
	tests := []struct {
		src, in string
		want    Versions
		ok      bool
	}{
		// otrv4.md "Query Messages".
		{"otrv4", "?OTRv3?", v3, true},
		{"otrv4", "?OTRv45x?", v4, true},
		{"otrv4", "?OTRv?", none, true},
		// "A synthatically invalid query message. The receiver will
		// not reply": found as "?OTRv?" with no version.
		{"otrv4", "?OTRv?4?", none, true},
		// otrv3-protocol.txt "OTR Query Messages": version 1 and 2 are
		// parsed and ignored; its hypothetical "4" is OTRv4 today.
		{"otrv3", "?OTR?", none, true},
		{"otrv3", "?OTRv2?", none, true},
		{"otrv3", "?OTRv23?", v3, true},
		{"otrv3", "?OTR?v2?", none, true},
		{"otrv3", "?OTRv24x?", v4, true},
		{"otrv3", "?OTR?v24x?", v4, true},
		{"otrv3", "?OTR?v?", none, true},
		// xep-0364 Example 17 and Example 22.
		{"xep-0364", "?OTR?v34?", v34, true},
		{"xep-0364", "?OTR?v23?...", v3, true},
	}
	for _, tt := range tests {
		got, ok := ParseQuery(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: ParseQuery(%q) = %v, %v; want %v, %v", tt.src, tt.in, got, ok, tt.want, tt.ok)
		}
		if k := Classify(tt.in); k != KindQuery {
			t.Errorf("%s: Classify(%q) = %v", tt.src, tt.in, k)
		}
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		in   string
		want Versions
		ok   bool
	}{
		{"?OTRv43?", v34, true},
		{"?OTRv4?", v4, true},
		{"?OTRv44?", v4, true}, // a repeated identifier is tolerated
		{"?OTRv43? Your buddy has requested an Off-the-Record private conversation.", v34, true},
		{"Your buddy has requested a private conversation. ?OTRv4?", v4, true},
		{"<span title='?OTRv34?'>hi</span>", v34, true},
		{"?OTRv", none, false},       // unterminated
		{"?OTRv4", none, false},      // unterminated
		{"?OTRv4 ?", none, false},    // space in identifiers
		{"?OTRv4\n?", none, false},   // control byte in identifiers
		{"?OTRv4\xff?", none, false}, // non-ASCII in identifiers
		{"?OTRv is great, right?", none, false},
		{"?OTRv4 then ?OTRv3?", v3, true}, // first valid query wins
		{"?OTRv3? then ?OTRv4?", v3, true},
		{"?OTR?v4", none, true}, // "?OTR?" (version 1) followed by text
		{"?OTR", none, false},
		{"?OTR:AAQD.", none, false},
		{"?OTR Error: x", none, false},
		{"?OTR|1|2,1,1,x,", none, false},
		{"?otrv4?", none, false}, // case matters
		{"plain text", none, false},
		{"", none, false},
	}
	for _, tt := range tests {
		got, ok := ParseQuery(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseQuery(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestQueryMessage(t *testing.T) {
	for v, want := range map[Versions]string{v34: "?OTRv43?", v4: "?OTRv4?", v3: "?OTRv3?", none: "?OTRv?"} {
		got := QueryMessage(v)
		if got != want {
			t.Errorf("QueryMessage(%v) = %q, want %q", v, got, want)
		}
		if back, ok := ParseQuery(got); !ok || back != v {
			t.Errorf("ParseQuery(%q) = %v, %v", got, back, ok)
		}
	}
}

func TestVersions(t *testing.T) {
	v := NewVersions(1, 2, 3, 4, 5, -1, 100)
	if v != v34 || !v.Has(3) || !v.Has(4) || v.Has(2) || v.Has(5) || v.Has(-8) {
		t.Fatalf("NewVersions = %08b", v)
	}
	if NewVersions(2).Best() != 0 || v3.Best() != 3 || v34.Best() != 4 || (v3&v4).Best() != 0 {
		t.Fatal("Best")
	}
	if (v34 & NewVersions(3)).Best() != 3 {
		t.Fatal("common version")
	}
	if v34.String() != "43" || none.String() != "" || v3.With(4) != v34 || v3.With(2) != v3 {
		t.Fatal("String/With")
	}
	if Versions(0xff).With(0) != v34 {
		t.Fatal("With does not mask unknown bits")
	}
}

// The whitespace tag bytes, transcribed independently of constants.go from
// otrv4.md "Whitespace Tags" and otrv3-protocol.txt "Tagged plaintext
// messages".
var (
	specTagBase = []byte{0x20, 0x09, 0x20, 0x20, 0x09, 0x09, 0x09, 0x09, 0x20, 0x09, 0x20, 0x09, 0x20, 0x09, 0x20, 0x20}
	specTagV1   = []byte{0x20, 0x09, 0x20, 0x09, 0x20, 0x20, 0x09, 0x20}
	specTagV2   = []byte{0x20, 0x20, 0x09, 0x09, 0x20, 0x20, 0x09, 0x20}
	specTagV3   = []byte{0x20, 0x20, 0x09, 0x09, 0x20, 0x20, 0x09, 0x09}
	specTagV4   = []byte{0x20, 0x20, 0x09, 0x09, 0x20, 0x09, 0x20, 0x20}
)

func TestWhitespaceTagConstants(t *testing.T) {
	for name, c := range map[string]struct {
		got  string
		want []byte
	}{
		"base": {WhitespaceTagBase, specTagBase}, "v1": {WhitespaceTagV1, specTagV1},
		"v2": {WhitespaceTagV2, specTagV2}, "v3": {WhitespaceTagV3, specTagV3}, "v4": {WhitespaceTagV4, specTagV4},
	} {
		if !bytes.Equal([]byte(c.got), c.want) {
			t.Errorf("%s tag = %x, want %x", name, c.got, c.want)
		}
	}
}

func TestAppendWhitespaceTag(t *testing.T) {
	tests := []struct {
		v    Versions
		want string
	}{
		{v34, "hi" + string(specTagBase) + string(specTagV3) + string(specTagV4)},
		{v4, "hi" + string(specTagBase) + string(specTagV4)},
		{v3, "hi" + string(specTagBase) + string(specTagV3)},
		{none, "hi"},
	}
	for _, tt := range tests {
		got := AppendWhitespaceTag("hi", tt.v)
		if got != tt.want {
			t.Errorf("AppendWhitespaceTag(%v) = %q", tt.v, got)
		}
		plain, v, found := StripWhitespaceTag(got)
		if plain != "hi" || v != tt.v || found != (tt.v != none) {
			t.Errorf("StripWhitespaceTag(%q) = %q, %v, %v", got, plain, v, found)
		}
	}
}

func TestStripWhitespaceTag(t *testing.T) {
	base, t1, t2, t3, t4 := string(specTagBase), string(specTagV1), string(specTagV2), string(specTagV3), string(specTagV4)
	tests := []struct {
		name, in, plain string
		v               Versions
		found           bool
	}{
		{"none", "hello", "hello", none, false},
		{"middle", "hel" + base + t4 + "lo", "hello", v4, true},
		{"start", base + t3 + t4 + "hello", "hello", v34, true},
		{"v4 then v3", "hello" + base + t4 + t3, "hello", v34, true},
		{"v1 v2 v3 (otrv3 text)", "hello" + base + t1 + t2 + t3, "hello", v3, true},
		{"only v2", "hello" + base + t2, "hello", none, true},
		{"unknown version", "hello" + base + "\t\t\t\t\t\t\t\t", "hello", none, true},
		{"base without version", "hello" + base, "hello" + base, none, false},
		{"base and 7 bytes", "hello" + base + t4[:7], "hello" + base + t4[:7], none, false},
		{"base then text", "hello" + base + "world!!!", "hello" + base + "world!!!", none, false},
		{"second tag ignored", "a" + base + t3 + "b" + base + t4 + "c", "ab" + base + t4 + "c", v3, true},
		{"bare base then tag", "a" + base + "b" + base + t4, "a" + base + "b", v4, true},
		{"trailing spaces eaten in 8s", "a" + base + t4 + strings.Repeat(" ", 9), "a ", v4, true},
	}
	for _, tt := range tests {
		plain, v, found := StripWhitespaceTag(tt.in)
		if plain != tt.plain || v != tt.v || found != tt.found {
			t.Errorf("%s: StripWhitespaceTag = %q, %v, %v; want %q, %v, %v", tt.name, plain, v, found, tt.plain, tt.v, tt.found)
		}
		wantKind := KindPlaintext
		if tt.found {
			wantKind = KindPlaintextWithTag
		}
		if k := Classify(tt.in); k != wantKind {
			t.Errorf("%s: Classify = %v, want %v", tt.name, k, wantKind)
		}
	}
}

// TestXEP0364Tags: XEP-0364's Example 16 is captioned "OTR tag version 3"
// but its bytes are the OTRv4 tag of otrv4.md.
func TestXEP0364Tags(t *testing.T) {
	example15 := "\x20\x20\x09\x09\x20\x20\x09\x09"
	example16 := "\x20\x20\x09\x09\x20\x09\x20\x20"
	if example15 != WhitespaceTagV3 || example16 != WhitespaceTagV4 {
		t.Fatal("XEP-0364 tag bytes differ")
	}
}

func TestErrorMessages(t *testing.T) {
	// otrv4.md "OTR Error Messages".
	want := map[ErrorCode]string{
		ErrorUnreadable:   "?OTR Error: ERROR_1: Unreadable message",
		ErrorNotInPrivate: "?OTR Error: ERROR_2: Not in private state message",
		ErrorMalformed:    "?OTR Error: ERROR_3: Malformed message",
		ErrorUnknown:      "?OTR Error: Unknown error",
		ErrorCode(9):      "?OTR Error: Unknown error",
	}
	for code, w := range want {
		got := ErrorMessage(code)
		if got != w {
			t.Errorf("ErrorMessage(%d) = %q, want %q", code, got, w)
		}
		c, text, ok := ParseError(got)
		wantCode, wantText := code, code.Text()
		if code > maxErrorCode {
			wantCode = ErrorUnknown
		}
		if !ok || c != wantCode || text != wantText {
			t.Errorf("ParseError(%q) = %v, %q, %v", got, c, text, ok)
		}
		if Classify(got) != KindError {
			t.Errorf("Classify(%q) = %v", got, Classify(got))
		}
	}
	names := map[ErrorCode]string{ErrorUnreadable: "ERROR_1", ErrorNotInPrivate: "ERROR_2", ErrorMalformed: "ERROR_3", ErrorUnknown: "ERROR_UNKNOWN", 4: "ERROR_UNKNOWN"}
	for c, n := range names {
		if c.String() != n {
			t.Errorf("%d.String() = %q", c, c.String())
		}
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		in   string
		code ErrorCode
		text string
		ok   bool
	}{
		{"?OTR Error: ERROR_2: Not in private state message", ErrorNotInPrivate, "Not in private state message", true},
		{"?OTR Error: ERROR_1: Nachricht nicht lesbar", ErrorUnreadable, "Nachricht nicht lesbar", true},
		{"?OTR Error:ERROR_3:Malformed message", ErrorMalformed, "Malformed message", true},
		{"?OTR Error: ERROR_1:", ErrorUnreadable, "", true},
		{"?OTR Error: You sent encrypted data I cannot read", ErrorUnknown, "You sent encrypted data I cannot read", true},
		{"?OTR Error:", ErrorUnknown, "", true},
		{"?OTR Error: ERROR_4: Future", ErrorUnknown, "ERROR_4: Future", true},
		{"?OTR Error: ERROR_0: Zero", ErrorUnknown, "ERROR_0: Zero", true},
		{"?OTR Error: ERROR_01: Leading zero", ErrorUnknown, "ERROR_01: Leading zero", true},
		{"?OTR Error: ERROR_1 Unreadable", ErrorUnknown, "ERROR_1 Unreadable", true},
		{"?OTR Error: ERROR_", ErrorUnknown, "ERROR_", true},
		{"?OTR Error:  two spaces", ErrorUnknown, " two spaces", true},
		// Not at the starting position: not an error message.
		{" ?OTR Error: ERROR_1: Unreadable message", ErrorUnknown, "", false},
		{"hi ?OTR Error: ERROR_1: Unreadable message", ErrorUnknown, "", false},
		{"?OTR Error", ErrorUnknown, "", false},
		{"?otr error: x", ErrorUnknown, "", false},
	}
	for _, tt := range tests {
		code, text, ok := ParseError(tt.in)
		if code != tt.code || text != tt.text || ok != tt.ok {
			t.Errorf("ParseError(%q) = %v, %q, %v; want %v, %q, %v", tt.in, code, text, ok, tt.code, tt.text, tt.ok)
		}
	}
	if k := Classify("hi ?OTR Error: ERROR_1: Unreadable message"); k != KindPlaintext {
		t.Errorf("embedded error message classified %v", k)
	}
}

// specDataMessage is the OTRv3 Data Message of the fragmentation example in
// otrv4.md and otrv3-protocol.txt.
const specDataMessage = "?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hb" +
	"rL3KAbGDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4BzT0W2haClg6dMary/jo" +
	"9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8vjPEWAJ6gBXvZrY6ZQ" +
	"rx3gb4v0UaSMOMiR5sB7Eaulb2Yc6RmRnnlxgUUC2alosg4WIeFN951PLjSc" +
	"ajVba6dqlDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAA" +
	"AAAEAAAAHwNiIi5Ms+4PsY/L2ipkTtquknfx6HodLvk3RAAAAAA==."

func TestDecodeSpecDataMessage(t *testing.T) {
	if k := Classify(specDataMessage); k != KindEncoded {
		t.Fatalf("Classify = %v", k)
	}
	b, err := DecodeEncoded(specDataMessage)
	if err != nil {
		t.Fatal(err)
	}
	ver, err := ProtocolVersion(b)
	if err != nil || ver != 3 {
		t.Fatalf("ProtocolVersion = %d, %v", ver, err)
	}
	// Message type 0x03 (Data Message), sender instance tag 0x27e31599... as
	// in the bytes: "AAMD" is 00 03 03.
	if b[2] != 0x03 {
		t.Fatalf("message type %#x", b[2])
	}
	if Encode(b) != specDataMessage {
		t.Fatal("Encode(DecodeEncoded(m)) != m")
	}
	// An OTRv4 message header: version 0x0004.
	v4msg := Encode([]byte{0x00, 0x04, 0x35, 1, 2, 3})
	if !strings.HasPrefix(v4msg, "?OTR:AAQ") {
		t.Fatalf("v4 message %q", v4msg)
	}
	b, err = DecodeEncoded(v4msg)
	if ver, _ := ProtocolVersion(b); err != nil || ver != 4 {
		t.Fatalf("v4: %d, %v", ver, err)
	}
	if _, err := ProtocolVersion([]byte{4}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short header: %v", err)
	}
}

func TestDecodeEncodedMalformed(t *testing.T) {
	good := Encode([]byte("hello, world")) // "?OTR:aGVsbG8sIHdvcmxk."
	if _, err := DecodeEncoded(good); err != nil {
		t.Fatalf("%q: %v", good, err)
	}
	for _, in := range []string{
		"",
		"?OTR:",
		"?OTR:aGVsbG8sIHdvcmxk",       // no "."
		"aGVsbG8sIHdvcmxk.",           // no prefix
		" ?OTR:aGVsbG8sIHdvcmxk.",     // not at the start
		"?OTR:aGVsbG8sIHdvcmxk. ",     // text after "."
		"?OTR:aGVsbG8sIHdvcmxk.\n",    // newline after "."
		"?OTR:aGVsbG8s\nIHdvcmxk.",    // line break inside
		"?OTR:aGVsbG8s\r\nIHdvcmxk.",  // line break inside
		"?OTR:aGVsbG8sIHdvcmxk..",     // two dots
		"?OTR:aGVsbG8sIHdvcmx.",       // bad length
		"?OTR:aGVsbA.",                // missing padding
		"?OTR:aGVsbB==.",              // non-zero padding bits (strict)
		"?OTR:aGVs bG8sIHdvcmxk.",     // space
		"?OTR:aGVsbG8_IHdvcmxk.",      // URL alphabet
		"?OTR:aGVsbG8sIHdvcmxk=.",     // extra padding
		"?OTR:aGVsbA==aGVs.",          // data after padding
		"?OTR|1|100|0,1,1,aGVsbA==.,", // a fragment
	} {
		if b, err := DecodeEncoded(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeEncoded(%q) = %x, %v", in, b, err)
		} else if !strings.HasPrefix(err.Error(), "query: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
	// The empty message frames as "?OTR:." and decodes to nothing; the
	// header parser rejects it.
	if b, err := DecodeEncoded(Encode(nil)); err != nil || len(b) != 0 {
		t.Fatalf("empty: %x, %v", b, err)
	}
}

func TestClassify(t *testing.T) {
	base, t4 := WhitespaceTagBase, WhitespaceTagV4
	tests := []struct {
		in   string
		want Kind
	}{
		{"hello", KindPlaintext},
		{"", KindPlaintext},
		{"?OTR|3c5b5f03|5a73a599|27e31597,00001,00003,?OTR:AAMD,", KindFragment},
		{"?OTR,1,2,?OTR:AAMD,", KindFragment},
		{"?OTRP|1|2|3,1,2,AAQD,", KindFragment},
		{"?OTR|garbage", KindFragment}, // fragment.Parse rejects it later
		{"?OTR Error: ERROR_1: Unreadable message", KindError},
		{"?OTR:AAQD.", KindEncoded},
		{"?OTR:not base64 ?OTRv4?", KindEncoded}, // DecodeEncoded rejects it later
		{"?OTRv4?", KindQuery},
		{"hello ?OTRv34? there" + base + t4, KindQuery},
		{"hello" + base + t4, KindPlaintextWithTag},
		{"hello ?OTR:AAQD.", KindPlaintext}, // encoded messages start at the first byte
		{"hello ?OTR|1|100|0,1,1,x,", KindPlaintext},
		{"?OTR Error: ?OTRv4?", KindError},
	}
	for _, tt := range tests {
		if got := Classify(tt.in); got != tt.want {
			t.Errorf("Classify(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if KindPlaintextWithTag.String() != "plaintext with tag" || Kind(99).String() != "Kind(99)" {
		t.Fatal("Kind.String")
	}
}

func ExampleParseQuery() {
	ours := NewVersions(3, 4)
	theirs, ok := ParseQuery("?OTRv43? Bob has requested an Off-the-Record private conversation.")
	fmt.Println(ok, (ours & theirs).Best())
	// Output: true 4
}

func ExampleStripWhitespaceTag() {
	msg := AppendWhitespaceTag("Hi Bob!", NewVersions(4))
	plain, v, found := StripWhitespaceTag(msg)
	fmt.Printf("%q %v %v\n", plain, v.Has(4), found)
	// Output: "Hi Bob!" true true
}

func ExampleClassify() {
	for _, msg := range []string{
		"Hello",
		"Hello" + AppendWhitespaceTag("", NewVersions(4)),
		QueryMessage(NewVersions(3, 4)),
		ErrorMessage(ErrorNotInPrivate),
		Encode([]byte{0x00, 0x04, 0x35}),
		"?OTR|3c5b5f03|5a73a599|27e31597,00001,00002,?OTR:AAQ,",
	} {
		fmt.Printf("%-18s %q\n", Classify(msg), msg)
	}
	// Output:
	// plaintext          "Hello"
	// plaintext with tag "Hello \t  \t\t\t\t \t \t \t    \t\t \t  "
	// query              "?OTRv43?"
	// error              "?OTR Error: ERROR_2: Not in private state message"
	// encoded            "?OTR:AAQ1."
	// fragment           "?OTR|3c5b5f03|5a73a599|27e31597,00001,00002,?OTR:AAQ,"
}
