package xmppconn_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/otrchat/otrchat/internal/testbed"
	"github.com/otrchat/otrchat/xmppconn"
)

// deliveries returns the delivery events of the message with id.
func deliveries(d *device, id string) []xmppconn.DeliveryStatus {
	d.rec.mu.Lock()
	defer d.rec.mu.Unlock()
	var out []xmppconn.DeliveryStatus
	for _, e := range d.rec.events {
		if de, ok := e.(*xmppconn.DeliveryEvent); ok && de.ID == id {
			out = append(out, de.Status)
		}
	}
	return out
}

func hasDelivery(id string, s xmppconn.DeliveryStatus) func([]xmppconn.Event) bool {
	return func(evs []xmppconn.Event) bool {
		for _, e := range evs {
			if de, ok := e.(*xmppconn.DeliveryEvent); ok && de.ID == id && de.Status == s {
				return true
			}
		}
		return false
	}
}

func count(sts []xmppconn.DeliveryStatus, s xmppconn.DeliveryStatus) int {
	n := 0
	for _, x := range sts {
		if x == s {
			n++
		}
	}
	return n
}

// TestCutsSoak: a proxy cuts both clients' connections at random moments
// while 1,000 messages flow each way. Every message arrives exactly once and
// in order: with stream resumption, and with resumption refused because the
// server was restarted in between (then what the server never acknowledged
// is sent again, and what a client missed comes from the archive).
func TestCutsSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	forKinds(t, func(t *testing.T, kind testbed.Kind) {
		for _, restart := range []bool{false, true} {
			name := "resumed"
			if restart {
				name = "resumption-refused"
			}
			t.Run(name, func(t *testing.T) {
				seed := uint64(time.Now().UnixNano())
				t.Logf("seed %d", seed)
				rng := rand.New(rand.NewPCG(seed, seed>>1))
				srv := startServer(t, kind, "alice", "bob")
				px := newProxy(t, srv.C2SAddr)
				// ejabberd 23.01 handles a few hundred messages a second
				// on a busy machine, and every resumption adds the
				// unacknowledged ones again: give it a slower flow and
				// fewer cuts, or it never catches up between them.
				pace, minCut, cutSpread := 3*time.Millisecond, 150, 450
				if kind == testbed.Ejabberd {
					pace, minCut, cutSpread = 10*time.Millisecond, 500, 1000
				}
				cfg := func(user string, tag uint32) xmppconn.Config {
					c := config(srv, user, tag)
					c.Addr = px.Addr()
					c.QueueSize = 2000
					c.RequestTimeout = 20 * time.Second
					return c
				}
				a := startDevice(t, cfg("alice", 0x1aaa0001))
				b := startDevice(t, cfg("bob", 0x2bbb0001))
				waitSelfPresence(t, a)
				waitSelfPresence(t, b)
				const n = 1000
				var wg sync.WaitGroup
				var wantA2B, wantB2A []string
				var idMu sync.Mutex
				ids := map[string]string{} // body -> id
				sendPaced := func(d *device, to string, prefix string, out *[]string) {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
					defer cancel()
					toJID := srv.JID(to, "")
					for i := 0; i < n; i++ {
						body := fmt.Sprintf("%s %04d", prefix, i)
						*out = append(*out, body)
						id, err := d.c.SendChat(ctx, toJID, body, xmppconn.SendOptions{})
						if err != nil {
							t.Errorf("SendChat: %v", err)
							return
						}
						idMu.Lock()
						ids[body] = id
						idMu.Unlock()
						time.Sleep(pace)
					}
				}
				wg.Add(2)
				go sendPaced(a, "bob", "a2b", &wantA2B)
				go sendPaced(b, "alice", "b2a", &wantB2A)

				stop := make(chan struct{})
				cutterDone := make(chan struct{})
				go func() {
					defer close(cutterDone)
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						case <-time.After(time.Duration(minCut+rng.IntN(cutSpread)) * time.Millisecond):
						}
						if restart && i == 2 {
							if err := srv.Restart(); err != nil {
								t.Errorf("restart: %v", err)
								return
							}
							continue
						}
						px.cut()
					}
				}()
				wg.Wait()
				// Let the cuts go on a little after the last message was
				// queued, then let the connections settle.
				time.Sleep(time.Second)
				close(stop)
				<-cutterDone
				t.Logf("%d cuts", px.cuts.Load())
				// ejabberd 23.01, stopped gracefully, may drop a message it
				// acknowledged but had not yet handed to the receiver's
				// session: that loss is the server's, not the client's
				// (which never sends an acknowledged message again). It is
				// excused only there, and only when acknowledged.
				var serverLost func(*device) func(string) bool
				if restart && kind == testbed.Ejabberd {
					serverLost = func(sender *device) func(string) bool {
						return func(body string) bool {
							idMu.Lock()
							id := ids[body]
							idMu.Unlock()
							return count(deliveries(sender, id), xmppconn.DeliveryAcked) > 0
						}
					}
				}
				lostBy := func(sender *device) func(string) bool {
					if serverLost == nil {
						return nil
					}
					return serverLost(sender)
				}
				// ejabberd 23.01 archives a message when the receiver's
				// session process handles it, and hands messages that
				// reached the old connection's process to the resumed one
				// after newer ones: around a resumption both its live
				// delivery and its archive can be out of sending order,
				// which no client can restore without sequence numbers.
				// There the order is measured and logged; every message
				// must still arrive exactly once.
				inOrder := kind != testbed.Ejabberd
				waitAllBut(t, b, "a2b", wantA2B, 90*time.Second, lostBy(a), inOrder)
				waitAllBut(t, a, "b2a", wantB2A, 90*time.Second, lostBy(b), inOrder)
				sa, sb := a.c.Stats(), b.c.Stats()
				t.Logf("alice: %+v", sa)
				t.Logf("bob: %+v", sb)
				if restart {
					if sa.ResumeFailures+sb.ResumeFailures == 0 {
						t.Fatal("no resumption was refused after the restart")
					}
				} else if sa.Resumes+sb.Resumes == 0 {
					t.Fatal("no stream was resumed")
				}
			})
		}
	})
}

