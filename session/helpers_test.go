package session

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/internal/testbed"
	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/prekeyserver"
)

const prekeyServerName = "prekeys.localhost"

var cheapKDF = keystore.KDFParams{Time: 1, Memory: 64, Threads: 1}

// world is a test bed with our prekey server and the devices started on
// it.
type world struct {
	t   testing.TB
	bed *testbed.Server
}

func newWorld(t testing.TB, users ...string) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	bed := testbed.Start(t, testbed.Options{Kind: testbed.KindFromEnv(), Accounts: testbed.Users(users...),
		Components: []testbed.Component{{Name: prekeyServerName}}})
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
	return &world{t: t, bed: bed}
}

// dev is one running device: a Manager with its key store and the events
// it reported.
type dev struct {
	t     testing.TB
	w     *world
	name  string // "alice/laptop"
	user  string
	label string
	path  string // key store file
	store *keystore.Store
	m     *Manager
	tag   uint32

	mu     sync.Mutex
	cond   *sync.Cond
	events []Event

	cancel  context.CancelFunc
	done    chan struct{}
	mutate  func(*Config)
	archive string
	started bool
}

// newDev creates a key store with a fresh device of user and starts it.
func (w *world) newDev(user, label string, mutate func(*Config)) *dev {
	w.t.Helper()
	tag, err := otr4.NewInstanceTag(rand.Reader)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.newDevTag(user, label, uint32(tag), mutate)
}

// newDevTag is newDev with a chosen instance tag.
func (w *world) newDevTag(user, label string, tag uint32, mutate func(*Config)) *dev {
	w.t.Helper()
	path := filepath.Join(w.t.TempDir(), "keys.db")
	s, err := keystore.Create(path, []byte("pass"), &keystore.Options{KDF: cheapKDF})
	if err != nil {
		w.t.Fatal(err)
	}
	account := w.bed.JID(user, "").String()
	id, err := otr4.GenerateIdentity(rand.Reader, false)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := s.PutIdentity(account, keystore.Identity{InstanceTag: uint32(tag), LongTermSeed: id.Seed(),
		ForgingPublic: id.ForgingKey(), Created: time.Now().UTC()}); err != nil {
		w.t.Fatal(err)
	}
	d := &dev{t: w.t, w: w, name: user + "/" + label, user: user, label: label, path: path, store: s, tag: uint32(tag), mutate: mutate}
	d.cond = sync.NewCond(&d.mu)
	w.t.Cleanup(func() { d.stop(); s.Close() })
	d.start()
	return d
}

func (d *dev) config() Config {
	cfg := Config{
		Account: d.w.bed.JID(d.user, ""), Password: d.w.bed.Password(d.user), Addr: d.w.bed.C2SAddr,
		RootCAs: d.w.bed.RootCAs(), Resource: d.label, Label: d.label, Store: d.store,
		Offline: true, ErrorStartAKE: true, PrekeyServer: jid.MustParse(prekeyServerName),
		PrekeyTarget: 20, PrekeyThreshold: 5, RequestTimeout: 10 * time.Second, DAKETimeout: 3 * time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
	}
	if os.Getenv("OTRCHAT_SESSION_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("dev", d.name)
	}
	if !d.started {
		// First start: catch up on the last minute. Later starts use the
		// archive position the Manager keeps in the key store.
		cfg.ArchiveSince = time.Now().Add(-time.Minute)
	}
	if d.mutate != nil {
		d.mutate(&cfg)
	}
	return cfg
}

