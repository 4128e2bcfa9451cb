// Package config reads otrchat's TOML configuration (docs/config.md): accounts and their
// server, port and TLS settings, the resource name, the prekey server (otrv4-prekey-server.md),
// the default and per-contact instance policies (otrv4-over-xmpp.md, "Multicasting/
// synchronization"), the OTR mode (spec/modes/) and version policy, the UI, logging and the key
// store. Decoding is strict: an unknown key, a value of the wrong type or an invalid value is an
// *Error naming the file and line. Defaults follow the XDG base directory specification, and
// Overrides (command-line flags) take precedence over the file.
package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config is the whole configuration file. Every field is documented with its default in
// config.example.toml at the repository root.
type Config struct {
	Resource     string          `toml:"resource"`
	Accounts     []Account       `toml:"account"`
	PrekeyServer PrekeyServer    `toml:"prekey_server"`
	Policy       Policy          `toml:"policy"`
	Contacts     []ContactPolicy `toml:"contact"`
	OTR          OTR             `toml:"otr"`
	UI           UI              `toml:"ui"`
	Log          Log             `toml:"log"`
	Keystore     Keystore        `toml:"keystore"`
}

// Account is one XMPP account.
type Account struct {
	JID                string  `toml:"jid"`
	Password           string  `toml:"password"`
	PasswordFile       string  `toml:"password_file"`
	Server             string  `toml:"server"`
	Port               int     `toml:"port"`
	TLS                TLSMode `toml:"tls"`
	CAFile             string  `toml:"ca_file"`
	InsecureSkipVerify bool    `toml:"insecure_skip_verify"`
	Resource           string  `toml:"resource"`
	PrekeyServer       string  `toml:"prekey_server"`
	Disabled           bool    `toml:"disabled"`
}

// TLSMode is how an account's connection is secured. There is no plaintext mode.
type TLSMode string

// TLS modes.
const (
	TLSStartTLS TLSMode = "starttls" // connect in the clear, then STARTTLS is required
	TLSDirect   TLSMode = "direct"   // TLS from the first byte (XEP-0368)
)

// PrekeyServer configures the use of OTRv4 prekey servers.
type PrekeyServer struct {
	JID             string   `toml:"jid"`
	RefillThreshold int      `toml:"refill_threshold"`
	BatchSize       int      `toml:"batch_size"`
	Timeout         Duration `toml:"timeout"`
}

// InstancePolicy picks which of a contact's devices (instance tags) receives a message.
type InstancePolicy string

// Instance policies (otrv4-over-xmpp.md).
const (
	InstanceBest           InstancePolicy = "BEST"
	InstanceRecent         InstancePolicy = "RECENT"
	InstanceRecentReceived InstancePolicy = "RECENT_RECEIVED"
	InstanceRecentSent     InstancePolicy = "RECENT_SENT"
	InstanceMulticasting   InstancePolicy = "MULTICASTING"
)

// Policy holds the defaults that per-contact policies override.
type Policy struct {
	Instance InstancePolicy `toml:"instance"`
}

// ContactPolicy overrides policies for one contact. Empty fields inherit the defaults.
type ContactPolicy struct {
	JID               string         `toml:"jid"`
	Instance          InstancePolicy `toml:"instance"`
	Mode              Mode           `toml:"mode"`
	RequireEncryption *bool          `toml:"require_encryption"`
}

// Mode is the OTRv4 operating mode (spec/modes/).
type Mode string

// Modes.
const (
	ModeStandalone      Mode = "standalone"
	ModeInteractiveOnly Mode = "interactive-only"
	ModeV3Compatible    Mode = "v3-compatible"
)

// OTR is the protocol policy.
type OTR struct {
	Mode              Mode  `toml:"mode"`
	Versions          []int `toml:"versions"`
	RequireEncryption bool  `toml:"require_encryption"`
	WhitespaceTag     bool  `toml:"whitespace_tag"`
	ErrorStartAKE     bool  `toml:"error_start_ake"`
	// DeviceListAccess is who may read the account's device list (PEP access model).
	DeviceListAccess DeviceListAccess `toml:"device_list_access"`
}

