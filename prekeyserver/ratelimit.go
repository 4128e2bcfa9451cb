package prekeyserver

import "time"

// limiter is a token bucket per requester.
type limiter struct {
	burst    float64
	interval time.Duration
	buckets  map[string]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(burst int, interval time.Duration) *limiter {
	return &limiter{burst: float64(burst), interval: interval, buckets: map[string]*tokenBucket{}}
}

// allow takes a token for who at now, reporting whether one was left.
func (l *limiter) allow(who string, now time.Time) bool {
	b := l.buckets[who]
	if b == nil {
		if len(l.buckets) > 100000 {
			l.prune(now)
		}
		b = &tokenBucket{tokens: l.burst, last: now}
		l.buckets[who] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(l.burst, b.tokens+float64(el)/float64(l.interval))
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune forgets requesters whose bucket has refilled.
func (l *limiter) prune(now time.Time) {
	full := time.Duration(l.burst * float64(l.interval))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
}
