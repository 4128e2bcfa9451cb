package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/config"
	"github.com/otrchat/otrchat/keystore"
)

// prompter asks the user questions on the terminal, or reads the answers
// as lines from standard input when it is not a terminal (scripts, tests).
type prompter struct {
	in  *bufio.Reader
	fd  int
	tty bool
	w   io.Writer
}

func newPrompter(e env, in *bufio.Reader) *prompter {
	fd := int(e.stdin.Fd())
	return &prompter{in: in, fd: fd, tty: term.IsTerminal(fd), w: e.stderr}
}

var errNoAnswer = errors.New("no answer (end of input)")

func (p *prompter) readLine() (string, error) {
	s, err := p.in.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		if err == io.EOF {
			return "", errNoAnswer
		}
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// ask asks a question with a default answer (shown in brackets).
func (p *prompter) ask(question, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(p.w, "%s [%s]: ", question, def)
	} else {
		fmt.Fprintf(p.w, "%s: ", question)
	}
	s, err := p.readLine()
	if err != nil {
		return "", err
	}
	if s = strings.TrimSpace(s); s == "" {
		return def, nil
	}
	return s, nil
}

// secret reads a secret without echo on a terminal.
func (p *prompter) secret(prompt string) ([]byte, error) {
	fmt.Fprint(p.w, prompt)
	if !p.tty {
		s, err := p.readLine()
		fmt.Fprintln(p.w)
		return []byte(s), err
	}
	b, err := term.ReadPassword(p.fd)
	fmt.Fprintln(p.w)
	return b, err
}

// newSecret reads a secret twice; the two must match and not be empty.
func (p *prompter) newSecret(what string) ([]byte, error) {
	for range 3 {
		a, err := p.secret(what + ": ")
		if err != nil {
			return nil, err
		}
		if len(a) == 0 {
			fmt.Fprintln(p.w, "It must not be empty.")
			continue
		}
		b, err := p.secret(what + " (again): ")
		if err != nil {
			return nil, err
		}
		if string(a) == string(b) {
			clear(b)
			return a, nil
		}
		fmt.Fprintln(p.w, "The two differ; once more.")
	}
	return nil, keystore.ErrMismatch
}

// setupAnswers is what first-run setup learned.
type setupAnswers struct {
	account     jid.JID
	server      string
	port        int
	caFile      string
	label       string
	password    string
	keepInStore bool
}

