package xmppconn_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/otrchat/otrchat/internal/testbed"
	"github.com/otrchat/otrchat/xmppconn"
)

// TestConcurrentWritesSurviveCancel: stanzas written at once by several
// goroutines, each with a context cancelled right after its write, all
// succeed. mellium aborts every write on the connection when a write's
// context is done, so a context cancelled just after one write used to
// fail another goroutine's write with "i/o timeout".
func TestConcurrentWritesSurviveCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	srv := startServer(t, testbed.KindFromEnv(), "alice", "bob")
	a := startDevice(t, config(srv, "alice", 0x1000))
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var err error
				if (g+i)%2 == 0 {
					err = a.c.SetPresence(ctx, xmppconn.Away, "")
				} else {
					err = a.c.ApproveSubscription(ctx, srv.JID("bob", ""))
				}
				cancel()
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n < 3 {
			t.Error(err)
		}
		n++
	}
	if n > 0 {
		t.Errorf("%d of 200 writes failed", n)
	}
}
