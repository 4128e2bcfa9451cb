package xmppconn_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/otrchat/otrchat/internal/testbed"
	"github.com/otrchat/otrchat/xmppconn"
)

// fakeDNS answers, on a loopback UDP port, SRV queries for
// _xmpp-client._tcp.<domain> with localhost:port and A queries with
// 127.0.0.1. It counts the SRV queries it answered.
func fakeDNS(t *testing.T, domain string, port uint16) (*net.Resolver, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	srvQueries := new(atomic.Int32)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.EnableCompression()
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
			switch {
			case q.Type == dnsmessage.TypeSRV && q.Name.String() == "_xmpp-client._tcp."+domain+".":
				srvQueries.Add(1)
				_ = b.SRVResource(rh, dnsmessage.SRVResource{Priority: 0, Weight: 0, Port: port,
					Target: dnsmessage.MustNewName("localhost.")})
			case q.Type == dnsmessage.TypeA && q.Name.String() == "localhost.":
				_ = b.AResource(rh, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
			}
			out, err := b.Finish()
			if err != nil {
				continue
			}
			_, _ = pc.WriteTo(out, from)
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr) // never the system's name servers
		},
	}, srvQueries
}

// TestSRVLookup connects without Addr: the server's address comes from the
// _xmpp-client._tcp SRV record (RFC 6120 §3.2.1), served by a fake DNS
// server on loopback.
func TestSRVLookup(t *testing.T) {
	srv := startServer(t, testbed.KindFromEnv(), "alice")
	_, portStr, err := net.SplitHostPort(srv.C2SAddr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	res, queries := fakeDNS(t, srv.Domain, uint16(port))
	cfg := config(srv, "alice", 0x1aaa0001)
	cfg.Addr = ""
	cfg.Resolver = res
	cfg.ConnectTimeout = 10 * time.Second
	d := startDevice(t, cfg)
	if queries.Load() == 0 {
		t.Fatal("connected without asking for the SRV record")
	}
	if got := d.c.LocalAddr().Bare(); !got.Equal(srv.JID("alice", "")) {
		t.Fatalf("bound %v", got)
	}
}

// TestTLSVerification: a server certificate from an unknown authority is
// refused, and the refusal is reported in a StateEvent.
func TestTLSVerification(t *testing.T) {
	srv := startServer(t, testbed.KindFromEnv(), "alice")
	cfg := config(srv, "alice", 0x1aaa0001)
	cfg.RootCAs = x509.NewCertPool() // trusts nothing
	c, err := xmppconn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	c.Subscribe(func(e xmppconn.Event) {
		if s, ok := e.(*xmppconn.StateEvent); ok && s.Err != nil {
			select {
			case errs <- s.Err:
			default:
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case err := <-errs:
		var verr *tls.CertificateVerificationError
		if !errors.As(err, &verr) {
			t.Fatalf("connection failed with %v, want a certificate verification error", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no connection failure reported")
	}
	if c.State() == xmppconn.StateOnline {
		t.Fatal("online with an untrusted certificate")
	}
}
