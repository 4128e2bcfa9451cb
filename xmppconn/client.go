package xmppconn

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/carbons"
	"mellium.im/xmpp/dial"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/otrchat/otrchat/internal/xmppbind"
	"github.com/otrchat/otrchat/xmppconn/internal/sm"
)

// Client is one device's connection to its XMPP account. It reconnects by
// itself while Run runs. All methods are safe for concurrent use.
type Client struct {
	cfg     Config
	log     *slog.Logger
	account jid.JID // bare
	queue   *outQueue
	running atomic.Bool

	mu          sync.Mutex
	sess        *xmpp.Session // nil unless online or setting up
	local       jid.JID       // bound full JID
	state       State
	online      chan struct{} // closed while StateOnline
	features    []string
	subscribers []func(Event)
	presences   map[string]Presence // by full JID
	roster      map[string]RosterItem
	show        Show
	status      string
	ev          *dispatcher

	// archive catch-up (XEP-0313)
	archivePos   string
	archiveSince time.Time
	// catchingUp is set from initial presence until a catch-up completes
	// (across connection losses); live messages meanwhile wait in liveBuf
	// and are delivered after the archive's, in order.
	catchingUp bool
	liveBuf    []Message
	// posFrozen keeps live messages from moving the archive position
	// after a catch-up failed and its held-back messages were released.
	posFrozen  bool
	mamQueries map[string]bool // query id -> deliver results
	seen       *seenSet
	sentIDs    *seenSet // ids of recently written messages, for error bounces

	// stream management (XEP-0198, streammgmt.go)
	smStatus  StreamMgmt
	smMu      sync.Mutex
	smOut     sm.Outbox
	smInH     uint32    // our h when the last managed connection ended
	smID      string    // resumable stream id, "" when none
	smAddr    jid.JID   // full JID of that stream
	smReqAt   time.Time // when the first unanswered <r/> was written
	smLastReq time.Time // when the last one was
	inflight  []*outMessage
	// ackSignal is signalled when messages are acknowledged; ackKick asks
	// the acker for an ack request.
	ackSignal chan struct{}
	ackKick   chan struct{}

	stats     Stats
	connected bool // a session was online before
	// firstOnline is a little before this client first came online: where
	// a catch-up starts when the device never learnt an archive position.
	firstOnline time.Time
}

// Stats counts what the client dropped on purpose; tests and the UI read it.
type Stats struct {
	// OtherDevice counts messages addressed to another instance tag.
	OtherDevice uint64
	// OTRCarbons counts carbon copies of OTR messages.
	OTRCarbons uint64
	// Duplicates counts messages seen a second time (archive and live).
	Duplicates uint64
	// Malformed counts stanzas the decoders rejected.
	Malformed uint64
	// Reconnects counts successful connections after the first.
	Reconnects uint64

	// Stream management (XEP-0198): resumed streams, refused resumptions,
	// messages (and, on a resumed stream, stanzas) written again after a
	// connection loss, and the ack elements exchanged.
	Resumes, ResumeFailures, Resent uint64
	AckRequestsSent, AcksReceived   uint64
	AckRequestsReceived, AcksSent   uint64
}

// New checks cfg and returns a client; call Run to connect.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	c := &Client{
		cfg:          cfg,
		log:          cfg.Logger.With("account", cfg.JID.Bare().String()),
		account:      cfg.JID.Bare(),
		queue:        newOutQueue(cfg.QueueSize),
		online:       make(chan struct{}),
		features:     slices.Clone(cfg.Features),
		presences:    make(map[string]Presence),
		roster:       make(map[string]RosterItem),
		show:         Available,
		archivePos:   cfg.ArchiveAfter,
		archiveSince: cfg.ArchiveSince,
		mamQueries:   make(map[string]bool),
		seen:         newSeenSet(seenArchiveIDs),
		sentIDs:      newSeenSet(seenArchiveIDs),
		ackSignal:    make(chan struct{}, 1),
		ackKick:      make(chan struct{}, 1),
	}
	if c.cfg.Rand == nil {
		c.cfg.Rand = rand.Reader
	}
	return c, nil
}

// Account returns the bare JID of the account.
func (c *Client) Account() jid.JID { return c.account }

// InstanceTag returns the configured instance tag (0 when none).
func (c *Client) InstanceTag() uint32 { return c.cfg.InstanceTag }

// Subscribe registers fn to receive every event, in order, on the client's
// event goroutine. fn may block and may call the client's methods (network
// calls included) without stalling the connection, but it delays later
// events. Register before Run to see the first events.
func (c *Client) Subscribe(fn func(Event)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subscribers = append(c.subscribers, fn)
}

