package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// Defaults, also documented in config.example.toml.
const (
	DefaultResource        = "otrchat"
	DefaultRefillThreshold = 20
	DefaultBatchSize       = 50
	DefaultPrekeyTimeout   = 30 * time.Second
	DefaultLockTimeout     = 2 * time.Second
	DefaultPassphraseEnv   = "OTRCHAT_PASSPHRASE"
	DefaultHistoryLines    = 1000
	DefaultTimestampFormat = "15:04"
	maxFileSize            = 1 << 20
)

// Env is how the package reads the environment; tests replace it.
type Env func(string) string

// XDG locations (XDG Base Directory Specification 0.8). A relative value of an XDG variable is
// ignored, as the specification requires.
func xdgDir(env Env, variable, fallback string) (string, error) {
	if env == nil {
		env = os.Getenv
	}
	if d := env(variable); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "otrchat"), nil
	}
	home := env("HOME")
	if home == "" || !filepath.IsAbs(home) {
		return "", &Error{Msg: fmt.Sprintf("neither %s nor HOME is set to an absolute path", variable)}
	}
	return filepath.Join(home, fallback, "otrchat"), nil
}

// DefaultPath is $XDG_CONFIG_HOME/otrchat/config.toml (default ~/.config/otrchat/config.toml).
func DefaultPath(env Env) (string, error) {
	d, err := xdgDir(env, "XDG_CONFIG_HOME", ".config")
	return filepath.Join(d, "config.toml"), err
}

// Defaults returns the configuration used for everything the file leaves out: the key store
// at $XDG_DATA_HOME/otrchat/keys.db and the log at $XDG_STATE_HOME/otrchat/otrchat.log.
func Defaults(env Env) (*Config, error) {
	data, err := xdgDir(env, "XDG_DATA_HOME", filepath.Join(".local", "share"))
	if err != nil {
		return nil, err
	}
	state, err := xdgDir(env, "XDG_STATE_HOME", filepath.Join(".local", "state"))
	if err != nil {
		return nil, err
	}
	return &Config{
		Resource: DefaultResource,
		PrekeyServer: PrekeyServer{RefillThreshold: DefaultRefillThreshold, BatchSize: DefaultBatchSize,
			Timeout: Duration{DefaultPrekeyTimeout}},
		Policy: Policy{Instance: InstanceBest},
		OTR: OTR{Mode: ModeStandalone, Versions: []int{4}, RequireEncryption: true, ErrorStartAKE: true,
			DeviceListAccess: DeviceListOpen},
		UI: UI{Theme: "dark", Timestamps: true, TimestampFormat: DefaultTimestampFormat, Notifications: "bell",
			HistoryLines: DefaultHistoryLines},
		Log: Log{Level: "info", File: filepath.Join(state, "otrchat.log")},
		Keystore: Keystore{Path: filepath.Join(data, "keys.db"), Passphrase: PassphraseTerminal,
			PassphraseEnv: DefaultPassphraseEnv, LockTimeout: Duration{DefaultLockTimeout}},
	}, nil
}

// Load reads the file at path over Defaults(env). A missing file is not an error when
// path is the default location (the defaults apply); an explicitly named file must exist.
func Load(path string, env Env) (*Config, error) {
	explicit := path != ""
	if !explicit {
		p, err := DefaultPath(env)
		if err != nil {
			return nil, err
		}
		path = p
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		c, err := Defaults(env)
		if err != nil {
			return nil, err
		}
		c.normalize(env)
		return c, c.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if len(src) > maxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("file larger than %d bytes", maxFileSize)}
	}
	return Parse(path, src, env)
}

// Parse decodes src (named name in errors) over Defaults(env) and validates the result.
func Parse(name string, src []byte, env Env) (*Config, error) {
	c, _, err := parse(name, src, env)
	return c, err
}

var tomlLine = regexp.MustCompile(`^toml: line (\d+)`)

func parse(name string, src []byte, env Env) (*Config, toml.MetaData, error) {
	c, err := Defaults(env)
	if err != nil {
		return nil, toml.MetaData{}, err
	}
	if !utf8.Valid(src) {
		return nil, toml.MetaData{}, &Error{File: name, Msg: "file is not UTF-8"}
	}
	ix := indexLines(string(src))
	var generic map[string]any
	if _, err := toml.Decode(string(src), &generic); err == nil {
		if key, msg := typeCheck(generic, reflect.TypeOf(*c), ""); msg != "" {
			return nil, toml.MetaData{}, &Error{File: name, Line: ix.line(key), Key: key, Msg: msg}
		}
	}
	md, err := toml.Decode(string(src), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, md, &Error{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
		}
		e := &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
		if m := tomlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = strings.TrimPrefix(err.Error(), m[0]+" ")
		}
		return nil, md, e
	}
	var errs []error
	// MetaData.Undecoded names keys of arrays of tables without the element's index
	// ("account.portt"); unknownKeys walks the document itself and keeps the index.
	unknown := unknownKeys(generic, reflect.TypeOf(*c), "")
	if len(unknown) == 0 {
		for _, k := range md.Undecoded() {
			unknown = append(unknown, k.String())
		}
	}
	slices.SortStableFunc(unknown, func(a, b string) int { return ix.line(a) - ix.line(b) })
	for _, ks := range unknown {
		errs = append(errs, &Error{File: name, Line: ix.line(ks), Key: ks, Msg: "unknown key"})
	}
	if len(errs) > 0 {
		return nil, md, errors.Join(errs...)
	}
	c.normalize(env)
	if err := c.validate(name, ix); err != nil {
		return nil, md, err
	}
	return c, md, nil
}

