package xmppconn_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/internal/testbed"
	"github.com/otrchat/otrchat/xmppconn"
)

// The four ways issue 14 found to lose a message, one regression test each.
// They use only the API that existed before stream management, so that they
// can be run against the old code too (where each of them fails).

// queueAll queues n messages "<prefix> %04d" and waits until all are written.
func queueAll(t testing.TB, d *device, to jid.JID, prefix string, n int, o xmppconn.SendOptions) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("%s %04d", prefix, i)
		for {
			_, err := d.c.SendChat(ctx, to, want[i], o)
			if err == nil {
				break
			}
			if err != xmppconn.ErrQueueFull {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := d.c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return want
}

// waitSelfPresence waits until the server has processed the device's
// initial presence (it reflects it back), so that messages to the bare JID
// reach the device.
func waitSelfPresence(t testing.TB, d *device) {
	t.Helper()
	self := d.c.LocalAddr()
	d.rec.waitFor(t, 10*time.Second, "own presence reflected", func([]xmppconn.Event) bool {
		_, ok := presenceOf(d, self)
		return ok
	})
}

// countBodies returns how many times each body with the prefix was reported.
func countBodies(d *device, prefix string) (map[string]int, []string) {
	counts := map[string]int{}
	var order []string
	for _, m := range d.rec.messages() {
		if len(m.Body) >= len(prefix) && m.Body[:len(prefix)] == prefix {
			counts[m.Body]++
			order = append(order, m.Body)
		}
	}
	return counts, order
}

// waitAll waits until every body of want was reported, then checks that
// each was reported exactly once, in order.
func waitAll(t testing.TB, d *device, prefix string, want []string, timeout time.Duration) {
	t.Helper()
	waitAllBut(t, d, prefix, want, timeout, nil, true)
}

// waitAllBut is waitAll where a message that never arrives is excused when
// serverLost says the server lost it (after acknowledging it), and where
// the order is only counted, not required, unless inOrder.
func waitAllBut(t testing.TB, d *device, prefix string, want []string, timeout time.Duration, serverLost func(body string) bool, inOrder bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		counts, _ := countBodies(d, prefix)
		missing := 0
		for _, w := range want {
			if counts[w] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			var first, last string
			var excused []string
			for _, w := range want {
				if counts[w] == 0 {
					if serverLost != nil && serverLost(w) {
						excused = append(excused, w)
						continue
					}
					if first == "" {
						first = w
					}
					last = w
				}
			}
			if len(excused) == missing {
				t.Logf("the server lost %d messages after acknowledging them: %q", len(excused), excused)
				kept := want[:0:0]
				for _, w := range want {
					if counts[w] != 0 {
						kept = append(kept, w)
					}
				}
				want = kept
				break
			}
			t.Fatalf("%d of %d messages %q… never arrived (after %v): from %q to %q", missing, len(want), prefix, timeout, first, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let a duplicate show
	counts, order := countBodies(d, prefix)
	for _, w := range want {
		if counts[w] != 1 {
			t.Fatalf("%q arrived %d times", w, counts[w])
		}
	}
	if !inOrder {
		moved := 0
		for i := range want {
			if order[i] != want[i] {
				moved++
			}
		}
		t.Logf("%d of %d messages %q… arrived out of their sending order", moved, len(want), prefix)
		return
	}
	for i := range want {
		if order[i] != want[i] {
			var near []string
			for _, m := range d.rec.messages() {
				if len(m.Body) >= len(prefix) && m.Body[:len(prefix)] == prefix {
					near = append(near, fmt.Sprintf("%s(archive=%v delayed=%v id=%s)", m.Body, m.FromArchive, m.Delayed, m.ArchiveID))
				}
			}
			near = near[max(0, i-3):min(len(near), i+8)]
			t.Fatalf("message %d is %q, want %q: out of order: %v", i, order[i], want[i], near)
		}
	}
}

// TestLossCatchUpInterrupted (issue 14, loss 1): thousands of messages are
// archived for an offline device; while it catches up, a live message
// arrives and the connection drops. The device must still get every
// archived message: its archive position may only move past messages it
// handed over.
func TestLossCatchUpInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	forKinds(t, func(t *testing.T, kind testbed.Kind) {
		srv := startServer(t, kind, "alice", "bob")
		const laptop, phone = 0x1aaa0001, 0x1aaa0002
		alice := srv.JID("alice", "")
		bcfg := config(srv, "bob", 0x2bbb0001)
		bcfg.QueueSize = 4000
		bob := startDevice(t, bcfg)
		aPhone := startDevice(t, config(srv, "alice", phone))
		px := newProxy(t, srv.C2SAddr)
		lcfg := config(srv, "alice", laptop)
		lcfg.Addr = px.Addr()
		aLaptop := startDevice(t, lcfg)
		waitSelfPresence(t, aLaptop)
		send(t, bob, alice, "start", xmppconn.SendOptions{})
		aLaptop.rec.waitFor(t, 10*time.Second, "laptop: first message", hasBody("start"))
		aLaptop.stop(t)
		pos := aLaptop.c.ArchivePosition()

		const n = 1500
		otr := xmppconn.SendOptions{OTR: true, ToDevice: laptop, Store: true}
		want := queueAll(t, bob, alice, "?OTR:stored", n, otr)
		// Everything before the fence was archived when the phone gets it.
		send(t, bob, aPhone.c.LocalAddr(), "fence", xmppconn.SendOptions{})
		aPhone.rec.waitFor(t, 120*time.Second, "phone: fence", hasBody("fence"))

		// The laptop returns through a slow uplink, so that catch-up (one
		// request per page of 100) takes a few seconds, while a live message
		// reaches it at once.
		px.upDelay.Store(int64(150 * time.Millisecond))
		lcfg.ArchiveAfter = pos
		back := startDevice(t, lcfg)
		archivedIn := func(evs []xmppconn.Event) int {
			k := 0
			for _, e := range evs {
				if m, ok := e.(*xmppconn.MessageEvent); ok && m.FromArchive {
					k++
				}
			}
			return k
		}
		archived := func() int {
			back.rec.mu.Lock()
			defer back.rec.mu.Unlock()
			return archivedIn(back.rec.events)
		}
		back.rec.waitFor(t, 30*time.Second, "laptop: catch-up under way", func(evs []xmppconn.Event) bool { return archivedIn(evs) >= 200 })
		send(t, bob, alice, "?OTR:live", otr)
		time.Sleep(500 * time.Millisecond)
		if k := archived(); k >= n {
			t.Fatalf("catch-up finished (%d messages) before the cut; slow the link further", k)
		}
		t.Logf("cutting the laptop's connection after %d archived messages", archived())
		px.cut()
		px.upDelay.Store(0)
		waitAll(t, back, "?OTR:stored", want, 60*time.Second)
		back.rec.waitFor(t, 10*time.Second, "laptop: the live message", hasBody("?OTR:live"))
		if c, _ := countBodies(back, "?OTR:live"); c["?OTR:live"] != 1 {
			t.Fatalf("live message reported %d times", c["?OTR:live"])
		}
	})
}

// TestLossOwnDeviceOffline (issue 14, loss 2): an OTR message from alice's
// phone to alice's offline laptop reaches the laptop from the archive when
// it returns; the phone's OTR messages for other people do not.
func TestLossOwnDeviceOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	forKinds(t, func(t *testing.T, kind testbed.Kind) {
		srv := startServer(t, kind, "alice", "bob")
		const laptop, phone, bobTag = 0x1aaa0001, 0x1aaa0002, 0x2bbb0001
		alice, bobJID := srv.JID("alice", ""), srv.JID("bob", "")
		bob := startDevice(t, config(srv, "bob", bobTag))
		aLaptop := startDevice(t, config(srv, "alice", laptop))
		aPhone := startDevice(t, config(srv, "alice", phone))
		send(t, bob, alice, "position", xmppconn.SendOptions{})
		aLaptop.rec.waitFor(t, 10*time.Second, "laptop: first message", hasBody("position"))
		aLaptop.stop(t)
		pos := aLaptop.c.ArchivePosition()

		const toLaptop, toBob = "?OTR:AAQD-from-phone-to-laptop.", "?OTR:AAQD-from-phone-to-bob."
		send(t, aPhone, alice, toLaptop, xmppconn.SendOptions{OTR: true, ToDevice: laptop, Store: true})
		send(t, aPhone, bobJID, toBob, xmppconn.SendOptions{OTR: true, ToDevice: bobTag, Store: true})
		bob.rec.waitFor(t, 10*time.Second, "bob: phone's message", hasBody(toBob))

		cfg := config(srv, "alice", laptop)
		cfg.ArchiveAfter = pos
		back := startDevice(t, cfg)
		back.rec.waitFor(t, 10*time.Second, "laptop: its own device's OTR message from the archive", hasBody(toLaptop))
		time.Sleep(300 * time.Millisecond)
		n := 0
		for _, m := range back.rec.messages() {
			switch m.Body {
			case toLaptop:
				n++
				if !m.OTR || m.ToDevice != laptop || !m.From.Bare().Equal(alice) {
					t.Fatalf("laptop got %+v", m)
				}
			case toBob:
				t.Fatalf("laptop reported the phone's message to bob: %+v", m)
			}
		}
		if n != 1 {
			t.Fatalf("laptop got its message %d times", n)
		}
	})
}

// TestLossUnacknowledgedWrite (issue 14, loss 3): a message written into a
// connection whose bytes never reach the server, which then dies, is sent
// again on the next connection.
func TestLossUnacknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	forKinds(t, func(t *testing.T, kind testbed.Kind) {
		srv := startServer(t, kind, "alice", "bob")
		bob := startDevice(t, config(srv, "bob", 0x2bbb0001))
		px := newProxy(t, srv.C2SAddr)
		acfg := config(srv, "alice", 0x1aaa0001)
		acfg.Addr = px.Addr()
		a := startDevice(t, acfg)
		bobJID := srv.JID("bob", "")
		send(t, a, bobJID, "before the tunnel", xmppconn.SendOptions{})
		bob.rec.waitFor(t, 10*time.Second, "bob: first message", hasBody("before the tunnel"))

		px.dropUp.Store(true)
		send(t, a, bobJID, "in the tunnel", xmppconn.SendOptions{})
		time.Sleep(200 * time.Millisecond)
		px.cut()
		px.dropUp.Store(false)
		bob.rec.waitFor(t, 20*time.Second, "bob: the message written into the dead connection", hasBody("in the tunnel"))
		send(t, a, bobJID, "after the tunnel", xmppconn.SendOptions{})
		bob.rec.waitFor(t, 10*time.Second, "bob: message after reconnecting", hasBody("after the tunnel"))
		got := bodies(bob.rec.events)
		if fmt.Sprint(got) != fmt.Sprint([]string{"before the tunnel", "in the tunnel", "after the tunnel"}) {
			t.Fatalf("bob got %q", got)
		}
	})
}

