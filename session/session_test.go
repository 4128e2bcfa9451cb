package session

import (
	"testing"
)

// TestOnlineConversation: two devices start OTR online and chat both ways.
func TestOnlineConversation(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", nil)
	bob := w.newDev("bob", "desktop", nil)
	subscribe(t, alice, bob)
	alice.waitListed(bob)
	ctx := ctxT(t)
	if err := alice.m.StartOTR(ctx, bob.jid()); err != nil {
		t.Fatal(err)
	}
	alice.waitState(bob, Encrypted)
	bob.waitState(alice, Encrypted)
	id, err := alice.m.Send(ctx, bob.jid(), "hello bob")
	if err != nil {
		t.Fatal(err)
	}
	bob.waitEvent("hello", encryptedText("hello bob"))
	// The server's stream-management acknowledgement is reported as
	// delivery to the server, for bob's device.
	alice.waitEvent("delivered", func(e Event) bool {
		d, ok := e.(*DeliveryEvent)
		return ok && d.ID == id && d.Status == Delivered && d.Device.Tag == bob.tag
	})
	alice.waitEvent("resumable connection", func(e Event) bool {
		c, ok := e.(*ConnectionEvent)
		return ok && c.Online && c.Resumable
	})
	if _, err := bob.m.Send(ctx, alice.jid(), "hello alice"); err != nil {
		t.Fatal(err)
	}
	e := alice.waitEvent("reply", encryptedText("hello alice")).(*MessageEvent)
	if e.From.Tag != bob.tag || e.From.Label != "desktop" {
		t.Errorf("reply from %+v, want bob's desktop %08x", e.From, bob.tag)
	}
	if e.Trust != Untrusted {
		t.Errorf("trust %v before any verification in manual mode", e.Trust)
	}
	if !alice.has(warning(WarnNewDevice)) {
		t.Error("no new-device warning for bob's desktop")
	}
}
