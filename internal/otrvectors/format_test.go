package otrvectors

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts marshals to a
// file that parses to the same entries (parse(marshal(f)) == f).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", Dir, "*.txt"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("# comment\n#\nkey: value\nempty:\n"))
	f.Add([]byte("a:b\n\nc: d e\n"))
	f.Add([]byte("no colon\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Parse(b)
		if err != nil {
			return
		}
		out := v.Marshal()
		w, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !bytes.Equal(w.Marshal(), out) {
			t.Fatal("marshal(parse(marshal(parse(b)))) differs")
		}
		for _, k := range v.Keys() {
			x, _ := v.Get(k)
			y, ok := w.Get(k)
			if !ok || x != y {
				t.Fatalf("key %q: %q then %q", k, x, y)
			}
		}
	})
}

func TestFormatRoundTrip(t *testing.T) {
	var f File
	f.Comment("a comment\n\nover three lines")
	f.Set("case", "example")
	f.Hex("bytes", []byte{0, 1, 0xfe})
	f.Hex("empty", nil)
	f.Text("text", "héllo \"quoted\"")
	f.Int("n", 42)
	f.Tag("tag", 0x100)
	b := f.Marshal()
	want := "# a comment\n#\n# over three lines\ncase: example\nbytes: 0001fe\nempty:\ntext: \"h\u00e9llo \\\"quoted\\\"\"\nn: 42\ntag: 0x00000100\n"
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	g, err := Parse(b)
	if err != nil || !bytes.Equal(g.Marshal(), b) {
		t.Fatal(err)
	}
	for _, bad := range []string{"no colon\n", "a: 1\na: 2\n", ": value\n", "a b: c\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
