package config_test

import (
	"fmt"

	"github.com/otrchat/otrchat/config"
)

func ExampleParse() {
	env := func(k string) string { return map[string]string{"HOME": "/home/alice"}[k] }
	src := []byte(`
[[account]]
jid = "alice@example.org"
tls = "direct"

[policy]
instance = "RECENT"
`)
	c, err := config.Parse("config.toml", src, env)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Accounts[0].JID, c.Accounts[0].TLS, c.Policy.Instance, c.Keystore.Path)

	_, err = config.Parse("config.toml", []byte("[policy]\ninstance = \"WORST\"\n"), env)
	fmt.Println(err)
	// Output:
	// alice@example.org direct RECENT /home/alice/.local/share/otrchat/keys.db
	// config: config.toml:2: policy.instance: "WORST" is not one of "BEST", "RECENT", "RECENT_RECEIVED", "RECENT_SENT", "MULTICASTING"
}
