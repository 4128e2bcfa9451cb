package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// firstRunTUI answers first-run setup in a terminal and waits for the
// signed-in TUI.
func (w *chatWorld) firstRunTUI(m *tmuxTerm, user, label, passphrase string) {
	w.t.Helper()
	prompts := []string{"Your XMPP account", "Server to connect to", "CA certificate", "XMPP password of", "Keep the password", "A name for this device"}
	for i, a := range w.setupAnswers(user, label) {
		m.waitFor(prompts[i])
		m.typ(a)
	}
	m.waitFor("New key store passphrase:")
	m.typ(passphrase)
	m.waitFor("New key store passphrase (again):")
	m.typ(passphrase)
	m.waitFor("signed in as "+user+"@localhost/"+label, "Contacts", "this: "+label)
}

// TestTwoTUIs: two real otrchat TUIs under tmux against the test bed and
// our prekey server: first-run setup, sign in, subscriptions, start OTR,
// messages both ways, a policy switch, SMP to success with the verified
// state on screen, a new unverified device of the contact with its warning
// on screen, a resize that keeps the layout whole, and a clean exit that
// ends OTR.
func TestTwoTUIs(t *testing.T) {
	w := newChatWorld(t)
	aliceHome := t.TempDir()
	alice := startTmux(t, 140, 40, childEnv(aliceHome), w.bin)
	bob := startTmux(t, 140, 40, childEnv(t.TempDir()), w.bin)
	w.firstRunTUI(alice, "alice", "desk", "alice passphrase")
	w.firstRunTUI(bob, "bob", "phone", "bob passphrase")

	// Subscriptions both ways.
	alice.typ("/add bob@localhost Bob")
	bob.waitFor("alice@localhost asks to see your presence")
	bob.typ("/approve alice@localhost")
	bob.typ("/add alice@localhost Alice")
	alice.waitFor("bob@localhost asks to see your presence")
	alice.typ("/approve bob@localhost")
	alice.waitFor("● Bob", "1 dev, plaintext")
	bob.waitFor("● Alice")

	// OTR, started by alice in bob's window.
	alice.typ("/win bob")
	alice.waitFor(" 2: bob@localhost ", "(Esc: dismiss)")
	alice.key("Escape") // dismiss the alert bar
	waitGone(alice, "(Esc: dismiss)")
	alice.typ("/otr start")
	bobTag := alice.waitRE(regexp.MustCompile(`OTR conversation with bob@localhost phone ([0-9a-f]{8}) is encrypted \(OTRv4\)`))[1]
	alice.waitFor("OTR ! UNTRUSTED", "OTRv4 UNTRUSTED | to phone "+bobTag)
	bob.waitFor("[Act: 2")
	bob.key("M-2")
	// (Bob may not have read alice's device list yet: her label can still be
	// unknown on his side.)
	aliceTag := bob.waitRE(regexp.MustCompile(`OTR conversation with alice@localhost (?:desk )?([0-9a-f]{8}) is encrypted`))[1]

	// Messages both ways, each with its encryption, device and trust.
	alice.typ("hello bob, héllo 日本語")
	bob.waitRE(regexp.MustCompile(`\[OTRv4 UNTRUSTED\] alice \((?:desk )?` + aliceTag + `\): hello bob, héllo 日本語`))
	bob.typ("hi alice")
	alice.waitFor("[OTRv4 UNTRUSTED] bob (phone " + bobTag + "): hi alice")
	alice.waitFor("[OTR] me → phone " + bobTag + " !: hello bob, héllo 日本語 (") // ! untrusted

	// Switch the instance policy: the status bar says so.
	alice.typ("/policy recent")
	alice.waitFor("instance policy for bob@localhost is now recent", "| policy recent |")

	// SMP with a question, answered by bob: verified on both screens.
	alice.typ("/smp ask Our word? tofu")
	bob.waitFor(`wants to verify you with SMP, asking "Our word?"`)
	bob.typ("/smp answer tofu")
	alice.waitFor("SMP succeeded: bob@localhost phone "+bobTag+" is now VERIFIED ✔", "OTR ✔ verified", "OTRv4 verified | to phone "+bobTag)
	bob.waitFor("is now VERIFIED ✔")

	// Bob signs in on a second device (line mode): alice is warned about
	// a new device, which is not verified.
	laptop := startLineProc(t, w.bin, childEnv(t.TempDir(), "OTRCHAT_PASSPHRASE=laptop"), "--line", "-passphrase", "env")
	laptop.send(w.setupAnswers("bob", "laptop")...)
	laptopTag := laptop.expect(`^ready account=bob@localhost device=([0-9a-f]{8}) label=laptop`)[1]
	laptop.expect(`^connection online=yes`)
	alice.waitFor("WARNING new-device: bob@localhost laptop "+laptopTag, "2 dev")
	alice.typ("/devices")
	alice.waitFor("laptop " + laptopTag + ": online")
	alice.typ("/policy multicast")
	both := "phone " + bobTag + ", laptop " + laptopTag // in the order of the tags
	if laptopTag < bobTag {
		both = "laptop " + laptopTag + ", phone " + bobTag
	}
	alice.waitFor("| policy multicast |", "to "+both)
	alice.typ("to all of you")
	alice.waitRE(regexp.MustCompile(`me → (phone ` + bobTag + ` ✔|laptop ` + laptopTag + ` !), (phone ` + bobTag + ` ✔|laptop ` + laptopTag + ` !): to all of you`))
	bob.waitRE(regexp.MustCompile(`alice \((?:desk )?` + aliceTag + `\): to all of you`))
	laptop.expect(`^message contact=alice@localhost dir=in device=` + aliceTag + ` label=\S* encrypted=yes version=4 trust=untrusted .* text="to all of you"`)

	// A small terminal: the roster gives way, the layout stays whole.
	alice.tmux("resize-window", "-x", "50", "-y", "16")
	small := alice.waitFor("[alice@localhost")
	waitGone(alice, "Contacts")
	small = alice.screen()
	checkFrame(t, small, 50)
	if strings.Contains(small, "Contacts") {
		t.Fatalf("the roster is still shown at 50 columns:\n%s", small)
	}
	alice.tmux("resize-window", "-x", "140", "-y", "40")
	checkFrame(t, alice.waitFor("Contacts", "● Bob"), 140)

	// A clean exit ends the OTR conversation; bob is told.
	alice.typ("/quit")
	alice.waitFor("EXITED 0")
	bob.waitRE(regexp.MustCompile(aliceTag + ` ended the OTR conversation`))
	bob.key("C-c")
	bob.waitFor("EXITED 0")

	// The next start asks only for the key store passphrase; a wrong one is
	// refused with a clear message.
	again := startTmux(t, 140, 40, childEnv(aliceHome), w.bin)
	again.waitFor("Key store passphrase:")
	again.typ("not it")
	again.waitFor("wrong passphrase", "EXITED 1")
	again = startTmux(t, 140, 40, childEnv(aliceHome), w.bin)
	again.waitFor("Key store passphrase:")
	again.typ("alice passphrase")
	again.waitFor("signed in as alice@localhost/desk", "Bob")
	again.key("C-c")
	again.waitFor("EXITED 0")
}

func waitGone(m *tmuxTerm, text string) {
	m.t.Helper()
	deadline := time.Now().Add(waitLong)
	for strings.Contains(m.screen(), text) {
		if time.Now().After(deadline) {
			m.t.Fatalf("the screen still shows %q:\n%s", text, m.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkFrame checks that the TUI fills the terminal: the windows' top
// border on the first line, the input line last, nothing wider than the
// terminal.
func checkFrame(t *testing.T, screen string, width int) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "┌") || !strings.HasSuffix(strings.TrimRight(lines[0], " "), "┐") {
		t.Fatalf("no top border:\n%s", screen)
	}
	if !strings.HasPrefix(lines[len(lines)-1], ">") {
		t.Fatalf("no input line at the bottom:\n%s", screen)
	}
	for i, l := range lines {
		if n := len([]rune(l)); n > width {
			t.Fatalf("line %d is %d wide (terminal %d):\n%s", i, n, width, screen)
		}
	}
}
