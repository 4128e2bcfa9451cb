package prekeyclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
)

// Config configures a Client. Account, Identity, InstanceTag, Device,
// Transport and Pins are required; Discoverer is needed by Connect.
type Config struct {
	// Account is the user's JID; its bare form is the identity under
	// which the device publishes ("Storage of Prekeys Ensembles for XMPP").
	Account     jid.JID
	Identity    *otr4.Identity
	InstanceTag otr4.InstanceTag
	Device      Device

	Transport  Transport
	Discoverer Discoverer
	Pins       PinStore
	// Seen, if not nil, persists the prekey messages received (see
	// SeenStore); New loads it.
	Seen SeenStore

	// Timeout bounds every wait for the network (DefaultTimeout if zero).
	Timeout time.Duration
	// MaxMessageSize is the largest body sent in one stanza; longer
	// messages are sent as "?OTRP|" fragments. Zero means
	// DefaultMaxMessageSize.
	MaxMessageSize int
	// Target is the number of stored prekey messages Maintain refills to
	// (DefaultTarget if zero); Threshold the count below which it refills
	// (DefaultThreshold if zero).
	Target, Threshold int
	// RenewBefore is how long before the profiles expire Maintain renews
	// and republishes them (DefaultRenewBefore if zero).
	RenewBefore time.Duration

	// Rand is the randomness (crypto/rand if nil); Now the clock
	// (time.Now if nil).
	Rand   io.Reader
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultMaxMessageSize is the default Config.MaxMessageSize: well below
// the stanza size limits of common XMPP servers.
const DefaultMaxMessageSize = 32 << 10

// minMessageSize leaves room for a fragment's header and some data.
const minMessageSize = 256

// Client talks to one prekey server for one device. Its methods are safe
// for concurrent use; requests to the server are made one at a time, as
// the spec requires ("there can only be one request in flight").
type Client struct {
	cfg Config
	log *slog.Logger

	// req serializes requests to the server.
	req sync.Mutex

	mu        sync.Mutex
	server    *Server
	inbox     chan received
	reasm     *reassembler
	published map[string][32]byte // server → digest of the profiles it got from us
	seen      *seenSet            // prekey messages received in ensembles
}

type received struct {
	msg []byte
	err error // a bounce from the network, or a message that cannot be decoded
	// bounce is true when err is an XMPP error stanza.
	bounce bool
}

// New checks cfg and returns a Client. It does no network I/O.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.Account.Localpart() == "":
		return nil, errors.New("prekeyclient: Config.Account must be a user's JID")
	case cfg.Identity == nil:
		return nil, errors.New("prekeyclient: Config.Identity is required")
	case !cfg.InstanceTag.Valid():
		return nil, fmt.Errorf("prekeyclient: Config.InstanceTag %v is not a valid instance tag", cfg.InstanceTag)
	case cfg.Device == nil:
		return nil, errors.New("prekeyclient: Config.Device is required")
	case cfg.Transport == nil:
		return nil, errors.New("prekeyclient: Config.Transport is required")
	case cfg.Pins == nil:
		return nil, errors.New("prekeyclient: Config.Pins is required")
	case cfg.Target < 0 || cfg.Threshold < 0 || cfg.MaxMessageSize < 0:
		return nil, errors.New("prekeyclient: negative Target, Threshold or MaxMessageSize")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.MaxMessageSize < minMessageSize {
		return nil, fmt.Errorf("prekeyclient: MaxMessageSize %d is below %d", cfg.MaxMessageSize, minMessageSize)
	}
	if cfg.Target == 0 {
		cfg.Target = DefaultTarget
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = min(DefaultThreshold, cfg.Target)
	}
	if cfg.Threshold > cfg.Target {
		return nil, fmt.Errorf("prekeyclient: Threshold %d is above Target %d", cfg.Threshold, cfg.Target)
	}
	if cfg.RenewBefore <= 0 {
		cfg.RenewBefore = DefaultRenewBefore
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger
	}
	c := &Client{
		cfg:       cfg,
		log:       cfg.Logger,
		inbox:     make(chan received, inboxSize),
		published: map[string][32]byte{},
		seen:      newSeenSet(maxSeenPrekeys),
	}
	c.reasm = newReassembler(cfg.InstanceTag)
	if cfg.Seen != nil {
		ds, err := cfg.Seen.SeenPrekeys()
		if err != nil {
			return nil, fmt.Errorf("prekeyclient: loading the prekey messages seen: %w", err)
		}
		for _, d := range ds {
			c.seen.add(d)
		}
	}
	return c, nil
}

