package prekeyclient

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

// Ensembles is the validated result of a retrieval: at most one prekey
// ensemble per instance tag (device) of the identity, the one whose
// profiles expire last.
type Ensembles struct {
	Server   jid.JID
	Identity string // the bare JID asked for
	ByTag    map[otr4.InstanceTag]*otr4.PrekeyEnsemble
	// Warnings lists the ensembles dropped and why (invalid, expired,
	// duplicated, handed out before), for the user to see. Branch on them
	// with errors.Is (ErrDuplicateEnsemble, ErrReusedPrekey,
	// otr4.ErrProfileExpired, ...).
	Warnings []error
}

// Retrieve asks the prekey server for the prekey ensembles of the bare JID
// of who ("Retrieving Prekey Ensembles") and validates every one, since the
// server is untrusted: complete, same instance tag throughout, profiles
// signed and unexpired, prekey profile signed by the client profile's key,
// version 4 offered, not a duplicate and not handed out before. It returns
// a *NoEnsemblesError when the server has none, an *InvalidEnsemblesError
// when none is valid, and an error wrapping ErrServerUnavailable when the
// server does not answer in time.
func (c *Client) Retrieve(ctx context.Context, who jid.JID) (*Ensembles, error) {
	identity := who.Bare().String()
	if who.Localpart() == "" {
		return nil, fmt.Errorf("prekeyclient: %q is not a user's JID", who)
	}
	c.req.Lock()
	defer c.req.Unlock()
	s, err := c.current()
	if err != nil {
		return nil, err
	}
	c.drain()
	q := &prekey.EnsembleQuery{SenderTag: c.cfg.InstanceTag, Identity: identity, Versions: "4"}
	if err := c.send(ctx, s, q.Marshal()); err != nil {
		return nil, err
	}
	var got *prekey.EnsembleRetrieval
	err = c.await(ctx, s, "Prekey Ensemble Retrieval", func(b []byte) (err error) {
		got, err = c.retrievalAnswer(s, identity, b)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.validate(s, identity, got.Ensembles)
}

// retrievalAnswer decodes an answer to a Prekey Ensemble Query Retrieval
// for identity. It returns the retrieval message, a *NoEnsemblesError,
// an error made with ignore for answers to ignore, or another error for an
// unusable answer.
func (c *Client) retrievalAnswer(s Server, identity string, b []byte) (*prekey.EnsembleRetrieval, error) {
	t, err := prekey.PeekType(b)
	if err != nil {
		return nil, ignore(fmt.Errorf("%w: %v", ErrBadReply, err))
	}
	switch t {
	case prekey.TypeNoEnsembles:
		m, err := prekey.ParseNoEnsembles(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadReply, err)
		}
		if err := c.checkAddressed(m.ReceiverTag, m.Identity, identity); err != nil {
			return nil, err
		}
		return nil, &NoEnsemblesError{Server: s.JID, Identity: identity, Message: sanitize(m.Text)}
	case prekey.TypeEnsembleRetrieval:
		m, err := prekey.ParseEnsembleRetrieval(b)
		if err != nil {
			// Incomplete ensembles, a wrong count L, bad points: the
			// answer is unusable.
			return nil, fmt.Errorf("%w: prekey ensembles for %s: %v", ErrBadReply, identity, err)
		}
		if err := c.checkAddressed(m.ReceiverTag, m.Identity, identity); err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, ignore(fmt.Errorf("%w: unexpected %v message", ErrBadReply, t))
}

// checkAddressed ignores answers for another instance tag or identity
// (stale answers, or a confused server).
func (c *Client) checkAddressed(tag otr4.InstanceTag, got, want string) error {
	if tag != c.cfg.InstanceTag {
		return ignore(fmt.Errorf("%w: answer for instance tag %v, not %v", ErrBadReply, tag, c.cfg.InstanceTag))
	}
	if got != want {
		return ignore(fmt.Errorf("%w: answer about %q, not %q", ErrBadReply, sanitize(got), want))
	}
	return nil
}

// validate applies "Retrieving Prekey Ensembles" on the client side.
func (c *Client) validate(s Server, identity string, es []*otr4.PrekeyEnsemble) (*Ensembles, error) {
	now := c.cfg.Now()
	out := &Ensembles{Server: s.JID, Identity: identity}
	var valid []*otr4.PrekeyEnsemble
	inAnswer := map[[32]byte]bool{}
	var digests [][32]byte
	for i, e := range es {
		if e == nil || e.Client == nil || e.Prekey == nil || e.Message == nil {
			out.Warnings = append(out.Warnings, fmt.Errorf("prekeyclient: ensemble %d of %s is incomplete", i+1, identity))
			continue
		}
		tag := e.Client.InstanceTag
		d := digest(e.Message.Marshal())
		switch {
		case inAnswer[d]:
			out.Warnings = append(out.Warnings, fmt.Errorf("%w: ensemble %d of %s (instance tag %v)", ErrDuplicateEnsemble, i+1, identity, tag))
			continue
		case c.seen.contains(d):
			out.Warnings = append(out.Warnings, fmt.Errorf("%w: ensemble %d of %s (instance tag %v, prekey message %#08x)", ErrReusedPrekey, i+1, identity, tag, e.Message.ID))
			continue
		}
		inAnswer[d] = true
		digests = append(digests, d)
		if err := e.Validate(now); err != nil {
			out.Warnings = append(out.Warnings, fmt.Errorf("prekeyclient: ensemble %d of %s (instance tag %v) dropped: %w", i+1, identity, tag, err))
			continue
		}
		valid = append(valid, e)
	}
	// Every prekey message handed out is gone from the server: seeing one
	// again means the server hands out used prekey messages.
	for _, d := range digests {
		c.seen.add(d)
	}
	if c.cfg.Seen != nil && len(digests) > 0 {
		if err := c.cfg.Seen.AddSeenPrekeys(digests...); err != nil {
			// The check still works for this run; only a restart forgets.
			c.log.Warn("prekeyclient: recording the prekey messages seen failed", "err", err)
		}
	}
	best, errs := otr4.SelectEnsembles(valid, now)
	out.Warnings = append(out.Warnings, errs...)
	if len(best) == 0 {
		return nil, &InvalidEnsemblesError{Server: s.JID, Identity: identity, Reasons: out.Warnings}
	}
	out.ByTag = best
	for _, w := range out.Warnings {
		c.log.Warn("prekeyclient: prekey ensemble dropped", "server", s.JID, "identity", identity, "err", w)
	}
	return out, nil
}

// sanitize makes text from the server safe to show: printable characters
// only, at most 200 of them.
func sanitize(s string) string {
	var sb strings.Builder
	n := 0
	for _, r := range s {
		if n == 200 {
			sb.WriteString("…")
			break
		}
		if !unicode.IsPrint(r) {
			r = '?'
		}
		sb.WriteRune(r)
		n++
	}
	return sb.String()
}
