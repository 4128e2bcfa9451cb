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

// AccessModel is the pubsub#access_model the list is published with:
// "presence", so that only contacts with a presence subscription (which
// OTRv4 over XMPP needs anyway to see online devices) can read how many
// devices an account has and when they change. XEP-0364 asks for "open";
// docs/device-list.md explains the difference.
const AccessModel = "presence"

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
	pending  bool // a re-announcement is scheduled

	announceErr error // result of the last announcement made in the background
	wg          sync.WaitGroup
	quit        chan struct{} // closed by Stop: ends background pauses
}

// New attaches a Manager to a client; call it before c.Run. self.Tag must be
// the client's instance tag (the tag it announces in presence). The client
// advertises Node+"+notify" so that the server sends list notifications of
// the account and of its contacts; the Manager announces the device after
// every connection.
func New(c *xmppconn.Client, self Device, opts Options) (*Manager, error) {
	if err := self.validate(); err != nil {
		return nil, err
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
	}
	if err := c.AddFeature(context.Background(), Node+"+notify"); err != nil {
		return nil, err
	}
	c.Subscribe(m.handle)
	return m, nil
}

// Self returns this device's entry.
func (m *Manager) Self() Device { return m.self }

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
	if !found && !slices.Contains(e.Retracted, ItemID) {
		return
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
	if own && perr == nil && !list.Contains(m.self.Tag) {
		// OMEMO's rule (XEP-0364 too): removed by a racing update, announce
		// again.
		m.log.Info("pep: own device missing from the list; re-announcing")
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

// background announces the device after delay, once at a time.
func (m *Manager) background(delay time.Duration) {
	m.mu.Lock()
	if m.stopped || m.pending {
		m.mu.Unlock()
		return
	}
	m.pending = true
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		if delay > 0 {
			time.Sleep(delay)
		}
		m.mu.Lock()
		m.pending = false
		stopped := m.stopped
		m.mu.Unlock()
		if stopped {
			return
		}
		// Retry transient failures (a server may refuse the first publication
		// right after login: ejabberd answers item-not-found at times).
		wait := 250 * time.Millisecond
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), m.opts.RequestTimeout)
			err := m.Announce(ctx)
			cancel()
			m.mu.Lock()
			m.announceErr = err
			m.mu.Unlock()
			if err == nil {
				return
			}
			final := errors.Is(err, ErrListFull) || errors.Is(err, ErrTooManyDevices) ||
				errors.Is(err, ErrMalformed) || errors.Is(err, xmppconn.ErrNotConnected) || attempt == announceAttempts
			m.log.Warn("pep: announcing failed", "err", err, "attempt", attempt, "final", final)
			if final {
				return
			}
			time.Sleep(wait)
			wait *= 2
			m.mu.Lock()
			stopped := m.stopped
			m.mu.Unlock()
			if stopped {
				return
			}
		}
	}()
}

// Announce adds this device to its account's list unless it is there with
// the same label. It fails with ErrListFull when the list already holds
// MaxDevices other devices, and with ErrTooManyDevices when the stored list
// is over-full.
func (m *Manager) Announce(ctx context.Context) error {
	own := m.c.Account()
	list, err := m.Fetch(ctx, own)
	if err != nil {
		return err
	}
	if i := list.index(m.self.Tag); i >= 0 && list[i] == m.self {
		return nil
	} else if i >= 0 {
		list[i] = m.self
	} else {
		if len(list) >= MaxDevices {
			return fmt.Errorf("%w: cannot add %s", ErrListFull, xmppconn.FormatTag(m.self.Tag))
		}
		list = append(list, m.self)
	}
	return m.Publish(ctx, list)
}

// Remove deletes stale devices from the account's list; a device that is
// still running will announce itself again. It reads the stored list
// leniently, so it can repair a list with too many devices.
func (m *Manager) Remove(ctx context.Context, tags ...uint32) error {
	if slices.Contains(tags, m.self.Tag) {
		return ErrRemoveSelf
	}
	list, err := m.fetch(ctx, m.c.Account(), maxLenient)
	if err != nil {
		return err
	}
	list = slices.DeleteFunc(list, func(d Device) bool { return slices.Contains(tags, d.Tag) })
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
	list, err := m.fetch(ctx, account, MaxDevices)
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

func (m *Manager) fetch(ctx context.Context, account jid.JID, limit int) (List, error) {
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
		l, err := parseTokens(r, limit)
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
		X struct {
			XMLName xml.Name    `xml:"jabber:x:data x"`
			Type    string      `xml:"type,attr"`
			Fields  []formField `xml:"field"`
		}
	} `xml:"publish-options"`
}

// Publish replaces the account's list (XEP-0060 §7.1.5 publish-options:
// access model AccessModel, persistent items; the item id is always ItemID). It refuses lists of more
// than MaxDevices devices with ErrListFull.
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
	if err := publish(ctx, sess, list); err != nil {
		return err
	}
	// What we published is the list now, whether or not the server also
	// notifies this resource (it may not know our capabilities yet).
	own := m.c.Account()
	m.mu.Lock()
	m.storeLocked(own, slices.Clone(list), nil)
	m.mu.Unlock()
	m.notify(own)
	return nil
}

func publish(ctx context.Context, sess *xmpp.Session, list List) error {
	var p publishIQ
	p.Publish.Node = Node
	p.Publish.Item.ID = ItemID
	for _, d := range list {
		p.Publish.Item.Payload.Devices = append(p.Publish.Item.Payload.Devices,
			wireDevice{Tag: xmppconn.FormatTag(d.Tag), Label: d.Label})
	}
	p.Options.X.Type = "submit"
	p.Options.X.Fields = []formField{
		{Var: "FORM_TYPE", Type: "hidden", Value: "http://jabber.org/protocol/pubsub#publish-options"},
		{Var: "pubsub#access_model", Value: AccessModel},
		{Var: "pubsub#persist_items", Value: "true"},
		// No pubsub#max_items: ejabberd 23.01 refuses it in publish-options,
		// and the single item id "current" keeps one item anyway.
	}
	resp, err := sess.EncodeIQElement(ctx, p, stanza.IQ{Type: stanza.SetIQ})
	if err != nil {
		return fmt.Errorf("pep: publishing: %w", err)
	}
	defer resp.Close()
	tok, err := resp.Token()
	if err != nil {
		return fmt.Errorf("pep: publishing: %w", err)
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return fmt.Errorf("pep: publishing: unexpected response %T", tok)
	}
	if _, err := stanza.UnmarshalIQError(resp, start); err != nil {
		return fmt.Errorf("pep: publishing: %w", err)
	}
	return nil
}
