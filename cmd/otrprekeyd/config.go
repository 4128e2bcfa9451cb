package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/otrchat/otrchat/prekeyserver"
)

const usage = `usage: otrprekeyd [flags]

Runs the OTRv4 prekey server as an XEP-0114 component.

Flags override the TOML configuration file given with -config, whose keys
are name, secret, secret_file, server, data_dir, log_level, domains and a
[limits] table (max_body_bytes, max_stored_per_device,
max_devices_per_account, device_idle_timeout, max_storage_bytes,
retrieval_burst, retrieval_interval, session_timeout, max_sessions,
max_fragment_bytes, fragment_size).

`

var errHelp = errors.New("help requested")

// options is the configuration file's shape and the flags' target.
type options struct {
	Name       string     `toml:"name"`
	Secret     string     `toml:"secret"`
	SecretFile string     `toml:"secret_file"`
	Server     string     `toml:"server"`
	DataDir    string     `toml:"data_dir"`
	LogLevel   string     `toml:"log_level"`
	Domains    []string   `toml:"domains"`
	Limits     limitsFile `toml:"limits"`

	secret           string
	level            slog.Level
	printFingerprint bool
}

type limitsFile struct {
	MaxBodyBytes         int      `toml:"max_body_bytes"`
	MaxStoredPerDevice   int      `toml:"max_stored_per_device"`
	MaxDevicesPerAccount int      `toml:"max_devices_per_account"`
	DeviceIdleTimeout    duration `toml:"device_idle_timeout"`
	MaxStorageBytes      int64    `toml:"max_storage_bytes"`
	RetrievalBurst       int      `toml:"retrieval_burst"`
	RetrievalInterval    duration `toml:"retrieval_interval"`
	SessionTimeout       duration `toml:"session_timeout"`
	MaxSessions          int      `toml:"max_sessions"`
	MaxFragmentBytes     int      `toml:"max_fragment_bytes"`
	FragmentSize         int      `toml:"fragment_size"`
}

func (l limitsFile) limits() prekeyserver.Limits {
	return prekeyserver.Limits{
		MaxBodyBytes: l.MaxBodyBytes, MaxStoredPerDevice: l.MaxStoredPerDevice,
		MaxDevicesPerAccount: l.MaxDevicesPerAccount, DeviceIdleTimeout: time.Duration(l.DeviceIdleTimeout),
		MaxStorageBytes: l.MaxStorageBytes, RetrievalBurst: l.RetrievalBurst,
		RetrievalInterval: time.Duration(l.RetrievalInterval), SessionTimeout: time.Duration(l.SessionTimeout),
		MaxSessions: l.MaxSessions, MaxFragmentBytes: l.MaxFragmentBytes, FragmentSize: l.FragmentSize,
	}
}

// duration reads a Go duration string ("6s") from TOML.
type duration time.Duration

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = duration(v)
	return err
}

// parseArgs reads the configuration file (if any) and the flags.
func parseArgs(args []string) (*options, error) {
	fs := flag.NewFlagSet("otrprekeyd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	config := fs.String("config", "", "TOML configuration `file`")
	name := fs.String("name", "", "the component's JID, e.g. prekeys.example.org")
	secret := fs.String("secret", "", "the XEP-0114 shared secret (prefer -secret-file)")
	secretFile := fs.String("secret-file", "", "`file` holding the XEP-0114 shared secret")
	server := fs.String("server", "", "the XMPP server's component port, host:port (default 127.0.0.1:5347)")
	dataDir := fs.String("data", "", "data `dir`ectory: storage and the server's long-term key")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default info)")
	fp := fs.Bool("fingerprint", false, "print the server's fingerprint and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(os.Stderr, usage)
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	o := &options{}
	if *config != "" {
		md, err := toml.DecodeFile(*config, o)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", *config, err)
		}
		if un := md.Undecoded(); len(un) > 0 {
			return nil, fmt.Errorf("%s: unknown keys %v", *config, un)
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&o.Name, *name)
	set(&o.Secret, *secret)
	set(&o.SecretFile, *secretFile)
	set(&o.Server, *server)
	set(&o.DataDir, *dataDir)
	set(&o.LogLevel, *logLevel)
	o.printFingerprint = *fp
	if o.Server == "" {
		o.Server = "127.0.0.1:5347"
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if err := o.level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", o.LogLevel, err)
	}
	if o.Name == "" || o.DataDir == "" {
		return nil, errors.New("the component name and the data directory are required (-name, -data)")
	}
	switch {
	case o.Secret != "" && o.SecretFile != "":
		return nil, errors.New("give the secret or a secret file, not both")
	case o.SecretFile != "":
		b, err := os.ReadFile(o.SecretFile)
		if err != nil {
			return nil, err
		}
		o.secret = strings.TrimSpace(string(b))
	default:
		o.secret = o.Secret
	}
	if o.secret == "" && !o.printFingerprint {
		return nil, errors.New("no component secret (-secret-file or -secret)")
	}
	return o, nil
}
