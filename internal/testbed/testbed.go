package testbed

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/internal/xmppbind"
)

// Kind names an XMPP server implementation the test bed can run.
type Kind string

// The server kinds the test bed knows.
const (
	Prosody  Kind = "prosody"  // Debian package prosody (0.12)
	Ejabberd Kind = "ejabberd" // Debian package ejabberd (23.01)
)

// EnvServer is the environment variable KindFromEnv reads.
const EnvServer = "OTRCHAT_TEST_SERVER"

// EnvKeep, when non-empty, makes Close keep the server's directory
// (config, data, logs) for a post-mortem instead of removing it.
const EnvKeep = "OTRCHAT_TESTBED_KEEP"

// EnvStartTimeout, when set to a Go duration, replaces DefaultStartTimeout.
const EnvStartTimeout = "OTRCHAT_TESTBED_START_TIMEOUT"

// Kinds lists every kind the test bed supports, Prosody first.
func Kinds() []Kind { return []Kind{Prosody, Ejabberd} }

// KindFromEnv returns the kind named by $OTRCHAT_TEST_SERVER ("prosody" or
// "ejabberd", case-insensitive), and Prosody when it is empty. An unknown
// name is returned as given, so that Launch reports it.
func KindFromEnv() Kind {
	v := strings.ToLower(strings.TrimSpace(os.Getenv(EnvServer)))
	if v == "" {
		return Prosody
	}
	return Kind(v)
}

func (k Kind) String() string { return string(k) }

// Errors returned by the test bed; compare with errors.Is.
var (
	// ErrUnavailable means the server cannot run on this machine: its
	// binary is not installed, or it needs privileges the process lacks.
	ErrUnavailable = errors.New("testbed: server unavailable")
	// ErrUnknownKind is returned for a Kind other than Prosody or Ejabberd.
	ErrUnknownKind = errors.New("testbed: unknown server kind")
	// ErrStartTimeout means the server did not accept a login in time.
	ErrStartTimeout = errors.New("testbed: server did not become ready in time")
	// ErrExited means the server process exited, or logged a fatal
	// error, while starting.
	ErrExited = errors.New("testbed: server process exited or crashed")
	// ErrUnknownAccount is returned by Dial for an account not in Options.
	ErrUnknownAccount = errors.New("testbed: unknown account")
	// ErrUnknownComponent is returned by DialComponent for a component not
	// in Options.
	ErrUnknownComponent = errors.New("testbed: unknown component")
	// ErrBadOption is wrapped by Launch for an invalid Options value.
	ErrBadOption = errors.New("testbed: bad option")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("testbed: server closed")
	// ErrPublicListener means the server opened a listening socket on an
	// address other than loopback; Launch stops it and fails.
	ErrPublicListener = errors.New("testbed: server listens on a non-loopback address")
)

// Account is a user account to register before the server is used.
type Account struct {
	Name     string // localpart, e.g. "alice"
	Password string // empty: a random password is generated
}

// Users returns one Account with a random password per name.
func Users(names ...string) []Account {
	out := make([]Account, len(names))
	for i, n := range names {
		out[i] = Account{Name: n}
	}
	return out
}

// Component is an XEP-0114 external component the server accepts.
type Component struct {
	Name   string // the component's domain, e.g. "prekeys.localhost"
	Secret string // handshake secret; empty: a random one is generated
}

// DefaultStartTimeout bounds a (re)start when Options.StartTimeout is zero.
const DefaultStartTimeout = 20 * time.Second

