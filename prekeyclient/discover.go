package prekeyclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"
)

// Discoverer performs the XEP-0030 queries of "Discovering a Prekey
// Server". SessionDiscoverer implements it over a mellium session; tests
// substitute their own.
type Discoverer interface {
	// Items returns the disco#items of to (at node, "" for the root).
	Items(ctx context.Context, to jid.JID, node string) ([]items.Item, error)
	// Info returns the disco#info of to (at node, "" for the root).
	Info(ctx context.Context, to jid.JID, node string) (disco.Info, error)
}

// SessionDiscoverer returns a Discoverer that queries over s. The session
// must be served (s.Serve) for the answers to arrive.
func SessionDiscoverer(s *xmpp.Session) Discoverer { return sessionDiscoverer{s} }

type sessionDiscoverer struct{ s *xmpp.Session }

func (d sessionDiscoverer) Items(ctx context.Context, to jid.JID, node string) ([]items.Item, error) {
	iter := disco.FetchItems(ctx, items.Item{JID: to, Node: node}, d.s)
	defer iter.Close()
	var out []items.Item
	for iter.Next() {
		if len(out) == maxDiscoItems {
			return out, fmt.Errorf("prekeyclient: %s lists more than %d disco items", to, maxDiscoItems)
		}
		out = append(out, iter.Item())
	}
	return out, iter.Err()
}

func (d sessionDiscoverer) Info(ctx context.Context, to jid.JID, node string) (disco.Info, error) {
	return disco.GetInfo(ctx, node, to, d.s)
}

// Server is a prekey server found by service discovery.
type Server struct {
	JID  jid.JID
	Name string // the name of its identity, for display
	// Fingerprint is filled in by FetchFingerprint.
	Fingerprint []byte
}

// IsPrekeyServer reports whether a disco#info answer describes a prekey
// server: the feature NS and an identity of category "auth", type
// "otr-prekey". It returns the identity's name.
func IsPrekeyServer(info disco.Info) (name string, ok bool) {
	var feature, identity bool
	for _, f := range info.Features {
		if f.Var == NS {
			feature = true
		}
	}
	for _, id := range info.Identity {
		if id.Category == IdentityCategory && id.Type == IdentityType {
			identity = true
			if name == "" {
				name = id.Name
			}
		}
	}
	return name, feature && identity
}

// Discover lists the prekey servers of domain: it asks domain for its
// disco#items and every item for its disco#info, and keeps those that
// IsPrekeyServer accepts. Each query is bounded by timeout (DefaultTimeout
// if zero). An item that does not answer is skipped (and logged); if none
// is a prekey server the error wraps ErrNoServer.
func Discover(ctx context.Context, d Discoverer, domain jid.JID, timeout time.Duration, log *slog.Logger) ([]Server, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if log == nil {
		log = discardLogger
	}
	domain = domain.Domain()
	qctx, cancel := context.WithTimeout(ctx, timeout)
	list, err := d.Items(qctx, domain, "")
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("prekeyclient: discovering prekey servers of %s: %w", domain, ctx.Err())
		}
		return nil, fmt.Errorf("%w: disco#items of %s failed: %v", ErrNoServer, domain, err)
	}
	var servers []Server
	seen := map[string]bool{}
	for _, it := range list {
		if it.Node != "" || it.JID.String() == "" {
			continue
		}
		key := it.JID.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		qctx, cancel := context.WithTimeout(ctx, timeout)
		info, err := d.Info(qctx, it.JID, "")
		cancel()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("prekeyclient: discovering prekey servers of %s: %w", domain, ctx.Err())
		}
		if err != nil {
			log.Debug("prekeyclient: disco#info failed", "item", key, "err", err)
			continue
		}
		if name, ok := IsPrekeyServer(info); ok {
			servers = append(servers, Server{JID: it.JID, Name: name})
		}
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("%w: none of the %d services of %s offers %s", ErrNoServer, len(list), domain, NS)
	}
	return servers, nil
}

// FetchFingerprint asks server for its disco#items and returns the
// fingerprint named by the item with node "fingerprint". The answer must
// hold exactly one such fingerprint (several equal copies are tolerated);
// otherwise the error wraps ErrBadFingerprint.
func FetchFingerprint(ctx context.Context, d Discoverer, server jid.JID, timeout time.Duration) ([]byte, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	list, err := d.Items(qctx, server, "")
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("prekeyclient: fingerprint of %s: %w", server, ctx.Err())
		}
		return nil, fmt.Errorf("%w: disco#items of %s failed: %v", ErrServerUnavailable, server, err)
	}
	return fingerprintFromItems(server, list)
}

func fingerprintFromItems(server jid.JID, list []items.Item) ([]byte, error) {
	var fp []byte
	for _, it := range list {
		if it.Node != FingerprintNode {
			continue
		}
		b, err := ParseFingerprint(it.Name)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadFingerprint, server, err)
		}
		if fp != nil && !equalFingerprints(fp, b) {
			return nil, fmt.Errorf("%w: %s lists two different fingerprints", ErrBadFingerprint, server)
		}
		fp = b
	}
	if fp == nil {
		return nil, fmt.Errorf("%w: %s lists no %q item", ErrBadFingerprint, server, FingerprintNode)
	}
	return fp, nil
}

// ParseFingerprint decodes the name of a fingerprint item: exactly 112
// hexadecimal digits (either case; surrounding white space is ignored).
func ParseFingerprint(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) != 2*FingerprintSize {
		return nil, fmt.Errorf("prekeyclient: a fingerprint is %d hex digits, got %d characters", 2*FingerprintSize, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("prekeyclient: fingerprint is not hexadecimal")
	}
	return b, nil
}

// Choose returns the servers in a uniformly random order drawn from r
// (crypto/rand if nil): the first is the one to use, the others are
// fallbacks. It spreads the load between the servers of one domain, which
// share their storage.
func Choose(r io.Reader, servers []Server) ([]Server, error) {
	if r == nil {
		r = rand.Reader
	}
	out := append([]Server(nil), servers...)
	for i := len(out) - 1; i > 0; i-- {
		j, err := rand.Int(r, big.NewInt(int64(i+1)))
		if err != nil {
			return nil, fmt.Errorf("prekeyclient: choosing a prekey server: %w", err)
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return out, nil
}

var discardLogger = slog.New(slog.DiscardHandler)
