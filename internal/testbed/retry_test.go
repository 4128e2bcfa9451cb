package testbed

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

// crashOnce is a Prosody whose first start "crashes" (as ejabberd's mnesia
// once did on a loaded machine) and whose later starts are healthy.
type crashOnce struct {
	prosodyBackend
	crashes, resets int
}

func (c *crashOnce) crashed(*Server, int64) bool {
	if c.crashes == 0 {
		c.crashes++
		return true
	}
	return false
}

func (c *crashOnce) reset(*Server) error { c.resets++; return nil }

// TestLaunchRetriesACrashedFirstStart: Launch gives a server that crashed
// on its first start one more try, and reports ErrExited if that fails too.
func TestLaunchRetriesACrashedFirstStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prosody")
	}
	s, err := newServer(Options{Kind: Prosody, Accounts: Users("alice")})
	if err != nil {
		t.Fatal(err)
	}
	be := &crashOnce{}
	s.be = be
	err = s.launch(context.Background())
	t.Cleanup(func() { _ = s.Close() })
	if errors.Is(err, ErrUnavailable) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("launch after one crash: %v", err)
	}
	if be.crashes != 1 || be.resets != 1 {
		t.Fatalf("crashes %d, resets %d; want 1 and 1", be.crashes, be.resets)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := s.Dial(ctx, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	sess.Close()

	// Crashing every time: one retry only, then a clear error.
	s2, err := newServer(Options{Kind: Prosody, StartTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	always := &alwaysCrash{}
	s2.be = always
	err = s2.launch(context.Background())
	_ = s2.Close()
	if !errors.Is(err, ErrExited) || always.starts != 2 {
		t.Fatalf("always crashing: err %v after %d starts; want ErrExited after 2", err, always.starts)
	}
}

type alwaysCrash struct {
	prosodyBackend
	starts int
}

func (a *alwaysCrash) command(s *Server) *exec.Cmd {
	a.starts++
	return a.prosodyBackend.command(s)
}

func (a *alwaysCrash) crashed(*Server, int64) bool { return true }

func (a *alwaysCrash) reset(*Server) error { return nil }
