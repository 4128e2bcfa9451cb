package session

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/instancetag"
	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/otr3"
	"github.com/otrchat/otrchat/pep"
	"github.com/otrchat/otrchat/prekeyclient"
	"github.com/otrchat/otrchat/xmppconn"
)

// ContactSettings are the per-contact choices; empty fields use the
// defaults of Config.
type ContactSettings struct {
	Policy     instancetag.Policy
	Encryption EncryptionPolicy
	// InteractiveOnly forbids offline conversations with the contact (the
	// interactive-only mode).
	InteractiveOnly bool
}

// Config configures a Manager: one device of one account.
type Config struct {
	// Account is the bare JID; Password its XMPP password.
	Account  jid.JID
	Password string
	// Addr overrides the server address ("host:port"); RootCAs and TLS as
	// in xmppconn.Config.
	Addr    string
	RootCAs *x509.CertPool
	TLS     *tls.Config
	// Resource is the resource to bind; Label the device's label in the
	// device list (default: Resource).
	Resource, Label string

	// Store holds the device's keys, profiles, prekey secrets, trust
	// decisions and pins. The Manager does not close it.
	Store *keystore.Store
	// Tag chooses the device of the account in Store (0: the first one).
	Tag uint32

	// Policy is the default instance policy (instancetag.Default when
	// empty); Encryption the default encryption policy (EncryptAlways when
	// empty); TrustMode how unverified fingerprints are treated
	// (TrustManual when empty). Contacts holds per-contact settings, keyed
	// by bare JID.
	Policy     instancetag.Policy
	Encryption EncryptionPolicy
	TrustMode  TrustMode
	Contacts   map[string]ContactSettings
	// Offline allows offline conversations through the prekey server
	// (the standalone mode); false is the interactive-only mode.
	Offline bool
	// ErrorStartAKE starts a new DAKE with a device that reports an OTR
	// error (a message it could not read).
	ErrorStartAKE bool
	// V3Key is the account's OTRv3 DSA key: with it the Manager runs in the
	// OTRv3-compatible mode (query messages and whitespace tags offer 3 and
	// 4; an instance that offers only 3 gets an OTRv3 conversation; see
	// docs/session.md). V3Compatible loads the key from Store when V3Key is
	// nil (an error when the store has none).
	V3Key        *otr3.PrivateKey
	V3Compatible bool
	// DeviceListAccess is the access model of the account's device list:
	// "open" (the default) or "presence" (docs/device-list.md).
	DeviceListAccess string

	// PrekeyServer is the prekey server to use; zero: discovered.
	PrekeyServer jid.JID
	// PrekeyInterval is how often the prekeys on the server are checked
	// and topped up (default 10 minutes); PrekeyTarget and PrekeyThreshold
	// as in prekeyclient.Config.
	PrekeyInterval                time.Duration
	PrekeyTarget, PrekeyThreshold int

	// RequestTimeout bounds each network request the Manager makes
	// (default 15 s).
	RequestTimeout time.Duration
	// DAKETimeout is how long an online DAKE may wait for a device's
	// answer; a device that went offline meanwhile then gets an offline
	// DAKE with the messages that waited (default 20 s).
	DAKETimeout time.Duration
	// FragmentSize is the largest OTR message sent in one stanza (default
	// 64 KiB).
	FragmentSize int
	// MinBackoff and MaxBackoff bound reconnection delays (xmppconn's
	// defaults when zero).
	MinBackoff, MaxBackoff time.Duration
	// ArchiveAfter and ArchiveSince start the archive catch-up of the first
	// connection (see xmppconn.Config).
	ArchiveAfter string
	ArchiveSince time.Time

	Rand   io.Reader
	Now    func() time.Time
	Logger *slog.Logger
}

// Errors of the Manager.
var (
	ErrNoDevice       = errors.New("session: no device of this account in the key store")
	ErrNotEncrypted   = errors.New("session: no encrypted conversation with this contact")
	ErrNoSuchDevice   = errors.New("session: no such device")
	ErrPlaintext      = errors.New("session: the encryption policy forbids sending this message in plaintext")
	ErrNoPrekeys      = errors.New("session: offline conversations are disabled (interactive-only mode)")
	ErrBadFingerprint = errors.New("session: malformed fingerprint")
)

