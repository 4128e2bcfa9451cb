package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/otrchat/otrchat/config"
	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/session"
	"github.com/otrchat/otrchat/ui"
)

// stopTimeout bounds the clean exit: ending OTR conversations, writing the
// queue and closing the stream.
const stopTimeout = 10 * time.Second

// chat is the default command: first-run setup when there is no
// configuration, then the full-screen chat (or the line mode).
func chat(args []string, e env) error {
	c := newFlags("chat", e)
	line := c.fs.Bool("line", false, "line mode: commands on standard input, one event a line on standard output (docs/line-mode.md)")
	account := c.fs.String("account", "", "the account to sign in (default: the first enabled one)")
	if err := c.parse(args); err != nil {
		return err
	}
	in := bufio.NewReader(e.stdin)
	p := newPrompter(e, in)

	path := c.cfgPath
	if path == "" {
		dp, err := config.DefaultPath(e.getenv)
		if err != nil {
			return err
		}
		path = dp
	}
	var (
		cfg      *config.Config
		store    *keystore.Store
		password string
	)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		cfg, store, password, err = firstRun(c, e, p, path)
		if err != nil {
			return err
		}
	} else {
		cfg, err = c.config(e)
		if err != nil {
			return err
		}
		if _, err := os.Stat(cfg.Keystore.Path); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no key store at %s; create keys first with \"otrchat keys create -account JID\"", cfg.Keystore.Path)
		}
		pass, err := storePassphrase(cfg, e, p, false)
		if err != nil {
			return err
		}
		store, err = keystore.Open(cfg.Keystore.Path, pass, storeOptions(cfg))
		clear(pass)
		if err != nil {
			return err
		}
	}
	defer store.Close()
	// The key derivation (argon2id, 64 MiB by default) is done: give its
	// memory back to the system now rather than minutes later.
	debug.FreeOSMemory()
	acct, err := pickAccount(cfg, *account)
	if err != nil {
		return err
	}
	if password == "" {
		if password, err = accountPassword(acct, store, p); err != nil {
			return err
		}
	}
	logger, closeLog, err := openLog(cfg, *line, e)
	if err != nil {
		return err
	}
	defer closeLog()
	scfg, err := sessionConfig(cfg, acct, password, store, logger)
	if err != nil {
		return err
	}
	m, err := session.New(scfg)
	if err != nil {
		return err
	}
	state, err := stateDir(e)
	if err != nil {
		return err
	}
	opts := ui.Options{Backend: m, Log: ui.NewMessageLog(filepath.Join(state, "messages.log")),
		HistoryLines: cfg.UI.HistoryLines, Bell: cfg.UI.Notifications == "bell"}
	if cfg.UI.Timestamps {
		opts.TimestampFormat = cfg.UI.TimestampFormat
	}
	return runChat(m, opts, *line, in, e)
}

// runChat runs the session and the interface together: the session starts
// once the interface listens to it, and stops (ending every OTR
// conversation and closing the stream) when the interface ends. If the
// session stops first (a refused password, say), the interface ends too.
func runChat(m *session.Manager, opts ui.Options, line bool, in io.Reader, e env) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer cancel()
	uiCtx, uiCancel := context.WithCancel(ctx)
	defer uiCancel()
	sessCtx, sessCancel := context.WithCancel(context.Background())
	defer sessCancel()
	sessDone := make(chan error, 1)
	opts.Ready = func() {
		go func() {
			err := m.Run(sessCtx)
			sessDone <- err
			uiCancel()
		}()
	}
	var uiErr error
	if line {
		uiErr = ui.RunLine(uiCtx, opts, in, e.stdout)
	} else {
		uiErr = ui.RunTUI(uiCtx, opts)
	}
	sessCancel()
	var sessErr error
	select {
	case sessErr = <-sessDone:
	case <-time.After(stopTimeout):
		sessErr = errors.New("the session did not stop in time")
	}
	if uiErr != nil {
		return uiErr
	}
	if sessErr != nil && !errors.Is(sessErr, context.Canceled) {
		return sessErr
	}
	return nil
}

func pickAccount(cfg *config.Config, want string) (config.Account, error) {
	for _, a := range cfg.Accounts {
		if want != "" && strings.EqualFold(a.JID, want) || want == "" && !a.Disabled {
			return a, nil
		}
	}
	if want != "" {
		return config.Account{}, fmt.Errorf("no account %s in the configuration", want)
	}
	return config.Account{}, errors.New("the configuration has no enabled [[account]]; add one (see config.example.toml)")
}

// accountPassword finds the XMPP password: in the configuration, in a
// password file, in the key store, or from the user.
func accountPassword(a config.Account, s *keystore.Store, p *prompter) (string, error) {
	switch {
	case a.Password != "":
		return a.Password, nil
	case a.PasswordFile != "":
		b, err := keystore.PassphraseFromFile(a.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		return string(b), nil
	}
	pw, err := s.Password(a.JID)
	if err == nil {
		return pw, nil
	}
	if !errors.Is(err, keystore.ErrNotFound) {
		return "", err
	}
	b, err := p.secret("XMPP password of " + a.JID + ": ")
	return string(b), err
}

func stateDir(e env) (string, error) {
	if d := e.getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "otrchat"), nil
	}
	home := e.getenv("HOME")
	if !filepath.IsAbs(home) {
		return "", errors.New("HOME is not set to an absolute path")
	}
	return filepath.Join(home, ".local", "state", "otrchat"), nil
}

// openLog opens the diagnostic log. Standard error is refused in the TUI,
// which owns the terminal.
func openLog(cfg *config.Config, line bool, e env) (*slog.Logger, func(), error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		return nil, nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch {
	case cfg.Log.File == "":
		return slog.New(slog.DiscardHandler), func() {}, nil
	case cfg.Log.File == "-":
		if !line {
			return slog.New(slog.DiscardHandler), func() {}, nil
		}
		return slog.New(slog.NewTextHandler(e.stderr, opts)), func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Log.File), 0o700); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(cfg.Log.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	return slog.New(slog.NewTextHandler(f, opts)), func() { f.Close() }, nil
}

// sessionConfig turns the configuration of one account into the session
// layer's: the policies through session.ApplyConfig, the connection and the
// key store here.
func sessionConfig(cfg *config.Config, a config.Account, password string, s *keystore.Store, logger *slog.Logger) (session.Config, error) {
	if a.TLS == config.TLSDirect {
		return session.Config{}, errors.New(`tls = "direct" is not supported yet; use "starttls"`)
	}
	sc := session.Config{Password: password, Store: s, Logger: logger}
	if err := session.ApplyConfig(&sc, cfg, a); err != nil {
		return session.Config{}, err
	}
	if a.Server != "" {
		port := a.Port
		if port == 0 {
			port = 5222
		}
		sc.Addr = net.JoinHostPort(a.Server, strconv.Itoa(port))
	}
	if a.CAFile != "" {
		pem, err := os.ReadFile(a.CAFile)
		if err != nil {
			return session.Config{}, fmt.Errorf("ca_file: %w", err)
		}
		sc.RootCAs = x509.NewCertPool()
		if !sc.RootCAs.AppendCertsFromPEM(pem) {
			return session.Config{}, fmt.Errorf("ca_file %s holds no PEM certificate", a.CAFile)
		}
	}
	if a.InsecureSkipVerify {
		sc.TLS = &tls.Config{ServerName: sc.Account.Domainpart(), InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	}
	return sc, nil
}
