package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/session"
)

// rec is a Frontend that records what commands print.
type rec struct {
	lines  []string
	focus  jid.JID
	quit   bool
	window int
}

func (r *rec) Print(c jid.JID, k Kind, text string) {
	r.lines = append(r.lines, fmt.Sprintf("%d %s %s", k, jidOrDash(c), text))
}
func (r *rec) Sent(c jid.JID, id, text string, to []session.Device, enc SendMode) {
	var tags []string
	for _, d := range to {
		tags = append(tags, tagString(d.Tag))
	}
	r.lines = append(r.lines, fmt.Sprintf("sent %s %s %q %v %s", c, id, text, tags, enc))
}
func (r *rec) Focus(c jid.JID)     { r.focus = c }
func (r *rec) Window(n int) error  { r.window = n; return nil }
func (r *rec) Windows() []string   { return []string{"console", "bob@localhost"} }
func (r *rec) CloseWindow(jid.JID) {}
func (r *rec) Clear(jid.JID)       {}
func (r *rec) Quit()               { r.quit = true }
func (r *rec) text() string        { return strings.Join(r.lines, "\n") }

func TestCommands(t *testing.T) {
	for _, tc := range []struct {
		cur   jid.JID
		line  string
		calls []string // backend calls, in order (Self and queries are left out)
		out   string   // a substring of the output
		err   string   // a substring of the error
	}{
		{cur: bob, line: "hello there", calls: []string{`Send bob@localhost "hello there"`}, out: `sent bob@localhost m1 "hello there" [1a2b3c4d] no`},
		{cur: bob, line: "//slash text", calls: []string{`Send bob@localhost "/slash text"`}},
		{line: "hello", err: "this is the console"},
		{line: "/msg Bob hi  you", calls: []string{`Send bob@localhost "hi  you"`}},
		{line: "/msg nobody hi", err: "neither a contact nor a JID"},
		{line: "/msg bob@localhost", err: "usage: /msg CONTACT TEXT"},
		{line: "/otr start bob@localhost", calls: []string{"StartOTR bob@localhost"}, out: "starting OTR"},
		{cur: bob, line: "/otr start", calls: []string{"StartOTR bob@localhost"}},
		{cur: bob, line: "/otr end", calls: []string{"EndOTR bob@localhost"}, out: "plaintext"},
		{line: "/otr start", err: "which contact?"},
		{cur: bob, line: "/otr", out: "phone 1a2b3c4d: online, plaintext, unverified"},
		{cur: bob, line: "/policy multicast", calls: []string{"SetPolicy bob@localhost MULTICASTING"}, out: "goes to: phone 1a2b3c4d"},
		{line: "/policy global recent-sent", calls: []string{"SetPolicy  RECENT_SENT"}, out: "policy for default is now recent-sent"},
		{line: "/policy bob@localhost recent", calls: []string{"SetPolicy bob@localhost RECENT"}},
		{line: "/policy bob@localhost", out: "instance policy for bob@localhost: best"},
		{line: "/policy", out: "instance policy for default: best"},
		{cur: bob, line: "/policy newest", err: "neither a contact nor a JID"},
		{line: "/policy bob@localhost newest", err: "unknown policy"},
		{cur: bob, line: "/recipients", out: "goes to: phone 1a2b3c4d"},
		{line: "/devices", out: "this device: desk 0a11ce00"},
		{line: "/devices own", out: "mobile 0a11ce01"},
		{cur: bob, line: "/devices", out: "bob@localhost has 1 device(s)"},
		{line: "/fingerprint", out: "xmpp:alice@localhost?otr-fingerprint=0123abcd0123abcd"},
		{line: "/fp bob", out: phoneFP},
		{cur: bob, line: "/fingerprint", out: "phone 1a2b3c4d (unverified)"},
		{cur: bob, line: "/trust 1a2b3c4d", calls: []string{fmt.Sprintf("SetTrust bob@localhost %q verified", phoneFP)}, out: "is now verified"},
		{line: "/trust bob@localhost " + strings.ToUpper(phoneFP), calls: []string{fmt.Sprintf("SetTrust bob@localhost %q verified", phoneFP)}},
		{line: "/trust bob@localhost " + strings.ReplaceAll(phoneFP, " ", ""), calls: []string{fmt.Sprintf("SetTrust bob@localhost %q verified", phoneFP)}},
		{cur: bob, line: "/distrust #1a2b3c4d", calls: []string{fmt.Sprintf("SetTrust bob@localhost %q untrusted", phoneFP)}},
		{cur: bob, line: "/trust " + lapFP, err: "no device of bob@localhost has the fingerprint"},
		{cur: bob, line: "/trust 99999999", err: "has no device 99999999"},
		{cur: bob, line: "/trust", err: "usage: /trust"},
		{cur: bob, line: "/smp our secret", calls: []string{`StartSMP bob@localhost 00000000 "" "our secret"`}, out: "SMP started"},
		{cur: bob, line: "/smp #1a2b3c4d s3", calls: []string{`StartSMP bob@localhost 1a2b3c4d "" "s3"`}},
		{cur: bob, line: "/smp ask Where did we meet? in Paris", calls: []string{`StartSMP bob@localhost 00000000 "Where did we meet?" "in Paris"`}},
		{cur: bob, line: `/smp ask "the café's name" Zoë`, calls: []string{`StartSMP bob@localhost 00000000 "the café's name" "Zoë"`}},
		{cur: bob, line: "/smp ask no question mark", err: "end the question with ?"},
		{cur: bob, line: "/smp answer in Paris", calls: []string{`AnswerSMP bob@localhost 00000000 "in Paris"`}},
		{cur: bob, line: "/smp abort", calls: []string{"AbortSMP bob@localhost 00000000"}},
		{line: "/smp x", err: "conversation window"},
		{line: "/trustmode", out: "trust mode: manual"},
		{line: "/trustmode tofu", calls: []string{"SetTrustMode tofu"}},
		{line: "/trustmode blind-before-verification", calls: []string{"SetTrustMode blind-before-verification"}},
		{line: "/trustmode sometimes", err: "usage: /trustmode"},
		{cur: bob, line: "/encryption always", calls: []string{"SetEncryptionPolicy bob@localhost always"}},
		{line: "/encrypt global manual", calls: []string{"SetEncryptionPolicy  manual"}},
		{line: "/encryption", out: "encryption policy for default: opportunistic"},
		{line: "/prekeys", calls: []string{"PrekeyStatus"}, out: "stores 17 of our prekeys"},
		{line: "/prekeys refill", calls: []string{"RefillPrekeys"}, out: "stores 67"},
		{line: "/contacts", out: "Bob <bob@localhost>: online, subscription both, 1 device(s), plaintext"},
		{line: "/add dave@example.org Dave D", calls: []string{`AddContact dave@example.org "Dave D"`}},
		{line: "/add dave", err: "not a JID"},
		{line: "/remove Bob", calls: []string{"RemoveContact bob@localhost"}},
		{line: "/approve eve@localhost", calls: []string{"ApproveSubscription eve@localhost"}},
		{line: "/deny eve@localhost", calls: []string{"DenySubscription eve@localhost"}},
		{line: "/presence away gone fishing", calls: []string{`SetPresence away "gone fishing"`}},
		{line: "/presence sleeping", err: "usage: /presence"},
		{line: "/help", out: "/smp"},
		{line: "/help smp", out: "Socialist Millionaires"},
		{line: "/frobnicate", err: "unknown command /frobnicate"},
		{line: `/smp ask "unclosed`, err: "unclosed quote"},
		{line: "/win list", out: "2: bob@localhost"},
		{line: "/win 2"},
		{line: "/qr", out: "xmpp:alice@localhost?otr-fingerprint="},
	} {
		t.Run(tc.line, func(t *testing.T) {
			f := newFake()
			r := &rec{}
			c := NewCore(f, r, nil)
			_, err := c.Execute(context.Background(), tc.cur, tc.line)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatalf("error %v\n%s", err, r.text())
			}
			var calls []string
			for _, cl := range f.Calls() {
				if cl != "Self" {
					calls = append(calls, cl)
				}
			}
			if !slices.Equal(calls, tc.calls) {
				t.Errorf("calls %q, want %q", calls, tc.calls)
			}
			if !strings.Contains(r.text(), tc.out) {
				t.Errorf("output lacks %q:\n%s", tc.out, r.text())
			}
		})
	}
}