// firstRun asks for the account, server, password, key store passphrase and
// device label, writes the configuration file at path, creates (or opens)
// the key store with a device for the account, and returns the
// configuration and the open store.
func firstRun(c *common, e env, p *prompter, path string) (*config.Config, *keystore.Store, string, error) {
	fmt.Fprintf(p.w, "Welcome to otrchat. There is no configuration yet (%s); a few questions set it up.\n", path)
	var a setupAnswers
	for {
		s, err := p.ask("Your XMPP account (user@server)", "")
		if err != nil {
			return nil, nil, "", err
		}
		j, err := jid.Parse(s)
		if err == nil && j.Localpart() != "" && j.Resourcepart() == "" {
			a.account = j
			break
		}
		fmt.Fprintf(p.w, "%q is not an account such as alice@example.org.\n", s)
	}
	for {
		s, err := p.ask("Server to connect to (host or host:port; empty: found through DNS)", "")
		if err != nil {
			return nil, nil, "", err
		}
		if s == "" {
			break
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			host, port = s, ""
		}
		n := 0
		if port != "" {
			if n, err = strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				fmt.Fprintf(p.w, "%q is not a port.\n", port)
				continue
			}
		}
		a.server, a.port = host, n
		break
	}
	if a.server != "" && isLoopbackHost(a.server) {
		s, err := p.ask("CA certificate (PEM file) of that local server (empty: the system's)", "")
		if err != nil {
			return nil, nil, "", err
		}
		if s != "" {
			abs, err := filepath.Abs(s)
			if err != nil {
				return nil, nil, "", err
			}
			if _, err := os.Stat(abs); err != nil {
				return nil, nil, "", fmt.Errorf("CA certificate: %w", err)
			}
			a.caFile = abs
		}
	}
	pw, err := p.secret("XMPP password of " + a.account.String() + ": ")
	if err != nil {
		return nil, nil, "", err
	}
	a.password = string(pw)
	keep, err := p.ask("Keep the password in the encrypted key store? (otherwise you are asked each time) [Y/n]", "")
	if err != nil {
		return nil, nil, "", err
	}
	a.keepInStore = !strings.HasPrefix(strings.ToLower(keep), "n")
	host, _ := os.Hostname()
	if host == "" || !validLabel(host) {
		host = "otrchat"
	}
	for {
		l, err := p.ask("A name for this device, shown to your contacts", host)
		if err != nil {
			return nil, nil, "", err
		}
		if validLabel(l) {
			a.label = l
			break
		}
		fmt.Fprintln(p.w, "Use 1 to 64 characters without control characters.")
	}

	if err := writeConfig(path, c, a); err != nil {
		return nil, nil, "", err
	}
	c.cfgPath = path
	cfg, err := c.config(e)
	if err != nil {
		return nil, nil, "", fmt.Errorf("the new configuration does not load: %w", err)
	}
	var s *keystore.Store
	if _, err := os.Stat(cfg.Keystore.Path); err == nil {
		fmt.Fprintf(p.w, "Opening the existing key store %s.\n", cfg.Keystore.Path)
		pass, err := storePassphrase(cfg, e, p, false)
		if err != nil {
			return nil, nil, "", err
		}
		s, err = keystore.Open(cfg.Keystore.Path, pass, storeOptions(cfg))
		clear(pass)
		if err != nil {
			return nil, nil, "", err
		}
	} else {
		fmt.Fprintf(p.w, "Your keys are kept in %s, encrypted with a passphrase of your choice.\n", cfg.Keystore.Path)
		pass, err := storePassphrase(cfg, e, p, true)
		if err != nil {
			return nil, nil, "", err
		}
		s, err = keystore.Create(cfg.Keystore.Path, pass, storeOptions(cfg))
		clear(pass)
		if err != nil {
			return nil, nil, "", err
		}
	}
	account := a.account.Bare().String()
	if devs, err := s.Devices(account); err != nil && !errors.Is(err, keystore.ErrNotFound) || len(devs) == 0 {
		tag, fp, err := createDevice(s, cfg, account, false, e)
		if err != nil {
			s.Close()
			return nil, nil, "", err
		}
		fmt.Fprintf(p.w, "Created this device's OTRv4 keys: instance tag %08x\n  fingerprint %s\n", tag, fp)
	}
	if a.keepInStore {
		if err := s.SetPassword(account, a.password); err != nil {
			s.Close()
			return nil, nil, "", err
		}
	}
	fmt.Fprintf(p.w, "Configuration written to %s. Signing in…\n", path)
	return cfg, s, a.password, nil
}

func validLabel(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= 64 && utf8.ValidString(s) && !strings.ContainsAny(s, "\x00\r\n\t")
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// storePassphrase reads the key store passphrase from the configured
// source, or from the user (twice for a new store).
func storePassphrase(cfg *config.Config, e env, p *prompter, create bool) ([]byte, error) {
	if cfg.Keystore.Passphrase != config.PassphraseTerminal {
		return passphrase(cfg, e, "", false)
	}
	if create {
		return p.newSecret("New key store passphrase")
	}
	return p.secret("Key store passphrase: ")
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// writeConfig writes the first-run configuration (mode 0600, its directory
// 0700), keeping the key store settings given on the command line.
func writeConfig(path string, c *common, a setupAnswers) error {
	var b strings.Builder
	b.WriteString("# Written by otrchat's first-run setup. config.example.toml in the source documents\n# every option.\n\n")
	fmt.Fprintf(&b, "[[account]]\njid = %s\n", tomlString(a.account.Bare().String()))
	if a.server != "" {
		fmt.Fprintf(&b, "server = %s\n", tomlString(a.server))
	}
	if a.port != 0 {
		fmt.Fprintf(&b, "port = %d\n", a.port)
	}
	if a.caFile != "" {
		fmt.Fprintf(&b, "ca_file = %s\n", tomlString(a.caFile))
	}
	fmt.Fprintf(&b, "# The device's label in the device list.\nresource = %s\n", tomlString(a.label))
	o := c.overrides
	if o.KeystorePath != "" || o.Passphrase != "" || o.PassphraseFile != "" {
		b.WriteString("\n[keystore]\n")
		if o.KeystorePath != "" {
			abs, err := filepath.Abs(o.KeystorePath)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "path = %s\n", tomlString(abs))
		}
		if o.Passphrase != "" {
			fmt.Fprintf(&b, "passphrase = %s\n", tomlString(o.Passphrase))
		}
		if o.PassphraseFile != "" {
			abs, err := filepath.Abs(o.PassphraseFile)
			if err != nil {
				return err
			}
			if o.Passphrase == "" {
				b.WriteString("passphrase = \"file\"\n")
			}
			fmt.Fprintf(&b, "passphrase_file = %s\n", tomlString(abs))
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing the configuration: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