// Manager is one device's chat session: its XMPP connection, device lists,
// prekey server client and one OTR conversation per remote device (of each
// contact and of the account's other devices). Commands are its methods;
// what happens is reported as Events. All methods are safe for concurrent
// use.
type Manager struct {
	cfg     Config
	account jid.JID
	tag     uint32
	label   string
	id      *otr4.Identity
	v3key   *otr3.PrivateKey    // OTRv3-compatible mode when set (v3.go)
	v3prof  *otr4.ClientProfile // the transitional client profile of that mode
	dev     *storeDevice
	client  *xmppconn.Client
	pep     *pep.Manager
	pk      *prekeyclient.Client
	log     *slog.Logger

	mu           sync.Mutex
	contacts     map[string]*contact
	policy       instancetag.Policy
	enc          EncryptionPolicy
	trustMode    TrustMode
	nextID       uint64
	stanzas      map[string]stanzaRef // xmppconn stanza id -> message
	unacked      map[deliveryKey]int  // stanzas of a message not yet acknowledged
	online       bool
	addr         jid.JID
	savedArchive string

	// exitWithoutEnd makes Run return without ending the conversations,
	// as a crash or a lost battery would (tests).
	exitWithoutEnd bool

	evmu   sync.Mutex
	evcond *sync.Cond
	evq    []Event
	subs   []func(Event)
	closed bool
}

// stanzaRef ties a stanza written for a user message to that message and
// the device it is for, so that the server's acknowledgement (XEP-0198)
// can be reported as delivery to the server for that device.
type stanzaRef struct {
	contact jid.JID // the conversation the message belongs to
	msgID   string
	device  Device
}

// deliveryKey counts the stanzas of one message for one device (several
// when the message was fragmented).
type deliveryKey struct {
	msgID   string
	account string
	tag     uint32
}

