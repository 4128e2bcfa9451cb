package xmppconn

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"time"
)

// backoff computes reconnect delays: exponential from min to max, with "equal
// jitter" (half the delay fixed, half drawn uniformly at random), so that
// devices reconnecting after a server restart spread out.
type backoff struct {
	min, max time.Duration
	rand     io.Reader
	attempt  int
}

func newBackoff(min, max time.Duration, r io.Reader) *backoff {
	if r == nil {
		r = rand.Reader
	}
	return &backoff{min: min, max: max, rand: r}
}

// next returns the delay before the next attempt and counts the attempt.
// The delay is in [d/2, d] where d = min(max, min·2^attempt).
func (b *backoff) next() time.Duration {
	d := b.min
	for i := 0; i < b.attempt && d < b.max; i++ {
		d *= 2
	}
	if d > b.max {
		d = b.max
	}
	if b.attempt < 64 {
		b.attempt++
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	var buf [8]byte
	if _, err := io.ReadFull(b.rand, buf[:]); err != nil {
		// Without randomness, fall back to the full (deterministic) delay.
		return d
	}
	j := time.Duration(binary.BigEndian.Uint64(buf[:]) % uint64(half+1))
	return half + j
}

// reset is called after a successful connection.
func (b *backoff) reset() { b.attempt = 0 }