func TestSMPAnswerGoesToTheAskingDevice(t *testing.T) {
	f := newFake()
	r := &rec{}
	c := NewCore(f, r, nil)
	c.Observe(&session.SMPEvent{Contact: bob, Device: bobLap, Kind: session.SMPAsked, Question: "pet?"})
	if _, err := c.Execute(context.Background(), bob, "/smp answer Rex"); err != nil {
		t.Fatal(err)
	}
	if got := f.Calls(); !slices.Contains(got, `AnswerSMP bob@localhost 00000abc "Rex"`) {
		t.Fatalf("calls %q", got)
	}
}

func TestUsageErrors(t *testing.T) {
	c := NewCore(newFake(), &rec{}, nil)
	_, err := c.Execute(context.Background(), jid.JID{}, "/presence")
	if !errors.Is(err, ErrUsage) {
		t.Fatalf("%v is not ErrUsage", err)
	}
}

func TestComplete(t *testing.T) {
	c := NewCore(newFake(), &rec{}, nil)
	c.Observe(&session.SubscriptionRequestEvent{From: jid.MustParse("eve@localhost/x")})
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"/tr", []string{"/trust ", "/trustmode "}},
		{"/trustmode b", []string{"/trustmode blind-before-verification ", "/trustmode blind "}},
		{"/msg b", []string{"/msg bob@localhost "}},
		{"/msg ", []string{"/msg bob@localhost ", "/msg carol@localhost "}},
		{"/policy ", []string{"/policy global ", "/policy bob@localhost ", "/policy carol@localhost "}},
		{"/policy bob@localhost r", []string{"/policy bob@localhost recent ", "/policy bob@localhost recent-received ", "/policy bob@localhost recent-sent "}},
		{"/otr s", []string{"/otr start "}},
		{"/otr start c", []string{"/otr start carol@localhost "}},
		{"/approve e", []string{"/approve eve@localhost "}},
		{"/encryption global a", []string{"/encryption global always "}},
		{"/log r", []string{"/log redacted "}},
		{"/help sm", []string{"/help smp "}},
		{"/nothing ", nil},
		{"plain text", nil},
	} {
		if got := c.Complete(tc.line); !slices.Equal(got, tc.want) {
			t.Errorf("Complete(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	words, offs, err := tokenize(` a "b c" 'd e'f "g\"h" `)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(words, []string{"a", "b c", "d ef", `g"h`}) || !slices.Equal(offs, []int{1, 3, 9, 16}) {
		t.Fatalf("%q %v", words, offs)
	}
}

func TestMessageLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "messages.log")
	f := newFake()
	c := NewCore(f, &rec{}, NewMessageLog(path))
	at := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	msg := func(text string) {
		c.Observe(&session.MessageEvent{Contact: bob, From: bobPhone, Text: text, Encrypted: true, Version: 4, Trust: session.Verified, Time: at})
	}
	msg("before: not logged")
	if _, err := c.Execute(context.Background(), bob, "/log on"); err != nil {
		t.Fatal(err)
	}
	msg("secret plan\nline two")
	if _, err := c.Execute(context.Background(), bob, "/log redacted"); err != nil {
		t.Fatal(err)
	}
	msg("hidden text")
	if _, err := c.Execute(context.Background(), bob, "/log off"); err != nil {
		t.Fatal(err)
	}
	msg("after: not logged")
	if _, err := c.Execute(context.Background(), bob, "/log sometimes"); !errors.Is(err, ErrLogMode) {
		t.Fatalf("bad mode: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `2026-11-29T18:00:00Z in bob@localhost "phone 1a2b3c4d" encrypted verified "secret plan\nline two"
2026-11-29T18:00:00Z in bob@localhost "phone 1a2b3c4d" encrypted verified [redacted]
`
	if string(b) != want {
		t.Fatalf("log:\n%s\nwant:\n%s", b, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("log mode %v", fi.Mode())
	}
	// A log file others can read is refused.
	wide := filepath.Join(dir, "wide.log")
	os.WriteFile(wide, nil, 0o644)
	if _, err := c.Execute(context.Background(), bob, "/log on "+wide); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable log: %v", err)
	}
}

func TestQRLines(t *testing.T) {
	uri := newFake().FingerprintURI()
	lines, err := qrLines(uri)
	if err != nil {
		t.Fatal(err)
	}
	// Read the modules back from the half blocks: the top-left finder
	// pattern (7×7: dark ring, light ring, dark 3×3) must be there, after
	// the quiet zone.
	dark := func(x, y int) bool {
		r := []rune(lines[y/2])[x]
		if y%2 == 0 {
			return r == ' ' || r == '▄'
		}
		return r == ' ' || r == '▀'
	}
	size := len([]rune(lines[0]))
	if size < 21+2*qrQuiet || len(lines) != (size+1)/2 {
		t.Fatalf("%d lines of %d", len(lines), size)
	}
	for y := 0; y < 7; y++ {
		for x := 0; x < 7; x++ {
			ring := x == 0 || y == 0 || x == 6 || y == 6
			core := x >= 2 && x <= 4 && y >= 2 && y <= 4
			if dark(x+qrQuiet, y+qrQuiet) != (ring || core) {
				t.Fatalf("finder pattern wrong at %d,%d:\n%s", x, y, strings.Join(lines, "\n"))
			}
		}
	}
	if dark(0, 0) || dark(size-1, size-1) {
		t.Fatal("no light quiet zone")
	}
}
