package prekeyclient

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

func (c *Client) rand() io.Reader {
	if c.cfg.Rand == nil {
		return rand.Reader
	}
	return c.cfg.Rand
}

// dake runs one DAKEZ with the server s and the request attached to its
// DAKE-3 ("Key Exchange"), and returns the server's authenticated answer.
// The server's key must have the fingerprint s publishes (checked against
// the pin before); on the first successful DAKE-2 of an unpinned server
// its fingerprint is pinned.
func (c *Client) dake(ctx context.Context, s Server, cp *otr4.ClientProfile, req prekey.Request) (*prekey.Result, error) {
	if err := c.checkPin(s.JID, s.Fingerprint); err != nil {
		return nil, err
	}
	var fp otr4.Fingerprint
	copy(fp[:], s.Fingerprint)
	d, dake1, err := prekey.NewClientDAKE(prekey.ClientConfig{
		Rand:              c.rand(),
		Identity:          c.cfg.Identity,
		Profile:           cp,
		Publisher:         c.cfg.Account.Bare().String(),
		Server:            s.JID.String(),
		ServerFingerprint: fp,
	}, req)
	if err != nil {
		return nil, fmt.Errorf("prekeyclient: starting a DAKE with %s: %w", s.JID, err)
	}
	c.drain()
	if err := c.send(ctx, s, dake1); err != nil {
		return nil, err
	}
	var dake3 []byte
	err = c.await(ctx, s, "DAKE-2", func(b []byte) error {
		out, _, err := d.Receive(b)
		switch {
		case err == nil && out != nil:
			dake3 = out
			return nil
		case err == nil:
			return ignore(fmt.Errorf("%w: no DAKE-3 to send", ErrBadReply))
		}
		return c.dakeError(s, err)
	})
	if err != nil {
		return nil, err
	}
	// The server proved it holds the key with the fingerprint it published:
	// pin it if this is our first use.
	if _, ok, err := c.cfg.Pins.Pinned(s.JID); err != nil {
		return nil, fmt.Errorf("prekeyclient: reading the pinned fingerprint of %s: %w", s.JID, err)
	} else if !ok {
		if err := c.cfg.Pins.Pin(s.JID, s.Fingerprint); err != nil {
			return nil, fmt.Errorf("prekeyclient: pinning the fingerprint of %s: %w", s.JID, err)
		}
		c.log.Info("prekeyclient: pinned prekey server fingerprint", "server", s.JID, "fingerprint", FormatFingerprint(s.Fingerprint))
	}
	if err := c.send(ctx, s, dake3); err != nil {
		return nil, err
	}
	var res *prekey.Result
	err = c.await(ctx, s, "answer to DAKE-3", func(b []byte) error {
		_, r, err := d.Receive(b)
		if err == nil && r != nil {
			res = r
			return nil
		}
		if err == nil {
			return ignore(fmt.Errorf("%w: no result", ErrBadReply))
		}
		return c.dakeError(s, err)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// dakeError maps an error of the DAKE state machine: messages the spec
// says to ignore (unexpected, for another instance, bad MAC, malformed)
// keep the client waiting; the others end the request.
func (c *Client) dakeError(s Server, err error) error {
	switch {
	case errors.Is(err, prekey.ErrFailure):
		return fmt.Errorf("%w: %s answered with a Failure message", ErrRefused, s.JID)
	case errors.Is(err, prekey.ErrUnauthenticatedFailure):
		return fmt.Errorf("%w: %s answered the DAKE-1 with a Failure message (unauthenticated)", ErrRefused, s.JID)
	case errors.Is(err, prekey.ErrServerIdentity):
		return fmt.Errorf("%w: %s: %v", ErrServerKeyMismatch, s.JID, err)
	case errors.Is(err, prekey.ErrBadSignature), errors.Is(err, prekey.ErrSharedSecret):
		return fmt.Errorf("%w: %s: %v", ErrBadReply, s.JID, err)
	case errors.Is(err, prekey.ErrUnexpected), errors.Is(err, prekey.ErrInstanceTag),
		errors.Is(err, prekey.ErrBadMAC), errors.Is(err, prekey.ErrMalformed), errors.Is(err, prekey.ErrVersion):
		return ignore(fmt.Errorf("%w: %v", ErrBadReply, err))
	}
	return fmt.Errorf("%w: %s: %v", ErrBadReply, s.JID, err)
}

// profiles returns the device's profiles, renewing them first when they
// are missing or expire within RenewBefore. renewed reports a renewal.
func (c *Client) profiles(now time.Time) (cp *otr4.ClientProfile, pp *otr4.PrekeyProfile, shared *otr4.SharedPrekeySecret, renewed bool, err error) {
	cp, pp, shared, err = c.cfg.Device.Profiles()
	if err != nil {
		return nil, nil, nil, false, fmt.Errorf("prekeyclient: reading the device's profiles: %w", err)
	}
	if cp == nil || pp == nil || shared == nil || expiresWithin(cp, pp, now, c.cfg.RenewBefore) {
		cp, pp, shared, err = c.cfg.Device.RenewProfiles(now)
		if err != nil {
			return nil, nil, nil, false, fmt.Errorf("prekeyclient: renewing the device's profiles: %w", err)
		}
		if cp == nil || pp == nil || shared == nil {
			return nil, nil, nil, false, errNoProfiles
		}
		renewed = true
	}
	if cp.InstanceTag != c.cfg.InstanceTag || pp.InstanceTag != c.cfg.InstanceTag {
		return nil, nil, nil, false, fmt.Errorf("prekeyclient: the device's profiles are for instance tag %v, not %v", cp.InstanceTag, c.cfg.InstanceTag)
	}
	return cp, pp, shared, renewed, nil
}

func expiresWithin(cp *otr4.ClientProfile, pp *otr4.PrekeyProfile, now time.Time, d time.Duration) bool {
	return !now.Add(d).Before(cp.Expires) || !now.Add(d).Before(pp.Expires)
}

// profileDigest identifies a pair of profiles, to remember which the
// server holds.
func profileDigest(cp *otr4.ClientProfile, pp *otr4.PrekeyProfile) [32]byte {
	h := sha256.New()
	h.Write(cp.Marshal())
	h.Write(pp.Marshal())
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// StorageStatus asks the server how many prekey messages it stores for
// this device ("Query the Prekey Server for its Storage Status"). The
// number comes from an untrusted server; Maintain checks it.
func (c *Client) StorageStatus(ctx context.Context) (int, error) {
	c.req.Lock()
	defer c.req.Unlock()
	s, err := c.current()
	if err != nil {
		return 0, err
	}
	cp, _, _, _, err := c.profiles(c.cfg.Now())
	if err != nil {
		return 0, err
	}
	return c.storageStatus(ctx, s, cp)
}

func (c *Client) storageStatus(ctx context.Context, s Server, cp *otr4.ClientProfile) (int, error) {
	res, err := c.dake(ctx, s, cp, prekey.StorageRequest{})
	if err != nil {
		return 0, err
	}
	if res.Kind != prekey.ResultStorageStatus {
		return 0, fmt.Errorf("%w: %s answered a storage request with %v", ErrBadReply, s.JID, res.Kind)
	}
	if res.Stored > math.MaxInt32 {
		return 0, fmt.Errorf("%w: %s claims to store %d prekey messages", ErrWrongCount, s.JID, res.Stored)
	}
	return int(res.Stored), nil
}

// Publish publishes n fresh prekey messages for this device, in
// publications of at most MaxPrekeysPerPublication each (one DAKE each),
// and, if withProfiles, the device's Client Profile and Prekey Profile
// (renewed first if they expire within RenewBefore) with the first one.
// The prekey secrets are stored in the Device before they are sent. It
// returns how many prekey messages the server acknowledged.
func (c *Client) Publish(ctx context.Context, n int, withProfiles bool) (int, error) {
	if n < 0 || (n == 0 && !withProfiles) {
		return 0, fmt.Errorf("prekeyclient: nothing to publish (%d prekey messages)", n)
	}
	c.req.Lock()
	defer c.req.Unlock()
	s, err := c.current()
	if err != nil {
		return 0, err
	}
	cp, pp, shared, _, err := c.profiles(c.cfg.Now())
	if err != nil {
		return 0, err
	}
	return c.publish(ctx, s, cp, pp, shared, n, withProfiles)
}

func (c *Client) publish(ctx context.Context, s Server, cp *otr4.ClientProfile, pp *otr4.PrekeyProfile, shared *otr4.SharedPrekeySecret, n int, withProfiles bool) (int, error) {
	done := 0
	for first := true; first || done < n; first = false {
		k := min(n-done, MaxPrekeysPerPublication)
		req := &prekey.PublishRequest{}
		if first && withProfiles {
			req.ClientProfile, req.PrekeyProfile, req.PrekeyProfileSecret = cp, pp, shared
		}
		if k > 0 {
			msgs, secrets, err := c.newPrekeys(k)
			if err != nil {
				return done, err
			}
			if err := c.cfg.Device.AddPrekeySecrets(secrets); err != nil {
				return done, fmt.Errorf("prekeyclient: storing prekey secrets: %w", err)
			}
			req.PrekeyMessages, req.PrekeySecrets = msgs, secrets
		}
		res, err := c.dake(ctx, s, cp, req)
		if err != nil {
			return done, err
		}
		if res.Kind != prekey.ResultSuccess {
			return done, fmt.Errorf("%w: %s answered a publication with %v", ErrBadReply, s.JID, res.Kind)
		}
		if req.ClientProfile != nil {
			c.mu.Lock()
			c.published[s.JID.String()] = profileDigest(cp, pp)
			c.mu.Unlock()
		}
		done += k
		c.log.Debug("prekeyclient: published", "server", s.JID, "prekeys", k, "profiles", req.ClientProfile != nil)
	}
	return done, nil
}

// newPrekeys makes k prekey messages with distinct identifiers.
func (c *Client) newPrekeys(k int) ([]*otr4.PrekeyMessage, []*otr4.PrekeySecret, error) {
	msgs := make([]*otr4.PrekeyMessage, 0, k)
	secrets := make([]*otr4.PrekeySecret, 0, k)
	ids := make(map[uint32]bool, k)
	for len(msgs) < k {
		m, sec, err := otr4.NewPrekeyMessage(c.rand(), c.cfg.InstanceTag)
		if err != nil {
			return nil, nil, fmt.Errorf("prekeyclient: making a prekey message: %w", err)
		}
		if ids[m.ID] {
			sec.Wipe()
			continue
		}
		ids[m.ID] = true
		msgs = append(msgs, m)
		secrets = append(secrets, sec)
	}
	return msgs, secrets, nil
}

// Report says what Maintain did.
type Report struct {
	Server jid.JID
	// Stored is the count the server reported before any refill.
	Stored int
	// Published is the number of prekey messages published.
	Published int
	// ProfilesPublished reports that the profiles were (re)published;
	// ProfilesRenewed that new ones were made first.
	ProfilesPublished, ProfilesRenewed bool
	// Warnings lists what looked wrong without stopping the maintenance
	// (ErrWrongCount).
	Warnings []error
}

// Maintain keeps the server stocked for this device: it asks how many
// prekey messages are stored, publishes enough to get back to Target when
// fewer than Threshold remain, and (re)publishes the profiles when the
// server has not received them from this client yet or they expire within
// RenewBefore (making new ones first). Run it after connecting and then
// periodically.
func (c *Client) Maintain(ctx context.Context) (*Report, error) {
	c.req.Lock()
	defer c.req.Unlock()
	s, err := c.current()
	if err != nil {
		return nil, err
	}
	now := c.cfg.Now()
	cp, pp, shared, renewed, err := c.profiles(now)
	if err != nil {
		return nil, err
	}
	rep := &Report{Server: s.JID, ProfilesRenewed: renewed}
	c.mu.Lock()
	held, ok := c.published[s.JID.String()]
	c.mu.Unlock()
	needProfiles := !ok || held != profileDigest(cp, pp)

	stored, err := c.storageStatus(ctx, s, cp)
	if err != nil {
		return rep, err
	}
	rep.Stored = stored
	// The server can hold at most the prekey messages whose secrets we
	// still keep; a higher count is a lie (or a server holding someone
	// else's messages for us) and is not trusted.
	if outstanding, err := c.cfg.Device.PrekeySecretCount(); err != nil {
		return rep, fmt.Errorf("prekeyclient: counting prekey secrets: %w", err)
	} else if stored > outstanding {
		w := fmt.Errorf("%w: %s reports %d stored prekey messages, but this device published at most %d unused ones", ErrWrongCount, s.JID, stored, outstanding)
		c.log.Warn("prekeyclient: wrong count from prekey server", "server", s.JID, "reported", stored, "outstanding", outstanding)
		rep.Warnings = append(rep.Warnings, w)
		stored = outstanding
	}
	refill := 0
	if stored < c.cfg.Threshold {
		refill = c.cfg.Target - stored
		// A refill carries the profiles too (they cost one proof): a
		// server that lost its storage gets them back.
		needProfiles = true
	}
	if refill == 0 && !needProfiles {
		return rep, nil
	}
	n, err := c.publish(ctx, s, cp, pp, shared, refill, needProfiles)
	rep.Published = n
	rep.ProfilesPublished = needProfiles && (n > 0 || err == nil)
	return rep, err
}

// Run calls Maintain at once and then every interval until ctx ends,
// handing each outcome to report (which may be nil). A failed run is
// retried at the next tick. It returns ctx's error.
func (c *Client) Run(ctx context.Context, interval time.Duration, report func(*Report, error)) error {
	if interval <= 0 {
		return fmt.Errorf("prekeyclient: Run interval %v must be positive", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rep, err := c.Maintain(ctx)
		if err != nil {
			c.log.Warn("prekeyclient: maintenance failed", "err", err)
		}
		if report != nil {
			report(rep, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
