package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/session"
)

// syncBuf is an io.Writer the test reads while the line mode writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s.b.String(), "\n"), "\n")
}

type lineHarness struct {
	t    *testing.T
	f    *fake
	in   *io.PipeWriter
	out  *syncBuf
	done chan error
	seen int
}

func startLine(t *testing.T, f *fake) *lineHarness {
	r, w := io.Pipe()
	h := &lineHarness{t: t, f: f, in: w, out: &syncBuf{}, done: make(chan error, 1)}
	go func() {
		h.done <- RunLine(context.Background(), Options{Backend: f, EndTimeout: time.Second}, r, h.out)
	}()
	t.Cleanup(func() { w.Close() })
	return h
}

// expect waits for the next lines of output to be want, exactly.
func (h *lineHarness) expect(want ...string) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := h.out.lines()
		if len(got) >= h.seen+len(want) {
			got = got[h.seen : h.seen+len(want)]
			if !slices.Equal(got, want) {
				h.t.Fatalf("line mode wrote\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			h.seen += len(want)
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("line mode wrote only\n%s\nwant\n%s", strings.Join(got[h.seen:], "\n"), strings.Join(want, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *lineHarness) send(line string) {
	if _, err := fmt.Fprintln(h.in, line); err != nil {
		h.t.Fatal(err)
	}
}

func TestLineMode(t *testing.T) {
	f := newFake()
	h := startLine(t, f)
	h.expect(`ready account=alice@localhost device=0a11ce00 label=desk fingerprint="` + aliceFP + `" uri="xmpp:alice@localhost?otr-fingerprint=` + strings.ReplaceAll(aliceFP, " ", "") + `"`)

	h.send("hello?")
	h.expect(`error command=send text="this is the console: open a conversation with /win CONTACT, or use /msg CONTACT TEXT"`)
	h.send("/win bob")
	h.expect("ok command=win")
	h.send(`two\nlines`)
	h.expect(`sent contact=bob@localhost id=m1 encrypted=no to=1a2b3c4d text="two\nlines"`, "ok command=send")
	h.send("/otr start")
	h.expect(`info contact=bob@localhost text="starting OTR with bob@localhost…"`, "ok command=otr")

	at := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	f.setDevice(bob, session.DeviceInfo{Device: bobPhone, Online: true, State: session.Encrypted, Version: 4, Fingerprint: phoneFP, Trust: session.Assumed})
	for _, ev := range []session.Event{
		&session.StateEvent{Contact: bob, Device: bobPhone, State: session.Encrypted, Prev: session.Starting, Version: 4},
		&session.MessageEvent{Contact: bob, From: bobPhone, Text: `héllo "alice"`, Encrypted: true, Version: 4, Trust: session.Assumed, Time: at},
		&session.DeliveryEvent{Contact: bob, ID: "m1", Device: bobPhone, Status: session.Failed, Err: errors.New("remote-server-timeout")},
		&session.WarningEvent{Contact: bob, Device: bobLap, Kind: session.WarnNewDevice, Text: "new device"},
		&session.SMPEvent{Contact: bob, Device: bobPhone, Kind: session.SMPAsked, Question: "pet?"},
		&session.TrustEvent{Contact: bob, Fingerprint: phoneFP, Level: session.Verified, FromDevice: &session.Device{Account: alice, Tag: 0x0a11ce01}},
		&session.ConnectionEvent{Online: true, Addr: jid.MustParse("alice@localhost/desk"), Resumable: true},
		&session.RosterEvent{Contact: session.ContactInfo{JID: carol, Subscription: "none"}, Removed: true},
		&session.SubscriptionRequestEvent{From: jid.MustParse("eve@localhost/x")},
		&session.PrekeyEvent{Server: jid.MustParse("prekeys.localhost"), Stored: 20, Published: 5},
		&session.WarningEvent{Kind: session.WarnPrekeyServer, Text: "unreachable"},
	} {
		f.emit(ev)
	}
	h.expect(
		"state contact=bob@localhost device=1a2b3c4d label=phone state=encrypted prev=starting version=4",
		`message contact=bob@localhost dir=in device=1a2b3c4d label=phone encrypted=yes version=4 trust=assumed delayed=no time=2026-11-29T18:00:00Z text="héllo \"alice\""`,
		`delivery contact=bob@localhost id=m1 device=1a2b3c4d label=phone status=failed error=remote-server-timeout`,
		`warning kind=new-device contact=bob@localhost device=00000abc label=laptop text="new device"`,
		`smp contact=bob@localhost device=1a2b3c4d label=phone kind=asked question="pet?"`,
		`trust contact=bob@localhost fingerprint="`+phoneFP+`" level=verified from=0a11ce01`,
		"connection online=yes addr=alice@localhost/desk resumable=yes",
		`roster contact=carol@localhost name="" subscription=none pending=no online=no devices=0 state=plaintext trust=untrusted policy=best removed=yes`,
		"subscription-request from=eve@localhost",
		"prekeys server=prekeys.localhost stored=20 published=5",
		`warning kind=prekey-server contact=- device=- label="" text=unreachable`,
	)
	// The SMP answer goes to the device that asked.
	h.send("/smp answer Rex the dog")
	h.expect(`info contact=bob@localhost text="SMP: answer sent, waiting for the result…"`, "ok command=smp")
	if !slices.Contains(f.Calls(), `AnswerSMP bob@localhost 1a2b3c4d "Rex the dog"`) {
		t.Fatalf("calls %q", f.Calls())
	}
	h.send("/approve eve@localhost")
	h.expect(`info contact=bob@localhost text="eve@localhost may now see our presence"`, "ok command=approve")
	h.send("/trustmode blind")
	h.expect(`info contact=bob@localhost text="trust mode is now blind"`, "ok command=trustmode")
	h.send("/nonsense")
	h.expect(`error command=nonsense text="unknown command /nonsense; /help lists them"`)
	h.send("/quit")
	h.expect("ok command=quit", "bye")
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.Calls(), "EndOTR bob@localhost") {
		t.Fatalf("quit did not end OTR: %q", f.Calls())
	}
}

func TestLineModeEOFEndsOTR(t *testing.T) {
	f := newFake()
	f.setDevice(bob, session.DeviceInfo{Device: bobPhone, State: session.Encrypted, Version: 4})
	h := startLine(t, f)
	h.in.Close()
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.Calls(), "EndOTR bob@localhost") {
		t.Fatalf("calls %q", f.Calls())
	}
}

func TestLineModeTooLongLine(t *testing.T) {
	h := startLine(t, newFake())
	go func() {
		h.in.Write(bytes.Repeat([]byte("x"), maxLineInput+10))
		h.in.Close()
	}()
	if err := <-h.done; err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("err %v", err)
	}
}

func TestLineValue(t *testing.T) {
	for in, want := range map[string]string{
		"":                `""`,
		"bob@localhost/x": "bob@localhost/x",
		"a b":             `"a b"`,
		`q"`:              `"q\""`,
		"k=v":             `"k=v"`,
		"é":               `"é"`,
		"line\nbreak":     `"line\nbreak"`,
	} {
		if got := lineValue(in); got != want {
			t.Errorf("lineValue(%q) = %s, want %s", in, got, want)
		}
	}
}