// AddFeature adds a XEP-0030 feature to the capabilities the device
// advertises (for example "urn:otrchat:otrv4:devices:0+notify"). If the
// client is online, presence is sent again with the new capabilities.
func (c *Client) AddFeature(ctx context.Context, feature string) error {
	c.mu.Lock()
	if slices.Contains(c.features, feature) {
		c.mu.Unlock()
		return nil
	}
	c.features = append(c.features, feature)
	sess := c.sess
	online := c.state == StateOnline
	c.mu.Unlock()
	if online {
		ctx, cancel := c.reqCtx(ctx)
		defer cancel()
		return c.sendPresence(ctx, sess)
	}
	return nil
}

// State returns the connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// LocalAddr returns the full JID bound in the current (or last) session.
func (c *Client) LocalAddr() jid.JID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local
}

// WaitOnline blocks until the client is online or ctx is done.
func (c *Client) WaitOnline(ctx context.Context) error {
	c.mu.Lock()
	ch := c.online
	online := c.state == StateOnline
	c.mu.Unlock()
	if online {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("xmppconn: waiting to be online: %w", ctx.Err())
	}
}

// Session returns the live session for protocols the client does not wrap
// (pubsub, for example), or ErrNotConnected. The session may close at any
// time; calls on it then fail and may be retried after reconnection.
func (c *Client) Session() (*xmpp.Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil || c.state != StateOnline {
		return nil, ErrNotConnected
	}
	return c.sess, nil
}

// Stats returns the counters of dropped stanzas.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// ArchivePosition returns the archive id of the newest message seen, to be
// stored and passed as Config.ArchiveAfter by the next run of the device.
func (c *Client) ArchivePosition() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.archivePos
}

// Presences returns the available full JIDs of an account (bare JID), as
// last seen, sorted by JID. The device's own account is included.
func (c *Client) Presences(account jid.JID) []Presence {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Presence
	for _, p := range c.presences {
		if p.From.Bare().Equal(account.Bare()) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Presence) int {
		if a.From.String() < b.From.String() {
			return -1
		}
		if a.From.String() > b.From.String() {
			return 1
		}
		return 0
	})
	return out
}

// Roster returns the roster as last fetched and pushed, sorted by JID.
func (c *Client) Roster() []RosterItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]RosterItem, 0, len(c.roster))
	for _, it := range c.roster {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b RosterItem) int {
		if a.JID.String() < b.JID.String() {
			return -1
		}
		if a.JID.String() > b.JID.String() {
			return 1
		}
		return 0
	})
	return out
}

// QueueLen returns the number of chat messages not yet written.
func (c *Client) QueueLen() int { return c.queue.len() }

// Flush waits until every queued message has been written, or ctx is done.
func (c *Client) Flush(ctx context.Context) error {
	select {
	case <-c.queue.empty():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("xmppconn: flush: %d messages still queued: %w", c.queue.len(), ctx.Err())
	}
}

// SendChat queues a chat message to a bare or full JID and returns at once
// with the message's id; messages are written in the order they were
// queued, as soon as (and whenever again) the client is online. It fails
// with ErrQueueFull when Config.QueueSize messages are waiting. A message
// stays in the client's hands until the server acknowledged it (XEP-0198,
// or a ping round trip without it): written into a connection that dies
// before that, it is written again after reconnection, before anything
// newer, with the same id, so that a receiver can drop a second copy. Its
// progress is reported with DeliveryEvents carrying the id.
func (c *Client) SendChat(ctx context.Context, to jid.JID, body string, opts SendOptions) (id string, err error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if to.Domainpart() == "" {
		return "", fmt.Errorf("%w: empty recipient", ErrBadArgument)
	}
	if body == "" {
		return "", fmt.Errorf("%w: empty body", ErrBadArgument)
	}
	if opts.ToDevice != 0 && opts.ToDevice < MinInstanceTag {
		return "", fmt.Errorf("%w: %#x", ErrBadTag, opts.ToDevice)
	}
	id = c.newID()
	m := newOutMessage(id, to.String(), body, opts)
	if err := c.queue.push(m); err != nil {
		return "", err
	}
	c.emitDelivery(m, DeliveryQueued, nil)
	return id, nil
}

func (c *Client) newID() string {
	var b [12]byte
	if _, err := io.ReadFull(c.cfg.Rand, b[:]); err != nil {
		// crypto/rand does not fail; an injected reader might.
		c.log.Error("xmppconn: random id", "err", err)
	}
	return hex.EncodeToString(b[:])
}

