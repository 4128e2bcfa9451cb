package session

import (
	"fmt"
	"testing"
	"time"

	"github.com/otrchat/otrchat/instancetag"
)

// TestMultiDevicePolicies: alice has three devices, bob two, one of them
// offline. Under each policy a message reaches exactly the devices it
// should; under MULTICASTING it reaches both of bob's devices and alice's
// other two, bob's offline device reads it when it returns, and replies
// reach all of alice's devices.
func TestMultiDevicePolicies(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	laptop := w.newDev("alice", "laptop", nil)
	phone := w.newDev("alice", "phone", nil)
	tablet := w.newDev("alice", "tablet", nil)
	desktop := w.newDev("bob", "desktop", nil)
	mobile := w.newDev("bob", "mobile", nil)
	subscribe(t, laptop, desktop)
	for _, d := range []*dev{laptop, phone, tablet, desktop, mobile} {
		d.waitPrekeys()
	}
	laptop.waitListed(phone, tablet, desktop, mobile)
	desktop.waitListed(laptop, phone, tablet, mobile)
	mobile.stop() // bob's mobile is offline from here on
	laptop.waitOffline(mobile)
	desktop.waitOffline(mobile)
	ctx := ctxT(t)
	bob := desktop.jid()
	alice := laptop.jid()

	// MULTICASTING: both of bob's devices (the mobile one through an
	// offline DAKE) and alice's phone and tablet (as copies).
	if err := laptop.m.SetPolicy(bob, instancetag.Multicasting); err != nil {
		t.Fatal(err)
	}
	rcpt, err := laptop.m.Recipients(bob)
	if err != nil {
		t.Fatal(err)
	}
	if len(rcpt) != 4 {
		t.Fatalf("multicast recipients %v, want bob's 2 and alice's other 2", rcpt)
	}
	if _, err := laptop.m.Send(ctx, bob, "to everyone"); err != nil {
		t.Fatal(err)
	}
	desktop.waitEvent("multicast on desktop", encryptedText("to everyone"))
	for _, own := range []*dev{phone, tablet} {
		e := own.waitEvent("copy on "+own.name, encryptedText("to everyone")).(*MessageEvent)
		if !e.Outgoing || !e.Contact.Equal(bob) || e.From.Tag != laptop.tag {
			t.Errorf("%s: copy %+v, want outgoing to bob from the laptop", own.name, e)
		}
	}

	// Bob replies from the desktop to all of alice's devices, more than a
	// second later (BEST compares activity at one-second resolution).
	time.Sleep(1100 * time.Millisecond)
	if err := desktop.m.SetPolicy(alice, instancetag.Multicasting); err != nil {
		t.Fatal(err)
	}
	if _, err := desktop.m.Send(ctx, alice, "reply to all"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*dev{laptop, phone, tablet} {
		e := d.waitEvent("reply on "+d.name, encryptedText("reply to all")).(*MessageEvent)
		if e.Outgoing || e.From.Tag != desktop.tag {
			t.Errorf("%s: reply %+v, want from bob's desktop", d.name, e)
		}
	}

	// The single-device policies, each with its own text. Bob's desktop
	// is the most recent device on every count (the mobile never wrote
	// and is offline), and the only encrypted one on the laptop's side
	// besides the mobile's offline session.
	for _, p := range []instancetag.Policy{instancetag.Best, instancetag.Recent, instancetag.RecentReceived, instancetag.RecentSent} {
		if err := laptop.m.SetPolicy(bob, p); err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("only one device (%s)", p)
		if _, err := laptop.m.Send(ctx, bob, msg); err != nil {
			t.Fatal(err)
		}
		desktop.waitEvent(msg, encryptedText(msg))
	}
	// RECENT_RECEIVED after the mobile wrote: the mobile. Bring it back
	// first: it reads the multicast message stored while it was offline.
	mobile.start()
	mobile.waitEvent("stored multicast message", encryptedText("to everyone"))
	if err := mobile.m.SetPolicy(alice, instancetag.Multicasting); err != nil {
		t.Fatal(err)
	}
	if _, err := mobile.m.Send(ctx, alice, "from the mobile"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*dev{laptop, phone, tablet} {
		d.waitEvent("mobile's message on "+d.name, encryptedText("from the mobile"))
	}
	desktop.waitEvent("mobile's copy on the desktop", encryptedText("from the mobile"))
	if err := laptop.m.SetPolicy(bob, instancetag.RecentReceived); err != nil {
		t.Fatal(err)
	}
	if _, err := laptop.m.Send(ctx, bob, "to the one who wrote last"); err != nil {
		t.Fatal(err)
	}
	mobile.waitEvent("recent-received on mobile", encryptedText("to the one who wrote last"))

	// A marker under MULTICASTING, then check that nothing reached a
	// device it was not meant for.
	if err := laptop.m.SetPolicy(bob, instancetag.Multicasting); err != nil {
		t.Fatal(err)
	}
	if _, err := laptop.m.Send(ctx, bob, "marker"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*dev{desktop, mobile, phone, tablet} {
		d.waitEvent("marker on "+d.name, encryptedText("marker"))
	}
	time.Sleep(200 * time.Millisecond)
	for _, p := range []instancetag.Policy{instancetag.Best, instancetag.Recent, instancetag.RecentReceived, instancetag.RecentSent} {
		msg := fmt.Sprintf("only one device (%s)", p)
		for _, d := range []*dev{mobile, phone, tablet} {
			if d.has(text(msg)) {
				t.Errorf("%q reached %s", msg, d.name)
			}
		}
		if n := desktop.count(text(msg)); n != 1 {
			t.Errorf("%q reached the desktop %d times", msg, n)
		}
	}
	if desktop.has(text("to the one who wrote last")) {
		t.Error("the RECENT_RECEIVED message reached the desktop")
	}
	for _, d := range []*dev{desktop, mobile, phone, tablet} {
		if n := d.count(text("to everyone")); n != 1 {
			t.Errorf("%s read the multicast message %d times", d.name, n)
		}
	}
}
