package prekeyserver

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

// dbFile is the name of the storage in DataDir.
const dbFile = "prekeys.db"

// Server is the prekey server's logic: DAKEs with publishers, verified
// storage and retrieval. It is transport-agnostic (Handle takes and returns
// message bodies); Serve connects it to XMPP. It is safe for concurrent use.
type Server struct {
	cfg    Config
	limits Limits
	log    *slog.Logger
	key    *prekey.ServerKey
	store  *store

	// domains are the served domains (lower case); all serves every one.
	domains map[string]bool
	all     bool

	mu           sync.Mutex
	sessions     map[string]*session // by full JID
	assemblers   map[string]*assembler
	fragBytes    int // sum of the assemblers' charge
	lastFragWarn time.Time
	limiter      *limiter
	lastPrune    time.Time
}

type session struct {
	s    *prekey.ServerSession
	last time.Time
}

type assembler struct {
	a    *prekey.Assembler
	last time.Time
	// refused holds the identifiers of fragmented messages already
	// refused as oversized: their later fragments are dropped silently,
	// so the sender gets exactly one Failure.
	refused map[string]bool
	// charged is what this assembler counts in Server.fragBytes.
	charged int
}

// Bookkeeping costs charged against MaxFragmentBytes besides the fragments
// themselves: an assembler with its map entry and full JID, and one
// remembered refused identifier.
const (
	assemblerOverhead = 512
	refusedOverhead   = 64
)

// charge is what a holds, as counted against MaxFragmentBytes.
func (a *assembler) charge(full string) int {
	return a.a.Buffered() + assemblerOverhead + len(full) + refusedOverhead*len(a.refused)
}

// recharge brings fragBytes up to date with the assembler of full.
func (s *Server) recharge(full string, a *assembler) {
	c := a.charge(full)
	s.fragBytes += c - a.charged
	a.charged = c
}

// dropAssembler forgets the partial messages of full.
func (s *Server) dropAssembler(full string) {
	if a := s.assemblers[full]; a != nil {
		s.fragBytes -= a.charged
		delete(s.assemblers, full)
	}
}

// boundFragments drops the partial messages of the senders silent the
// longest until all of them fit in MaxFragmentBytes; keep is dropped only
// if it alone does not fit.
func (s *Server) boundFragments(keep string) {
	for s.fragBytes > s.limits.MaxFragmentBytes {
		victim := ""
		var t time.Time
		for k, a := range s.assemblers {
			if k != keep && (victim == "" || a.last.Before(t)) {
				victim, t = k, a.last
			}
		}
		if victim == "" {
			victim = keep
		}
		// Under attack this happens for every fragment: warn once a minute.
		lvl := slog.LevelDebug
		if now := s.cfg.Now(); now.Sub(s.lastFragWarn) >= time.Minute {
			s.lastFragWarn, lvl = now, slog.LevelWarn
		}
		s.log.Log(context.Background(), lvl, "dropped partial fragmented messages: fragment memory limit", "of", victim,
			"held", s.fragBytes, "limit", s.limits.MaxFragmentBytes)
		s.dropAssembler(victim)
		if victim == keep {
			return
		}
	}
}

// FragmentBytes returns what the partial "?OTRP|" messages of all senders
// hold, as MaxFragmentBytes counts it.
func (s *Server) FragmentBytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fragBytes
}

// StorageBytes returns what the storage holds, as MaxStorageBytes counts
// it.
func (s *Server) StorageBytes() int64 { return s.store.storageBytes() }

// serves reports whether the server serves the domain of j.
func (s *Server) serves(j jid.JID) bool {
	return s.all || s.domains[strings.ToLower(j.Domainpart())]
}

// defaultDomain is the domain a component named name serves by default:
// its parent domain, or name itself when it has no dot.
func defaultDomain(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 && i < len(name)-1 {
		return name[i+1:]
	}
	return name
}

// fragmentID returns the "identifier|sender" part of a "?OTRP|" fragment.
func fragmentID(frag string) string {
	rest := strings.TrimPrefix(frag, "?OTRP|")
	i := strings.IndexByte(rest, '|')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(rest[i+1:], '|')
	if j < 0 {
		return ""
	}
	return rest[:i+1+j]
}

