package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/otrchat/otrchat/config"
)

func configCheck(args []string, e env) error {
	c := newFlags("config check", e)
	if err := c.parse(args); err != nil {
		return err
	}
	path := c.cfgPath
	if path == "" {
		p, err := config.DefaultPath(e.getenv)
		if err != nil {
			return err
		}
		path = p
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			path += " (absent: defaults)"
		}
	}
	cfg, err := c.config(e)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "configuration %s is valid\n", path)
	for _, a := range cfg.Accounts {
		state := ""
		if a.Disabled {
			state = " (disabled)"
		}
		fmt.Fprintf(e.stdout, "  account %s%s, tls %s\n", a.JID, state, a.TLS)
	}
	ks := cfg.Keystore.Path
	if _, err := os.Stat(ks); errors.Is(err, os.ErrNotExist) {
		ks += " (not created yet)"
	}
	fmt.Fprintf(e.stdout, "  key store %s, passphrase from %s\n  otr mode %s, versions %v, instance policy %s\n  log %s (%s)\n",
		ks, cfg.Keystore.Passphrase, cfg.OTR.Mode, cfg.OTR.Versions, cfg.Policy.Instance, cfg.Log.File, cfg.Log.Level)
	return nil
}
