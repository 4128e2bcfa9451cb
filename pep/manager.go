package pep

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/pubsub"
	"mellium.im/xmpp/stanza"

	"github.com/otrchat/otrchat/xmppconn"
)

// announceAttempts bounds the retries of an announcement made on the
// Manager's own initiative (after connecting or after being dropped).
const announceAttempts = 6

// Access models the list can be published with (XEP-0060 pubsub#access_model).
const (
	// AccessOpen lets anyone read the list, as XEP-0364 requires, so that
	// someone without a presence subscription can start a first
	// conversation. The default.
	AccessOpen = "open"
	// AccessPresence lets only contacts with a presence subscription read
	// the list: strangers cannot count an account's devices or see when one
	// is added (docs/device-list.md).
	AccessPresence = "presence"
)

// Defaults of the repair rate limit (Options.RepairBurst, RepairInterval).
const (
	DefaultRepairBurst    = 6
	DefaultRepairInterval = 10 * time.Second
)

// Options tune a Manager.
type Options struct {
	// RequestTimeout bounds each network call the Manager makes on its own
	// (announcing after connecting, re-announcing); default 15 s.
	RequestTimeout time.Duration
	// ReannounceDelay is the upper bound of the random delay before a
	// re-announcement, which spreads devices racing each other; default
	// 500 ms.
	ReannounceDelay time.Duration
	// Rand is the jitter source (crypto/rand when nil).
	Rand io.Reader
	// Logger receives diagnostics (discarded when nil).
	Logger *slog.Logger
	// AccessModel is AccessOpen (the default when empty) or AccessPresence.
	AccessModel string
	// RepairBurst and RepairInterval bound the publications the Manager
	// makes on its own (announcing, re-announcing, repairing): at most
	// RepairBurst in a row, then one per RepairInterval, so that two
	// devices that disagree (or another client that keeps damaging the
	// list) cannot make it publish in a loop. Defaults
	// DefaultRepairBurst and DefaultRepairInterval.
	RepairBurst    int
	RepairInterval time.Duration
	// CheckInterval is how often the Manager reads its own list while
	// connected even without a notification, for servers that send none
	// for some changes (DefaultCheckInterval if zero; negative: never).
	CheckInterval time.Duration
}

// DefaultCheckInterval is the default Options.CheckInterval.
const DefaultCheckInterval = 10 * time.Minute

// Stats counts what a Manager did.
type Stats struct {
	// Publications is the number of lists published (by Publish, Remove,
	// Announce or the Manager on its own).
	Publications uint64
	// Repairs counts the publications the Manager made on its own: after
	// connecting, or after a notification or read showed the list without
	// this device, damaged, deleted, purged or evicted.
	Repairs uint64
	// Throttled counts repairs delayed by the rate limit.
	Throttled uint64
	// Reconfigured counts node configurations (the node existed with
	// another access model).
	Reconfigured uint64
	// Subscribed reports whether this device is now explicitly subscribed
	// to its own account's node (for delete and purge notifications).
	Subscribed bool
}

// DeviceStatus is a listed device with the full JIDs (resources) that
// announced its instance tag in presence.
type DeviceStatus struct {
	Device
	Online bool
	JIDs   []jid.JID
}

// Manager keeps this device in its account's device list and follows the
// lists of the account and its contacts.
type Manager struct {
	c    *xmppconn.Client
	self Device
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	lists    map[string]List   // by bare JID
	errs     map[string]error  // last refused list by bare JID
	fetching map[string]bool   // background fetches in flight
	gen      map[string]uint64 // bumped whenever a list is stored
	watchers []func(account jid.JID)
	stopped  bool
	running  bool // a repair goroutine runs (waiting or working)
	again    bool // a repair was asked for while it ran

	announceErr error // result of the last announcement made in the background
	wg          sync.WaitGroup
	quit        chan struct{} // closed by Stop: ends background pauses

	ownGood List      // the last valid list of the own account seen
	tokens  float64   // repair rate limit: available publications
	refill  time.Time // when tokens was last brought up to date
	stats   Stats

	ensureMu   sync.Mutex // one read-modify-publish of the own list at a time
	subscribed string     // full JID explicitly subscribed to the own node ("" if not)
}