// New opens (or creates) the server's storage and long-term key in
// cfg.DataDir.
func New(cfg Config) (*Server, error) {
	if _, err := jid.Parse(cfg.Name); err != nil || strings.ContainsAny(cfg.Name, "@/") {
		return nil, fmt.Errorf("prekeyserver: component name %q is not a domain JID", cfg.Name)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("prekeyserver: no data directory")
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("prekeyserver: %w", err)
	}
	key, created, err := loadOrCreateKey(cfg.DataDir, cfg.Rand)
	if err != nil {
		return nil, err
	}
	limits := cfg.Limits.withDefaults()
	st, err := openStore(filepath.Join(cfg.DataDir, dbFile), limits)
	if err != nil {
		return nil, err
	}
	fp := prekey.FingerprintHex(key.Fingerprint())
	if created {
		log.Info("created a new long-term key", "fingerprint", fp)
	}
	srv := &Server{
		cfg: cfg, limits: limits, log: log, key: key, store: st,
		domains:    map[string]bool{},
		sessions:   map[string]*session{},
		assemblers: map[string]*assembler{},
		limiter:    newLimiter(limits.RetrievalBurst, limits.RetrievalInterval),
	}
	domains := cfg.Domains
	if len(domains) == 0 {
		domains = []string{defaultDomain(cfg.Name)}
	}
	for _, d := range domains {
		if d == "*" {
			srv.all = true
			continue
		}
		j, err := jid.Parse(d)
		if err != nil || strings.ContainsAny(d, "@/") {
			st.close()
			key.Wipe()
			return nil, fmt.Errorf("prekeyserver: served domain %q is not a domain", d)
		}
		srv.domains[strings.ToLower(j.Domainpart())] = true
	}
	log.Info("prekey server ready", "name", cfg.Name, "fingerprint", fp, "data", cfg.DataDir,
		"domains", domains, "stored_bytes", st.storageBytes())
	return srv, nil
}

// Fingerprint returns the fingerprint of the server's long-term key.
func (s *Server) Fingerprint() otr4.Fingerprint { return s.key.Fingerprint() }

// Name returns the server's JID.
func (s *Server) Name() string { return s.cfg.Name }

// Close closes the storage and erases the key from memory.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.sessions {
		e.s.Close()
	}
	s.sessions = map[string]*session{}
	s.key.Wipe()
	return s.store.close()
}

// Stored returns the number of prekey messages stored for a device, for
// operators and tests.
func (s *Server) Stored(bare string, tag otr4.InstanceTag) (int, error) {
	return s.store.count(bare, tag)
}

// Handle processes one message body received from the full JID from and
// returns the bodies to send back to it (usually one; several fragments
// when FragmentSize is set; none when the spec says to stay silent).
func (s *Server) Handle(from jid.JID, body string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	s.prune(now)
	full := from.String()
	log := s.log.With("from", full)
	if len(body) > s.limits.MaxBodyBytes {
		log.Warn("refused an oversized message", "bytes", len(body), "limit", s.limits.MaxBodyBytes)
		return s.send(s.abort(full, 0))
	}
	if prekey.IsFragment(body) {
		a := s.assemblers[full]
		if a == nil {
			a = &assembler{a: prekey.NewAssembler(0, s.limits.MaxBodyBytes)}
			s.assemblers[full] = a
		}
		a.last = now
		id := fragmentID(body)
		if a.refused[id] {
			return nil
		}
		msg, done, err := a.a.Add(body, now)
		s.recharge(full, a)
		s.boundFragments(full)
		if errors.Is(err, prekey.ErrTooLarge) {
			log.Warn("refused an oversized fragmented message", "err", err)
			if a.refused == nil {
				a.refused = map[string]bool{}
			}
			if len(a.refused) < 64 {
				a.refused[id] = true
			}
			if s.assemblers[full] == a {
				s.recharge(full, a)
				s.boundFragments(full)
			}
			return s.send(s.abort(full, 0))
		}
		if err != nil {
			// "Discard the (illegal) fragment": no answer to a fragment.
			log.Warn("dropped a fragment", "err", err)
			if a.a.Pending() == 0 && len(a.refused) == 0 && s.assemblers[full] == a {
				s.dropAssembler(full) // nothing worth keeping for this sender
			}
			return nil
		}
		if !done {
			return nil
		}
		if a.a.Pending() == 0 && s.assemblers[full] == a {
			s.dropAssembler(full)
		}
		body = msg
	}
	b, err := prekey.Decode(body)
	if err != nil {
		log.Warn("refused a message that is not a prekey server message", "err", err)
		return s.send(s.abort(full, 0))
	}
	t, err := prekey.PeekType(b)
	if err != nil {
		log.Warn("refused a message", "err", err)
		return s.send(s.abort(full, peekTag(b)))
	}
	log.Debug("received", "type", t, "bytes", len(b))
	switch t {
	case prekey.TypeDAKE1:
		return s.send(s.handleDAKE1(log, from, b, now))
	case prekey.TypeDAKE3:
		return s.send(s.handleDAKE3(log, from, b, now))
	case prekey.TypeEnsembleQuery:
		return s.send(s.handleQuery(log, from, b, now))
	}
	log.Warn("refused an unexpected message", "type", t)
	return s.send(s.abort(full, peekTag(b)))
}

