package sexp

import (
	"errors"
	"testing"
)

const keyFile = `(privkeys
 (account
(name "alice@example.org")
(protocol prpl-jabber)
(private-key
 (dsa
  (p #00FC07ABCF#)
  (q |AQID|)
  (g 3:abc)
  (y "a\"b\\c\x41\101")
  (x #0102
     03#)
  )
 )
 )
)
`

func TestParseKeyFile(t *testing.T) {
	n, err := Parse(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	acc := n.Find("account")
	if n.Head() != "privkeys" || acc == nil || string(acc.Value("name")) != "alice@example.org" || string(acc.Value("protocol")) != "prpl-jabber" {
		t.Fatalf("%+v", n)
	}
	d := acc.Find("private-key").List[1]
	want := map[string]string{"p": "\x00\xfc\x07\xab\xcf", "q": "\x01\x02\x03", "g": "abc", "y": "a\"b\\cAA", "x": "\x01\x02\x03"}
	for k, v := range want {
		if got := string(d.Value(k)); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "abc", "(a", "(a))", `("x)`, "(#0#)", "(|!!|)", "(99:x)", "(a \x01)", `("\q")`} {
		if _, err := Parse(s); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v", s, err)
		}
	}
	deep := ""
	for i := 0; i < MaxDepth+2; i++ {
		deep += "("
	}
	if _, err := Parse(deep); !errors.Is(err, ErrSyntax) {
		t.Fatal(err)
	}
}

// FuzzParse checks that Parse never panics and returns only ErrSyntax.
func FuzzParse(f *testing.F) {
	f.Add(keyFile)
	f.Add(`(a (b "c") #00# |AA==| 1:x)`)
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatal(err)
			}
			return
		}
		if !n.IsList {
			t.Fatal("top level is not a list")
		}
		_ = n.Find("x")
		_ = n.Value("y")
	})
}