// New attaches a Manager to a client; call it before c.Run. self.Tag must be
// the client's instance tag (the tag it announces in presence). The client
// advertises Node+"+notify" so that the server sends list notifications of
// the account and of its contacts; the Manager announces the device after
// every connection.
func New(c *xmppconn.Client, self Device, opts Options) (*Manager, error) {
	if err := self.validate(MaxLabel); err != nil {
		return nil, err
	}
	switch opts.AccessModel {
	case "":
		opts.AccessModel = AccessOpen
	case AccessOpen, AccessPresence:
	default:
		return nil, fmt.Errorf("pep: unknown access model %q", opts.AccessModel)
	}
	if opts.RepairBurst <= 0 {
		opts.RepairBurst = DefaultRepairBurst
	}
	if opts.RepairInterval <= 0 {
		opts.RepairInterval = DefaultRepairInterval
	}
	if opts.CheckInterval == 0 {
		opts.CheckInterval = DefaultCheckInterval
	}
	if c.InstanceTag() != self.Tag {
		return nil, fmt.Errorf("%w: client instance tag %s differs from device %s", ErrBadDevice,
			xmppconn.FormatTag(c.InstanceTag()), xmppconn.FormatTag(self.Tag))
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 15 * time.Second
	}
	if opts.ReannounceDelay <= 0 {
		opts.ReannounceDelay = 500 * time.Millisecond
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		c: c, self: self, opts: opts,
		log:   opts.Logger.With("device", xmppconn.FormatTag(self.Tag)),
		lists: make(map[string]List),
		errs:  make(map[string]error),

		fetching: make(map[string]bool),
		gen:      make(map[string]uint64),
		quit:     make(chan struct{}),
		tokens:   float64(opts.RepairBurst),
		refill:   time.Now(),
	}
	if err := c.AddFeature(context.Background(), Node+"+notify"); err != nil {
		return nil, err
	}
	c.Subscribe(m.handle)
	if opts.CheckInterval > 0 {
		m.wg.Add(1)
		go m.checkLoop()
	}
	return m, nil
}

// checkLoop reads the own list every CheckInterval while connected.
func (m *Manager) checkLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.opts.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if _, err := m.c.Session(); err == nil {
				m.background(0)
			}
		case <-m.quit:
			return
		}
	}
}

// Self returns this device's entry.
func (m *Manager) Self() Device { return m.self }

// Stats returns the Manager's counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	st := m.stats
	m.mu.Unlock()
	st.Subscribed = m.isSubscribed()
	return st
}

// Watch registers fn, called (on the client's event goroutine) with the
// account whose list or device presence changed.
func (m *Manager) Watch(fn func(account jid.JID)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.watchers = append(m.watchers, fn)
}

// AnnounceErr returns the error of the last announcement the Manager made
// on its own (after connecting, or after a racing update dropped the
// device), nil if it succeeded. ErrListFull means the device is not listed
// until the user removes a stale device.
func (m *Manager) AnnounceErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.announceErr
}

// Stop makes the Manager stop re-announcing and waits for background
// announcements to finish.
func (m *Manager) Stop() {
	m.mu.Lock()
	if !m.stopped {
		m.stopped = true
		close(m.quit)
	}
	m.mu.Unlock()
	m.wg.Wait()
}

func (m *Manager) notify(account jid.JID) {
	m.mu.Lock()
	ws := slices.Clone(m.watchers)
	m.mu.Unlock()
	for _, fn := range ws {
		fn(account)
	}
}

func (m *Manager) handle(e xmppconn.Event) {
	switch e := e.(type) {
	case *xmppconn.StateEvent:
		if e.State == xmppconn.StateOnline {
			m.mu.Lock()
			m.subscribed = ""
			m.mu.Unlock()
			m.background(0)
		}
	case *xmppconn.PresenceEvent:
		account := e.From.Bare()
		if e.Show != xmppconn.Unavailable {
			m.mu.Lock()
			list, known := m.lists[account.String()]
			_, refused := m.errs[account.String()]
			m.mu.Unlock()
			if !refused && (!known || e.Tag != 0 && !list.Contains(e.Tag)) {
				// A notification may have been missed (sent before the
				// server knew our capabilities or before the subscription):
				// read the list, again a few times while the device that
				// just came online has not published itself into it yet.
				m.refresh(account, e.Tag)
			}
		}
		m.notify(account)
	case *xmppconn.PEPEvent:
		if e.Node != Node {
			return
		}
		m.handleNotification(e)
	}
}