// abort ends the DAKE of full, if any, and returns a Failure: MAC'd with
// the DAKE's key when there is one, unauthenticated otherwise.
func (s *Server) abort(full string, tag otr4.InstanceTag) []byte {
	if e := s.sessions[full]; e != nil {
		delete(s.sessions, full)
		f := e.s.Failure()
		e.s.Close()
		return f
	}
	return prekey.UnauthenticatedFailure(tag)
}

func (s *Server) send(msg []byte) []string {
	if msg == nil {
		return nil
	}
	enc := prekey.Encode(msg)
	if s.limits.FragmentSize <= 0 || len(enc) <= s.limits.FragmentSize {
		return []string{enc}
	}
	var to otr4.InstanceTag
	if len(msg) >= 7 {
		to = otr4.InstanceTag(binary.BigEndian.Uint32(msg[3:7]))
	}
	frags, err := prekey.Fragment(s.cfg.Rand, enc, s.limits.FragmentSize, 0, to)
	if err != nil {
		s.log.Error("cannot fragment a reply; sending it whole", "err", err)
		return []string{enc}
	}
	return frags
}

// peekTag reads the instance tag after the header of a message, if it
// looks like one.
func peekTag(b []byte) otr4.InstanceTag {
	if len(b) < 7 {
		return 0
	}
	if t := otr4.InstanceTag(binary.BigEndian.Uint32(b[3:7])); t.Valid() {
		return t
	}
	return 0
}

func (s *Server) handleDAKE1(log *slog.Logger, from jid.JID, b []byte, now time.Time) []byte {
	full := from.String()
	if !s.serves(from) {
		// Not one of our users: no DAKE, no storage. Any DAKE this JID
		// had is over too.
		log.Warn("refused DAKE-1 from a domain this server does not serve", "domain", from.Domainpart())
		if old := s.sessions[full]; old != nil {
			old.s.Close()
			delete(s.sessions, full)
		}
		return prekey.UnauthenticatedFailure(peekTag(b))
	}
	e := s.sessions[full]
	if e == nil {
		if len(s.sessions) >= s.limits.MaxSessions {
			s.evictOldest()
		}
		e = &session{s: prekey.NewServerSession(prekey.ServerConfig{
			Key: s.key, Name: s.cfg.Name, Rand: s.cfg.Rand, Now: s.cfg.Now,
		}, from.Bare().String())}
	}
	d2, err := e.s.HandleDAKE1(b)
	if err != nil {
		// No shared secret with this DAKE-1's sender: an unauthenticated
		// Failure, and any earlier DAKE of this JID is over.
		log.Warn("refused DAKE-1", "err", err)
		if old := s.sessions[full]; old != nil {
			old.s.Close()
			delete(s.sessions, full)
		}
		return prekey.UnauthenticatedFailure(peekTag(b))
	}
	e.last = now
	s.sessions[full] = e
	log.Debug("sent DAKE-2", "tag", peekTag(b))
	return d2
}