// TestLossShutdown (issue 14, loss 4): 1,000 messages queued, flushed, then
// Run is stopped while the link to the server is slow: every one of them
// reaches the other side, because a clean stop waits for the server.
func TestLossShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	forKinds(t, func(t *testing.T, kind testbed.Kind) {
		srv := startServer(t, kind, "alice", "bob")
		bob := startDevice(t, config(srv, "bob", 0x2bbb0001))
		px := newProxy(t, srv.C2SAddr)
		acfg := config(srv, "alice", 0x1aaa0001)
		acfg.Addr = px.Addr()
		acfg.QueueSize = 2000
		// ejabberd on a busy machine takes longer than the default 10 s
		// to handle the 1,000 messages.
		acfg.StopTimeout = 60 * time.Second
		a := startDevice(t, acfg)
		px.upRate.Store(64 << 10)
		want := queueAll(t, a, srv.JID("bob", ""), "shutdown", 1000, xmppconn.SendOptions{})
		// Bob keeps talking to alice while she stops: the server writes to
		// her connection after she closed it, so the connection is reset
		// and whatever is still on its way to the server is lost.
		stopNoise := make(chan struct{})
		noiseDone := make(chan struct{})
		go func() {
			defer close(noiseDone)
			for i := 0; ; i++ {
				select {
				case <-stopNoise:
					return
				case <-time.After(20 * time.Millisecond):
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, _ = bob.c.SendChat(ctx, a.c.LocalAddr(), fmt.Sprintf("noise %d", i), xmppconn.SendOptions{})
				cancel()
			}
		}()
		a.cancel()
		select {
		case <-a.done:
		case <-time.After(60 * time.Second):
			t.Fatal("Run did not return within 60s of cancellation")
		}
		close(stopNoise)
		<-noiseDone
		waitAll(t, bob, "shutdown", want, 30*time.Second)
	})
}