func (m *Manager) handleNotification(e *xmppconn.PEPEvent) {
	account := e.From.Bare()
	own := account.Equal(m.c.Account())
	if e.Deleted || e.Purged {
		// The list is gone; our own devices put themselves back.
		m.mu.Lock()
		m.storeLocked(account, List{}, nil)
		if own && e.Deleted {
			m.subscribed = "" // a deleted node takes its subscriptions along
		}
		m.mu.Unlock()
		m.log.Info("pep: device list node emptied", "account", account.String(), "deleted", e.Deleted, "purged", e.Purged)
		m.notify(account)
		if own {
			m.background(m.jitter())
		}
		return
	}
	var list List
	var perr error
	found := false
	for _, it := range e.Items {
		if it.ID != ItemID {
			continue
		}
		found = true
		list, perr = ParseList(it.Payload)
	}
	if !found {
		switch {
		case slices.Contains(e.Retracted, ItemID):
			list = List{}
		case len(e.Items) > 0:
			// An item with another id: on a node that keeps one item it
			// evicted ours. Read the node to see what is left.
			m.log.Info("pep: foreign item on the device list node", "account", account.String())
			if own {
				m.background(m.jitter())
			} else {
				m.refresh(account, 0)
			}
			return
		default:
			return
		}
	}
	m.mu.Lock()
	m.storeLocked(account, list, perr)
	m.mu.Unlock()
	if perr != nil {
		m.log.Warn("pep: device list refused", "account", account.String(), "err", perr)
	} else {
		m.log.Debug("pep: device list notification", "account", account.String(), "devices", len(list))
	}
	m.notify(account)
	if own && (perr != nil || !list.Contains(m.self.Tag) || list[list.index(m.self.Tag)] != m.self) {
		// XEP-0364: a device missing from its own account's list announces
		// itself again; a damaged list is repaired. The random delay spreads
		// devices racing each other.
		m.log.Info("pep: own device list needs repair; re-announcing", "err", perr)
		m.background(m.jitter())
	}
}

func (m *Manager) jitter() time.Duration {
	var b [8]byte
	if _, err := io.ReadFull(m.opts.Rand, b[:]); err != nil {
		return m.opts.ReannounceDelay
	}
	return time.Duration(binary.BigEndian.Uint64(b[:]) % uint64(m.opts.ReannounceDelay))
}

// storeLocked caches a list (or the reason it was refused).
func (m *Manager) storeLocked(account jid.JID, list List, err error) {
	k := account.String()
	m.gen[k]++
	if err != nil {
		delete(m.lists, k)
		m.errs[k] = err
		return
	}
	m.lists[k] = list
	delete(m.errs, k)
	if len(list) > 0 && account.Equal(m.c.Account()) {
		m.ownGood = slices.Clone(list)
	}
}

// tokenWait returns how long to wait before the rate limit allows another
// publication made on the Manager's own initiative.
func (m *Manager) tokenWait() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	m.tokens += float64(now.Sub(m.refill)) / float64(m.opts.RepairInterval)
	m.tokens = min(m.tokens, float64(m.opts.RepairBurst))
	m.refill = now
	if m.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - m.tokens) * float64(m.opts.RepairInterval))
}

// pause waits d, or until Stop; it reports whether the Manager still runs.
func (m *Manager) pause(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-m.quit:
		return false
	}
}

// refresh fetches an account's list in the background, one fetch per
// account at a time. When want is not zero (a device seen in presence but
// not in the list), the fetch is repeated with growing pauses (bounded,
// about 8 s in all) until the list holds it: the device publishes itself
// right after coming online, and servers do not always notify us of that.
func (m *Manager) refresh(account jid.JID, want uint32) {
	m.mu.Lock()
	if m.stopped || m.fetching[account.String()] {
		m.mu.Unlock()
		return
	}
	m.fetching[account.String()] = true
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		defer func() {
			m.mu.Lock()
			delete(m.fetching, account.String())
			m.mu.Unlock()
		}()
		pause := 250 * time.Millisecond
		for attempt := 0; attempt < 6; attempt++ {
			if attempt > 0 {
				select {
				case <-time.After(pause):
				case <-m.quit:
					return
				}
				pause *= 2
			}
			ctx, cancel := context.WithTimeout(context.Background(), m.opts.RequestTimeout)
			list, err := m.Fetch(ctx, account)
			cancel()
			if err != nil {
				m.log.Debug("pep: reading a device list failed", "account", account.String(), "err", err)
				continue
			}
			m.notify(account)
			if want == 0 || list.Contains(want) {
				return
			}
		}
	}()
}