// Server returns the prekey server in use, if one was chosen.
func (c *Client) Server() (Server, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server == nil {
		return Server{}, false
	}
	return *c.server, true
}

// Connect discovers the prekey servers of the account's domain, tries
// them in a random order, and uses the first whose fingerprint can be
// fetched and is acceptable: the pinned one, or any if none is pinned yet
// (it is pinned after the first DAKE with the server confirms it). A
// server whose fingerprint changed is refused with a
// *FingerprintChangedError, which is returned if no other server is
// usable.
func (c *Client) Connect(ctx context.Context) (Server, error) {
	if c.cfg.Discoverer == nil {
		return Server{}, errors.New("prekeyclient: Connect needs Config.Discoverer")
	}
	servers, err := Discover(ctx, c.cfg.Discoverer, c.cfg.Account.Domain(), c.cfg.Timeout, c.log)
	if err != nil {
		return Server{}, err
	}
	order, err := Choose(c.cfg.Rand, servers)
	if err != nil {
		return Server{}, err
	}
	var errs []error
	for _, s := range order {
		fp, err := FetchFingerprint(ctx, c.cfg.Discoverer, s.JID, c.cfg.Timeout)
		if err == nil {
			s.Fingerprint = fp
			err = c.UseServer(s)
		}
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return Server{}, err
		}
		if errors.Is(err, ErrFingerprintChanged) {
			c.log.Warn("prekeyclient: prekey server refused: its fingerprint changed", "server", s.JID, "err", err)
		} else {
			c.log.Info("prekeyclient: prekey server not usable", "server", s.JID, "err", err)
		}
		errs = append(errs, err)
	}
	var changed *FingerprintChangedError
	for _, e := range errs {
		if errors.As(e, &changed) {
			return Server{}, changed
		}
	}
	return Server{}, errors.Join(errs...)
}

// UseServer makes s (with its published fingerprint) the server the client
// talks to, after checking the fingerprint against the pinned one.
func (c *Client) UseServer(s Server) error {
	if s.JID.String() == "" || s.JID.Localpart() != "" || s.JID.Resourcepart() != "" {
		return fmt.Errorf("prekeyclient: %q is not a prekey server JID (a bare domain)", s.JID)
	}
	if len(s.Fingerprint) != FingerprintSize {
		return fmt.Errorf("%w: %s: %d bytes", ErrBadFingerprint, s.JID, len(s.Fingerprint))
	}
	if err := c.checkPin(s.JID, s.Fingerprint); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.server = &Server{JID: s.JID.Bare(), Name: s.Name, Fingerprint: append([]byte(nil), s.Fingerprint...)}
	return nil
}

// checkPin refuses fp for server if another fingerprint is pinned.
func (c *Client) checkPin(server jid.JID, fp []byte) error {
	pinned, ok, err := c.cfg.Pins.Pinned(server.Bare())
	if err != nil {
		return fmt.Errorf("prekeyclient: reading the pinned fingerprint of %s: %w", server, err)
	}
	if ok && !equalFingerprints(pinned, fp) {
		return &FingerprintChangedError{Server: server.Bare(), Pinned: pinned, Offered: append([]byte(nil), fp...)}
	}
	return nil
}

// AcceptFingerprint pins fp as the fingerprint of server, replacing the
// one pinned before. Call it only after the user compared fp with the
// fingerprint shown by a *FingerprintChangedError (or obtained out of
// band) and accepted it.
func (c *Client) AcceptFingerprint(server jid.JID, fp []byte) error {
	if len(fp) != FingerprintSize {
		return fmt.Errorf("%w: %d bytes", ErrBadFingerprint, len(fp))
	}
	if err := c.cfg.Pins.Pin(server.Bare(), fp); err != nil {
		return fmt.Errorf("prekeyclient: pinning the fingerprint of %s: %w", server, err)
	}
	c.log.Info("prekeyclient: fingerprint accepted", "server", server.Bare(), "fingerprint", FormatFingerprint(fp))
	return nil
}