// normalize fills per-account defaults and expands "~/" in paths.
func (c *Config) normalize(env Env) {
	if env == nil {
		env = os.Getenv
	}
	home := env("HOME")
	exp := func(p *string) {
		if home != "" && strings.HasPrefix(*p, "~/") {
			*p = filepath.Join(home, (*p)[2:])
		}
	}
	for i := range c.Accounts {
		a := &c.Accounts[i]
		if a.TLS == "" {
			a.TLS = TLSStartTLS
		}
		exp(&a.PasswordFile)
		exp(&a.CAFile)
	}
	exp(&c.Log.File)
	exp(&c.Keystore.Path)
	exp(&c.Keystore.PassphraseFile)
}

// Validate checks a configuration built without a file (defaults plus overrides).
func (c *Config) Validate() error { return c.validate("", &lineIndex{}) }

func (c *Config) validate(file string, ix *lineIndex) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: ix.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if err := checkResource(c.Resource); err != "" {
		bad("resource", "%s", err)
	}
	seen := map[string]bool{}
	for i, a := range c.Accounts {
		p := fmt.Sprintf("account[%d]", i)
		switch {
		case a.JID == "":
			bad(p+".jid", "missing (every [[account]] needs jid)")
		case !isBareJID(a.JID):
			bad(p+".jid", "%q is not a bare JID (user@domain)", a.JID)
		case seen[strings.ToLower(a.JID)]:
			bad(p+".jid", "account %q is listed twice", a.JID)
		}
		seen[strings.ToLower(a.JID)] = true
		if a.Password != "" && a.PasswordFile != "" {
			bad(p+".password_file", "set either password or password_file, not both")
		}
		if a.Port < 0 || a.Port > 65535 {
			bad(p+".port", "port %d out of range 1..65535 (0: default)", a.Port)
		}
		if a.TLS != TLSStartTLS && a.TLS != TLSDirect {
			bad(p+".tls", "%q is not one of \"starttls\", \"direct\"", a.TLS)
		}
		if a.InsecureSkipVerify && !isLoopback(a.Server) {
			bad(p+".insecure_skip_verify", "allowed only with a loopback server (127.0.0.1, ::1, localhost), not %q", a.Server)
		}
		if a.Server != "" && strings.ContainsAny(a.Server, " /@") {
			bad(p+".server", "%q is not a host name or address", a.Server)
		}
		if a.Resource != "" {
			if err := checkResource(a.Resource); err != "" {
				bad(p+".resource", "%s", err)
			}
		}
		if a.PrekeyServer != "" && !isDomainJID(a.PrekeyServer) {
			bad(p+".prekey_server", "%q is not a server JID", a.PrekeyServer)
		}
	}
	if c.PrekeyServer.JID != "" && !isDomainJID(c.PrekeyServer.JID) {
		bad("prekey_server.jid", "%q is not a server JID", c.PrekeyServer.JID)
	}
	ps := c.PrekeyServer
	batchOK := ps.BatchSize >= 1 && ps.BatchSize <= 255
	if !batchOK {
		bad("prekey_server.batch_size", "%d out of range 1..255", ps.BatchSize)
	}
	switch {
	case ps.RefillThreshold < 0:
		bad("prekey_server.refill_threshold", "%d is negative", ps.RefillThreshold)
	case batchOK && ps.RefillThreshold >= ps.BatchSize*10:
		// The two keys are checked against each other: name the one the file sets (the
		// threshold when both are set), never a key the user did not write.
		if ix.has("prekey_server.refill_threshold") || !ix.has("prekey_server.batch_size") {
			bad("prekey_server.refill_threshold", "%d out of range 0..%d (less than 10 × batch_size %d)",
				ps.RefillThreshold, ps.BatchSize*10-1, ps.BatchSize)
		} else {
			bad("prekey_server.batch_size", "%d too small for refill_threshold %d (the default; batch_size must exceed refill_threshold / 10)",
				ps.BatchSize, ps.RefillThreshold)
		}
	}
	if !validInstance(c.Policy.Instance) {
		bad("policy.instance", "%q is not one of %s", c.Policy.Instance, instanceNames)
	}
	seenC := map[string]bool{}
	for i, cp := range c.Contacts {
		p := fmt.Sprintf("contact[%d]", i)
		switch {
		case !isBareJID(cp.JID):
			bad(p+".jid", "%q is not a bare JID", cp.JID)
		case seenC[strings.ToLower(cp.JID)]:
			bad(p+".jid", "contact %q is listed twice", cp.JID)
		}
		seenC[strings.ToLower(cp.JID)] = true
		if cp.Instance != "" && !validInstance(cp.Instance) {
			bad(p+".instance", "%q is not one of %s", cp.Instance, instanceNames)
		}
		if cp.Mode != "" && !validMode(cp.Mode) {
			bad(p+".mode", "%q is not one of %s", cp.Mode, modeNames)
		}
	}
	if !validMode(c.OTR.Mode) {
		bad("otr.mode", "%q is not one of %s", c.OTR.Mode, modeNames)
	}
	if len(c.OTR.Versions) == 0 || !slices.Contains(c.OTR.Versions, 4) {
		bad("otr.versions", "must include 4")
	}
	for _, v := range c.OTR.Versions {
		switch {
		case v == 3 && c.OTR.Mode != ModeV3Compatible:
			bad("otr.versions", "version 3 is allowed only in mode \"v3-compatible\"")
		case v != 3 && v != 4:
			bad("otr.versions", "unknown protocol version %d (allowed: 3, 4)", v)
		}
	}
	if c.OTR.DeviceListAccess != DeviceListOpen && c.OTR.DeviceListAccess != DeviceListPresence {
		bad("otr.device_list_access", "%q is not one of \"open\", \"presence\"", c.OTR.DeviceListAccess)
	}
	if !slices.Contains([]string{"dark", "light", "mono"}, c.UI.Theme) {
		bad("ui.theme", "%q is not one of \"dark\", \"light\", \"mono\"", c.UI.Theme)
	}
	if !slices.Contains([]string{"none", "bell"}, c.UI.Notifications) {
		bad("ui.notifications", "%q is not one of \"none\", \"bell\"", c.UI.Notifications)
	}
	if c.UI.TimestampFormat == "" {
		bad("ui.timestamp_format", "empty (a Go time layout such as \"15:04\")")
	}
	if c.UI.HistoryLines < 0 || c.UI.HistoryLines > 1_000_000 {
		bad("ui.history_lines", "%d out of range 0..1000000", c.UI.HistoryLines)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "%q is not one of \"debug\", \"info\", \"warn\", \"error\"", c.Log.Level)
	}
	if c.Log.File != "" && c.Log.File != "-" && !filepath.IsAbs(c.Log.File) {
		bad("log.file", "%q must be an absolute path (or \"-\" for standard error, \"\" for none)", c.Log.File)
	}
	if c.Keystore.Path == "" || !filepath.IsAbs(c.Keystore.Path) {
		bad("keystore.path", "%q must be an absolute path", c.Keystore.Path)
	}
	switch c.Keystore.Passphrase {
	case PassphraseTerminal:
	case PassphraseFile:
		if c.Keystore.PassphraseFile == "" {
			bad("keystore.passphrase_file", "required when passphrase = \"file\"")
		}
	case PassphraseEnv:
		if c.Keystore.PassphraseEnv == "" {
			bad("keystore.passphrase_env", "required when passphrase = \"env\"")
		}
	default:
		bad("keystore.passphrase", "%q is not one of \"terminal\", \"file\", \"env\"", c.Keystore.Passphrase)
	}
	return errors.Join(errs...)
}