// Options configure Launch and Start. The zero value is a Prosody (or the
// kind in $OTRCHAT_TEST_SERVER) for domain "localhost" with no accounts.
type Options struct {
	Kind       Kind      // empty: KindFromEnv()
	Domain     string    // empty: "localhost"
	Accounts   []Account // registered before the server is handed out
	Components []Component

	// StartTimeout bounds each start and restart, from launching the
	// process until a login succeeds. Zero means DefaultStartTimeout.
	StartTimeout time.Duration
	// C2SPort pins the client port (the demo uses it); zero picks a free one.
	C2SPort int
	// Dir holds config, certificates, data and logs. Empty: a fresh
	// directory under os.TempDir(), removed by Close. A directory given
	// here is created if needed and kept.
	Dir string
	// Logger receives the test bed's progress; nil discards it.
	Logger *slog.Logger
}

// Server is one running (or stopped) throwaway XMPP server.
// Its exported fields are fixed for the server's life, across Restart.
type Server struct {
	Kind          Kind
	Domain        string
	C2SAddr       string // "127.0.0.1:port", client connections (STARTTLS)
	ComponentAddr string // "127.0.0.1:port" for XEP-0114; empty without Components
	CACertPEM     []byte // the CA that signed the server's certificate

	opts       Options
	dir        string
	ownDir     bool
	roots      *x509.CertPool
	accounts   []Account // with passwords filled in
	components []Component
	probe      Account // the account used to check readiness
	be         backend
	log        *slog.Logger

	mu       sync.Mutex
	p        *proc
	logStart int64 // size of the log when the current start began
	ready    time.Duration
	started  bool // the server has run once (accounts that need a live server exist)
	closed   bool
	c2sPort  int
	compPort int
	auxPort  int // spare loopback ports (ejabberd: Erlang distribution,
	aux2Port int // and the HTTP API used to register accounts)
}

// backend is what differs between Prosody and ejabberd.
type backend interface {
	// binaries returns the programs the backend needs in $PATH.
	binaries() []string
	// check reports ErrUnavailable when the server cannot run here.
	check() error
	// prepare writes configuration and registers accounts where the
	// server allows that while it is down. It runs once.
	prepare(ctx context.Context, s *Server, tls *certBundle) error
	// command returns the server process (not started).
	command(s *Server) *exec.Cmd
	// afterListen runs once each start accepts TCP connections.
	afterListen(ctx context.Context, s *Server) error
	// logPath is the server's own log file.
	logPath(s *Server) string
	// crashed reports whether the server's log, from byte offset from on,
	// shows a fatal error.
	crashed(s *Server, from int64) bool
	// reset empties the data of a server that never started properly.
	reset(s *Server) error
}