func (c *Client) current() (Server, error) {
	s, ok := c.Server()
	if !ok {
		return Server{}, errors.New("prekeyclient: no prekey server chosen (call Connect or UseServer)")
	}
	return s, nil
}

// isServer reports whether from is the prekey server in use.
func (c *Client) isServer(from jid.JID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server != nil && from.Bare().Equal(c.server.JID)
}

// HandleMessage feeds the client a message body received from the
// network. It reports whether the message came from the prekey server in
// use (and so belongs to the client, whatever its content); other messages
// are left to the caller. Fragments are reassembled here.
func (c *Client) HandleMessage(from jid.JID, body string) bool {
	if !c.isServer(from) {
		return false
	}
	if len(body) > maxBodyLength {
		c.deliver(received{err: fmt.Errorf("%w: a body of %d bytes", ErrBadReply, len(body))})
		return true
	}
	msg, complete, err := c.reasm.add(body, c.cfg.Now())
	switch {
	case err != nil:
		c.deliver(received{err: fmt.Errorf("%w: %v", ErrBadReply, err)})
	case complete:
		c.deliver(received{msg: msg})
	}
	return true
}

// HandleError feeds the client an error stanza (a bounced message)
// received from the network; it reports whether it came from the prekey
// server in use.
func (c *Client) HandleError(from jid.JID, stanzaErr error) bool {
	if !c.isServer(from) {
		return false
	}
	c.deliver(received{err: fmt.Errorf("%w: %s answered with an error: %v", ErrServerUnavailable, from, stanzaErr), bounce: true})
	return true
}

func (c *Client) deliver(r received) {
	select {
	case c.inbox <- r:
	default:
		c.log.Warn("prekeyclient: dropped a message from the prekey server: nobody is waiting")
	}
}

// drain forgets messages that arrived while no request was waiting.
func (c *Client) drain() {
	for {
		select {
		case r := <-c.inbox:
			c.log.Debug("prekeyclient: discarding a stale message from the prekey server", "err", r.err)
		default:
			return
		}
	}
}

// send encodes msg, fragments it if needed and sends it to the server.
func (c *Client) send(ctx context.Context, s Server, msg []byte) error {
	bodies, err := c.encode(msg)
	if err != nil {
		return err
	}
	for _, b := range bodies {
		sctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		err := c.cfg.Transport.Send(sctx, s.JID, b)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, ErrServerUnavailable) {
				return err
			}
			return fmt.Errorf("%w: sending to %s: %v", ErrServerUnavailable, s.JID, err)
		}
	}
	return nil
}

// ignoredError is returned by an answer handler for a message the spec says
// to ignore (for example one whose MAC does not verify): the client keeps
// waiting for a valid answer.
type ignoredError struct{ err error }

func (e ignoredError) Error() string { return e.err.Error() }
func (e ignoredError) Unwrap() error { return e.err }

func ignore(err error) error { return ignoredError{err} }

// await waits for an answer that handle accepts. handle returns nil when
// the answer ends the wait, an error made with ignore to keep waiting, or
// another error to stop. The wait is bounded by the client's timeout.
func (c *Client) await(ctx context.Context, s Server, what string, handle func([]byte) error) error {
	timer := time.NewTimer(c.cfg.Timeout)
	defer timer.Stop()
	var ignored error
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("prekeyclient: waiting for %s from %s: %w", what, s.JID, ctx.Err())
		case <-timer.C:
			if ignored != nil {
				return fmt.Errorf("%w: no valid %s from %s within %v; ignored: %w", ErrServerUnavailable, what, s.JID, c.cfg.Timeout, ignored)
			}
			return fmt.Errorf("%w: no %s from %s within %v", ErrServerUnavailable, what, s.JID, c.cfg.Timeout)
		case r := <-c.inbox:
			if r.bounce {
				return r.err
			}
			var err error
			if r.err != nil {
				err = ignore(r.err)
			} else {
				err = handle(r.msg)
			}
			var ig ignoredError
			if errors.As(err, &ig) {
				c.log.Warn("prekeyclient: ignoring a message from the prekey server", "server", s.JID, "err", ig.err)
				ignored = ig.err
				continue
			}
			return err
		}
	}
}
