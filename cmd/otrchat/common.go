package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/otrchat/otrchat/config"
	"github.com/otrchat/otrchat/keystore"
)

// common are the flags every command takes: the configuration file and its overrides.
type common struct {
	fs        *flag.FlagSet
	cfgPath   string
	overrides config.Overrides
}

func newFlags(name string, e env) *common {
	c := &common{fs: flag.NewFlagSet("otrchat "+name, flag.ContinueOnError)}
	c.fs.SetOutput(e.stderr)
	c.fs.StringVar(&c.cfgPath, "config", "", "configuration file (default $XDG_CONFIG_HOME/otrchat/config.toml)")
	c.overrides.Register(c.fs)
	return c
}

func (c *common) parse(args []string) error {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if c.fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, c.fs.Args())
	}
	return nil
}

func (c *common) config(e env) (*config.Config, error) {
	cfg, err := config.Load(c.cfgPath, e.getenv)
	if err != nil {
		return nil, err
	}
	return cfg, cfg.Apply(c.overrides, e.getenv)
}

func storeOptions(cfg *config.Config) *keystore.Options {
	return &keystore.Options{LockTimeout: cfg.Keystore.LockTimeout.Duration}
}

// passphrase reads the key store passphrase from the configured source.
func passphrase(cfg *config.Config, e env, prompt string, confirm bool) ([]byte, error) {
	switch cfg.Keystore.Passphrase {
	case config.PassphraseFile:
		return keystore.PassphraseFromFile(cfg.Keystore.PassphraseFile)
	case config.PassphraseEnv:
		v := e.getenv(cfg.Keystore.PassphraseEnv)
		if v == "" {
			return nil, fmt.Errorf("%w: environment variable %s is unset or empty", keystore.ErrEmptyPassphrase, cfg.Keystore.PassphraseEnv)
		}
		return []byte(v), nil
	}
	return keystore.PassphraseFromTerminal(int(e.stdin.Fd()), e.stderr, prompt, confirm)
}

// openStore unlocks the configured key store.
// open reads the configuration and opens the key store it names, for the
// commands that work on an existing store.
func (c *common) open(e env) (*keystore.Store, error) {
	cfg, err := c.config(e)
	if err != nil {
		return nil, err
	}
	return openStore(cfg, e)
}

func openStore(cfg *config.Config, e env) (*keystore.Store, error) {
	if _, err := os.Stat(cfg.Keystore.Path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no key store at %s; create keys first with \"otrchat keys create -account JID\"", cfg.Keystore.Path)
	}
	p, err := passphrase(cfg, e, "Key store passphrase: ", false)
	if err != nil {
		return nil, err
	}
	defer clear(p)
	return keystore.Open(cfg.Keystore.Path, p, storeOptions(cfg))
}

// parseTag reads an instance tag as printed (hexadecimal, with or without 0x).
func parseTag(s string) (uint32, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 32)
	if err != nil || v < keystore.MinInstanceTag {
		return 0, fmt.Errorf("%w: %q is not an instance tag (hexadecimal, at least 100)", errUsage, s)
	}
	return uint32(v), nil
}

// accounts returns the one account asked for, or all accounts in the store.
func accounts(s *keystore.Store, only string) ([]string, error) {
	if only != "" {
		return []string{only}, nil
	}
	return s.Accounts()
}
