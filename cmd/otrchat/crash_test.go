package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCrashRestoresTerminal: whatever kills the TUI's process (here
// SIGQUIT, which ends a Go program at once, like a panic in any goroutine),
// the terminal is usable afterwards: the alternate screen is left and the
// shell's input echoes again. The control run without the supervising
// process shows what the test guards against.
func TestCrashRestoresTerminal(t *testing.T) {
	w := newChatWorld(t)
	home := t.TempDir()
	for _, supervised := range []bool{true, false} {
		env := childEnv(home)
		if !supervised {
			env = append(env, envSupervised+"=1") // as if already the child: no supervisor
		}
		m := startTmux(t, 120, 30, env, w.bin)
		if supervised {
			w.firstRunTUI(m, "alice", "desk", "pass")
		} else {
			m.waitFor("Key store passphrase:")
			m.typ("pass")
			m.waitFor("signed in as alice@localhost/desk")
		}
		pids := m.programPIDs()
		if supervised && len(pids) < 2 {
			t.Fatalf("the TUI runs without a supervising process: %v", pids)
		}
		if err := syscall.Kill(pids[len(pids)-1], syscall.SIGQUIT); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(waitLong)
		for _, pid := range pids {
			for syscall.Kill(pid, 0) == nil {
				if time.Now().After(deadline) {
					t.Fatalf("process %d did not end", pid)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		time.Sleep(300 * time.Millisecond)
		alt := strings.TrimSpace(m.tmux("display-message", "-p", "#{alternate_on}"))
		m.tmux("send-keys", "-l", "typed-after-the-crash")
		time.Sleep(500 * time.Millisecond)
		echoed := strings.Contains(m.screen(), "typed-after-the-crash")
		if supervised {
			if alt != "0" || !echoed {
				t.Fatalf("after the crash: alternate screen %s, input echoed %v:\n%s", alt, echoed, m.screen())
			}
			m.waitFor("the chat stopped abnormally", "EXITED 2")
		} else if alt == "0" && echoed {
			t.Fatalf("without the supervisor the terminal was restored too; the test proves nothing:\n%s", m.screen())
		}
	}
}