// New prepares a Manager; Run connects it.
func New(cfg Config) (*Manager, error) {
	if cfg.Account.Localpart() == "" {
		return nil, errors.New("session: Config.Account must be a bare JID user@domain")
	}
	if cfg.Store == nil {
		return nil, errors.New("session: Config.Store is required")
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.PrekeyInterval <= 0 {
		cfg.PrekeyInterval = 10 * time.Minute
	}
	if cfg.DAKETimeout <= 0 {
		cfg.DAKETimeout = 20 * time.Second
	}
	if cfg.FragmentSize == 0 {
		cfg.FragmentSize = 64 << 10
	}
	if cfg.Policy == "" {
		cfg.Policy = instancetag.Default
	}
	if cfg.Encryption == "" {
		cfg.Encryption = EncryptAlways
	}
	if cfg.TrustMode == "" {
		cfg.TrustMode = TrustManual
	}
	account := cfg.Account.Bare()
	devs, err := cfg.Store.Devices(account.String())
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		return nil, err
	}
	var rec *keystore.Identity
	for i := range devs {
		if cfg.Tag == 0 || devs[i].InstanceTag == cfg.Tag {
			rec = &devs[i]
			break
		}
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoDevice, account)
	}
	id, err := otr4.NewIdentity(rec.LongTermSeed, rec.ForgingPublic, rec.ForgingSecret)
	if err != nil {
		return nil, fmt.Errorf("session: device %08x: %w", rec.InstanceTag, err)
	}
	m := &Manager{
		cfg: cfg, account: account, tag: rec.InstanceTag, id: id,
		label: cfg.Label, log: cfg.Logger,
		contacts: map[string]*contact{}, stanzas: map[string]stanzaRef{}, unacked: map[deliveryKey]int{},
		policy: cfg.Policy, enc: cfg.Encryption, trustMode: cfg.TrustMode,
	}
	if m.label == "" {
		m.label = cfg.Resource
	}
	m.evcond = sync.NewCond(&m.evmu)
	if cfg.ArchiveAfter == "" && cfg.ArchiveSince.IsZero() {
		cfg.ArchiveAfter = m.loadArchivePosition()
		if cfg.ArchiveAfter == "" {
			// A new device reads what arrived for it in the last day
			// (messages stored for it while it announced itself).
			cfg.ArchiveSince = cfg.Now().Add(-24 * time.Hour)
		}
		m.cfg = cfg
	}
	m.dev = &storeDevice{s: cfg.Store, account: account.String(), tag: m.tag, id: id,
		versions: "4", validity: 30 * 24 * time.Hour, rand: cfg.Rand}
	if err := m.setupV3(); err != nil {
		return nil, err
	}
	m.client, err = xmppconn.New(xmppconn.Config{
		JID: account, Password: cfg.Password, Resource: cfg.Resource, Addr: cfg.Addr,
		TLS: cfg.TLS, RootCAs: cfg.RootCAs, InstanceTag: m.tag,
		MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff, RequestTimeout: cfg.RequestTimeout,
		ArchiveAfter: cfg.ArchiveAfter, ArchiveSince: cfg.ArchiveSince,
		Rand: cfg.Rand, Logger: cfg.Logger.With("part", "xmpp"),
	})
	if err != nil {
		return nil, err
	}
	m.pep, err = pep.New(m.client, pep.Device{Tag: m.tag, Label: truncateLabel(m.label)},
		pep.Options{RequestTimeout: cfg.RequestTimeout, AccessModel: cfg.DeviceListAccess, Rand: cfg.Rand, Logger: cfg.Logger.With("part", "pep")})
	if err != nil {
		return nil, err
	}
	if cfg.Offline {
		m.pk, err = prekeyclient.New(prekeyclient.Config{
			Account: account, Identity: id, InstanceTag: otr4.InstanceTag(m.tag), Device: m.dev,
			Transport: clientTransport{m.client}, Discoverer: clientDiscoverer{m.client},
			Pins: m.dev, Timeout: cfg.RequestTimeout,
			Target: cfg.PrekeyTarget, Threshold: cfg.PrekeyThreshold,
			Rand: cfg.Rand, Now: cfg.Now, Logger: cfg.Logger.With("part", "prekeys"),
		})
		if err != nil {
			return nil, err
		}
	}
	m.client.Subscribe(m.handleClientEvent)
	m.pep.Watch(m.handleDeviceListChange)
	return m, nil
}

func truncateLabel(s string) string {
	r := []rune(s)
	if len(r) > pep.MaxLabel {
		r = r[:pep.MaxLabel]
	}
	return string(r)
}

// Subscribe registers fn to receive every event, in order, on one
// goroutine of the Manager's. fn must not block for long.
func (m *Manager) Subscribe(fn func(Event)) {
	m.evmu.Lock()
	defer m.evmu.Unlock()
	m.subs = append(m.subs, fn)
}

// emit queues an event; it never blocks.
func (m *Manager) emit(e Event) {
	m.evmu.Lock()
	defer m.evmu.Unlock()
	if m.closed {
		return
	}
	m.evq = append(m.evq, e)
	m.evcond.Signal()
}

// dispatch delivers queued events until the Manager closes and the queue
// is empty.
func (m *Manager) dispatch() {
	for {
		m.evmu.Lock()
		for len(m.evq) == 0 && !m.closed {
			m.evcond.Wait()
		}
		if len(m.evq) == 0 {
			m.evmu.Unlock()
			return
		}
		e := m.evq[0]
		m.evq[0] = nil
		m.evq = m.evq[1:]
		subs := m.subs
		m.evmu.Unlock()
		for _, fn := range subs {
			fn(e)
		}
	}
}

