package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/mattn/go-runewidth"
	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/session"
)

// tuiHarness runs the TUI on a simulated terminal against the fake backend.
type tuiHarness struct {
	t      *testing.T
	f      *fake
	scr    tcell.SimulationScreen
	tui    *TUI
	exited chan struct{}
	err    error
}

func startTUI(t *testing.T, f *fake, w, h int) *tuiHarness {
	t.Helper()
	scr := tcell.NewSimulationScreen("UTF-8")
	h0 := &tuiHarness{t: t, f: f, scr: scr, exited: make(chan struct{})}
	h0.tui = NewTUI(Options{Backend: f, Screen: scr, TimestampFormat: "15:04", EndTimeout: time.Second})
	scr.SetSize(w, h) // after SetScreen, whose Init sets 80×25
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		h0.err = h0.tui.Run(ctx)
		close(h0.exited)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h0.exited:
		case <-time.After(5 * time.Second):
			t.Error("the TUI did not stop")
		}
	})
	h0.waitFor("Contacts")
	return h0
}

// screen is the simulated terminal's text, one line per row. It is read on
// the tview goroutine, which draws it, or once that has stopped.
func (h *tuiHarness) screen() string {
	var s string
	ran := make(chan struct{})
	go func() {
		h.tui.app.QueueUpdate(func() { s = h.read() })
		close(ran)
	}()
	select {
	case <-ran:
		return s
	case <-h.exited:
		return h.read()
	}
}

