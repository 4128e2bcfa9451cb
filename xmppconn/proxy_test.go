package xmppconn_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxy is a TCP proxy on 127.0.0.1 between a client and the test server.
// Tests cut its connections (as a train going through a tunnel would), drop
// what the client writes, or slow it down.
type proxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]struct{}

	// dropUp discards what the client writes (the server never sees it).
	dropUp atomic.Bool
	// upRate and downRate limit each direction to this many bytes per
	// second (0: unlimited).
	upRate, downRate atomic.Int64
	// upDelay holds each chunk the client writes this long (nanoseconds),
	// as a slow uplink: request/response exchanges slow down, while what
	// the server sends unasked still arrives at once.
	upDelay atomic.Int64
	// refuse closes new connections at once.
	refuse atomic.Bool

	accepted atomic.Int64
	cuts     atomic.Int64
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	done := make(chan struct{})
	go p.serve(done)
	t.Cleanup(func() {
		ln.Close()
		<-done
		p.cut()
	})
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve(done chan struct{}) {
	defer close(done)
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuse.Load() {
			c.Close()
			continue
		}
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.accepted.Add(1)
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.conns[s] = struct{}{}
		p.mu.Unlock()
		go p.pipe(s, c, true)
		go p.pipe(c, s, false)
	}
}

// pipe copies src to dst until either side closes, then closes both.
func (p *proxy) pipe(dst, src net.Conn, up bool) {
	defer func() {
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			rate := p.downRate.Load()
			if up {
				rate = p.upRate.Load()
			}
			if up && p.dropUp.Load() {
				continue
			}
			if rate > 0 {
				time.Sleep(time.Duration(int64(n) * int64(time.Second) / rate))
			}
			if d := p.upDelay.Load(); up && d > 0 {
				time.Sleep(time.Duration(d))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			return
		}
	}
}

// cut closes every open connection at once, with no stream close.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.conns) > 0 {
		p.cuts.Add(1)
	}
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
}

// open reports the number of client connections currently proxied.
func (p *proxy) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}