// background makes sure, after delay, that the own list is valid and holds
// this device (ensure). One goroutine at most does this: a request made
// while it runs makes it check once more afterwards (after a random delay).
// Each check retries failures a bounded number of times and waits for the
// repair rate limit.
func (m *Manager) background(delay time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	if m.running {
		m.again = true
		return
	}
	m.running = true
	m.wg.Add(1)
	go m.repairLoop(delay)
}

func (m *Manager) repairLoop(delay time.Duration) {
	defer m.wg.Done()
	for {
		ok := m.pause(delay)
		m.mu.Lock()
		m.again = false
		m.mu.Unlock()
		if ok {
			m.repairOnce()
		}
		m.mu.Lock()
		if !ok || !m.again || m.stopped {
			m.running = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		delay = m.jitter()
	}
}

func (m *Manager) repairOnce() {
	// Retry transient failures (a server may refuse the first publication
	// right after login: ejabberd answers item-not-found at times).
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		if w := m.tokenWait(); w > 0 {
			m.mu.Lock()
			m.stats.Throttled++
			m.mu.Unlock()
			m.log.Warn("pep: repairing the device list too often; waiting", "wait", w)
			if !m.pause(w) {
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), m.opts.RequestTimeout)
		published, err := m.ensure(ctx)
		cancel()
		m.mu.Lock()
		m.announceErr = err
		if published {
			m.stats.Repairs++
			m.tokens--
		}
		m.mu.Unlock()
		if err == nil {
			// ejabberd may answer "node not found" to a subscription made
			// right after the publication that created the node (for
			// seconds on a server just started): retry, 8 times at most,
			// from 250 ms doubling to 4 s (about 20 s in all).
			pause := 250 * time.Millisecond
			for try := 0; try < 8 && !m.isSubscribed(); try++ {
				if !m.pause(pause) {
					return
				}
				pause = min(2*pause, 4*time.Second)
				ctx, cancel := context.WithTimeout(context.Background(), m.opts.RequestTimeout)
				m.subscribeOwn(ctx)
				cancel()
			}
			return
		}
		final := errors.Is(err, ErrListFull) || errors.Is(err, xmppconn.ErrNotConnected) || attempt == announceAttempts
		m.log.Warn("pep: announcing failed", "err", err, "attempt", attempt, "final", final)
		if final || !m.pause(wait) {
			return
		}
		wait *= 2
	}
}

// ownItems is what the own node holds.
type ownItems struct {
	current    *tokens // the item ItemID, if there is one
	others     int     // items with other ids
	nodeExists bool
}

// readOwn reads every item of the own account's node.
func (m *Manager) readOwn(ctx context.Context) (ownItems, error) {
	var st ownItems
	ctx, cancel := m.reqCtx(ctx)
	defer cancel()
	sess, err := m.c.Session()
	if err != nil {
		return st, err
	}
	it := pubsub.FetchIQ(ctx, stanza.IQ{}, sess, pubsub.Query{Node: Node})
	defer it.Close()
	for it.Next() {
		id, r := it.Item()
		var t tokens
		if r != nil {
			t = record(r)
		}
		if id == ItemID && st.current == nil {
			st.current = &t
		} else {
			st.others++
		}
	}
	if err := it.Err(); err != nil {
		var se stanza.Error
		if errors.As(err, &se) && se.Condition == stanza.ItemNotFound {
			return ownItems{}, nil
		}
		return st, fmt.Errorf("pep: reading the own device list: %w", err)
	}
	st.nodeExists = true
	return st, nil
}

