package session

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrchat/otrchat/instancetag"
)

// The caveats of otrv4-over-xmpp.md ("Caveats"), each as a scenario.

// encryptedPair brings alice's laptop and bob's desktop to an encrypted
// conversation.
func encryptedPair(t *testing.T, w *world, a, b *dev) {
	t.Helper()
	subscribe(t, a, b)
	a.waitListed(b)
	b.waitListed(a)
	if err := a.m.StartOTR(ctxT(t), b.jid()); err != nil {
		t.Fatal(err)
	}
	a.waitState(b, Encrypted)
	b.waitState(a, Encrypted)
}

// Race conditions: both sides start OTR at the same moment; the DAKE
// collision is resolved and both end with one working session.
func TestCaveatBothStartAtOnce(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", nil)
	bob := w.newDev("bob", "desktop", nil)
	subscribe(t, alice, bob)
	alice.waitListed(bob)
	bob.waitListed(alice)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for _, p := range [][2]*dev{{alice, bob}, {bob, alice}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p[0].m.StartOTR(ctx, p[1].jid()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	alice.waitState(bob, Encrypted)
	bob.waitState(alice, Encrypted)
	for i := range 3 {
		if _, err := alice.m.Send(ctx, bob.jid(), "a"+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.m.Send(ctx, alice.jid(), "b"+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		bob.waitEvent("a", encryptedText("a"+string(rune('0'+i))))
		alice.waitEvent("b", encryptedText("b"+string(rune('0'+i))))
	}
	if alice.has(warning(WarnUndecryptable)) || bob.has(warning(WarnUndecryptable)) {
		t.Error("a message could not be read after the simultaneous start")
	}
}

// After a restart of one side, a message for the lost session gets the
// OTR error message and a fresh DAKE, and the user is told that one message
// could not be read; the next message arrives.
func TestCaveatRestartLosesSession(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", nil)
	bob := w.newDev("bob", "desktop", nil)
	encryptedPair(t, w, alice, bob)
	ctx := ctxT(t)
	bob.crash()
	alice.waitListed(bob)
	if _, err := alice.m.Send(ctx, bob.jid(), "into the void"); err != nil {
		t.Fatal(err)
	}
	e := bob.waitEvent("undecryptable warning", warning(WarnUndecryptable)).(*WarningEvent)
	if !strings.Contains(e.Text, "could not be read") {
		t.Errorf("warning %q does not say that a message could not be read", e.Text)
	}
	alice.waitEvent("alice told bob could not read", warning(WarnUndecryptable))
	alice.waitState(bob, Encrypted)
	bob.waitState(alice, Encrypted)
	// The new session works both ways.
	waitFor(t, "a message after the restart", func() bool {
		if _, err := alice.m.Send(ctx, bob.jid(), "after the restart"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if bob.has(encryptedText("after the restart")) {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	})
	if _, err := bob.m.Send(ctx, alice.jid(), "back"); err != nil {
		t.Fatal(err)
	}
	alice.waitEvent("reply", encryptedText("back"))
	if bob.has(text("into the void")) {
		t.Error("bob read a message of the lost session")
	}
}

// Handling the TLV type 1: one of bob's two devices ends its conversation;
// the other stays encrypted and BEST sends there, without a failure.
func TestCaveatDisconnectFromOneDevice(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", nil)
	desktop := w.newDev("bob", "desktop", nil)
	mobile := w.newDev("bob", "mobile", nil)
	subscribe(t, alice, desktop)
	alice.waitListed(desktop, mobile)
	desktop.waitListed(alice)
	mobile.waitListed(alice)
	ctx := ctxT(t)
	if err := alice.m.StartOTR(ctx, desktop.jid()); err != nil {
		t.Fatal(err)
	}
	alice.waitState(desktop, Encrypted)
	alice.waitState(mobile, Encrypted)
	desktop.waitState(alice, Encrypted)
	mobile.waitState(alice, Encrypted)
	if err := desktop.m.EndOTR(ctx, alice.jid()); err != nil {
		t.Fatal(err)
	}
	alice.waitState(desktop, Finished)
	if s := alice.deviceState(mobile.jid(), mobile.tag); s != Encrypted {
		t.Fatalf("mobile is %v after the desktop ended", s)
	}
	if err := alice.m.SetPolicy(desktop.jid(), instancetag.Best); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.m.Send(ctx, desktop.jid(), "still here?"); err != nil {
		t.Fatal(err)
	}
	mobile.waitEvent("message on the mobile", encryptedText("still here?"))
	if alice.has(warning(WarnDeliveryFailed)) {
		t.Error("a delivery failure was reported")
	}
	// MULTICASTING, an explicit choice of every device, starts a new
	// conversation with the device that ended (the message never goes out
	// in plaintext) and reaches both.
	if err := alice.m.SetPolicy(desktop.jid(), instancetag.Multicasting); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.m.Send(ctx, desktop.jid(), "to both"); err != nil {
		t.Fatal(err)
	}
	mobile.waitEvent("multicast on the mobile", encryptedText("to both"))
	desktop.waitEvent("multicast on the desktop, after a new DAKE", encryptedText("to both"))
	if desktop.has(text("still here?")) {
		t.Error("the desktop that ended read the BEST message")
	}
}

// Adding/removing devices and malicious devices: a device added to bob's
// list mid-conversation is reported (never silently trusted) and gets the
// next multicast; a removed one no longer does; a device outside the list
// that writes is reported.
func TestCaveatDevicesAddedRemovedUnlisted(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", nil)
	desktop := w.newDev("bob", "desktop", nil)
	encryptedPair(t, w, alice, desktop)
	ctx := ctxT(t)
	if err := alice.m.SetPolicy(desktop.jid(), instancetag.Multicasting); err != nil {
		t.Fatal(err)
	}
	tablet := w.newDev("bob", "tablet", nil)
	e := alice.waitEvent("new device warning", func(e Event) bool {
		w, ok := e.(*WarningEvent)
		return ok && w.Kind == WarnNewDevice && w.Device.Tag == tablet.tag
	}).(*WarningEvent)
	if !strings.Contains(e.Text, "not verified") {
		t.Errorf("new device warning %q does not say it is not verified", e.Text)
	}
	tablet.waitListed(alice)
	if _, err := alice.m.Send(ctx, desktop.jid(), "now three"); err != nil {
		t.Fatal(err)
	}
	desktop.waitEvent("on the desktop", encryptedText("now three"))
	got := tablet.waitEvent("on the tablet", encryptedText("now three")).(*MessageEvent)
	if got.From.Tag != alice.tag {
		t.Errorf("tablet got it from %08x", got.From.Tag)
	}
	for _, d := range alice.m.OwnDevices() {
		t.Logf("own device %+v", d)
	}
	c, _ := alice.m.Contact(desktop.jid())
	for _, d := range c.Devices {
		if d.Tag == tablet.tag && d.Trust == Verified {
			t.Error("the new device is trusted without verification")
		}
	}

	// The tablet is retired: it stops and is removed from the list.
	tablet.stop()
	rmCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := desktop.m.pep.Remove(rmCtx, tablet.tag); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice sees the tablet removed", func() bool {
		r, _ := alice.m.Recipients(desktop.jid())
		for _, d := range r {
			if d.Tag == tablet.tag {
				return false
			}
		}
		return true
	})
	before := alice.count(func(e Event) bool {
		d, ok := e.(*DeliveryEvent)
		return ok && d.Device.Tag == tablet.tag
	})
	if _, err := alice.m.Send(ctx, desktop.jid(), "tablet gone"); err != nil {
		t.Fatal(err)
	}
	desktop.waitEvent("on the desktop", encryptedText("tablet gone"))
	if after := alice.count(func(e Event) bool {
		d, ok := e.(*DeliveryEvent)
		return ok && d.Device.Tag == tablet.tag
	}); after != before {
		t.Error("a message was sent to the removed device")
	}

	// A device of bob's that is not in his list writes to alice.
	rogue := w.newDev("bob", "rogue", nil)
	rogue.m.pep.Stop()
	if err := desktop.m.pep.Remove(rmCtx, rogue.tag); err != nil {
		t.Fatal(err)
	}
	alice.waitListed(desktop)
	waitFor(t, "rogue unlisted", func() bool {
		l, err := alice.m.pep.Fetch(rmCtx, desktop.jid())
		return err == nil && !l.Contains(rogue.tag)
	})
	alice.m.handleDeviceListChange(desktop.jid())
	rogue.m.mu.Lock()
	rc := rogue.m.contact(alice.jid())
	d, err := rogue.m.deviceFor(rc, alice.tag)
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.conv.StartInteractive()
	if err != nil {
		t.Fatal(err)
	}
	rogue.m.process(rc, d, out)
	rogue.m.mu.Unlock()
	alice.waitEvent("unlisted device warning", func(e Event) bool {
		w, ok := e.(*WarningEvent)
		return ok && w.Kind == WarnNewDevice && w.Device.Tag == rogue.tag && strings.Contains(w.Text, "NOT in")
	})
}

// Changing from main sending device: bob writes from the desktop, then from
// the mobile; RECENT_RECEIVED follows him, and BEST warns when it picks a
// device that is not the most recent.
func TestCaveatChangingSendingDevice(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	alice := w.newDev("alice", "laptop", nil)
	desktop := w.newDev("bob", "desktop", nil)
	mobile := w.newDev("bob", "mobile", nil)
	subscribe(t, alice, desktop)
	alice.waitListed(desktop, mobile)
	desktop.waitListed(alice)
	mobile.waitListed(alice)
	ctx := ctxT(t)
	if _, err := desktop.m.Send(ctx, alice.jid(), "from the desktop"); err != nil {
		t.Fatal(err)
	}
	alice.waitEvent("desktop", encryptedText("from the desktop"))
	if err := alice.m.SetPolicy(desktop.jid(), instancetag.RecentReceived); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.m.Send(ctx, desktop.jid(), "answer 1"); err != nil {
		t.Fatal(err)
	}
	desktop.waitEvent("answer 1", encryptedText("answer 1"))
	time.Sleep(1100 * time.Millisecond) // past BEST's one-second resolution
	if _, err := mobile.m.Send(ctx, alice.jid(), "from the mobile now"); err != nil {
		t.Fatal(err)
	}
	alice.waitEvent("mobile", encryptedText("from the mobile now"))
	if _, err := alice.m.Send(ctx, desktop.jid(), "answer 2"); err != nil {
		t.Fatal(err)
	}
	mobile.waitEvent("answer 2 on the mobile", encryptedText("answer 2"))
	// BEST: after verifying the desktop only, the desktop wins on trust
	// though the mobile is more recent: a warning says so.
	if err := alice.m.SetTrust(ctx, desktop.jid(), desktop.m.Self().Fingerprint, Verified); err != nil {
		t.Fatal(err)
	}
	if err := alice.m.SetPolicy(desktop.jid(), instancetag.Best); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.m.Send(ctx, desktop.jid(), "answer 3"); err != nil {
		t.Fatal(err)
	}
	desktop.waitEvent("answer 3 on the desktop", encryptedText("answer 3"))
	alice.waitEvent("not most recent", warning(WarnNotMostRecent))
	time.Sleep(200 * time.Millisecond)
	if desktop.has(text("answer 2")) || mobile.has(text("answer 1")) || mobile.has(text("answer 3")) {
		t.Error("a message reached the device the policy did not pick")
	}
}

// Collisions of instance tags: a second device of alice's announces the
// same instance tag; both are warned.
func TestCaveatInstanceTagCollision(t *testing.T) {
	w := newWorld(t, "alice")
	one := w.newDev("alice", "one", nil)
	two := w.newDevTag("alice", "two", one.tag, nil)
	one.waitEvent("collision warning", func(e Event) bool {
		w, ok := e.(*WarningEvent)
		return ok && strings.Contains(w.Text, "collision")
	})
	two.waitEvent("collision warning", func(e Event) bool {
		w, ok := e.(*WarningEvent)
		return ok && strings.Contains(w.Text, "collision")
	})
}

// Messages to Alice arriving earlier than to Bob's own devices: alice's
// phone is offline while alice's laptop multicasts and bob answers; when
// the phone returns it reads both, the copy of alice's message dated
// before bob's answer.
func TestCaveatOwnDeviceLate(t *testing.T) {
	w := newWorld(t, "alice", "bob")
	laptop := w.newDev("alice", "laptop", nil)
	phone := w.newDev("alice", "phone", nil)
	bob := w.newDev("bob", "desktop", nil)
	subscribe(t, laptop, bob)
	for _, d := range []*dev{laptop, phone, bob} {
		d.waitPrekeys()
	}
	laptop.waitListed(phone, bob)
	bob.waitListed(laptop, phone)
	phone.stop()
	laptop.waitOffline(phone)
	bob.waitOffline(phone)
	ctx := ctxT(t)
	for _, p := range [][2]*dev{{laptop, bob}, {bob, laptop}} {
		if err := p[0].m.SetPolicy(p[1].jid(), instancetag.Multicasting); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := laptop.m.Send(ctx, bob.jid(), "question"); err != nil {
		t.Fatal(err)
	}
	bob.waitEvent("question", encryptedText("question"))
	// Archive stamps (XEP-0203) have one-second resolution on Prosody:
	// answer in the next second.
	time.Sleep(1100 * time.Millisecond)
	if _, err := bob.m.Send(ctx, laptop.jid(), "answer"); err != nil {
		t.Fatal(err)
	}
	laptop.waitEvent("answer", encryptedText("answer"))
	phone.start()
	q := phone.waitEvent("copy of the question", encryptedText("question")).(*MessageEvent)
	a := phone.waitEvent("answer", encryptedText("answer")).(*MessageEvent)
	if !q.Outgoing || !q.Contact.Equal(bob.jid()) {
		t.Errorf("copy %+v is not shown as alice's message to bob", q)
	}
	if !q.Time.Before(a.Time) {
		t.Errorf("copy dated %v, answer %v: the question must come first", q.Time, a.Time)
	}
}
