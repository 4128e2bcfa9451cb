package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/config"
	"github.com/otrchat/otrchat/internal/cpuclock"
	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/session"
	"github.com/otrchat/otrchat/ui"
)

// BenchmarkStartupToRoster measures what otrchat does between being started
// and showing its roster, without the network: unlocking the key store,
// preparing the session (keys, profiles, connection settings) and drawing
// the TUI on a (simulated) terminal. The key store's KDF dominates, so it is
// reported separately: a cheap one (one pass over 64 KiB) and argon2id with
// the store's defaults.
func BenchmarkStartupToRoster(b *testing.B) {
	for _, kc := range []struct {
		name string
		kdf  keystore.KDFParams
	}{
		{"cheap-kdf", keystore.KDFParams{Time: 1, Memory: 64, Threads: 1}},
		{"argon2-default", keystore.DefaultKDF},
	} {
		b.Run(kc.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "keys.db")
			pass := []byte("bench passphrase")
			s, err := keystore.Create(path, pass, &keystore.Options{KDF: kc.kdf})
			if err != nil {
				b.Fatal(err)
			}
			cfg, _ := config.Defaults(func(string) string { return "/nonexistent" })
			if _, _, err := createDevice(s, cfg, "alice@localhost", false, env{stdin: os.Stdin, stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}); err != nil {
				b.Fatal(err)
			}
			s.Close()
			b.ResetTimer()
			defer cpuclock.Report(b)()
			for range b.N {
				startupOnce(b, path, pass, kc.kdf)
			}
		})
	}
}

func startupOnce(b *testing.B, path string, pass []byte, kdf keystore.KDFParams) {
	// (Open raises weaker parameters than Options.KDF to it: keep them.)
	s, err := keystore.Open(path, pass, &keystore.Options{KDF: kdf})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m, err := session.New(session.Config{Account: jid.MustParse("alice@localhost"), Password: "x", Store: s,
		Addr: "127.0.0.1:1", Resource: "desk", Offline: true})
	if err != nil {
		b.Fatal(err)
	}
	scr := tcell.NewSimulationScreen("UTF-8")
	drawn := make(chan struct{})
	seen := false
	t := ui.NewTUI(ui.Options{Backend: m, Screen: scr, TimestampFormat: "15:04", EndTimeout: time.Second,
		Drawn: func(s tcell.Screen) {
			if !seen && screenHas(s, "this: desk") {
				seen = true
				close(drawn)
			}
		}})
	scr.SetSize(120, 40)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- t.Run(ctx) }()
	select {
	case <-drawn:
	case <-time.After(10 * time.Second):
		b.Fatal("the roster was not drawn")
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// screenHas reads what has just been drawn (before it is shown).
func screenHas(scr tcell.Screen, text string) bool {
	w, h := scr.Size()
	var sb strings.Builder
	for y := range h {
		for x := range w {
			r, _, _, _ := scr.GetContent(x, y)
			sb.WriteRune(r)
		}
	}
	return strings.Contains(sb.String(), text)
}

// BenchmarkResidentAfterSignIn reports the resident memory (VmRSS) of the
// real otrchat process once it has signed in to the test bed and published
// its prekeys, for the line mode and for the TUI (under tmux; the TUI's
// figure includes its supervising parent process). Each run is a
// new device of the account: keep -benchtime at most 7x.
func BenchmarkResidentAfterSignIn(b *testing.B) {
	w := newChatWorld(b)
	b.Run("line", func(b *testing.B) {
		var sum float64
		for i := range b.N {
			home := b.TempDir()
			env := childEnv(home, "OTRCHAT_PASSPHRASE=x")
			p := startLineProc(b, w.bin, env, "--line", "-passphrase", "env")
			p.send(w.setupAnswers("alice", "line"+strconv.Itoa(i))...)
			p.expect(`^prekeys `)
			sum += rssMiB(b, p.cmd.Process.Pid)
			p.send("/quit")
			p.expect(`^bye$`)
			p.wait()
		}
		b.ReportMetric(sum/float64(b.N), "rss-MiB")
	})
	b.Run("tui", func(b *testing.B) {
		var sum float64
		for i := range b.N {
			m := startTmux(b, 120, 40, childEnv(b.TempDir()), w.bin)
			w.firstRunTUI(m, "bob", "tui"+strconv.Itoa(i), "x") // (at most 8 devices an account)
			m.waitFor("stores")
			// The TUI and the small process that supervises it.
			for _, pid := range m.programPIDs() {
				sum += rssMiB(b, pid)
			}
			m.typ("/quit")
			m.waitFor("EXITED 0")
		}
		b.ReportMetric(sum/float64(b.N), "rss-MiB")
	})
}

// rssMiB reads a process's resident set size.
func rssMiB(tb testing.TB, pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}
