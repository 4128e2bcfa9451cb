package ui

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
)

// FuzzExecute: whatever line a user or script types, the command language
// answers with a result or an error, never a panic.
func FuzzExecute(f *testing.F) {
	for _, c := range commands {
		f.Add("/"+c.name, true)
		f.Add("/"+c.name+" bob", false)
	}
	for _, s := range []string{"hello", "//x", `/smp ask "q" s`, `/smp ask 'unclosed`, "/trust bob 1a2b3c4d", "/win 99999999999999999999",
		"/policy global multicast", "/smp #zz x", "/msg \x00 \xff", "/log on /dev/null", "/trust " + phoneFP} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, line string, inWindow bool) {
		if strings.HasPrefix(line, "/log") || strings.HasPrefix(line, "/quit") {
			return // writes files; stops
		}
		cur := jid.JID{}
		if inWindow {
			cur = bob
		}
		c := NewCore(newFake(), &rec{}, nil)
		_, _ = c.Execute(context.Background(), cur, line)
		_ = c.Complete(line)
	})
}

// FuzzLineValue: a line-mode value is one bare token or a quoted string
// that strconv.Unquote reads back to the original.
func FuzzLineValue(f *testing.F) {
	for _, s := range []string{"", "bob@localhost/x", "a b", `q"`, "k=v", "é", "line\nbreak", "\xff", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := lineValue(s)
		if strings.HasPrefix(v, `"`) {
			got, err := strconv.Unquote(v)
			if err != nil || (got != s && strings.ToValidUTF8(s, "\uFFFD") == s) {
				t.Fatalf("lineValue(%q) = %s: unquotes to %q, %v", s, v, got, err)
			}
			return
		}
		if v != s || strings.ContainsAny(v, " \"=\n") || v == "" {
			t.Fatalf("lineValue(%q) = %s", s, v)
		}
	})
}