// Run connects and keeps the device connected until ctx is done. On the
// way out it ends every OTR conversation (TLV 1), waits (bounded) for the
// queue to be written, and closes the stream.
func (m *Manager) Run(ctx context.Context) error {
	dispatched := make(chan struct{})
	go func() { defer close(dispatched); m.dispatch() }()
	defer func() {
		m.evmu.Lock()
		m.closed = true
		m.evcond.Broadcast()
		m.evmu.Unlock()
		<-dispatched
	}()
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	done := make(chan error, 1)
	go func() { done <- m.client.Run(runCtx) }()

	var wg sync.WaitGroup
	if m.pk != nil {
		wg.Add(1)
		go func() { defer wg.Done(); m.maintainPrekeys(runCtx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); m.ticker(runCtx) }()

	select {
	case <-ctx.Done():
	case err := <-done:
		stop()
		wg.Wait()
		m.saveArchivePosition()
		return err
	}
	// A clean exit: end the conversations and let the queue drain.
	m.mu.Lock()
	crash := m.exitWithoutEnd
	m.mu.Unlock()
	if !crash {
		m.endAll()
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = m.client.Flush(fctx)
	fcancel()
	m.pep.Stop()
	stop()
	wg.Wait()
	err := <-done
	m.saveArchivePosition()
	return err
}

// The device's archive position is kept in the key store, in the
// conversation-state slot of the device with itself (a conversation that
// never exists), so that the next run catches up on exactly what arrived
// in between.
const archiveStatePrefix = "archive-position:"

func (m *Manager) loadArchivePosition() string {
	b, err := m.cfg.Store.ConversationState(m.account.String(), m.tag, m.account.String(), m.tag)
	if err != nil || !strings.HasPrefix(string(b), archiveStatePrefix) {
		return ""
	}
	return strings.TrimPrefix(string(b), archiveStatePrefix)
}

func (m *Manager) saveArchivePosition() {
	pos := m.client.ArchivePosition()
	if pos == "" {
		return
	}
	m.mu.Lock()
	same := pos == m.savedArchive
	m.savedArchive = pos
	m.mu.Unlock()
	if same {
		return
	}
	if err := m.cfg.Store.PutConversationState(m.account.String(), m.tag, m.account.String(), m.tag, []byte(archiveStatePrefix+pos)); err != nil {
		m.log.Warn("session: could not save the archive position", "err", err)
	}
}

// endAll ends every encrypted conversation, as a clean exit should.
func (m *Manager) endAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.contacts {
		for _, d := range c.devices {
			if e := d.engine(); e != nil && e.State() == otr4.StateEncrypted {
				out, err := e.End()
				if err == nil {
					m.process(c, d, out)
				}
			}
		}
	}
}

// ticker lets the conversations act on time (session expiry, early data).
func (m *Manager) ticker(ctx context.Context) {
	t := time.NewTicker(min(10*time.Second, m.cfg.DAKETimeout/2))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stalled := map[string][]uint32{}
		m.mu.Lock()
		now := m.cfg.Now()
		for _, c := range m.contacts {
			for _, d := range c.devices {
				if d.conv == nil {
					continue
				}
				out, err := d.conv.Tick()
				if err == nil && out != nil {
					m.process(c, d, out)
				}
				if d.conv.State() == otr4.StateWaitingAuthR && !d.dakeStarted.IsZero() &&
					now.Sub(d.dakeStarted) > m.cfg.DAKETimeout && m.pk != nil && !m.cfg.Contacts[c.key].InteractiveOnly {
					if _, online := m.onlineJID(c, d.tag); !online {
						stalled[c.key] = append(stalled[c.key], d.tag)
					}
				}
			}
		}
		m.mu.Unlock()
		m.saveArchivePosition()
		for account, tags := range stalled {
			m.fallbackOffline(ctx, jid.MustParse(account), tags)
		}
	}
}