// DeviceListAccess is the XEP-0060 access model of the account's OTRv4 device list
// (docs/device-list.md).
type DeviceListAccess string

// Device-list access models.
const (
	// DeviceListOpen lets anyone read the list, as XEP-0364 requires, so that a first
	// conversation can start before a presence subscription exists (default).
	DeviceListOpen DeviceListAccess = "open"
	// DeviceListPresence lets only contacts with a presence subscription read it: strangers
	// cannot count the account's devices or see when they change.
	DeviceListPresence DeviceListAccess = "presence"
)

// UI configures the terminal interface.
type UI struct {
	Theme            string `toml:"theme"`
	Timestamps       bool   `toml:"timestamps"`
	TimestampFormat  string `toml:"timestamp_format"`
	Notifications    string `toml:"notifications"`
	ShowInstanceTags bool   `toml:"show_instance_tags"`
	HistoryLines     int    `toml:"history_lines"`
}

// Log configures logging.
type Log struct {
	Level string `toml:"level"`
	File  string `toml:"file"`
}

// Keystore says where the key store is and where its passphrase comes from.
type Keystore struct {
	Path           string           `toml:"path"`
	Passphrase     PassphraseSource `toml:"passphrase"`
	PassphraseFile string           `toml:"passphrase_file"`
	PassphraseEnv  string           `toml:"passphrase_env"`
	LockTimeout    Duration         `toml:"lock_timeout"`
}

// PassphraseSource is where the key store passphrase is read from.
type PassphraseSource string

// Passphrase sources.
const (
	PassphraseTerminal PassphraseSource = "terminal"
	PassphraseFile     PassphraseSource = "file"
	PassphraseEnv      PassphraseSource = "env"
)

// Duration is a time.Duration written as a string such as "10s" or "1m30s".
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (want e.g. \"10s\")", b)
	}
	if v <= 0 {
		return fmt.Errorf("duration %q must be positive", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Error is a configuration error at a place in the file. Line is 0 when the place is unknown
// (for example a value given by a flag).
type Error struct {
	File string // may be empty
	Line int
	Key  string // dotted key, e.g. "account[2].tls"; may be empty
	Msg  string
}

func (e *Error) Error() string {
	s := "config: "
	switch {
	case e.File != "" && e.Line > 0:
		s += fmt.Sprintf("%s:%d: ", e.File, e.Line)
	case e.Line > 0:
		s += fmt.Sprintf("line %d: ", e.Line)
	case e.File != "":
		s += e.File + ": "
	}
	if e.Key != "" {
		s += e.Key + ": "
	}
	return s + e.Msg
}

// ErrInvalid is wrapped by every *Error, for callers that only need errors.Is.
var ErrInvalid = errors.New("config: invalid configuration")

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// ContactSettings are the policies in force for one contact: the per-contact overrides of
// [[contact]] over the defaults.
type ContactSettings struct {
	Instance          InstancePolicy
	Mode              Mode
	RequireEncryption bool
}

// For returns the settings for a contact's bare JID (compared case-insensitively).
func (c *Config) For(contact string) ContactSettings {
	s := ContactSettings{Instance: c.Policy.Instance, Mode: c.OTR.Mode, RequireEncryption: c.OTR.RequireEncryption}
	for _, cp := range c.Contacts {
		if !strings.EqualFold(cp.JID, contact) {
			continue
		}
		if cp.Instance != "" {
			s.Instance = cp.Instance
		}
		if cp.Mode != "" {
			s.Mode = cp.Mode
		}
		if cp.RequireEncryption != nil {
			s.RequireEncryption = *cp.RequireEncryption
		}
	}
	return s
}

// ResourceFor is the resource an account binds: its own, else the top-level one.
func (c *Config) ResourceFor(a Account) string {
	if a.Resource != "" {
		return a.Resource
	}
	return c.Resource
}

// PrekeyServerFor is the prekey server JID of an account: its own, else prekey_server.jid;
// "" means it is to be discovered on the account's server.
func (c *Config) PrekeyServerFor(a Account) string {
	if a.PrekeyServer != "" {
		return a.PrekeyServer
	}
	return c.PrekeyServer.JID
}