// ensure reads the own node and publishes a repaired list when it does not
// hold a valid list with this device (and its label) in it: the valid
// entries of a damaged list are kept (at most MaxDevices, this device and
// the online ones first); a list evicted by an item with another id is
// restored from the last valid list seen; a deleted or purged node gets a
// new list. A valid list of MaxDevices other devices is left alone
// (ErrListFull). It reports whether it published.
func (m *Manager) ensure(ctx context.Context) (bool, error) {
	m.ensureMu.Lock()
	defer m.ensureMu.Unlock()
	st, err := m.readOwn(ctx)
	if err != nil {
		return false, err
	}
	var base, current List
	valid := false
	switch {
	case st.current != nil:
		current, err = st.current.parse()
		if err == nil {
			base, valid = current, true
		} else {
			base = salvageTokens(st.current.reader())
			m.log.Info("pep: own device list damaged; repairing", "err", err, "kept", len(base))
		}
	case st.others > 0:
		m.mu.Lock()
		base = slices.Clone(m.ownGood)
		m.mu.Unlock()
		m.log.Info("pep: own device list evicted by another item; restoring", "devices", len(base))
	default:
		base = List{}
	}
	want, err := m.withSelf(base, valid)
	if err != nil {
		m.mu.Lock()
		m.storeLocked(m.c.Account(), current, nil)
		m.mu.Unlock()
		return false, err
	}
	published := false
	if valid && slices.Equal(want, current) {
		m.mu.Lock()
		m.storeLocked(m.c.Account(), current, nil)
		m.mu.Unlock()
	} else {
		if err := m.Publish(ctx, want); err != nil {
			return false, err
		}
		published = true
	}
	m.subscribeOwn(ctx)
	return published, nil
}

// subscribeOwn subscribes this device (its full JID) explicitly to its own
// account's node, once per connection and again after the node was
// deleted. The "+notify" feature already brings item notifications, but
// some servers (ejabberd 23.01) tell only explicit subscribers that a node
// was deleted or purged. A failure is logged: notifications of items still
// arrive, and every reconnection reads the list again.
func (m *Manager) subscribeOwn(ctx context.Context) {
	me := m.c.LocalAddr()
	m.mu.Lock()
	done := m.subscribed == me.String()
	m.mu.Unlock()
	if done || me.Resourcepart() == "" {
		return
	}
	sess, err := m.c.Session()
	if err == nil {
		// Ask for delete and purge notifications too (ejabberd's
		// pubsub#notify_delete is off by default). The access model is
		// left as it is: only a publication changes it.
		if cerr := configure(ctx, sess, m.c.Account(), formField{Var: "pubsub#notify_delete", Value: "true"},
			formField{Var: "pubsub#notify_retract", Value: "true"}); cerr != nil {
			m.log.Info("pep: configuring notifications of the own device list failed", "err", cerr)
		}
		var p subscribeIQ
		p.Subscribe.Node, p.Subscribe.JID = Node, me.String()
		err = sendIQ(ctx, sess, p, "subscribing", m.c.Account())
	}
	if err != nil {
		m.log.Info("pep: subscribing to the own device list failed", "err", err)
		return
	}
	m.mu.Lock()
	m.subscribed = me.String()
	m.mu.Unlock()
}

func (m *Manager) isSubscribed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.subscribed != "" && m.subscribed == m.c.LocalAddr().String()
}

type subscribeIQ struct {
	XMLName   xml.Name `xml:"http://jabber.org/protocol/pubsub pubsub"`
	Subscribe struct {
		Node string `xml:"node,attr"`
		JID  string `xml:"jid,attr"`
	} `xml:"subscribe"`
}

// withSelf returns base with this device in it (with its label). When base
// is a valid list of MaxDevices others it fails with ErrListFull. A longer
// list (from a damaged one) is cut to MaxDevices, keeping this device, then
// the account's devices online now (added if the damaged list lacked them,
// so that two devices repairing at once make the same room for each other),
// then the first ones, in their order.
func (m *Manager) withSelf(base List, valid bool) (List, error) {
	l := slices.Clone(base)
	if i := l.index(m.self.Tag); i >= 0 {
		l[i] = m.self
	} else {
		if valid && len(l) >= MaxDevices {
			return nil, fmt.Errorf("%w: cannot add %s", ErrListFull, FormatID(m.self.Tag))
		}
		l = append(l, m.self)
	}
	if len(l) <= MaxDevices {
		return l, nil
	}
	keep := map[uint32]bool{m.self.Tag: true}
	m.mu.Lock()
	good := slices.Clone(m.ownGood)
	m.mu.Unlock()
	for _, p := range m.c.Presences(m.c.Account()) {
		if len(keep) == MaxDevices || p.Tag < xmppconn.MinInstanceTag || keep[p.Tag] {
			continue
		}
		keep[p.Tag] = true
		if !l.Contains(p.Tag) {
			d := Device{Tag: p.Tag}
			if i := good.index(p.Tag); i >= 0 {
				d.Label = good[i].Label
			}
			l = append(l, d)
		}
	}
	for _, d := range l {
		if len(keep) < MaxDevices {
			keep[d.Tag] = true
		}
	}
	return slices.DeleteFunc(l, func(d Device) bool { return !keep[d.Tag] }), nil
}

