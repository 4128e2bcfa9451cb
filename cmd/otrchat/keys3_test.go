package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/otrchat/otrchat/internal/libotrpeer"
	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/otr3"
)

var importedRE = regexp.MustCompile(`imported the OTRv3 key of (\S+) from \S+\nfingerprint ((?:[0-9A-F]{8} ){4}[0-9A-F]{8})\n`)

func testdataKey(t *testing.T, name string) (string, *otr3.PrivateKey) {
	t.Helper()
	path := filepath.Join("..", "..", "otr4", "otr3", "testdata", name+".private_key")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := otr3.ImportLibotrKeys(data)
	if err != nil || len(keys) != 1 {
		t.Fatalf("%v %v", keys, err)
	}
	return path, keys[0].Key
}

// TestImportLibotr: keys import-libotr stores the key of a libotr file and prints the
// fingerprint libotr itself prints for that file (a libotr 4.1 client started on the same
// file says which); keys show shows it; a second import needs -replace.
func TestImportLibotr(t *testing.T) {
	h := newHarness(t)
	h.vars["OTRCHAT_PASSPHRASE"] = "pw"
	pe := []string{"-passphrase", "env"}
	with := func(args ...string) []string { return append(args, pe...) }
	file, _ := testdataKey(t, "alice") // account alice@example.org, protocol xmpp

	out := h.ok(with("keys", "import-libotr", "-account", "alice@example.org", "-file", file)...)
	m := importedRE.FindStringSubmatch(out)
	if m == nil || m[1] != "alice@example.org" {
		t.Fatalf("import printed %q", out)
	}
	bin := libotrpeer.Build(t)
	kf := filepath.Join(t.TempDir(), "otr.private_key")
	data, _ := os.ReadFile(file)
	if err := os.WriteFile(kf, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p := libotrpeer.Start(t, bin, "alice", kf, "alice@example.org", "bob@example.org")
	if m[2] != p.FP {
		t.Fatalf("otrchat prints fingerprint %s, libotr prints %s", m[2], p.FP)
	}
	if show := h.ok(with("keys", "show")...); !strings.Contains(show, "OTRv3 key  "+p.FP) || !strings.Contains(show, "imported") {
		t.Fatalf("keys show:\n%s", show)
	}
	h.fail(1, "already has an OTRv3 key (fingerprint "+p.FP+")", with("keys", "import-libotr", "-account", "alice@example.org", "-file", file)...)

	// Pidgin names the account user@domain/Resource (protocol prpl-jabber): found by the bare
	// JID; -replace replaces.
	_, bobKey := testdataKey(t, "bob")
	pidgin := h.write("pidgin.private_key", otr3.ExportLibotrKey("alice@example.org/Home", "prpl-jabber", bobKey), 0o600)
	out = h.ok(with("keys", "import-libotr", "-account", "alice@example.org", "-file", pidgin, "-replace")...)
	if m := importedRE.FindStringSubmatch(out); m == nil || m[2] != bobKey.Fingerprint().String() {
		t.Fatalf("replace printed %q", out)
	}
	h.fail(1, "has no key for carol@example.org (accounts: alice@example.org/Home (prpl-jabber))",
		with("keys", "import-libotr", "-account", "carol@example.org", "-file", pidgin)...)
	out = h.ok(with("keys", "import-libotr", "-account", "carol@example.org", "-name", "alice@example.org/Home", "-file", pidgin)...)
	if !strings.Contains(out, bobKey.Fingerprint().String()) {
		t.Fatalf("import with -name printed %q", out)
	}
	// A contact's OTRv3 instance, as the session layer records it, in devices list and
	// devices forget, with the fingerprint as libotr shows it.
	st, err := keystore.Open(filepath.Join(h.home, ".local/share/otrchat/keys.db"), []byte("pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	bfp := bobKey.Fingerprint()
	if err := st.SeeOTR3Device("alice@example.org", "bob@example.net", keystore.KnownDevice{InstanceTag: 0x4343, Fingerprint: bfp[:], FullJID: "bob@example.net/pidgin"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetTrust("alice@example.org", keystore.TrustDecision{Contact: "bob@example.net", Fingerprint: bfp[:], Trusted: true, Method: keystore.MethodSMP}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	list := h.ok(with("devices", "list")...)
	if !strings.Contains(list, "bob@example.net (OTRv3):\n    00004343  "+bfp.String()+"  trusted (SMP") {
		t.Fatalf("devices list:\n%s", list)
	}
	h.ok(with("devices", "forget", "-account", "alice@example.org", "-contact", "bob@example.net", "-instance", "4343")...)
	if list := h.ok(with("devices", "list")...); strings.Contains(list, "OTRv3):") {
		t.Fatalf("after forget:\n%s", list)
	}
	bad := h.write("bad.private_key", "(privkeys (account (name \"x\")))", 0o600)
	h.fail(1, "malformed libotr private key file", with("keys", "import-libotr", "-account", "x@example.org", "-file", bad)...)
	h.fail(2, "-account and -file are required", with("keys", "import-libotr", "-file", bad)...)
}

// TestKeysCreateV3Mode: in the OTRv3-compatible mode keys create makes the account's OTRv3
// key (once) and transitional client profiles; an import into an account with devices makes
// their profiles carry the imported key.
func TestKeysCreateV3Mode(t *testing.T) {
	h := newHarness(t)
	h.vars["OTRCHAT_PASSPHRASE"] = "pw"
	cfg := h.write("v3.toml", "[otr]\nmode = \"v3-compatible\"\nversions = [3, 4]\n", 0o600)
	with := func(args ...string) []string { return append(args, "-passphrase", "env", "-config", cfg) }

	out := h.ok(with("keys", "create", "-account", "alice@example.org")...)
	fpRE := regexp.MustCompile(`OTRv3 fingerprint ((?:[0-9A-F]{8} ){4}[0-9A-F]{8})\n`)
	m := fpRE.FindStringSubmatch(out)
	c := createdRE.FindStringSubmatch(out)
	if m == nil || c == nil {
		t.Fatalf("keys create printed %q", out)
	}
	out = h.ok(with("keys", "create", "-account", "alice@example.org", "-new-device")...)
	if strings.Contains(out, "OTRv3") {
		t.Fatalf("a second device made another OTRv3 key: %q", out)
	}
	c2 := createdRE.FindStringSubmatch(out)

	check := func(wantFP string, tags ...string) {
		t.Helper()
		s, err := keystore.Open(filepath.Join(h.home, ".local/share/otrchat/keys.db"), []byte("pw"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, tag := range tags {
			tg, _ := parseTag(tag)
			cr, err := s.ClientProfile("alice@example.org", tg)
			if err != nil {
				t.Fatal(err)
			}
			cp, _, err := otr4.ParseClientProfile(cr.Encoded)
			if err != nil || cp.Versions != "34" || cp.VerifyTransitional() != nil {
				t.Fatalf("device %s: profile %+v, %v", tag, cp, err)
			}
			dfp, ok := cp.DSAFingerprint()
			if !ok || otr3.Fingerprint(dfp).String() != wantFP {
				t.Fatalf("device %s: profile carries %x, want %s", tag, dfp, wantFP)
			}
		}
	}
	check(m[1], c[1], c2[1])

	file, k := testdataKey(t, "alice")
	out = h.ok(with("keys", "import-libotr", "-account", "alice@example.org", "-file", file, "-replace")...)
	if !strings.Contains(out, "device "+c[1]+": client profile now carries the OTRv3 key") {
		t.Fatalf("import printed %q", out)
	}
	check(k.Fingerprint().String(), c[1], c2[1])
}
