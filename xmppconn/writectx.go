package xmppconn

import (
	"context"
	"time"
)

// writeCtx returns the context for writing one stanza: done when timeout
// passes (or ctx's deadline, if sooner), never when the caller returns or
// ctx is cancelled. mellium v0.22.0 bounds a write by setting the whole
// connection's write deadline into the past once the context it was given
// is done, and its watcher races the end of the write against the caller's
// cancel: a context cancelled just after a successful write could abort
// another goroutine's write on the same connection ("i/o timeout"). With
// this context nothing is cancelled after a write; the deadline still
// bounds a write that hangs.
func writeCtx(ctx context.Context, timeout time.Duration) context.Context {
	d := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	wctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), d)
	// Released after the deadline, when the watcher has long gone.
	time.AfterFunc(time.Until(d)+time.Second, cancel)
	return wctx
}