// start runs the device and waits until it is online.
func (d *dev) start() {
	d.t.Helper()
	m, err := New(d.config())
	if err != nil {
		d.t.Fatal(err)
	}
	d.m = m
	d.started = true
	m.Subscribe(func(e Event) {
		d.mu.Lock()
		d.events = append(d.events, e)
		d.cond.Broadcast()
		d.mu.Unlock()
		if os.Getenv("OTRCHAT_SESSION_LOG") != "" {
			d.t.Logf("%s: %s", d.name, eventString(e))
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	go func() {
		defer close(d.done)
		if err := m.Run(ctx); err != nil && ctx.Err() == nil {
			d.t.Errorf("%s: Run: %v", d.name, err)
		}
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := m.WaitOnline(wctx); err != nil {
		d.t.Fatalf("%s: not online: %v", d.name, err)
	}
}

// stop ends the device cleanly and keeps its archive position for the
// next start.
func (d *dev) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		d.t.Errorf("%s: Run did not return", d.name)
	}
	d.archive = d.m.Client().ArchivePosition()
	d.cancel = nil
}

// crash stops the device without ending its conversations, as a killed
// process would, and starts it again.
func (d *dev) crash() {
	d.t.Helper()
	d.m.mu.Lock()
	d.m.exitWithoutEnd = true
	d.m.mu.Unlock()
	d.restart()
}

// restart stops and starts the device again with the same key store.
func (d *dev) restart() {
	d.t.Helper()
	d.stop()
	d.start()
}

func eventString(e Event) string {
	switch e := e.(type) {
	case *MessageEvent:
		return fmt.Sprintf("message %s from %s/%08x enc=%v out=%v: %q", e.Contact, e.From.Account, e.From.Tag, e.Encrypted, e.Outgoing, e.Text)
	case *StateEvent:
		return fmt.Sprintf("state %s/%08x %v -> %v", e.Contact, e.Device.Tag, e.Prev, e.State)
	case *WarningEvent:
		return fmt.Sprintf("warning %v %s: %s", e.Kind, e.Contact, e.Text)
	case *DeliveryEvent:
		return fmt.Sprintf("delivery %s %s/%08x %v %v", e.ID, e.Device.Account, e.Device.Tag, e.Status, e.Err)
	case *SMPEvent:
		return fmt.Sprintf("smp %s/%08x %v %q", e.Contact, e.Device.Tag, e.Kind, e.Question)
	case *TrustEvent:
		return fmt.Sprintf("trust %s %s %v from=%v", e.Contact, e.Fingerprint, e.Level, e.FromDevice)
	case *PrekeyEvent:
		return fmt.Sprintf("prekeys stored=%d published=%d err=%v", e.Stored, e.Published, e.Err)
	case *ConnectionEvent:
		return fmt.Sprintf("connection online=%v err=%v", e.Online, e.Err)
	case *RosterEvent:
		return fmt.Sprintf("roster %s state=%v devices=%d", e.Contact.JID, e.Contact.State, len(e.Contact.Devices))
	}
	return fmt.Sprintf("%T", e)
}

const waitTimeout = 45 * time.Second

// waitEvent waits until an event matching f has been reported (at any
// time since the device was created) and returns it.
func (d *dev) waitEvent(what string, f func(Event) bool) Event {
	d.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	timer := time.AfterFunc(waitTimeout, func() { d.mu.Lock(); d.cond.Broadcast(); d.mu.Unlock() })
	defer timer.Stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		for _, e := range d.events {
			if f(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, e := range d.events {
				fmt.Fprintf(&b, "\n  %s", eventString(e))
			}
			d.t.Fatalf("%s: timed out waiting for %s; events:%s", d.name, what, b.String())
		}
		d.cond.Wait()
	}
}

// has reports whether an event matching f was reported.
func (d *dev) has(f func(Event) bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range d.events {
		if f(e) {
			return true
		}
	}
	return false
}

// count counts the events matching f.
func (d *dev) count(f func(Event) bool) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, e := range d.events {
		if f(e) {
			n++
		}
	}
	return n
}

// text matches a received (or copied) message with this text.
func text(s string) func(Event) bool {
	return func(e Event) bool {
		m, ok := e.(*MessageEvent)
		return ok && m.Text == s
	}
}

// encryptedText matches an encrypted message with this text.
func encryptedText(s string) func(Event) bool {
	return func(e Event) bool {
		m, ok := e.(*MessageEvent)
		return ok && m.Text == s && m.Encrypted
	}
}

func warning(k WarningKind) func(Event) bool {
	return func(e Event) bool {
		w, ok := e.(*WarningEvent)
		return ok && w.Kind == k
	}
}

func (d *dev) jid() jid.JID { return d.w.bed.JID(d.user, "") }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// deviceState returns the state of d's conversation with the device tag
// of account.
func (d *dev) deviceState(account jid.JID, tag uint32) OTRState {
	var devs []DeviceInfo
	if account.Equal(d.jid()) {
		devs = d.m.OwnDevices()
	} else {
		c, _ := d.m.Contact(account)
		devs = c.Devices
	}
	for _, x := range devs {
		if x.Tag == tag {
			return x.State
		}
	}
	return Plaintext
}

func (d *dev) waitState(peer *dev, s OTRState) {
	d.t.Helper()
	waitFor(d.t, fmt.Sprintf("%s: %v with %s", d.name, s, peer.name), func() bool { return d.deviceState(peer.jid(), peer.tag) == s })
}

// waitPrekeys waits until the device published prekeys.
func (d *dev) waitPrekeys() {
	d.t.Helper()
	d.waitEvent("prekeys published", func(e Event) bool {
		p, ok := e.(*PrekeyEvent)
		return ok && p.Err == nil && p.Stored+p.Published > 0
	})
}

// waitListed waits until d sees each device in its account's list.
func (d *dev) waitListed(devs ...*dev) {
	d.t.Helper()
	for _, o := range devs {
		waitFor(d.t, fmt.Sprintf("%s sees %s listed", d.name, o.name), func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			l, err := d.m.pep.Fetch(ctx, o.jid())
			if err != nil {
				return false
			}
			if l.Contains(o.tag) {
				d.m.handleDeviceListChange(o.jid())
				return true
			}
			return false
		})
	}
}

// waitOffline waits until d no longer sees o online.
func (d *dev) waitOffline(o *dev) {
	d.t.Helper()
	waitFor(d.t, d.name+" sees "+o.name+" offline", func() bool {
		var devs []DeviceInfo
		if o.jid().Equal(d.jid()) {
			devs = d.m.OwnDevices()
		} else {
			c, _ := d.m.Contact(o.jid())
			devs = c.Devices
		}
		for _, x := range devs {
			if x.Tag == o.tag {
				return !x.Online
			}
		}
		return true
	})
}

// subscribe makes a and b see each other's presence.
func subscribe(t testing.TB, a, b *dev) {
	t.Helper()
	ctx := ctxT(t)
	for _, p := range [][2]*dev{{a, b}, {b, a}} {
		x, y := p[0], p[1]
		if err := x.m.AddContact(ctx, y.jid(), y.user); err != nil {
			t.Fatal(err)
		}
		y.waitEvent("subscription request", func(e Event) bool {
			s, ok := e.(*SubscriptionRequestEvent)
			return ok && s.From.Equal(x.jid())
		})
		if err := y.m.ApproveSubscription(ctx, x.jid()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "mutual subscription", func() bool {
		c, _ := a.m.Contact(b.jid())
		d, _ := b.m.Contact(a.jid())
		return c.Subscription == "both" && d.Subscription == "both"
	})
}
