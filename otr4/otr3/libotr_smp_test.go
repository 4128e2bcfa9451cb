package otr3

import (
	"strings"
	"testing"

	"github.com/otrchat/otrchat/otr4"
)

func encryptedPair(t *testing.T) (*goSide, *peer) {
	t.Helper()
	dir, kf := newPeerDir(t)
	p := startPeer(t, dir, "bob", kf)
	g := newGoSide(t, Config{})
	pump(g, p, g.take(g.c.StartAKE()), nil)
	encrypted(t, g, p)
	return g, p
}

// smpEvents returns the peer's "smp ..." lines since mark.
func smpLines(p *peer, mark int) []string {
	var out []string
	for _, e := range p.events[mark:] {
		if strings.HasPrefix(e, "smp ") {
			out = append(out, e)
		}
	}
	return out
}

func lastSMP(p *peer, mark int) string {
	l := smpLines(p, mark)
	if len(l) == 0 {
		return ""
	}
	return strings.Fields(l[len(l)-1])[1]
}

func TestLibotrSMPWeStart(t *testing.T) {
	g, p := encryptedPair(t)
	for _, tc := range []struct {
		name, question, ours, theirs string
		want                         otr4.EventKind
		libotrWant                   string
	}{
		{"right secret", "", "the secret", "the secret", otr4.EventSMPSucceeded, "success"},
		{"wrong secret", "", "the secret", "another", otr4.EventSMPFailed, "failure"},
		{"question", "Where did we meet?", "Prague", "Prague", otr4.EventSMPSucceeded, "success"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := len(p.events)
			g.events = nil
			wires := g.take(g.c.StartSMP(tc.question, []byte(tc.ours)))
			var toGo []string
			for _, w := range wires {
				toGo = append(toGo, p.do("recv", w).wires...)
			}
			ask := smpLines(p, mark)
			wantAsk := "smp askforsecret"
			if tc.question != "" {
				wantAsk = "smp askforanswer"
			}
			if len(ask) != 1 || !strings.HasPrefix(ask[0], wantAsk) || !strings.HasSuffix(ask[0], " "+escape(tc.question)) {
				t.Fatalf("libotr reported %q", ask)
			}
			pump(g, p, nil, toGo)
			r := p.do("smpanswer", tc.theirs)
			pump(g, p, nil, r.wires)
			if g.saw(tc.want) == nil {
				t.Fatalf("we reported %v, want %v", g.events, tc.want)
			}
			if got := lastSMP(p, mark); got != tc.libotrWant {
				t.Fatalf("libotr reported %q, want %q (%q)", got, tc.libotrWant, smpLines(p, mark))
			}
		})
	}
	chat(t, g, p, 1)
}

func TestLibotrSMPLibotrStarts(t *testing.T) {
	g, p := encryptedPair(t)
	for _, tc := range []struct {
		name, question, ours, theirs string
		want                         otr4.EventKind
		libotrWant                   string
	}{
		{"right secret", "", "s3cret", "s3cret", otr4.EventSMPSucceeded, "success"},
		// Our SMP message 4 carries the failure: libotr reports "failure",
		// not "abort".
		{"wrong secret", "", "s3cret", "wrong", otr4.EventSMPFailed, "failure"},
		{"question", "Name of the cat?", "Minou", "Minou", otr4.EventSMPSucceeded, "success"},
		{"question, wrong answer", "Name of the cat?", "Minou", "Felix", otr4.EventSMPFailed, "failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := len(p.events)
			g.events = nil
			var r reply
			if tc.question == "" {
				r = p.do("smp", tc.theirs)
			} else {
				r = p.do("smpq", tc.question+"\t"+tc.theirs)
			}
			pump(g, p, nil, r.wires)
			ask := g.saw(otr4.EventSMPSecretNeeded)
			if ask == nil || ask.Question != tc.question {
				t.Fatalf("we reported %v", g.events)
			}
			pump(g, p, g.take(g.c.AnswerSMP([]byte(tc.ours))), nil)
			if g.saw(tc.want) == nil {
				t.Fatalf("we reported %v, want %v", g.events, tc.want)
			}
			if got := lastSMP(p, mark); got != tc.libotrWant {
				t.Fatalf("libotr reported %q, want %q (%q)", got, tc.libotrWant, smpLines(p, mark))
			}
		})
	}
	chat(t, g, p, 1)
}