// Announce adds this device to its account's list unless it is there with
// the same label, repairing a damaged list on the way (see the package doc).
// It fails with ErrListFull when the list already holds MaxDevices other
// devices.
func (m *Manager) Announce(ctx context.Context) error {
	_, err := m.ensure(ctx)
	return err
}

// Remove deletes stale devices from the account's list; a device that is
// still running will announce itself again. It reads the stored list
// leniently, so it also repairs a damaged list (too many devices, an id
// twice, bad entries).
func (m *Manager) Remove(ctx context.Context, tags ...uint32) error {
	if slices.Contains(tags, m.self.Tag) {
		return ErrRemoveSelf
	}
	m.ensureMu.Lock()
	defer m.ensureMu.Unlock()
	st, err := m.readOwn(ctx)
	if err != nil {
		return err
	}
	list := List{}
	if st.current != nil {
		list = salvageTokens(st.current.reader())
	}
	list = slices.DeleteFunc(list, func(d Device) bool { return slices.Contains(tags, d.Tag) })
	if list, err = m.withSelf(list, false); err != nil {
		return err
	}
	return m.Publish(ctx, list)
}

// Devices returns the cached list of an account (from notifications or
// Fetch) with each device's online full JIDs; ok is false when no list is
// known. A refused list (over-full or malformed) is returned as the error.
func (m *Manager) Devices(account jid.JID) (devs []DeviceStatus, ok bool, err error) {
	account = account.Bare()
	m.mu.Lock()
	list, ok := m.lists[account.String()]
	err = m.errs[account.String()]
	m.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	if !ok {
		return nil, false, nil
	}
	online := make(map[uint32][]jid.JID)
	for _, p := range m.c.Presences(account) {
		if p.Tag != 0 {
			online[p.Tag] = append(online[p.Tag], p.From)
		}
	}
	for _, d := range list {
		js := online[d.Tag]
		devs = append(devs, DeviceStatus{Device: d, Online: len(js) > 0, JIDs: js})
	}
	return devs, true, nil
}

// Fetch reads an account's list from its PEP node and caches it. A missing
// node or item is an empty list.
func (m *Manager) Fetch(ctx context.Context, account jid.JID) (List, error) {
	account = account.Bare()
	m.mu.Lock()
	gen := m.gen[account.String()]
	m.mu.Unlock()
	list, err := m.fetch(ctx, account)
	m.mu.Lock()
	// A notification or publication that arrived meanwhile is newer than
	// what we read: keep it.
	if m.gen[account.String()] == gen {
		if err == nil {
			m.storeLocked(account, list, nil)
		} else if errors.Is(err, ErrTooManyDevices) || errors.Is(err, ErrMalformed) {
			m.storeLocked(account, nil, err)
		}
	}
	m.mu.Unlock()
	return slices.Clone(list), err
}

// reqCtx bounds ctx by Options.RequestTimeout when it has no deadline.
func (m *Manager) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, m.opts.RequestTimeout)
}

func (m *Manager) fetch(ctx context.Context, account jid.JID) (List, error) {
	ctx, cancel := m.reqCtx(ctx)
	defer cancel()
	sess, err := m.c.Session()
	if err != nil {
		return nil, err
	}
	iq := stanza.IQ{}
	if !account.Equal(m.c.Account()) {
		iq.To = account
	}
	it := pubsub.FetchIQ(ctx, iq, sess, pubsub.Query{Node: Node, Item: ItemID})
	defer it.Close()
	var list List
	found := false
	for it.Next() {
		id, r := it.Item()
		if id != ItemID || r == nil {
			continue
		}
		l, err := record(r).parse()
		if err != nil {
			return nil, err
		}
		list, found = l, true
	}
	if err := it.Err(); err != nil {
		var se stanza.Error
		if errors.As(err, &se) && se.Condition == stanza.ItemNotFound {
			return List{}, nil
		}
		return nil, fmt.Errorf("pep: fetching %s's device list: %w", account, err)
	}
	if !found {
		return List{}, nil
	}
	return list, nil
}

type formField struct {
	Var   string `xml:"var,attr"`
	Type  string `xml:"type,attr,omitempty"`
	Value string `xml:"value"`
}

type dataForm struct {
	XMLName xml.Name    `xml:"jabber:x:data x"`
	Type    string      `xml:"type,attr"`
	Fields  []formField `xml:"field"`
}

