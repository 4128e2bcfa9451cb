package config

import "flag"

// Overrides are settings given on the command line; each non-empty field replaces the file's
// value. Register binds them to a FlagSet so commands stay thin.
type Overrides struct {
	Resource       string
	KeystorePath   string
	Passphrase     string // "terminal", "file" or "env"
	PassphraseFile string
	LogLevel       string
	LogFile        string
	Mode           string
	Instance       string
}

// Register defines the override flags on fs.
func (o *Overrides) Register(fs *flag.FlagSet) {
	fs.StringVar(&o.Resource, "resource", "", "XMPP resource name (overrides resource)")
	fs.StringVar(&o.KeystorePath, "keystore", "", "key store file (overrides keystore.path)")
	fs.StringVar(&o.Passphrase, "passphrase", "", `passphrase source: "terminal", "file" or "env" (overrides keystore.passphrase)`)
	fs.StringVar(&o.PassphraseFile, "passphrase-file", "", `passphrase file; implies -passphrase=file`)
	fs.StringVar(&o.LogLevel, "log-level", "", "debug, info, warn or error (overrides log.level)")
	fs.StringVar(&o.LogFile, "log-file", "", `log file, "-" for standard error (overrides log.file)`)
	fs.StringVar(&o.Mode, "mode", "", "OTR mode: standalone, interactive-only or v3-compatible (overrides otr.mode)")
	fs.StringVar(&o.Instance, "instance-policy", "", "default instance policy (overrides policy.instance)")
}

// Apply sets the non-empty overrides on c and validates the result; errors name the key.
// env expands "~/" (nil: the process environment).
func (c *Config) Apply(o Overrides, env Env) error {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Resource, o.Resource)
	set(&c.Keystore.Path, o.KeystorePath)
	set((*string)(&c.Keystore.Passphrase), o.Passphrase)
	if o.PassphraseFile != "" {
		c.Keystore.PassphraseFile = o.PassphraseFile
		if o.Passphrase == "" {
			c.Keystore.Passphrase = PassphraseFile
		}
	}
	set(&c.Log.Level, o.LogLevel)
	set(&c.Log.File, o.LogFile)
	set((*string)(&c.OTR.Mode), o.Mode)
	set((*string)(&c.Policy.Instance), o.Instance)
	c.normalize(env)
	err := c.validate("command line", &lineIndex{})
	return err
}
