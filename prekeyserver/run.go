package prekeyserver

import (
	"context"
	"time"
)

// RunReconnecting runs the component until ctx ends, reconnecting after a
// lost connection or a failed handshake with an exponential backoff from
// one second to one minute (reset after a connection that lasted a
// minute).
func (s *Server) RunReconnecting(ctx context.Context, addr, secret string) error {
	const minWait, maxWait = time.Second, time.Minute
	wait := minWait
	for {
		started := time.Now()
		err := s.Run(ctx, addr, secret)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(started) > maxWait {
			wait = minWait
		}
		s.log.Warn("disconnected; reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}
