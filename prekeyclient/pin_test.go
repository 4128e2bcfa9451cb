package prekeyclient

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

func TestConnectRefusesChangedFingerprint(t *testing.T) {
	d := newDevice(t, "alice@example.org/phone")
	disc := newFakeDisco()
	oldFP, newFP := randomFP(t), randomFP(t)
	disc.addServer("example.org", testServer, newFP)
	pins := NewMemoryPinStore()
	server := jid.MustParse(testServer)
	if err := pins.Pin(server, oldFP); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Account: d.account, Identity: d.id, InstanceTag: d.tag, Device: d.dev,
		Transport: &fakeServer{jid: server}, Discoverer: disc, Pins: pins, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Connect(context.Background())
	var changed *FingerprintChangedError
	if !errors.As(err, &changed) || !errors.Is(err, ErrFingerprintChanged) {
		t.Fatalf("Connect: err = %v, want a *FingerprintChangedError", err)
	}
	if !bytes.Equal(changed.Pinned, oldFP) || !bytes.Equal(changed.Offered, newFP) || !changed.Server.Equal(server) {
		t.Fatalf("error carries %+v", changed)
	}
	msg := err.Error()
	for _, want := range []string{testServer, FormatFingerprint(oldFP), FormatFingerprint(newFP), "accept"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if _, ok := c.Server(); ok {
		t.Fatal("a refused server is in use")
	}
	// Still refused on a second try; accepted once the user accepts it.
	if _, err := c.Connect(context.Background()); !errors.Is(err, ErrFingerprintChanged) {
		t.Fatalf("second Connect: %v", err)
	}
	if err := c.AcceptFingerprint(changed.Server, changed.Offered); err != nil {
		t.Fatal(err)
	}
	s, err := c.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Fingerprint, newFP) {
		t.Fatalf("server fingerprint %x", s.Fingerprint)
	}
	if got, _, _ := pins.Pinned(server); !bytes.Equal(got, newFP) {
		t.Fatalf("pinned %x", got)
	}
}

func TestConnectFallsBackToAnotherServer(t *testing.T) {
	d := newDevice(t, "alice@example.org/phone")
	disc := newFakeDisco()
	disc.addServer("example.org", "a.example.org", randomFP(t))
	disc.addServer("example.org", "b.example.org", randomFP(t))
	// b lists no fingerprint: whatever the random order, a is chosen.
	disc.items["b.example.org"] = nil
	c, err := New(Config{Account: d.account, Identity: d.id, InstanceTag: d.tag, Device: d.dev,
		Transport: &fakeServer{}, Discoverer: disc, Pins: NewMemoryPinStore(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		s, err := c.Connect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if s.JID.String() != "a.example.org" {
			t.Fatalf("chose %s", s.JID)
		}
	}
	disc.items["a.example.org"] = nil
	if _, err := c.Connect(context.Background()); !errors.Is(err, ErrBadFingerprint) {
		t.Fatalf("err = %v, want ErrBadFingerprint", err)
	}
}

func TestAcceptFingerprintChecksSize(t *testing.T) {
	d := newDevice(t, "alice@example.org/phone")
	c := newTestClient(t, d, &fakeServer{jid: jid.MustParse(testServer)}, time.Second)
	if err := c.AcceptFingerprint(jid.MustParse(testServer), []byte{1, 2, 3}); !errors.Is(err, ErrBadFingerprint) {
		t.Fatalf("err = %v", err)
	}
}