// Run connects and keeps the client connected until ctx is done; then it
// sends unavailable presence, closes the stream and returns nil. Connection
// failures are reported as StateEvents and retried with backoff; Run only
// returns an error for a second concurrent call. Run may be called again
// after it returned: the queue, roster and archive position are kept.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer c.running.Store(false)
	ev := newDispatcher(c.log)
	c.mu.Lock()
	c.ev = ev
	c.mu.Unlock()
	evDone := make(chan struct{})
	go func() { ev.run(c.snapshotSubscribers); close(evDone) }()
	defer func() {
		c.flushLive(false)
		ev.close()
		<-evDone
	}()

	bo := newBackoff(c.cfg.MinBackoff, c.cfg.MaxBackoff, c.cfg.Rand)
	for {
		err := c.runSession(ctx, bo)
		if ctx.Err() != nil {
			c.setState(StateDisconnected, nil)
			return nil
		}
		if c.State() != StateDisconnected {
			// Failed before going online (dial, negotiation, setup).
			c.setState(StateDisconnected, err)
		}
		d := bo.next()
		c.log.Info("xmppconn: disconnected; reconnecting", "err", err, "in", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			c.setState(StateDisconnected, nil)
			return nil
		case <-t.C:
		}
	}
}

func (c *Client) snapshotSubscribers() []func(Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.subscribers)
}

func (c *Client) emit(e Event) {
	c.mu.Lock()
	ev := c.ev
	c.mu.Unlock()
	if ev != nil {
		ev.push(e)
	}
}

func (c *Client) setState(s State, err error) {
	c.mu.Lock()
	if c.state == s && err == nil {
		c.mu.Unlock()
		return
	}
	prev := c.state
	c.state = s
	local := c.local
	if s == StateOnline {
		close(c.online)
	} else if prev == StateOnline {
		c.online = make(chan struct{})
	}
	if s == StateDisconnected {
		c.sess = nil
	}
	smStatus := c.smStatus
	ev := c.ev
	c.mu.Unlock()
	if s == StateDisconnected && (err == nil || !c.smResumable()) {
		// Presence is unknown while disconnected; the server sends it
		// again, unless the stream is resumed.
		c.clearPresences()
	}
	if ev != nil {
		e := &StateEvent{State: s, Addr: local, Err: err}
		if s == StateOnline {
			e.StreamManagement = smStatus
		}
		ev.push(e)
	}
}

// clearPresences forgets every presence, reporting each as unavailable.
func (c *Client) clearPresences() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.presences {
		delete(c.presences, k)
		if c.ev != nil {
			c.ev.push(&PresenceEvent{Presence: Presence{From: p.From, Show: Unavailable, Tag: p.Tag}})
		}
	}
}

func (c *Client) tlsConfig() *tls.Config {
	if c.cfg.TLS != nil {
		t := c.cfg.TLS.Clone()
		if t.ServerName == "" {
			t.ServerName = c.account.Domainpart()
		}
		return t
	}
	return &tls.Config{
		ServerName: c.account.Domainpart(),
		RootCAs:    c.cfg.RootCAs,
		MinVersion: tls.VersionTLS12,
	}
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	if c.cfg.Addr != "" {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", c.cfg.Addr)
	}
	d := dial.Dialer{Dialer: net.Dialer{Resolver: c.cfg.Resolver}, NoTLS: true}
	return d.Dial(ctx, "tcp", c.account)
}