// Launch starts a server as described by opts and returns once a login
// succeeds, or fails after opts.StartTimeout with the server's log in the
// error. ctx bounds the whole launch as well. The caller must Close it.
func Launch(ctx context.Context, opts Options) (*Server, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	if err := s.launch(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func newServer(opts Options) (*Server, error) {
	if opts.Kind == "" {
		opts.Kind = KindFromEnv()
	}
	if opts.Domain == "" {
		opts.Domain = "localhost"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
		if v := os.Getenv(EnvStartTimeout); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%w: $%s=%q is not a positive duration", ErrBadOption, EnvStartTimeout, v)
			}
			opts.StartTimeout = d
		}
	}
	if opts.C2SPort < 0 || opts.C2SPort > 65535 {
		return nil, fmt.Errorf("%w: C2SPort %d", ErrBadOption, opts.C2SPort)
	}
	s := &Server{Kind: opts.Kind, Domain: opts.Domain, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	switch opts.Kind {
	case Prosody:
		s.be = prosodyBackend{}
	case Ejabberd:
		s.be = &ejabberdBackend{}
	default:
		return nil, fmt.Errorf("%w: %q (want %q or %q)", ErrUnknownKind, opts.Kind, Prosody, Ejabberd)
	}
	if !validDomain(opts.Domain) {
		return nil, fmt.Errorf("%w: domain %q", ErrBadOption, opts.Domain)
	}
	seen := map[string]bool{}
	for _, a := range opts.Accounts {
		if !validLocalpart(a.Name) {
			return nil, fmt.Errorf("%w: account name %q (use a-z, 0-9, '.', '_', '-')", ErrBadOption, a.Name)
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("%w: account %q listed twice", ErrBadOption, a.Name)
		}
		seen[a.Name] = true
		if a.Password == "" {
			a.Password = randomToken()
		} else if !validSecret(a.Password) {
			return nil, fmt.Errorf("%w: password of %q must be printable ASCII without quotes or backslashes", ErrBadOption, a.Name)
		}
		s.accounts = append(s.accounts, a)
	}
	seen = map[string]bool{}
	for _, c := range opts.Components {
		if !validDomain(c.Name) || c.Name == opts.Domain {
			return nil, fmt.Errorf("%w: component name %q", ErrBadOption, c.Name)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("%w: component %q listed twice", ErrBadOption, c.Name)
		}
		seen[c.Name] = true
		if c.Secret == "" {
			c.Secret = randomToken()
		} else if !validSecret(c.Secret) {
			return nil, fmt.Errorf("%w: secret of %q must be printable ASCII without quotes or backslashes", ErrBadOption, c.Name)
		}
		s.components = append(s.components, c)
	}
	if len(s.accounts) > 0 {
		s.probe = s.accounts[0]
	} else {
		s.probe = Account{Name: "testbed-probe", Password: randomToken()}
	}
	return s, nil
}

func (s *Server) launch(ctx context.Context) error {
	begin := time.Now()
	for _, bin := range s.be.binaries() {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%w: %s: %s not found in PATH (Debian: apt-get install %s)", ErrUnavailable, s.Kind, bin, s.Kind)
		}
	}
	if err := s.be.check(); err != nil {
		return err
	}
	reapStale()

	if s.opts.Dir != "" {
		dir, err := filepath.Abs(s.opts.Dir)
		if err != nil {
			return fmt.Errorf("testbed: %w", err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("testbed: %w", err)
		}
		s.dir = dir
	} else {
		dir, err := os.MkdirTemp("", dirPrefix+string(s.Kind)+"-")
		if err != nil {
			return fmt.Errorf("testbed: %w", err)
		}
		s.dir, s.ownDir = dir, true
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return fmt.Errorf("testbed: %w", err)
		}
	}

	// All ports are picked while holding them, so no two are the same.
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	s.c2sPort, s.auxPort, s.aux2Port = s.opts.C2SPort, ports[2], ports[3]
	if s.c2sPort == 0 {
		s.c2sPort = ports[0]
	}
	s.C2SAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.c2sPort))
	if len(s.components) > 0 {
		s.compPort = ports[1]
		s.ComponentAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.compPort))
	}

	names := []string{s.Domain}
	for _, c := range s.components {
		names = append(names, c.Name)
	}
	bundle, err := newCertBundle(names)
	if err != nil {
		return err
	}
	s.CACertPEM = bundle.caPEM
	s.roots = x509.NewCertPool()
	s.roots.AppendCertsFromPEM(bundle.caPEM)
	if err := os.WriteFile(filepath.Join(s.dir, "ca.pem"), bundle.caPEM, 0o644); err != nil {
		return fmt.Errorf("testbed: %w", err)
	}

	pctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	if err := s.be.prepare(pctx, s, bundle); err != nil {
		return err
	}
	err = s.start(ctx, begin)
	if errors.Is(err, ErrExited) && ctx.Err() == nil {
		// A fresh server that crashed on its very first start (ejabberd's
		// mnesia has been seen to, once, on a heavily loaded machine) gets
		// one more try from empty data; a broken config fails again.
		s.log.Warn("testbed: first start crashed, retrying once from fresh data", "kind", s.Kind, "err", err)
		if rerr := s.be.reset(s); rerr != nil {
			return errors.Join(err, rerr)
		}
		err = s.start(ctx, begin) // the ready time includes the crash
	}
	return err
}