// TestAckedNotResentAfterKill: a message the server acknowledged is not
// sent again after the server is killed (and resumption is refused); one
// it never acknowledged is, once.
func TestAckedNotResentAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	forKinds(t, func(t *testing.T, kind testbed.Kind) {
		since := time.Now().Add(-2 * time.Second)
		srv := startServer(t, kind, "alice", "bob")
		bob := startDevice(t, config(srv, "bob", 0x2bbb0001))
		px := newProxy(t, srv.C2SAddr)
		acfg := config(srv, "alice", 0x1aaa0001)
		acfg.Addr = px.Addr()
		a := startDevice(t, acfg)
		if sm := a.c.StreamManagement(); sm != xmppconn.SMEnabled {
			t.Fatalf("stream management %v, want enabled", sm)
		}
		bobJID := srv.JID("bob", "")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		idA, err := a.c.SendChat(ctx, bobJID, "acknowledged", xmppconn.SendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a.rec.waitFor(t, 10*time.Second, "alice: ack of the first message", hasDelivery(idA, xmppconn.DeliveryAcked))
		bob.rec.waitFor(t, 10*time.Second, "bob: first message", hasBody("acknowledged"))

		px.dropUp.Store(true)
		idB, err := a.c.SendChat(ctx, bobJID, "unacknowledged", xmppconn.SendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a.rec.waitFor(t, 10*time.Second, "alice: second message written", hasDelivery(idB, xmppconn.DeliverySent))
		time.Sleep(300 * time.Millisecond)
		if count(deliveries(a, idB), xmppconn.DeliveryAcked) != 0 {
			t.Fatal("a message the server never saw was acknowledged")
		}
		if err := srv.Kill(); err != nil {
			t.Fatal(err)
		}
		px.cut()
		px.dropUp.Store(false)
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		bob.rec.waitFor(t, 30*time.Second, "bob: the unacknowledged message", hasBody("unacknowledged"))
		a.rec.waitFor(t, 10*time.Second, "alice: ack of the second message", hasDelivery(idB, xmppconn.DeliveryAcked))

		st := a.c.Stats()
		if st.ResumeFailures == 0 || st.Resent != 1 {
			t.Fatalf("alice: %d refused resumptions, %d messages sent again; want ≥ 1 and exactly 1", st.ResumeFailures, st.Resent)
		}
		if sa, sb := count(deliveries(a, idA), xmppconn.DeliverySent), count(deliveries(a, idB), xmppconn.DeliverySent); sa != 1 || sb != 2 {
			t.Fatalf("written %d and %d times, want 1 and 2", sa, sb)
		}
		// The server's own record: each message is archived once.
		cfg := config(srv, "bob", 0x2bbb0002)
		cfg.ArchiveSince = since
		fresh := startDevice(t, cfg)
		fresh.rec.waitFor(t, 10*time.Second, "archive replay", hasBody("unacknowledged"))
		time.Sleep(300 * time.Millisecond)
		// (ejabberd loses its latest archive writes to SIGKILL: there the
		// acknowledged message may be missing, but never there twice.)
		want := "[acknowledged unacknowledged]"
		if kind == testbed.Ejabberd && len(bodies(fresh.rec.events)) == 1 {
			want = "[unacknowledged]"
		}
		if got := bodies(fresh.rec.events); fmt.Sprint(got) != want || fresh.c.Stats().Duplicates != 0 {
			t.Fatalf("bob's archive holds %q (%d duplicates), want %s", got, fresh.c.Stats().Duplicates, want)
		}
	})
}

// TestNoStreamManagement: without XEP-0198 the connection status says so,
// and a message written into a connection that dies unconfirmed is still
// sent again (the client confirms writes with a ping).
func TestNoStreamManagement(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	forKinds(t, func(t *testing.T, kind testbed.Kind) {
		srv := startServer(t, kind, "alice", "bob")
		bob := startDevice(t, config(srv, "bob", 0x2bbb0001))
		px := newProxy(t, srv.C2SAddr)
		acfg := config(srv, "alice", 0x1aaa0001)
		acfg.Addr = px.Addr()
		acfg.DisableStreamManagement = true
		a := startDevice(t, acfg)
		var online *xmppconn.StateEvent
		a.rec.waitFor(t, 10*time.Second, "online event", func(evs []xmppconn.Event) bool {
			for _, e := range evs {
				if s, ok := e.(*xmppconn.StateEvent); ok && s.State == xmppconn.StateOnline {
					online = s
					return true
				}
			}
			return false
		})
		if online.StreamManagement != xmppconn.SMOff || a.c.StreamManagement() != xmppconn.SMOff {
			t.Fatalf("online event says %v, client says %v", online.StreamManagement, a.c.StreamManagement())
		}
		bobJID := srv.JID("bob", "")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		id, err := a.c.SendChat(ctx, bobJID, "confirmed", xmppconn.SendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a.rec.waitFor(t, 10*time.Second, "alice: confirmation", hasDelivery(id, xmppconn.DeliveryAcked))
		px.dropUp.Store(true)
		send(t, a, bobJID, "in the tunnel", xmppconn.SendOptions{})
		time.Sleep(200 * time.Millisecond)
		px.cut()
		px.dropUp.Store(false)
		bob.rec.waitFor(t, 20*time.Second, "bob: the unconfirmed message", hasBody("in the tunnel"))
		if got := bodies(bob.rec.events); fmt.Sprint(got) != "[confirmed in the tunnel]" {
			t.Fatalf("bob got %q", got)
		}
	})
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAckOverhead sends 100 messages per iteration from alice to bob
// and waits until bob has them and alice has the server's acknowledgement
// of each. It reports the stream management elements (<r/> and <a/>, both
// directions) on each side per 100 messages, next to the time and the
// process CPU per 100 messages, with stream management on and off.
func BenchmarkAckOverhead(b *testing.B) {
	srv := startServer(b, testbed.KindFromEnv(), "alice", "bob")
	for _, off := range []bool{false, true} {
		name := "sm"
		if off {
			name = "nosm"
		}
		b.Run(name, func(b *testing.B) {
			acfg := config(srv, "alice", 0x1aaa0001)
			acfg.QueueSize = 1000
			acfg.DisableStreamManagement = off
			bcfg := config(srv, "bob", 0x2bbb0001)
			bcfg.DisableStreamManagement = off
			a := startDevice(b, acfg)
			bob := startDevice(b, bcfg)
			waitSelfPresence(b, bob)
			smCount := func(s xmppconn.Stats) uint64 {
				return s.AckRequestsSent + s.AcksReceived + s.AckRequestsReceived + s.AcksSent
			}
			bobJID := srv.JID("bob", "")
			a0, b0 := smCount(a.c.Stats()), smCount(bob.c.Stats())
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				var last string
				for j := 0; j < 100; j++ {
					id, err := a.c.SendChat(ctx, bobJID, fmt.Sprintf("bench %d %d", i, j), xmppconn.SendOptions{})
					if err != nil {
						b.Fatal(err)
					}
					last = id
				}
				a.rec.waitFor(b, 60*time.Second, "acknowledgement", hasDelivery(last, xmppconn.DeliveryAcked))
				bob.rec.waitFor(b, 60*time.Second, "bob: last message", hasBody(fmt.Sprintf("bench %d %d", i, 99)))
				cancel()
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(smCount(a.c.Stats())-a0)/float64(b.N), "sm-sender/100msg")
			b.ReportMetric(float64(smCount(bob.c.Stats())-b0)/float64(b.N), "sm-receiver/100msg")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			a.stop(b)
			bob.stop(b)
		})
	}
}