func TestLibotrSMPAbort(t *testing.T) {
	g, p := encryptedPair(t)
	mark := len(p.events)
	r := p.do("smp", "x")
	pump(g, p, nil, r.wires)
	pump(g, p, g.take(g.c.AbortSMP()), nil)
	if got := lastSMP(p, mark); got != "abort" {
		t.Fatalf("libotr reported %q", smpLines(p, mark))
	}
	// libotr aborts; we report it.
	g.events = nil
	pump(g, p, g.take(g.c.StartSMP("", []byte("y"))), nil)
	r = p.do("smpabort", "")
	pump(g, p, nil, r.wires)
	if g.saw(otr4.EventSMPAborted) == nil {
		t.Fatalf("we reported %v", g.events)
	}
}

func TestLibotrExtraKey(t *testing.T) {
	g, p := encryptedPair(t)
	mark := len(p.events)
	out, key, err := g.c.SendExtraKey(0x01020304, []byte("file.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range out.ToSend {
		p.do("recv", w)
	}
	want := "symkey 16909060 66696c652e747874 " + strings.ToLower(hexString(key))
	found := false
	for _, e := range p.events[mark:] {
		found = found || e == want
	}
	if !found {
		t.Fatalf("libotr reported %q, want %q", p.events[mark:], want)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

func TestLibotrFragments(t *testing.T) {
	dir, kf := newPeerDir(t)
	p := startPeer(t, dir, "bob", kf)
	p.do("maxsize", "300")
	g := newGoSide(t, Config{FragmentSize: 300})
	// The AKE itself is fragmented both ways.
	wires := g.take(g.c.StartAKE())
	if len(wires) < 2 {
		t.Fatalf("D-H Commit in %d pieces", len(wires))
	}
	pump(g, p, wires, nil)
	encrypted(t, g, p)

	long := strings.Repeat("A long message, cut in pieces. ", 80)
	wires = g.take(g.c.Send(long))
	if len(wires) < 5 || !strings.HasPrefix(wires[0], "?OTR|") {
		t.Fatalf("%d pieces: %.40q", len(wires), wires[0])
	}
	var got []string
	for i, w := range wires {
		if len(w) > 300 {
			t.Fatalf("piece %d has %d bytes", i, len(w))
		}
		got = append(got, p.do("recv", w).texts...)
	}
	if len(got) != 1 || got[0] != long {
		t.Fatalf("libotr read %d texts", len(got))
	}
	r := p.do("send", long)
	if len(r.wires) < 5 || !strings.HasPrefix(r.wires[0], "?OTR|") {
		t.Fatalf("libotr sent %d pieces", len(r.wires))
	}
	g.texts = nil
	pump(g, p, nil, r.wires)
	if len(g.texts) != 1 || g.texts[0] != long {
		t.Fatalf("we read %d texts", len(g.texts))
	}
}

func TestLibotrEnd(t *testing.T) {
	t.Run("libotr ends", func(t *testing.T) {
		g, p := encryptedPair(t)
		r := p.do("end", "")
		pump(g, p, nil, r.wires)
		if g.saw(otr4.EventPeerEnded) == nil || g.c.State() != otr4.StateFinished {
			t.Fatalf("%v %v", g.events, g.c.State())
		}
		if _, err := g.c.Send("still there?"); err != otr4.ErrFinished {
			t.Fatalf("Send in FINISHED: %v", err)
		}
		g.take(g.c.End())
		if g.c.State() != otr4.StateStart {
			t.Fatal(g.c.State())
		}
	})
	t.Run("we end", func(t *testing.T) {
		g, p := encryptedPair(t)
		pump(g, p, g.take(g.c.End()), nil)
		if st, _, _ := p.state(); st != 2 || !p.saw("event peerended") {
			t.Fatalf("libotr msgstate %d, events %q", st, p.events)
		}
		if g.c.State() != otr4.StateStart {
			t.Fatal(g.c.State())
		}
		// A new AKE starts afresh.
		pump(g, p, g.take(g.c.StartAKE()), nil)
		encrypted(t, g, p)
		chat(t, g, p, 1)
	})
}

// TestLibotrRefresh: a new AKE inside an encrypted conversation, started by
// either side, replaces the keys; the conversation goes on.
func TestLibotrRefresh(t *testing.T) {
	g, p := encryptedPair(t)
	chat(t, g, p, 1)
	// We start the new AKE.
	mark := len(p.events)
	pump(g, p, g.take(g.c.StartAKE()), nil)
	if !p.saw("event stillsecure") || len(p.events) == mark {
		t.Fatalf("libotr reported %q", p.events[mark:])
	}
	encrypted(t, g, p)
	chat(t, g, p, 2)
	// libotr's query while encrypted makes it answer our D-H Commit.
	q := p.do("query", "")
	pump(g, p, nil, q.wires)
	encrypted(t, g, p)
	chat(t, g, p, 2)
}
