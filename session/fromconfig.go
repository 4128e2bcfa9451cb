package session

import (
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/config"
	"github.com/otrchat/otrchat/instancetag"
)

// encryptionOf maps the configuration's protocol policy to an encryption
// policy: require_encryption is "always"; otherwise whitespace_tag is
// "opportunistic", and neither is "manual".
func encryptionOf(require, whitespace bool) EncryptionPolicy {
	switch {
	case require:
		return EncryptAlways
	case whitespace:
		return EncryptOpportunistic
	}
	return EncryptManual
}

// ApplyConfig fills the policies of c from the configuration file's
// [policy], [otr], [prekey_server] and [[contact]] tables and from the
// account's own settings. Connection settings (password, address, TLS)
// and the key store are left to the caller.
func ApplyConfig(c *Config, cfg *config.Config, a config.Account) error {
	account, err := jid.Parse(a.JID)
	if err != nil {
		return err
	}
	c.Account = account.Bare()
	c.Resource = cfg.ResourceFor(a)
	if c.Label == "" {
		c.Label = c.Resource
	}
	c.Policy = instancetag.Policy(cfg.Policy.Instance)
	c.Encryption = encryptionOf(cfg.OTR.RequireEncryption, cfg.OTR.WhitespaceTag)
	c.Offline = cfg.OTR.Mode != config.ModeInteractiveOnly
	c.ErrorStartAKE = cfg.OTR.ErrorStartAKE
	c.V3Compatible = cfg.OTR.Mode == config.ModeV3Compatible
	c.DeviceListAccess = string(cfg.OTR.DeviceListAccess)
	if s := cfg.PrekeyServerFor(a); s != "" {
		if c.PrekeyServer, err = jid.Parse(s); err != nil {
			return err
		}
	}
	if cfg.PrekeyServer.RefillThreshold > 0 {
		c.PrekeyThreshold = cfg.PrekeyServer.RefillThreshold
		c.PrekeyTarget = cfg.PrekeyServer.RefillThreshold + max(cfg.PrekeyServer.BatchSize, 1)
	}
	if cfg.PrekeyServer.Timeout.Duration > 0 {
		c.RequestTimeout = cfg.PrekeyServer.Timeout.Duration
	}
	c.Contacts = map[string]ContactSettings{}
	for _, cp := range cfg.Contacts {
		j, err := jid.Parse(cp.JID)
		if err != nil {
			return err
		}
		st := cfg.For(cp.JID)
		cs := ContactSettings{Policy: instancetag.Policy(st.Instance)}
		if cp.RequireEncryption != nil {
			cs.Encryption = encryptionOf(*cp.RequireEncryption, cfg.OTR.WhitespaceTag)
		}
		cs.InteractiveOnly = st.Mode == config.ModeInteractiveOnly
		c.Contacts[strings.ToLower(j.Bare().String())] = cs
	}
	return nil
}