// start runs the server process and waits until a login succeeds. The
// ready time is measured from begin (Launch's start, or now for a restart).
func (s *Server) start(ctx context.Context, begin time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.p != nil && !s.p.exited() {
		return fmt.Errorf("testbed: %s is already running", s.Kind)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	procStart := time.Now()
	s.logStart = 0
	if fi, err := os.Stat(s.LogPath()); err == nil {
		s.logStart = fi.Size() // only this start's lines count for crashed
	}

	cmd := s.be.command(s)
	out, err := os.OpenFile(s.consolePath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("testbed: %w", err)
	}
	defer out.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Stdin = nil
	p, err := startProc(cmd)
	if err != nil {
		return fmt.Errorf("testbed: starting %s: %w", s.Kind, err)
	}
	s.p = p
	if s.ownDir {
		_ = os.WriteFile(filepath.Join(s.dir, pgroupFile), []byte(strconv.Itoa(p.pgid)), 0o644)
	}
	s.log.Info("testbed: server starting", "kind", s.Kind, "c2s", s.C2SAddr, "pid", p.pgid, "dir", s.dir)

	fail := func(err error) error {
		_ = p.stop(5 * time.Second)
		return fmt.Errorf("%w\n%s", err, s.logTail())
	}
	// Phase 1: the client port speaks XMPP. A bare TCP connect is not
	// enough: ejabberd listens long before it accepts.
	if err := s.waitFor(ctx, p, s.streamProbe); err != nil {
		return fail(err)
	}
	streamUp := time.Since(procStart)
	// Phase 2: the backend's work that needs a live server, again after a
	// restart (ejabberd may lose recent registrations to a Kill).
	if err := s.be.afterListen(ctx, s); err != nil {
		return fail(err)
	}
	prepared := time.Since(procStart)
	// Phase 3: a real login (STARTTLS, SASL, bind) succeeds.
	if err := s.waitFor(ctx, p, func(ctx context.Context) error {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		sess, err := s.dial(dctx, s.probe, "probe")
		if err != nil {
			return err
		}
		return sess.Close()
	}); err != nil {
		return fail(err)
	}
	// Every listener must be on loopback.
	if err := s.checkListeners(p); err != nil {
		return fail(err)
	}
	s.started = true
	s.ready = time.Since(begin)
	s.log.Info("testbed: server ready", "kind", s.Kind, "c2s", s.C2SAddr, "ready", s.ready,
		"process_stream_up", streamUp, "process_accounts_ready", prepared)
	return nil
}

// streamProbe opens a client stream on C2SAddr and waits (up to a second)
// for the server's stream header and features.
func (s *Server) streamProbe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.C2SAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	_, err = fmt.Fprintf(c, "<?xml version='1.0'?><stream:stream to='%s' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", s.Domain)
	if err != nil {
		return err
	}
	d := xml.NewDecoder(c)
	for {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("testbed: stream probe: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "features" {
			_, _ = io.WriteString(c, "</stream:stream>")
			return nil
		}
	}
}

// waitFor retries try every 50 ms until it succeeds, the process exits or
// ctx ends.
func (s *Server) waitFor(ctx context.Context, p *proc, try func(context.Context) error) error {
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("%w: %s: %v", ErrExited, s.Kind, p.err)
		}
		if s.be.crashed(s, s.logStart) {
			return fmt.Errorf("%w: %s logged a fatal error", ErrExited, s.Kind)
		}
		if last = try(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w: %s after %v: last error: %v", ErrStartTimeout, s.Kind, s.opts.StartTimeout, last)
			}
			return fmt.Errorf("testbed: %s: %w (last error: %v)", s.Kind, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) checkListeners(p *proc) error {
	aps, err := listeners(p.pgid)
	if err != nil {
		return err
	}
	var c2s bool
	for _, ap := range aps {
		if !ap.Addr().IsLoopback() {
			return fmt.Errorf("%w: %s listens on %v", ErrPublicListener, s.Kind, ap)
		}
		if int(ap.Port()) == s.c2sPort {
			c2s = true
		}
	}
	if !c2s && len(aps) > 0 {
		return fmt.Errorf("testbed: %s accepted logins but no listener of its own is on %s (another server on that port?)", s.Kind, s.C2SAddr)
	}
	return nil
}