func (h *tuiHarness) read() string {
	cells, w, ht := h.scr.GetContents()
	var b strings.Builder
	for y := 0; y < ht; y++ {
		for x := 0; x < w; x++ {
			c := cells[y*w+x]
			if len(c.Runes) == 0 {
				continue
			}
			b.WriteString(string(c.Runes))
			if runewidth.RuneWidth(c.Runes[0]) == 2 {
				x++ // the second half of a wide character
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func (h *tuiHarness) waitFor(wants ...string) string {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := h.screen()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the screen does not show %q:\n%s", missing, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *tuiHarness) waitGone(text string) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Contains(h.screen(), text) {
		if time.Now().After(deadline) {
			h.t.Fatalf("the screen still shows %q:\n%s", text, h.screen())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *tuiHarness) typ(s string) {
	for _, r := range s {
		h.scr.InjectKey(tcell.KeyRune, r, tcell.ModNone)
	}
}

func (h *tuiHarness) enter(s string) {
	h.typ(s)
	h.key(tcell.KeyEnter)
}

func (h *tuiHarness) key(k tcell.Key) { h.scr.InjectKey(k, 0, tcell.ModNone) }

func (h *tuiHarness) alt(r rune) { h.scr.InjectKey(tcell.KeyRune, r, tcell.ModAlt) }

func (h *tuiHarness) waitCall(call string) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(h.f.Calls(), call) {
		if time.Now().After(deadline) {
			h.t.Fatalf("no call %q in %q", call, h.f.Calls())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *tuiHarness) wait() error {
	h.t.Helper()
	select {
	case <-h.exited:
		return h.err
	case <-time.After(10 * time.Second):
		h.t.Fatal("the TUI did not stop")
		return nil
	}
}

func TestTUIConversation(t *testing.T) {
	f := newFake()
	h := startTUI(t, f, 150, 30)
	f.emit(&session.ConnectionEvent{Online: true, Addr: jid.MustParse("alice@localhost/desk"), Resumable: true})
	h.waitFor("signed in as alice@localhost/desk", "[alice@localhost online]", "● Bob", "1 dev, plaintext", "○ carol@localhost", "0 dev, pending", "this: desk 0a11ce00")

	// Open the conversation and send in plaintext: the message says so.
	h.enter("/win bob")
	h.waitFor(" 2: bob@localhost ", "PLAINTEXT | to phone 1a2b3c4d | policy best | opportunistic")
	h.enter("hello bob")
	h.waitCall(`Send bob@localhost "hello bob"`)
	h.waitFor("[PLAINTEXT] me → phone 1a2b3c4d ?: hello bob")

	// OTR starts; the roster and the status bar show it, with the trust.
	h.enter("/otr start")
	h.waitCall("StartOTR bob@localhost")
	f.setDevice(bob, session.DeviceInfo{Device: bobPhone, Online: true, State: session.Encrypted, Version: 4, Fingerprint: phoneFP, Trust: session.Assumed, Listed: true})
	f.emit(&session.StateEvent{Contact: bob, Device: bobPhone, State: session.Encrypted, Prev: session.Starting, Version: 4})
	h.waitFor("OTR conversation with bob@localhost phone 1a2b3c4d is encrypted (OTRv4)", "OTR ? unverified", "OTRv4 unverified | to")

	// Messages both ways show encryption, device and trust; deliveries count.
	f.emit(&session.MessageEvent{Contact: bob, From: bobPhone, Text: "hi alice [red]not a tag[-]", Encrypted: true, Version: 4, Trust: session.Assumed, Time: time.Now()})
	h.waitFor("[OTRv4 unverified] bob (phone 1a2b3c4d): hi alice [red]not a tag[-]")
	h.enter("secret stuff")
	h.waitFor("[OTR] me → phone 1a2b3c4d ?: secret stuff")
	f.emit(&session.DeliveryEvent{Contact: bob, ID: "m2", Device: bobPhone, Status: session.Delivered})
	h.waitFor("secret stuff (delivered 1/1)")

	// A warning cannot be missed: in the window, and in a bar until Esc.
	f.emit(&session.WarningEvent{Contact: bob, Device: bobLap, Kind: session.WarnNewDevice, Text: "a new device appeared; it is not verified"})
	h.waitFor("!! WARNING new-device: bob@localhost laptop 00000abc: a new device appeared; it is not verified  (Esc: dismiss)")
	h.key(tcell.KeyEscape)
	h.waitGone("(Esc: dismiss)")
	h.waitFor("!! WARNING new-device") // still in the conversation

	// SMP with a question, answered, verified on screen.
	h.enter("/smp ask Where did we meet? Paris")
	h.waitCall(`StartSMP bob@localhost 00000000 "Where did we meet?" "Paris"`)
	f.setDevice(bob, session.DeviceInfo{Device: bobPhone, Online: true, State: session.Encrypted, Version: 4, Fingerprint: phoneFP, Trust: session.Verified, Listed: true})
	f.emit(&session.SMPEvent{Contact: bob, Device: bobPhone, Kind: session.SMPSucceeded})
	h.waitFor("SMP succeeded: bob@localhost phone 1a2b3c4d is now VERIFIED ✔", "OTR ✔ verified", "OTRv4 verified | to")

	// Switch policy: the status bar shows where the next message goes.
	f.setDevice(bob, session.DeviceInfo{Device: bobLap, Online: true, Fingerprint: lapFP, Trust: session.Untrusted, Listed: true})
	h.enter("/policy multicast")
	h.waitCall("SetPolicy bob@localhost MULTICASTING")
	h.waitFor("to phone 1a2b3c4d, laptop 00000abc | policy multicast", "2 dev")

	// A message in another window: the activity mark; Alt-1 and Alt-2 switch.
	h.alt('1')
	h.waitFor(" 1: console ")
	f.emit(&session.MessageEvent{Contact: bob, From: bobLap, Text: "from the laptop", Trust: session.Untrusted, Time: time.Now()})
	h.waitFor("[Act: 2]")
	h.alt('2')
	h.waitFor("[PLAINTEXT] bob (laptop 00000abc): from the laptop")
	h.key(tcell.KeyCtrlP)
	h.waitFor(" 1: console ")
	h.key(tcell.KeyCtrlN)
	h.waitFor(" 2: bob@localhost ")

	// History and completion.
	h.key(tcell.KeyUp)
	h.waitFor("> /policy multicast")
	h.key(tcell.KeyDown)
	h.waitGone("> /policy multicast")
	h.typ("/trustm")
	h.key(tcell.KeyTab)
	h.waitFor("> /trustmode ")
	h.typ("to")
	h.key(tcell.KeyTab)
	h.waitFor("> /trustmode tofu ")
	h.key(tcell.KeyEnter)
	h.waitCall("SetTrustMode tofu")

	// /quit ends the OTR conversation.
	h.enter("/quit")
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.Calls(), "EndOTR bob@localhost") {
		t.Fatalf("quit did not end OTR: %q", f.Calls())
	}
}

func TestTUIResizeWideAndLong(t *testing.T) {
	f := newFake()
	h := startTUI(t, f, 100, 24)
	h.enter("/win bob")
	var words []string
	for i := range 30 {
		words = append(words, fmt.Sprintf("w%02d", i))
	}
	long := strings.Join(words, " ") + " END"
	f.emit(&session.MessageEvent{Contact: bob, From: bobPhone, Text: "日本語のテキスト and ünïcödé", Encrypted: true, Version: 4, Trust: session.Verified})
	f.emit(&session.MessageEvent{Contact: bob, From: bobPhone, Text: long, Encrypted: true, Version: 4, Trust: session.Verified})
	s := h.waitFor("日本語のテキスト and", "ünïcödé", "END", "Contacts")
	for _, w := range words {
		if !strings.Contains(s, w) {
			t.Fatalf("the long message lost %s:\n%s", w, s)
		}
	}
	// A narrow terminal hides the roster and keeps the conversation whole.
	h.scr.SetSize(50, 20)
	h.scr.PostEvent(tcell.NewEventResize(50, 20))
	s = h.waitFor("END")
	h.waitGone("Contacts")
	for _, w := range words {
		if !strings.Contains(s, w) {
			t.Fatalf("after the resize the long message lost %s:\n%s", w, s)
		}
	}
	for i, l := range strings.Split(s, "\n") {
		if len([]rune(l)) > 50 {
			t.Fatalf("line %d is wider than the terminal: %q", i, l)
		}
	}
	h.scr.SetSize(100, 24)
	h.scr.PostEvent(tcell.NewEventResize(100, 24))
	h.waitFor("Contacts", "● Bob", "> ")
}

func TestTUIPaste(t *testing.T) {
	f := newFake()
	h := startTUI(t, f, 100, 24)
	h.enter("/win bob")
	h.waitFor(" 2: bob@localhost ")
	// The simulated screen has two event queues; the application's one
	// keeps the paste markers and the keys in order.
	q := func(ev tcell.Event) { h.tui.app.QueueEvent(ev) }
	q(tcell.NewEventPaste(true))
	for _, r := range "first line" {
		q(tcell.NewEventKey(tcell.KeyRune, r, tcell.ModNone))
	}
	q(tcell.NewEventKey(tcell.KeyEnter, 0, tcell.ModNone))
	for _, r := range "second line\r\n" {
		q(tcell.NewEventKey(tcell.KeyRune, r, tcell.ModNone))
	}
	q(tcell.NewEventPaste(false))
	h.waitFor("first line␤second line")
	h.key(tcell.KeyEnter)
	h.waitCall(`Send bob@localhost "first line\nsecond line"`)
}

func TestTUICrashRestoresTerminal(t *testing.T) {
	for _, where := range []string{"StartOTR", "Recipients"} {
		t.Run(where, func(t *testing.T) {
			f := newFake()
			h := startTUI(t, f, 100, 24)
			f.mu.Lock()
			f.panicOn = where
			f.mu.Unlock()
			if where == "StartOTR" {
				h.enter("/otr start bob") // panics on the command goroutine
			} else {
				h.enter("/win bob") // the status bar panics on the tview goroutine
			}
			err := h.wait()
			if err == nil || !strings.Contains(err.Error(), "ui: crashed: fake: "+where) {
				t.Fatalf("Run returned %v", err)
			}
		})
	}
}

func TestTUICtrlCEndsOTR(t *testing.T) {
	f := newFake()
	f.setDevice(bob, session.DeviceInfo{Device: bobPhone, State: session.Encrypted, Version: 4})
	h := startTUI(t, f, 100, 24)
	h.key(tcell.KeyCtrlC)
	if err := h.wait(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.Calls(), "EndOTR bob@localhost") {
		t.Fatalf("calls %q", f.Calls())
	}
}

func TestTUIQRCode(t *testing.T) {
	f := newFake()
	h := startTUI(t, f, 120, 60)
	h.enter("/qr")
	lines, _ := qrLines(f.FingerprintURI())
	h.waitFor("xmpp:alice@localhost?otr-", "│"+lines[3]+" ", "│"+lines[len(lines)-1]+" ")
}

func TestTUIUnknownCommandAndErrors(t *testing.T) {
	f := newFake()
	h := startTUI(t, f, 160, 80) // tall enough for all of /help
	h.enter("/nonsense")
	h.waitFor("/nonsense: unknown command /nonsense; /help lists them")
	h.enter("hi")
	h.waitFor("this is the console")
	h.enter("/help")
	h.waitFor("/smp", "/trustmode")
}

func TestTUIScrollbackAndAltArrows(t *testing.T) {
	f := newFake()
	h := startTUI(t, f, 100, 24)
	h.enter("/win bob")
	h.waitFor(" 2: bob@localhost ")
	for i := range 60 {
		f.emit(&session.MessageEvent{Contact: bob, From: bobPhone, Text: fmt.Sprintf("line-%02d", i), Encrypted: true, Version: 4, Trust: session.Verified})
	}
	h.waitFor("line-59")
	if strings.Contains(h.screen(), "line-30") {
		t.Fatal("the whole history fits; the test needs more lines")
	}
	h.key(tcell.KeyPgUp) // a page back: about lines 21 to 40
	h.waitFor("line-30")
	h.waitGone("line-59")
	h.key(tcell.KeyPgUp)
	h.waitFor("line-05")
	h.key(tcell.KeyPgUp) // the top stays the top
	h.waitFor("line-00")
	// New messages do not pull a reader who scrolled back down.
	f.emit(&session.MessageEvent{Contact: bob, From: bobPhone, Text: "line-60", Encrypted: true, Version: 4, Trust: session.Verified})
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(h.screen(), "line-60") {
		t.Fatalf("a new message scrolled the reader away:\n%s", h.screen())
	}
	for range 5 {
		h.key(tcell.KeyPgDn)
	}
	h.waitFor("line-60")
	// Alt-← and Alt-→ switch windows.
	h.scr.InjectKey(tcell.KeyLeft, 0, tcell.ModAlt)
	h.waitFor(" 1: console ")
	h.scr.InjectKey(tcell.KeyRight, 0, tcell.ModAlt)
	h.waitFor(" 2: bob@localhost ", "line-60")
}

func TestTUIClearAndClose(t *testing.T) {
	f := newFake()
	h := startTUI(t, f, 100, 24)
	h.enter("/win bob")
	f.emit(&session.MessageEvent{Contact: bob, From: bobPhone, Text: "to be cleared", Encrypted: true, Version: 4, Trust: session.Verified})
	h.waitFor("to be cleared")
	h.enter("/clear")
	h.waitGone("to be cleared")
	h.enter("/win list")
	h.waitFor("1: console", "2: bob@localhost")
	h.enter("/close")
	h.waitFor(" 1: console ", "[1:console]")
	h.enter("/close")
	h.waitFor("the console window cannot be closed")
}

// An OTRv3 conversation says so plainly: in the state line, the status
// bar, every message and the warning.
func TestTUIShowsOTRv3(t *testing.T) {
	f := newFake()
	h := startTUI(t, f, 150, 30)
	f.emit(&session.ConnectionEvent{Online: true, Addr: jid.MustParse("alice@localhost/desk"), Resumable: true})
	h.enter("/win bob")
	h.waitFor(" 2: bob@localhost ")
	f.setDevice(bob, session.DeviceInfo{Device: bobPhone, Online: true, State: session.Encrypted, Version: 3, Fingerprint: "12345678 9ABCDEF0 12345678 9ABCDEF0 12345678", Trust: session.Untrusted, Listed: true})
	f.emit(&session.StateEvent{Contact: bob, Device: bobPhone, State: session.Encrypted, Prev: session.Starting, Version: 3})
	f.emit(&session.WarningEvent{Contact: bob, Device: bobPhone, Kind: session.WarnOTRv3, Text: "this conversation uses OTR version 3: no offline messages, weaker cryptography"})
	f.emit(&session.MessageEvent{Contact: bob, From: bobPhone, Text: "from pidgin", Encrypted: true, Version: 3, Trust: session.Untrusted, Time: time.Now()})
	h.waitFor("is encrypted (OTRv3)", "OTRv3 UNTRUSTED", "[OTRv3 UNTRUSTED] bob (phone 1a2b3c4d): from pidgin", "uses OTR version 3")
}