// fallbackOffline replaces stalled online DAKEs with devices that went
// offline by offline DAKEs, and sends the messages that waited.
func (m *Manager) fallbackOffline(ctx context.Context, account jid.JID, tags []uint32) {
	m.mu.Lock()
	c := m.contact(account)
	var todo []uint32
	for _, tag := range tags {
		d := c.devices[tag]
		if d == nil || d.conv.State() != otr4.StateWaitingAuthR {
			continue
		}
		conv, err := m.newConv(c)
		if err != nil {
			continue
		}
		m.log.Info("session: online DAKE unanswered; starting offline", "account", account, "device", fmt.Sprintf("%08x", tag))
		d.conv, d.dakeStarted = conv, time.Time{}
		todo = append(todo, tag)
	}
	m.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	errs := m.startDevices(ctx, account, todo)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tag := range todo {
		d := c.devices[tag]
		pending := d.pending
		d.pending, d.queued = nil, nil
		for _, p := range pending {
			err := errs[tag]
			if err == nil {
				var out *otr4.Message
				out, err = d.conv.Send(p.text, p.tlvs...)
				if err == nil {
					m.process(c, d, out)
				}
			}
			contact := c.jid
			if len(p.tlvs) > 0 {
				if cp, perr := parseSentCopy(p.tlvs[0].Value); perr == nil {
					contact = cp.contact
				}
			}
			if err != nil {
				m.failed(c, tag, p.id, err)
				continue
			}
			m.emit(&DeliveryEvent{Contact: contact, ID: p.id, Device: m.devRef(c, d), Status: Sent})
		}
	}
}

// track remembers the stanzas of a user message for one device. Called
// with m.mu held.
func (m *Manager) track(contact jid.JID, msgID string, dev Device, stanzaIDs []string) {
	if len(m.stanzas) > 10000 {
		// Acknowledgements that never came (a server without stream
		// management): forget the oldest bookkeeping rather than grow.
		clear(m.stanzas)
		clear(m.unacked)
	}
	k := deliveryKey{msgID: msgID, account: dev.Account.String(), tag: dev.Tag}
	for _, id := range stanzaIDs {
		m.stanzas[id] = stanzaRef{contact: contact, msgID: msgID, device: dev}
		m.unacked[k]++
	}
}