type publishIQ struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/pubsub pubsub"`
	Publish struct {
		Node string `xml:"node,attr"`
		Item struct {
			ID      string `xml:"id,attr"`
			Payload wireDevices
		} `xml:"item"`
	} `xml:"publish"`
	Options struct {
		X dataForm
	} `xml:"publish-options"`
}

type configureIQ struct {
	XMLName   xml.Name `xml:"http://jabber.org/protocol/pubsub#owner pubsub"`
	Configure struct {
		Node string `xml:"node,attr"`
		X    dataForm
	} `xml:"configure"`
}

// Publish replaces the account's list (XEP-0060 §7.1.5 publish-options:
// access model Options.AccessModel, persistent items; the item id is always
// ItemID). When the node exists with another access model (the server
// answers conflict, precondition-not-met), the node is configured with ours
// and the list published again. It refuses lists of more than MaxDevices
// devices with ErrListFull.
func (m *Manager) Publish(ctx context.Context, list List) error {
	if len(list) > MaxDevices {
		return fmt.Errorf("%w: %d devices", ErrListFull, len(list))
	}
	if err := list.validate(MaxDevices); err != nil {
		return err
	}
	sess, err := m.c.Session()
	if err != nil {
		return err
	}
	ctx, cancel := m.reqCtx(ctx)
	defer cancel()
	err = publish(ctx, sess, list, m.opts.AccessModel)
	var se stanza.Error
	if errors.As(err, &se) && se.Condition == stanza.Conflict {
		m.log.Info("pep: device list node has another configuration; setting access model", "access", m.opts.AccessModel)
		if err = configure(ctx, sess, jid.JID{}, formField{Var: "pubsub#access_model", Value: m.opts.AccessModel}); err == nil {
			m.mu.Lock()
			m.stats.Reconfigured++
			m.mu.Unlock()
			err = publish(ctx, sess, list, m.opts.AccessModel)
		}
	}
	if err != nil {
		return err
	}
	// What we published is the list now, whether or not the server also
	// notifies this resource (it may not know our capabilities yet).
	own := m.c.Account()
	m.mu.Lock()
	m.stats.Publications++
	m.storeLocked(own, slices.Clone(list), nil)
	m.mu.Unlock()
	m.notify(own)
	return nil
}

func publish(ctx context.Context, sess *xmpp.Session, list List, access string) error {
	var p publishIQ
	p.Publish.Node = Node
	p.Publish.Item.ID = ItemID
	p.Publish.Item.Payload = list.wire()
	p.Options.X.Type = "submit"
	p.Options.X.Fields = []formField{
		{Var: "FORM_TYPE", Type: "hidden", Value: "http://jabber.org/protocol/pubsub#publish-options"},
		{Var: "pubsub#access_model", Value: access},
		{Var: "pubsub#persist_items", Value: "true"},
		// No pubsub#max_items: ejabberd 23.01 refuses it in publish-options,
		// and the single item id "current" keeps one item anyway.
	}
	return sendIQ(ctx, sess, p, "publishing", jid.JID{})
}

// configure sets options of the node (XEP-0060 §8.2.4); fields not named
// keep their values (Prosody 0.12 and ejabberd 23.01 both merge).
func configure(ctx context.Context, sess *xmpp.Session, to jid.JID, fields ...formField) error {
	var c configureIQ
	c.Configure.Node = Node
	c.Configure.X.Type = "submit"
	c.Configure.X.Fields = append([]formField{
		{Var: "FORM_TYPE", Type: "hidden", Value: "http://jabber.org/protocol/pubsub#node_config"},
	}, fields...)
	return sendIQ(ctx, sess, c, "configuring", to)
}

func sendIQ(ctx context.Context, sess *xmpp.Session, payload any, what string, to jid.JID) error {
	resp, err := sess.EncodeIQElement(ctx, payload, stanza.IQ{Type: stanza.SetIQ, To: to})
	if err != nil {
		return fmt.Errorf("pep: %s: %w", what, err)
	}
	defer resp.Close()
	tok, err := resp.Token()
	if err != nil {
		return fmt.Errorf("pep: %s: %w", what, err)
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return fmt.Errorf("pep: %s: unexpected response %T", what, tok)
	}
	if _, err := stanza.UnmarshalIQError(resp, start); err != nil {
		return fmt.Errorf("pep: %s: %w", what, err)
	}
	return nil
}
