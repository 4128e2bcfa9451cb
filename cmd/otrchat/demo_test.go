package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/otrchat/otrchat/internal/testbed"
)

// TestMakeDemo runs `make demo` (scripts/demo.sh) under tmux, as a newcomer
// would: it reaches the TUI signed in as alice with bob online as the demo
// responder, which answers a message and an SMP question, so the verified
// state shows at once; quitting the TUI stops everything.
func TestMakeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo's own server")
	}
	if testbed.KindFromEnv() != testbed.Prosody {
		t.Skip("the demo is tested with Prosody, its default")
	}
	if _, err := os.Stat("/usr/bin/prosody"); err != nil && os.Getenv("CI") == "" {
		t.Skip("prosody is not installed")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := childEnv(dir, "DEMO_DIR="+filepath.Join(dir, "demo"), "DEMO_NO_WAIT=1")
	if gc := os.Getenv("GOCACHE"); gc != "" {
		env = append(env, "GOCACHE="+gc)
	} else if d, err := os.UserCacheDir(); err == nil {
		env = append(env, "GOCACHE="+filepath.Join(d, "go-build"))
	}
	if mc := os.Getenv("GOMODCACHE"); mc != "" {
		env = append(env, "GOMODCACHE="+mc)
	} else if h, err := os.UserHomeDir(); err == nil {
		env = append(env, "GOMODCACHE="+filepath.Join(h, "go", "pkg", "mod"))
	}
	for _, k := range []string{"GOFLAGS", "GOPROXY", "CI"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	run := "make demo"
	if _, err := exec.LookPath("make"); err != nil {
		run = "bash scripts/demo.sh" // what the Makefile's demo target runs
	}
	m := startTmux(t, 140, 40, env, "bash", "-c", "cd "+root+" && exec "+run)
	// Building, the server and the key stores come first.
	m.waitForWithin(3*time.Minute, "signed in as alice@localhost/demo-alice", "● Bob (demo responder)", "1 dev, plaintext")
	m.typ("/win bob")
	m.waitFor(" 2: bob@localhost ")
	m.typ("hello demo")
	m.waitFor(`[demo responder, a script] I got "hello demo" encrypted`)
	m.typ("/smp ask What is the demo secret? demo")
	m.waitFor("is now VERIFIED ✔", "OTR ✔ verified", "OTRv4 verified | to demo-bob ")
	m.waitFor("[demo responder, a script] SMP succeeded")
	m.key("C-c")
	m.waitFor("EXITED 0")
}