// handleDelivery reports the server's acknowledgement (or refusal) of a
// stanza as the delivery of the user message it carried.
func (m *Manager) handleDelivery(e *xmppconn.DeliveryEvent) {
	if e.Status != xmppconn.DeliveryAcked && e.Status != xmppconn.DeliveryFailed {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ref, ok := m.stanzas[e.ID]
	if !ok {
		return
	}
	delete(m.stanzas, e.ID)
	k := deliveryKey{msgID: ref.msgID, account: ref.device.Account.String(), tag: ref.device.Tag}
	if e.Status == xmppconn.DeliveryFailed {
		delete(m.unacked, k)
		m.emit(&DeliveryEvent{Contact: ref.contact, ID: ref.msgID, Device: ref.device, Status: Failed, Err: e.Err})
		m.emit(&WarningEvent{Contact: ref.contact, Device: ref.device, Kind: WarnDeliveryFailed,
			Text: fmt.Sprintf("the server refused the message for %s: %v", describe(ref.device), e.Err)})
		return
	}
	if m.unacked[k]--; m.unacked[k] > 0 {
		return
	}
	delete(m.unacked, k)
	m.emit(&DeliveryEvent{Contact: ref.contact, ID: ref.msgID, Device: ref.device, Status: Delivered})
}

// maintainPrekeys finds the prekey server once online and keeps our
// prekeys there topped up.
func (m *Manager) maintainPrekeys(ctx context.Context) {
	for {
		if err := m.client.WaitOnline(ctx); err != nil {
			return
		}
		if err := m.connectPrekeyServer(ctx); err != nil {
			m.emit(&WarningEvent{Kind: WarnPrekeyServer, Text: "prekey server: " + err.Error()})
			select {
			case <-ctx.Done():
				return
			case <-time.After(30 * time.Second):
				continue
			}
		}
		_ = m.pk.Run(ctx, m.cfg.PrekeyInterval, func(r *prekeyclient.Report, err error) {
			if err != nil {
				if ctx.Err() == nil {
					m.emit(&PrekeyEvent{Err: err})
				}
				return
			}
			m.emit(&PrekeyEvent{Server: r.Server, Stored: r.Stored, Published: r.Published})
		})
		return
	}
}

func (m *Manager) connectPrekeyServer(ctx context.Context) error {
	if _, ok := m.pk.Server(); ok {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 2*m.cfg.RequestTimeout)
	defer cancel()
	if m.cfg.PrekeyServer.Domainpart() != "" {
		fp, err := prekeyclient.FetchFingerprint(cctx, clientDiscoverer{m.client}, m.cfg.PrekeyServer, m.cfg.RequestTimeout)
		if err != nil {
			return err
		}
		return m.pk.UseServer(prekeyclient.Server{JID: m.cfg.PrekeyServer, Fingerprint: fp})
	}
	_, err := m.pk.Connect(cctx)
	return err
}

// PrekeyStatus asks the prekey server how many of this device's prekey
// messages it stores.
func (m *Manager) PrekeyStatus(ctx context.Context) (PrekeyEvent, error) {
	if m.pk == nil {
		return PrekeyEvent{}, ErrNoPrekeys
	}
	if err := m.connectPrekeyServer(ctx); err != nil {
		return PrekeyEvent{Err: err}, err
	}
	srv, _ := m.pk.Server()
	n, err := m.pk.StorageStatus(ctx)
	return PrekeyEvent{Server: srv.JID, Stored: n, Err: err}, err
}

// RefillPrekeys tops the prekey server up now.
func (m *Manager) RefillPrekeys(ctx context.Context) (PrekeyEvent, error) {
	if m.pk == nil {
		return PrekeyEvent{}, ErrNoPrekeys
	}
	if err := m.connectPrekeyServer(ctx); err != nil {
		return PrekeyEvent{Err: err}, err
	}
	r, err := m.pk.Maintain(ctx)
	if err != nil {
		return PrekeyEvent{Err: err}, err
	}
	ev := PrekeyEvent{Server: r.Server, Stored: r.Stored + r.Published, Published: r.Published}
	m.emit(&ev)
	return ev, nil
}

// Account returns the account's bare JID.
func (m *Manager) Account() jid.JID { return m.account }

// Client returns the XMPP connection, for tests and tools.
func (m *Manager) Client() *xmppconn.Client { return m.client }

// WaitOnline blocks until the device is online or ctx is done.
func (m *Manager) WaitOnline(ctx context.Context) error { return m.client.WaitOnline(ctx) }

// Self returns this device.
func (m *Manager) Self() DeviceInfo {
	return DeviceInfo{
		Device:      Device{Account: m.account, Tag: m.tag, Label: m.label},
		Online:      m.client.State() == xmppconn.StateOnline,
		State:       Plaintext,
		Version:     4,
		Fingerprint: formatFingerprint(m.id.Fingerprint()),
		Trust:       Verified,
		Own:         true,
		Listed:      true,
	}
}

// FingerprintURI returns this device's fingerprint as an XEP-0364 URI,
// xmpp:user@domain?otr-fingerprint=HEX, for a QR code.
func (m *Manager) FingerprintURI() string {
	fp := m.id.Fingerprint()
	return fmt.Sprintf("xmpp:%s?otr-fingerprint=%x", m.account, fp[:])
}

// SetTrustMode changes how unverified fingerprints are treated.
func (m *Manager) SetTrustMode(t TrustMode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trustMode = t
	for _, c := range m.contacts {
		for _, d := range c.devices {
			m.refreshTrust(c, d)
		}
	}
}

// TrustMode returns the trust mode in force.
func (m *Manager) TrustMode() TrustMode {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.trustMode
}

// SetPolicy chooses the instance policy of a contact, or the default for a
// zero JID.
func (m *Manager) SetPolicy(c jid.JID, p instancetag.Policy) error {
	if _, err := instancetag.Parse(string(p)); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.Domainpart() == "" {
		m.policy = p
		return nil
	}
	m.contact(c.Bare()).policy = p
	return nil
}

// Policy returns the instance policy in force for a contact (the default
// for a zero JID).
func (m *Manager) Policy(c jid.JID) instancetag.Policy {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.Domainpart() == "" {
		return m.policy
	}
	return m.policyFor(m.contact(c.Bare()))
}

func (m *Manager) policyFor(c *contact) instancetag.Policy {
	if c.policy != "" {
		return c.policy
	}
	if s, ok := m.cfg.Contacts[c.key]; ok && s.Policy != "" {
		return s.Policy
	}
	return m.policy
}

// SetEncryptionPolicy chooses the encryption policy of a contact, or the
// default for a zero JID.
func (m *Manager) SetEncryptionPolicy(c jid.JID, p EncryptionPolicy) error {
	if _, err := ParseEncryptionPolicy(string(p)); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.Domainpart() == "" {
		m.enc = p
		return nil
	}
	m.contact(c.Bare()).enc = p
	return nil
}

// EncryptionPolicy returns the encryption policy in force for a contact.
func (m *Manager) EncryptionPolicy(c jid.JID) EncryptionPolicy {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.Domainpart() == "" {
		return m.enc
	}
	return m.encFor(m.contact(c.Bare()))
}

func (m *Manager) encFor(c *contact) EncryptionPolicy {
	if c.enc != "" {
		return c.enc
	}
	if s, ok := m.cfg.Contacts[c.key]; ok && s.Encryption != "" {
		return s.Encryption
	}
	return m.enc
}

// AddContact adds a contact to the roster and asks for a subscription.
func (m *Manager) AddContact(ctx context.Context, c jid.JID, name string) error {
	return m.client.AddContact(ctx, c.Bare(), name)
}

// RemoveContact removes a contact from the roster.
func (m *Manager) RemoveContact(ctx context.Context, c jid.JID) error {
	return m.client.RemoveContact(ctx, c.Bare())
}

// ApproveSubscription lets a contact see our presence.
func (m *Manager) ApproveSubscription(ctx context.Context, c jid.JID) error {
	return m.client.ApproveSubscription(ctx, c.Bare())
}

// DenySubscription refuses a contact's subscription request.
func (m *Manager) DenySubscription(ctx context.Context, c jid.JID) error {
	return m.client.DenySubscription(ctx, c.Bare())
}

// SetPresence changes our availability: "available", "chat", "away", "xa"
// or "dnd".
func (m *Manager) SetPresence(ctx context.Context, show, status string) error {
	var s xmppconn.Show
	switch strings.ToLower(strings.TrimSpace(show)) {
	case "", "available", "online":
		s = xmppconn.Available
	case "chat":
		s = xmppconn.Chat
	case "away":
		s = xmppconn.Away
	case "xa":
		s = xmppconn.XA
	case "dnd":
		s = xmppconn.DND
	default:
		return fmt.Errorf("session: unknown presence %q (want available, chat, away, xa or dnd)", show)
	}
	return m.client.SetPresence(ctx, s, status)
}

// clientTransport carries prekey-server messages over the xmppconn client.
type clientTransport struct{ c *xmppconn.Client }

func (t clientTransport) Send(ctx context.Context, to jid.JID, body string) error {
	_, err := t.c.SendChat(ctx, to, body, xmppconn.SendOptions{})
	return err
}

// clientDiscoverer asks XEP-0030 questions over the client's live session.
type clientDiscoverer struct{ c *xmppconn.Client }

func (d clientDiscoverer) disc() (prekeyclient.Discoverer, error) {
	s, err := d.c.Session()
	if err != nil {
		return nil, err
	}
	return prekeyclient.SessionDiscoverer(s), nil
}

func (d clientDiscoverer) Items(ctx context.Context, to jid.JID, node string) (_ []itemsItem, err error) {
	x, err := d.disc()
	if err != nil {
		return nil, err
	}
	return x.Items(ctx, to, node)
}

func (d clientDiscoverer) Info(ctx context.Context, to jid.JID, node string) (discoInfo, error) {
	x, err := d.disc()
	if err != nil {
		return discoInfo{}, err
	}
	return x.Info(ctx, to, node)
}