// Listeners returns the addresses of every TCP socket the running server
// listens on (read from /proc; Linux only).
func (s *Server) Listeners() ([]string, error) {
	s.mu.Lock()
	p := s.p
	s.mu.Unlock()
	if p == nil || p.exited() {
		return nil, fmt.Errorf("testbed: %s is not running", s.Kind)
	}
	aps, err := listeners(p.pgid)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(aps))
	for i, ap := range aps {
		out[i] = ap.String()
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ReadyTime is how long the last start took until a login succeeded: for
// Launch, from its call (certificates, config, accounts, process start-up);
// for Restart, from the new process's start.
func (s *Server) ReadyTime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// Stop kills the server (SIGTERM to its process group, SIGKILL after 10 s)
// and keeps its data, ports and certificate for Restart. Stopping a
// stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	if s.p == nil {
		return nil
	}
	p := s.p
	s.p = nil
	return p.stop(10 * time.Second)
}

// Kill is Stop without the grace: SIGKILL to the server's process group,
// so clients see their TCP connections drop with no stream close, as in a
// crash. Data written so far is kept for Restart, as far as the server had
// written it to disk: ejabberd may lose its latest writes (its archive, a
// registration; the accounts are registered again at every start).
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil
	}
	p := s.p
	s.p = nil
	return p.stop(0)
}

// Restart stops the server if it runs and starts it again on the same
// ports with the same data, returning once a login succeeds again (bounded
// by Options.StartTimeout).
func (s *Server) Restart() error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.start(context.Background(), time.Now())
}

// Close stops the server and removes its directory unless Options.Dir
// named it. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.stopLocked()
	if s.ownDir && s.dir != "" && os.Getenv(EnvKeep) != "" {
		// Kept for a post-mortem: no longer a candidate for reapStale.
		_ = os.Remove(filepath.Join(s.dir, ownerFile))
		s.log.Info("testbed: keeping server directory", "dir", s.dir, "env", EnvKeep)
	} else if s.ownDir && s.dir != "" {
		if rerr := os.RemoveAll(s.dir); rerr != nil && err == nil {
			err = fmt.Errorf("testbed: %w", rerr)
		}
	}
	return err
}

// Dir is the server's directory (config, certificates, data, logs).
func (s *Server) Dir() string { return s.dir }

// LogPath is the server's own log file.
func (s *Server) LogPath() string { return s.be.logPath(s) }

func (s *Server) consolePath() string { return filepath.Join(s.dir, "console.log") }

// logTail returns the end of the server's log and console output, for
// error messages.
func (s *Server) logTail() string {
	var b strings.Builder
	for _, f := range []string{s.LogPath(), s.consolePath()} {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		const max = 6000
		if len(data) > max {
			data = data[len(data)-max:]
		}
		fmt.Fprintf(&b, "--- end of %s ---\n%s\n", f, data)
	}
	if b.Len() == 0 {
		return "(the server wrote no log)"
	}
	return b.String()
}

// RootCAs returns a pool holding only the test bed's CA.
func (s *Server) RootCAs() *x509.CertPool { return s.roots.Clone() }

// TLSConfig returns a client TLS configuration that verifies the server's
// certificate against the test bed CA for the given name (the domain, or a
// component's name).
func (s *Server) TLSConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: s.RootCAs(), ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// Accounts returns the registered accounts with their passwords.
func (s *Server) Accounts() []Account { return slices.Clone(s.accounts) }

