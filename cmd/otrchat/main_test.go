package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
)

type harness struct {
	t    *testing.T
	home string
	vars map[string]string
}

func newHarness(t *testing.T) *harness {
	home := t.TempDir()
	return &harness{t: t, home: home, vars: map[string]string{"HOME": home}}
}

func (h *harness) run(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(args, env{stdin: os.Stdin, stdout: &o, stderr: &e, getenv: func(k string) string { return h.vars[k] }})
	return o.String(), e.String(), code
}

// ok runs a command that must succeed and returns its standard output.
func (h *harness) ok(args ...string) string {
	h.t.Helper()
	o, e, code := h.run(args...)
	if code != 0 {
		h.t.Fatalf("otrchat %s: exit %d\n%s", strings.Join(args, " "), code, e)
	}
	return o
}

// fail runs a command that must fail with code and print want on standard error.
func (h *harness) fail(code int, want string, args ...string) {
	h.t.Helper()
	_, e, c := h.run(args...)
	if c != code || !strings.Contains(e, want) {
		h.t.Fatalf("otrchat %s: exit %d, stderr %q; want exit %d and %q", strings.Join(args, " "), c, e, code, want)
	}
}

func (h *harness) write(name, content string, mode os.FileMode) string {
	p := filepath.Join(h.home, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func TestConfigCheck(t *testing.T) {
	h := newHarness(t)
	good := h.write("good.toml", "[[account]]\njid = \"alice@localhost\"\nserver = \"127.0.0.1\"\ninsecure_skip_verify = true\n", 0o600)
	out := h.ok("config", "check", "-config", good)
	if !strings.Contains(out, "is valid") || !strings.Contains(out, "account alice@localhost, tls starttls") ||
		!strings.Contains(out, filepath.Join(h.home, ".local/share/otrchat/keys.db")+" (not created yet)") {
		t.Fatalf("output:\n%s", out)
	}
	bad := h.write("bad.toml", "resource = \"r\"\n\n[ui]\ncolour = \"red\"\n", 0o600)
	h.fail(1, "bad.toml:4: ui.colour: unknown key", "config", "check", "-config", bad)
	h.fail(1, "log.level", "config", "check", "-config", good, "-log-level", "chatty")
	h.fail(1, "no such file", "config", "check", "-config", filepath.Join(h.home, "none.toml"))
	// Without -config the XDG default applies; a missing default file means defaults.
	if out := h.ok("config", "check"); !strings.Contains(out, "(absent: defaults)") {
		t.Fatalf("output:\n%s", out)
	}
	h.fail(2, "unknown command", "config", "frobnicate")
	h.fail(2, "unexpected arguments", "config", "check", "extra")
}

var (
	createdRE = regexp.MustCompile(`created device ([0-9a-f]{8}) of (\S+)\nfingerprint ((?:[0-9a-f]{8} ){13}[0-9a-f]{8})\n`)
)

func TestKeysAndDevices(t *testing.T) {
	h := newHarness(t)
	h.vars["OTRCHAT_PASSPHRASE"] = "secret one"
	pe := []string{"-passphrase", "env"}
	with := func(args ...string) []string { return append(args, pe...) }

	out := h.ok(with("keys", "create", "-account", "alice@example.org")...)
	m := createdRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys create printed %q", out)
	}
	tag1, fp1 := m[1], m[3]
	storePath := filepath.Join(h.home, ".local/share/otrchat/keys.db")
	if fi, err := os.Stat(storePath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key store: %v %v", fi, err)
	}
	h.fail(1, "already has 1 device", with("keys", "create", "-account", "alice@example.org")...)
	out = h.ok(with("keys", "create", "-account", "alice@example.org", "-new-device")...)
	tag2 := createdRE.FindStringSubmatch(out)[1]

	show := h.ok(with("keys", "show")...)
	if !strings.Contains(show, "device "+tag1+"  "+fp1) || !strings.Contains(show, "device "+tag2) {
		t.Fatalf("keys show does not match keys create:\n%s\n(created %s %s)", show, tag1, fp1)
	}

	// The stored client profile is signed by the stored key: otr4 parses it and computes the
	// same fingerprint that keys create printed.
	s, err := keystore.Open(storePath, []byte("secret one"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t1, _ := parseTag(tag1)
	cp, err := s.ClientProfile("alice@example.org", t1)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := otr4.ParseClientProfile(cp.Encoded)
	if err != nil {
		t.Fatal(err)
	}
	if p.Fingerprint().String() != fp1 || uint32(p.InstanceTag) != t1 || p.Validate(p.InstanceTag, time.Now()) != nil {
		t.Fatalf("stored client profile: fingerprint %s, tag %v", p.Fingerprint(), p.InstanceTag)
	}
	pp, err := s.PrekeyProfile("alice@example.org", t1)
	if err != nil {
		t.Fatal(err)
	}
	if ppp, _, err := otr4.ParsePrekeyProfile(pp.Encoded); err != nil || ppp.Validate(p.InstanceTag, p, time.Now()) != nil {
		t.Fatalf("stored prekey profile does not validate: %v", err)
	}
	// A contact's device with a trust decision, for devices list.
	fp := bytes.Repeat([]byte{0xab}, keystore.FingerprintSize)
	must(t, s.SeeDevice("alice@example.org", "bob@example.net", keystore.KnownDevice{InstanceTag: 0x4242, Fingerprint: fp, LastSeen: time.Now(), FullJID: "bob@example.net/phone"}))
	must(t, s.SetTrust("alice@example.org", keystore.TrustDecision{Contact: "bob@example.net", Fingerprint: fp, Trusted: true, Method: keystore.MethodSMP, Time: time.Now()}))
	must(t, s.Close())

	list := h.ok(with("devices", "list")...)
	for _, want := range []string{"own devices:", tag1 + "  " + fp1, "bob@example.net:", "00004242  abababab", "trusted (SMP", "bob@example.net/phone"} {
		if !strings.Contains(list, want) {
			t.Errorf("devices list lacks %q:\n%s", want, list)
		}
	}
	h.ok(with("devices", "forget", "-account", "alice@example.org", "-contact", "bob@example.net", "-instance", "4242")...)
	if list := h.ok(with("devices", "list")...); strings.Contains(list, "bob@example.net") {
		t.Errorf("contact device not forgotten:\n%s", list)
	}
	h.fail(2, "add -yes", with("devices", "forget", "-account", "alice@example.org", "-instance", tag2)...)
	h.fail(2, "not an instance tag", with("devices", "forget", "-account", "alice@example.org", "-instance", "zz", "-yes")...)
	h.ok(with("devices", "forget", "-account", "alice@example.org", "-instance", "0x"+tag2, "-yes")...)
	if show := h.ok(with("keys", "show")...); strings.Contains(show, tag2) || !strings.Contains(show, tag1) {
		t.Errorf("own device not forgotten:\n%s", show)
	}
	h.fail(1, "not found", with("devices", "forget", "-account", "alice@example.org", "-instance", tag2, "-yes")...)

	// Passphrases: wrong one, change, file source with permissions.
	h.vars["OTRCHAT_PASSPHRASE"] = "wrong"
	h.fail(1, "wrong passphrase", with("keys", "show")...)
	h.vars["OTRCHAT_PASSPHRASE"] = "secret one"
	h.vars["NEWPASS"] = "secret two"
	h.ok(with("passphrase", "change", "-new-passphrase-env", "NEWPASS")...)
	h.fail(1, "wrong passphrase", with("keys", "show")...)
	pf := h.write("pass.txt", "secret two\n", 0o644)
	h.fail(1, "others must not read it", "keys", "show", "-passphrase-file", pf)
	must(t, os.Chmod(pf, 0o600))
	if show := h.ok("keys", "show", "-passphrase-file", pf); !strings.Contains(show, fp1) {
		t.Errorf("after passphrase change:\n%s", show)
	}
}

func TestNoStoreYet(t *testing.T) {
	h := newHarness(t)
	h.vars["OTRCHAT_PASSPHRASE"] = "x"
	h.fail(1, "create keys first", "keys", "show", "-passphrase", "env")
	delete(h.vars, "OTRCHAT_PASSPHRASE")
	h.fail(1, "unset or empty", "keys", "create", "-account", "a@b", "-passphrase", "env", "-keystore", filepath.Join(h.home, "k.db"))
	if _, err := os.Stat(filepath.Join(h.home, "k.db")); !os.IsNotExist(err) {
		t.Fatalf("a key store was created without a passphrase: %v", err)
	}
	h.fail(2, "-account is required", "keys", "create")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestKeysCreateV3CompatibleKeepingForgingSecret(t *testing.T) {
	h := newHarness(t)
	h.vars["P"] = "pw"
	cfg := h.write("c.toml", "[otr]\nmode = \"v3-compatible\"\nversions = [3, 4]\n[keystore]\npassphrase = \"env\"\npassphrase_env = \"P\"\n", 0o600)
	out := h.ok("keys", "create", "-config", cfg, "-account", "carol@example.com", "-keep-forging-secret")
	m := createdRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("%q", out)
	}
	if show := h.ok("keys", "show", "-config", cfg); !strings.Contains(show, m[3]) {
		t.Fatalf("keys show:\n%s", show)
	}
	s, err := keystore.Open(filepath.Join(h.home, ".local/share/otrchat/keys.db"), []byte("pw"), nil)
	must(t, err)
	defer s.Close()
	tag, _ := parseTag(m[1])
	id, err := s.Identity("carol@example.com", tag)
	must(t, err)
	if len(id.ForgingSecret) != keystore.SeedSize {
		t.Fatalf("forging secret not kept: %d bytes", len(id.ForgingSecret))
	}
	cp, err := s.ClientProfile("carol@example.com", tag)
	must(t, err)
	p, _, err := otr4.ParseClientProfile(cp.Encoded)
	must(t, err)
	if p.Versions != "34" {
		t.Fatalf("client profile versions %q, want \"34\"", p.Versions)
	}
}
