package session

import (
	"os"
	"testing"

	"github.com/otrchat/otrchat/config"
	"github.com/otrchat/otrchat/instancetag"
)

func TestApplyConfig(t *testing.T) {
	src, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "HOME" {
			return "/home/test"
		}
		return ""
	}
	cfg, err := config.Parse("config.example.toml", src, env)
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := ApplyConfig(&c, cfg, cfg.Accounts[0]); err != nil {
		t.Fatal(err)
	}
	if c.Account.String() != "alice@example.org" || c.Resource != "laptop" || c.Label != "laptop" {
		t.Errorf("account %v resource %q label %q", c.Account, c.Resource, c.Label)
	}
	if c.V3Compatible || c.DeviceListAccess != "open" {
		t.Errorf("v3 %v, device list access %q", c.V3Compatible, c.DeviceListAccess)
	}
	if c.Policy != instancetag.Best || c.Encryption != EncryptAlways || !c.Offline || !c.ErrorStartAKE {
		t.Errorf("policies %+v", c)
	}
	if c.PrekeyServer.String() != "prekeys.example.org" || c.PrekeyThreshold != 20 || c.PrekeyTarget != 70 {
		t.Errorf("prekey server %v threshold %d target %d", c.PrekeyServer, c.PrekeyThreshold, c.PrekeyTarget)
	}
	bob := c.Contacts["bob@example.net"]
	if bob.Policy != instancetag.Multicasting || bob.Encryption != EncryptAlways || !bob.InteractiveOnly {
		t.Errorf("bob's settings %+v", bob)
	}
	cfg.OTR.RequireEncryption, cfg.OTR.WhitespaceTag = false, true
	if err := ApplyConfig(&c, cfg, cfg.Accounts[1]); err != nil {
		t.Fatal(err)
	}
	if c.Encryption != EncryptOpportunistic || c.Account.String() != "alice@work.example.com" {
		t.Errorf("second account: %+v", c)
	}
}
