package testbed

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// Start launches a server for a test and stops it with tb.Cleanup.
//
// Under go test -short it skips the test. When the server is unavailable
// (not installed, or ejabberd without root) it skips, unless the CI
// environment variable is non-empty: then, as for any other failure to
// start, the test fails.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.Kind == "" {
		opts.Kind = KindFromEnv()
	}
	if testing.Short() {
		tb.Skipf("testbed: %s integration test skipped in -short mode", opts.Kind)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))
	}
	s, err := Launch(context.Background(), opts)
	if err != nil {
		if errors.Is(err, ErrUnavailable) && os.Getenv("CI") == "" {
			tb.Skipf("%v (set CI=1 to make this a failure)", err)
		}
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("testbed: closing %s: %v", s.Kind, err)
		}
	})
	tb.Logf("testbed: %s on %s ready in %v", s.Kind, s.C2SAddr, s.ReadyTime().Round(time.Millisecond))
	return s
}

// tbWriter sends the test bed's log lines to the test's log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