// Password returns the password of account user, or "" if there is none.
func (s *Server) Password(user string) string {
	for _, a := range s.accounts {
		if a.Name == user {
			return a.Password
		}
	}
	return ""
}

// Secret returns the XEP-0114 secret of component name, or "".
func (s *Server) Secret(name string) string {
	for _, c := range s.components {
		if c.Name == name {
			return c.Secret
		}
	}
	return ""
}

// JID returns user@domain/resource (without the resource if it is
// empty), or the zero JID if user or resource is not a valid JID part.
func (s *Server) JID(user, resource string) jid.JID {
	j, err := jid.New(user, s.Domain, resource)
	if err != nil {
		return jid.JID{}
	}
	return j
}

// DialTimeout bounds Dial and DialComponent when ctx has no deadline.
const DialTimeout = 30 * time.Second

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, DialTimeout)
}

// Dial logs user in over TCP to C2SAddr with STARTTLS (verified against
// the test bed CA), SASL SCRAM-SHA-256 or SCRAM-SHA-1 and resource binding,
// requesting resource (the server may pick another: check LocalAddr). The
// session is ready for Serve; the caller closes it. ctx bounds only the
// connection and negotiation (DialTimeout if it has no deadline).
func (s *Server) Dial(ctx context.Context, user, resource string) (*xmpp.Session, error) {
	for _, a := range s.accounts {
		if a.Name == user {
			return s.dial(ctx, a, resource)
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownAccount, user)
}

func (s *Server) dial(ctx context.Context, a Account, resource string) (*xmpp.Session, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	j, err := jid.New(a.Name, s.Domain, resource)
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.C2SAddr)
	if err != nil {
		return nil, fmt.Errorf("testbed: dial %s: %w", s.C2SAddr, err)
	}
	sess, err := xmpp.NewClientSession(ctx, j, conn,
		xmpp.StartTLS(s.TLSConfig(s.Domain)),
		xmpp.SASL("", a.Password, sasl.ScramSha256, sasl.ScramSha1),
		xmppbind.Feature(resource, randomToken()),
	)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("testbed: login %s on %s: %w", j, s.Kind, err)
	}
	return sess, nil
}

// DialComponent connects component name to ComponentAddr and completes
// the XEP-0114 handshake with its secret. The caller closes the session.
func (s *Server) DialComponent(ctx context.Context, name string) (*xmpp.Session, error) {
	secret := s.Secret(name)
	if secret == "" {
		return nil, fmt.Errorf("%w: %q", ErrUnknownComponent, name)
	}
	return s.DialComponentSecret(ctx, name, secret)
}

// DialComponentSecret is DialComponent with an explicit secret, for tests
// that a wrong secret is refused.
func (s *Server) DialComponentSecret(ctx context.Context, name, secret string) (*xmpp.Session, error) {
	if s.ComponentAddr == "" {
		return nil, fmt.Errorf("%w: %q (no components configured)", ErrUnknownComponent, name)
	}
	addr, err := jid.Parse(name)
	if err != nil {
		return nil, fmt.Errorf("testbed: component %q: %w", name, err)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.ComponentAddr)
	if err != nil {
		return nil, fmt.Errorf("testbed: dial %s: %w", s.ComponentAddr, err)
	}
	sess, err := component.NewSession(ctx, addr, []byte(secret), conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("testbed: component %s on %s: %w", name, s.Kind, err)
	}
	return sess, nil
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("testbed: finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// randomToken returns 26 random base32 characters (130 bits).
func randomToken() string { return rand.Text() }

// registered lists the accounts to create on the server: the configured
// ones plus, when there are none, the readiness probe.
func (s *Server) registered() []Account {
	if len(s.accounts) == 0 {
		return []Account{s.probe}
	}
	return s.accounts
}

func validLocalpart(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validDomain(s string) bool {
	if s == "" || len(s) > 253 || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

func validSecret(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\'' || r == '\\' {
			return false
		}
	}
	return true
}