// runSession makes one connection and serves it until it breaks or ctx is
// done. It returns nil only after a clean stop of a session that was online.
func (c *Client) runSession(ctx context.Context, bo *backoff) error {
	c.setState(StateConnecting, nil)
	cctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	conn, err := c.dial(cctx)
	if err != nil {
		cancel()
		return fmt.Errorf("xmppconn: dial: %w", err)
	}
	bind := xmpp.BindResource()
	if c.cfg.Resource != "" {
		bind = xmppbind.Feature(c.cfg.Resource, c.newID())
	}
	var sc *smConn
	var resumed bool
	startTLS, bind := c.smFeatures(xmpp.StartTLS(c.tlsConfig()), bind, &sc, &resumed)
	sess, err := xmpp.NewClientSession(cctx, c.account, conn,
		startTLS,
		xmpp.SASL("", c.cfg.Password, sasl.ScramSha256, sasl.ScramSha1),
		bind,
	)
	cancel()
	if err != nil {
		conn.Close()
		return fmt.Errorf("xmppconn: negotiate: %w", err)
	}
	smOn := sc != nil && c.StreamManagement() != SMOff
	if !smOn {
		sc = nil
	}
	c.mu.Lock()
	c.sess = sess
	c.local = sess.LocalAddr()
	if resumed {
		// What the server retransmits and routes while the stream changes
		// hands may come out of order (ejabberd delivers messages that
		// reached the old connection after newer ones): a catch-up puts
		// them in archive order, holding live messages back meanwhile.
		c.catchingUp = true
	}
	c.mu.Unlock()

	serveErr := make(chan error, 1)
	served := make(chan struct{})
	go func() {
		serveErr <- sess.Serve(xmpp.HandlerFunc(c.handler(sess, sc)))
		close(served)
	}()

	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	// Requests made during setup end with the connection.
	go func() {
		select {
		case <-served:
			scancel()
		case <-sctx.Done():
		}
	}()
	// When the connection ends, remember how many stanzas were handled, for
	// resuming; a clean stop ends the stream for good.
	keepH := func() {
		if sc == nil {
			return
		}
		if h, ok := sc.handled(); ok {
			c.smMu.Lock()
			c.smInH = h
			c.smMu.Unlock()
		}
	}
	closeSess := func(graceful bool, wait time.Duration) {
		if graceful {
			uctx, ucancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = c.sendUnavailable(uctx, sess)
			ucancel()
		}
		_ = sess.Close()
		select {
		case <-serveErr:
		case <-time.After(wait):
		}
		_ = sess.Conn().Close()
		keepH()
	}

	if !resumed {
		if err := c.setup(sctx, sess); err != nil {
			// A stream without initial presence must not be resumed.
			c.smMu.Lock()
			c.smID = ""
			c.smMu.Unlock()
			closeSess(false, 2*time.Second)
			return err
		}
	}
	bo.reset()
	c.mu.Lock()
	if c.connected {
		c.stats.Reconnects++
	}
	c.connected = true
	c.mu.Unlock()
	c.setState(StateOnline, nil)

	fail := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.sender(sctx, sess, smOn, fail) }()
	go func() { defer wg.Done(); c.keepalive(sctx, sess, fail) }()
	if smOn {
		wg.Add(1)
		go func() { defer wg.Done(); c.acker(sctx, sess, sc, fail) }()
		c.kickAcks() // stanzas sent again on resumption
	}
	// Catch up on the archive once live traffic flows (see catchUp).
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.catchUpRetrying(sctx, sess)
	}()

	var result error
	select {
	case err := <-serveErr:
		if err == nil {
			err = io.EOF
		}
		result = fmt.Errorf("xmppconn: connection lost: %w", err)
		scancel()
		_ = sess.Conn().Close()
		keepH()
	case err := <-fail:
		// The connection is broken: drop it without ending the stream, so
		// that the server keeps it for resumption.
		result = err
		scancel()
		_ = sess.Conn().Close()
		select {
		case <-serveErr:
		case <-time.After(2 * time.Second):
		}
		keepH()
	case <-ctx.Done():
		scancel()
		wg.Wait()
		// A clean stop: wait (bounded) until the server has everything
		// that was written, then end the stream and wait for its end.
		deadline := time.Now().Add(c.cfg.StopTimeout)
		c.drainOnStop(sess, smOn, deadline)
		closeSess(true, max(time.Until(deadline), 500*time.Millisecond))
		c.smMu.Lock()
		c.smID = ""
		c.smMu.Unlock()
		c.setState(StateDisconnected, nil)
		return nil
	}
	wg.Wait()
	c.setState(StateDisconnected, result)
	return result
}

// setup runs after negotiation of a new (not resumed) stream: carbons,
// roster, initial presence.
func (c *Client) setup(ctx context.Context, sess *xmpp.Session) error {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	// XEP-0280: carbons for plaintext; OTR messages opt out with <private/>.
	if err := carbons.Enable(rctx, sess); err != nil {
		c.log.Warn("xmppconn: enabling carbons failed", "err", err)
	}
	if err := c.fetchRoster(rctx, sess); err != nil {
		return fmt.Errorf("xmppconn: roster: %w", err)
	}
	c.mu.Lock()
	c.catchingUp = true
	if c.firstOnline.IsZero() {
		c.firstOnline = time.Now().Add(-firstOnlineMargin)
	}
	c.mu.Unlock()
	if err := c.sendPresence(rctx, sess); err != nil {
		return fmt.Errorf("xmppconn: initial presence: %w", err)
	}
	return nil
}

