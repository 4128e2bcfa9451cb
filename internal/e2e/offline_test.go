package e2e

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"

	"github.com/otrchat/otrchat/internal/testbed"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/prekeyclient"
	"github.com/otrchat/otrchat/prekeyserver"
)

const prekeyServerName = "prekeys.localhost"

// startPrekeyServer runs otrchat's prekey server as a component of bed.
func startPrekeyServer(t *testing.T, bed *testbed.Server) {
	t.Helper()
	srv, err := prekeyserver.New(prekeyserver.Config{Name: prekeyServerName, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Run(ctx, bed.ComponentAddr, bed.Secret(prekeyServerName))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("prekey server did not stop")
		}
	})
}

// prekeySession logs user/resource in and returns a prekey client on that
// session for the device; the session ends when the returned func is called.
func prekeySession(t *testing.T, bed *testbed.Server, user, resource string, id *otr4.Identity, tag otr4.InstanceTag, dev prekeyclient.Device) (*prekeyclient.Client, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sess, err := bed.Dial(ctx, user, resource)
	if err != nil {
		t.Fatal(err)
	}
	c, err := prekeyclient.New(prekeyclient.Config{
		Account: sess.LocalAddr(), Identity: id, InstanceTag: tag, Device: dev,
		Transport: prekeyclient.SessionTransport(sess), Discoverer: prekeyclient.SessionDiscoverer(sess),
		Pins: prekeyclient.NewMemoryPinStore(), Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sess.Serve(mux.New(stanza.NSClient, prekeyclient.Handle(c, nil)))
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		closeSession(sess, done)
	}
	t.Cleanup(stop)
	return c, stop
}

func closeSession(s *xmpp.Session, done <-chan struct{}) {
	go func() { _ = s.Close() }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = s.Conn().Close()
		<-done
	}
}

// TestOfflineConversationOverXMPP: Bob's device publishes prekeys to our
// prekey server and goes offline. Alice discovers the server, fetches Bob's
// ensemble, and sends him three messages addressed to that device. When
// Bob's device comes back it reads all three (from offline storage and the
// archive) and replies.
func TestOfflineConversationOverXMPP(t *testing.T) {
	bed := testbed.Start(t, testbed.Options{Kind: testbed.KindFromEnv(), Accounts: testbed.Users("alice", "bob"),
		Components: []testbed.Component{{Name: prekeyServerName}}})
	startPrekeyServer(t, bed)
	start := time.Now().Add(-time.Minute)

	// Bob's device publishes and is offline afterwards.
	bobID, _ := otr4.GenerateIdentity(nil, false)
	bobTag := otr4.InstanceTag(0x20000b0b)
	bobDev := prekeyclient.NewMemoryDevice(bobID, bobTag, 7*24*time.Hour, nil)
	bobPK, stopBob := prekeySession(t, bed, "bob", "phone", bobID, bobTag, bobDev)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := bobPK.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := bobPK.Publish(ctx, 5, true); err != nil || n != 5 {
		t.Fatalf("published %d: %v", n, err)
	}
	stopBob()

	// Alice fetches Bob's ensembles from the server she discovers.
	aliceID, _ := otr4.GenerateIdentity(nil, false)
	aliceTag := otr4.InstanceTag(0x1000a11c)
	alicePK, _ := prekeySession(t, bed, "alice", "fetch", aliceID, aliceTag, prekeyclient.NewMemoryDevice(aliceID, aliceTag, 7*24*time.Hour, nil))
	if _, err := alicePK.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	ens, err := alicePK.Retrieve(ctx, bed.JID("bob", ""))
	if err != nil {
		t.Fatal(err)
	}
	e := ens.ByTag[bobTag]
	if e == nil || len(ens.ByTag) != 1 {
		t.Fatalf("ensembles %v, warnings %v", ens.ByTag, ens.Warnings)
	}
	aliceConv, err := otr4.NewConversation(otr4.Config{Identity: aliceID, InstanceTag: aliceTag,
		OurAccount: bed.JID("alice", "").String(), TheirAccount: bed.JID("bob", "").String()})
	if err != nil {
		t.Fatal(err)
	}
	alice := startPeer(t, bed, "alice", aliceConv, aliceTag, time.Time{})
	toBob := bed.JID("bob", "")
	offline := func(text string, first bool) {
		alice.mu.Lock()
		var out *otr4.Message
		if first {
			out, err = alice.conv.StartOffline(e, text)
		} else {
			out, err = alice.conv.Send(text)
		}
		alice.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		// For a device that is offline: to the bare JID, addressed to the
		// device, stored by the server.
		alice.sendWith(toBob, out.ToSend, sendForDevice(uint32(bobTag)))
	}
	offline("are you there?", true)
	offline("second", false)
	offline("third", false)
	if err := alice.client.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// Bob's device comes back and reads all three.
	cp, pp, ppSecret, err := bobDev.Profiles()
	if err != nil {
		t.Fatal(err)
	}
	bobConv, err := otr4.NewConversation(otr4.Config{Identity: bobID, InstanceTag: bobTag, ClientProfile: cp,
		PrekeyProfile: pp, SharedPrekeySecret: ppSecret, PrekeySecrets: bobDev,
		OurAccount: bed.JID("bob", "").String(), TheirAccount: bed.JID("alice", "").String()})
	if err != nil {
		t.Fatal(err)
	}
	bob := startPeer(t, bed, "bob", bobConv, bobTag, start)
	for _, want := range []string{"are you there?", "second", "third"} {
		expectText(t, bob, want)
	}
	if bob.state() != otr4.StateEncrypted {
		t.Fatal(bob.state())
	}
	// Bob answers online; the ratchet carries on.
	bob.do(alice.client.LocalAddr(), func(c *otr4.Conversation) (*otr4.Message, error) { return c.Send("back now") })
	expectText(t, alice, "back now")
	alice.do(bob.client.LocalAddr(), func(c *otr4.Conversation) (*otr4.Message, error) { return c.Send("welcome back") })
	expectText(t, bob, "welcome back")
}