func (s *Server) handleDAKE3(log *slog.Logger, from jid.JID, b []byte, now time.Time) []byte {
	full, bare := from.String(), from.Bare().String()
	e := s.sessions[full]
	if e == nil {
		log.Warn("refused DAKE-3 outside a DAKE")
		return prekey.UnauthenticatedFailure(peekTag(b))
	}
	// Whatever happens, this DAKE is over.
	delete(s.sessions, full)
	defer e.s.Close()
	req, err := e.s.HandleDAKE3(b)
	if err != nil {
		log.Warn("refused DAKE-3", "err", err)
		return e.s.Failure()
	}
	log = log.With("tag", req.InstanceTag)
	if req.Publication == nil {
		n, err := s.store.count(bare, req.InstanceTag)
		if err != nil {
			log.Error("storage", "err", err)
			return e.s.Failure()
		}
		log.Info("storage status", "stored", n)
		return e.s.StorageStatus(uint32(n))
	}
	p := req.Publication
	n, reclaimed, err := s.store.publish(bare, req.InstanceTag, req.ClientProfile, p, now)
	if err != nil {
		log.Warn("publication not stored", "err", err)
		return e.s.Failure()
	}
	if reclaimed > 0 {
		log.Info("freed the slots of dead devices", "devices", reclaimed)
	}
	log.Info("publication stored", "prekey_messages", len(p.PrekeyMessages),
		"client_profile", p.ClientProfile != nil, "prekey_profile", p.PrekeyProfile != nil, "stored", n)
	return e.s.Success()
}

func (s *Server) handleQuery(log *slog.Logger, from jid.JID, b []byte, now time.Time) []byte {
	q, err := prekey.ParseEnsembleQuery(b)
	if err != nil {
		log.Warn("refused a query", "err", err)
		return prekey.UnauthenticatedFailure(peekTag(b))
	}
	none := &prekey.NoEnsembles{ReceiverTag: q.SenderTag, Identity: q.Identity, Text: prekey.NoEnsemblesText}
	if !s.limiter.allow(from.Bare().String(), now) {
		log.Warn("retrieval rate limit", "identity", q.Identity)
		none.Text = RateLimitedText
		return none.Marshal()
	}
	target, err := jid.Parse(q.Identity)
	if err != nil || !strings.Contains(q.Versions, "4") {
		log.Info("no ensembles for an invalid identity or versions", "identity", q.Identity, "versions", q.Versions)
		return none.Marshal()
	}
	if !s.serves(target) {
		log.Info("no ensembles for a domain this server does not serve", "identity", q.Identity)
		return none.Marshal()
	}
	ens, err := s.store.take(target.Bare().String(), now)
	if err != nil {
		log.Error("storage", "err", err)
		return none.Marshal()
	}
	if len(ens) == 0 {
		log.Info("no ensembles", "identity", q.Identity)
		return none.Marshal()
	}
	log.Info("handed out ensembles", "identity", q.Identity, "ensembles", len(ens))
	return (&prekey.EnsembleRetrieval{ReceiverTag: q.SenderTag, Identity: q.Identity, Ensembles: ens}).Marshal()
}

// RateLimitedText is the human-readable part of the No Prekey Ensembles
// message sent to a requester over its retrieval rate limit.
const RateLimitedText = "Too many requests for Prekey Ensembles; try again later"

// prune forgets DAKEs and partial fragments older than SessionTimeout, at
// most once every few seconds.
func (s *Server) prune(now time.Time) {
	if now.Sub(s.lastPrune) < 5*time.Second {
		return
	}
	s.lastPrune = now
	for k, e := range s.sessions {
		if now.Sub(e.last) > s.limits.SessionTimeout {
			e.s.Close()
			delete(s.sessions, k)
		}
	}
	for k, a := range s.assemblers {
		if now.Sub(a.last) > s.limits.SessionTimeout {
			s.dropAssembler(k)
		}
	}
}

func (s *Server) evictOldest() {
	var oldest string
	var t time.Time
	for k, e := range s.sessions {
		if oldest == "" || e.last.Before(t) {
			oldest, t = k, e.last
		}
	}
	if e := s.sessions[oldest]; e != nil {
		e.s.Close()
		delete(s.sessions, oldest)
	}
}