// sender writes queued messages in order while the session lives. A
// message is in flight from just before it is written until the server
// acknowledges it; a connection lost meanwhile puts it back in the queue
// (unless the stream is resumed). Without stream management a ping after
// the queue empties confirms what was written.
func (c *Client) sender(ctx context.Context, sess *xmpp.Session, smOn bool, fail chan<- error) {
	for {
		m, ok := c.queue.front()
		if !ok {
			if !smOn {
				c.smMu.Lock()
				msgs := append([]*outMessage(nil), c.inflight...)
				c.smMu.Unlock()
				if len(msgs) > 0 {
					pctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
					err := c.ping(pctx, sess)
					cancel()
					var se stanza.Error
					if err != nil && !errors.As(err, &se) {
						if ctx.Err() == nil {
							fail <- fmt.Errorf("xmppconn: confirming written messages: %w", err)
						}
						return
					}
					c.confirmInflight(msgs)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-c.queue.ready:
				continue
			}
		}
		c.smMu.Lock()
		c.inflight = append(c.inflight, m)
		c.smMu.Unlock()
		c.mu.Lock()
		c.sentIDs.add(m.ID)
		c.mu.Unlock()
		err := sess.Encode(writeCtx(ctx, c.cfg.RequestTimeout), m)
		if err != nil {
			if ctx.Err() == nil {
				fail <- fmt.Errorf("xmppconn: write: %w", err)
			}
			return
		}
		c.queue.pop(m)
		c.emitDelivery(m, DeliverySent, nil)
		if smOn {
			if _, n := c.unconfirmed(); n >= smAckEvery || c.queue.len() == 0 {
				c.kickAcks()
			}
		}
	}
}

// catchUpRetrying runs catch-up until it succeeds or the connection ends,
// with growing pauses. After the second failure the live messages held back
// are released (they must not wait on an archive that does not answer);
// the archive position then stays frozen until a catch-up succeeds.
func (c *Client) catchUpRetrying(ctx context.Context, sess *xmpp.Session) {
	wait := time.Second
	for attempt := 1; ; attempt++ {
		err := c.catchUp(ctx, sess)
		if err == nil || ctx.Err() != nil {
			return
		}
		c.log.Warn("xmppconn: archive catch-up failed", "err", err, "attempt", attempt)
		if attempt == 2 {
			c.flushLive(false)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// keepalive pings the server when the connection has been quiet.
func (c *Client) keepalive(ctx context.Context, sess *xmpp.Session, fail chan<- error) {
	if c.cfg.PingInterval < 0 {
		return
	}
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		err := c.ping(pctx, sess)
		cancel()
		if err != nil && ctx.Err() == nil {
			var se stanza.Error
			if errors.As(err, &se) {
				// An error reply still proves the connection is alive.
				continue
			}
			fail <- fmt.Errorf("xmppconn: keepalive: %w", err)
			return
		}
	}
}

// dispatcher delivers events to subscribers on one goroutine, in order, with
// a bounded backlog.
type dispatcher struct {
	log    *slog.Logger
	mu     sync.Mutex
	items  []Event
	signal chan struct{}
	closed bool
}

func newDispatcher(log *slog.Logger) *dispatcher {
	return &dispatcher{log: log, signal: make(chan struct{}, 1)}
}

func (d *dispatcher) push(e Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	if len(d.items) >= maxEventBacklog {
		d.log.Error("xmppconn: event backlog full; dropping event", "event", fmt.Sprintf("%T", e))
		return
	}
	d.items = append(d.items, e)
	select {
	case d.signal <- struct{}{}:
	default:
	}
}

func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	select {
	case d.signal <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run(subs func() []func(Event)) {
	for {
		d.mu.Lock()
		items := d.items
		d.items = nil
		closed := d.closed
		d.mu.Unlock()
		if len(items) > 0 {
			fns := subs()
			for _, e := range items {
				for _, fn := range fns {
					fn(e)
				}
			}
			continue
		}
		if closed {
			return
		}
		<-d.signal
	}
}

// seenSet remembers the last n keys.
type seenSet struct {
	keys map[string]struct{}
	ring []string
	next int
}

func newSeenSet(n int) *seenSet {
	return &seenSet{keys: make(map[string]struct{}, n), ring: make([]string, n)}
}

// has reports whether k is remembered.
func (s *seenSet) has(k string) bool {
	_, ok := s.keys[k]
	return ok
}

// add records k and reports whether it was new.
func (s *seenSet) add(k string) bool {
	if _, ok := s.keys[k]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.keys, old)
	}
	s.ring[s.next] = k
	s.next = (s.next + 1) % len(s.ring)
	s.keys[k] = struct{}{}
	return true
}