const instanceNames = `"BEST", "RECENT", "RECENT_RECEIVED", "RECENT_SENT", "MULTICASTING"`
const modeNames = `"standalone", "interactive-only", "v3-compatible"`

func validInstance(p InstancePolicy) bool {
	switch p {
	case InstanceBest, InstanceRecent, InstanceRecentReceived, InstanceRecentSent, InstanceMulticasting:
		return true
	}
	return false
}

func validMode(m Mode) bool {
	return m == ModeStandalone || m == ModeInteractiveOnly || m == ModeV3Compatible
}

// isBareJID is a syntactic check (localpart@domainpart, no resource); full RFC 7622
// preparation is the XMPP library's job when connecting.
func isBareJID(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && strings.Count(s, "@") == 1 && !strings.ContainsAny(s, "/ \t\r\n") &&
		len(s) <= 2047 && utf8.ValidString(s)
}

func isDomainJID(s string) bool {
	return s != "" && len(s) <= 1023 && !strings.ContainsAny(s, "@/ \t\r\n") && utf8.ValidString(s)
}

func checkResource(r string) string {
	switch {
	case r == "":
		return "empty"
	case len(r) > 1023:
		return "longer than 1023 bytes"
	case !utf8.ValidString(r):
		return "not UTF-8"
	case strings.ContainsAny(r, "\x00\r\n\t"):
		return "contains a control character"
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
