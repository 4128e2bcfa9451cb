package otr3

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLibotrKeyImport: a key libotr made, read from its otr.private_key,
// has the fingerprint libotr prints, and works in a conversation with
// libotr's view of it.
func TestLibotrKeyImport(t *testing.T) {
	dir, kf := newPeerDir(t)
	p := startPeer(t, dir, "bob", kf) // generates the key file
	data, err := os.ReadFile(kf)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ImportLibotrKeys(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if len(keys) != 1 || keys[0].Account != "bob@localhost" || keys[0].Protocol != "xmpp" {
		t.Fatalf("%+v", keys)
	}
	if got := keys[0].Key.Fingerprint().String(); got != p.FP {
		t.Fatalf("fingerprint %s, libotr prints %s", got, p.FP)
	}
	// The imported key signs: a second libotr account talks to "us" using
	// Bob's imported key, and sees the fingerprint libotr printed.
	q := startPeer(t, t.TempDir(), "carol", filepath.Join(t.TempDir(), "otr.private_key"))
	g := newGoSide(t, Config{Key: keys[0].Key})
	pump(g, q, g.take(g.c.StartAKE()), nil)
	if _, _, fp := q.state(); fp != p.FP {
		t.Fatalf("libotr sees %s, want %s", fp, p.FP)
	}
}

// TestLibotrKeyExport: a key made here, written in libotr's format, is
// read by libotr, which prints the same fingerprint.
func TestLibotrKeyExport(t *testing.T) {
	dir := t.TempDir()
	k := testKey(t, 1)
	kf := filepath.Join(dir, "otr.private_key")
	if err := os.WriteFile(kf, []byte(ExportLibotrKey("bob@localhost", "xmpp", k)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startPeer(t, dir, "bob", kf)
	if p.FP != k.Fingerprint().String() {
		t.Fatalf("libotr prints %s, ours is %s", p.FP, k.Fingerprint())
	}
}

func TestImportLibotrKeysRejects(t *testing.T) {
	good := ExportLibotrKey("a@b", "xmpp", testKey(t, 0))
	for name, in := range map[string]string{
		"empty":      "",
		"not a list": "privkeys",
		"wrong head": "(keys)",
		"no x":       strings.Replace(good, "(x ", "(z ", 1),
		"wrong y":    strings.Replace(good, "(y #", "(y #01", 1),
		"rsa":        strings.Replace(good, "(dsa", "(rsa", 1),
		"unclosed":   strings.TrimSuffix(strings.TrimSpace(good), ")"),
	} {
		if _, err := ImportLibotrKeys([]byte(in)); !errors.Is(err, ErrLibotrKeyFile) {
			t.Errorf("%s: %v", name, err)
		}
	}
	keys, err := ImportLibotrKeys([]byte(good))
	if err != nil || len(keys) != 1 || keys[0].Key.Fingerprint() != testKey(t, 0).Fingerprint() {
		t.Fatalf("%v %v", keys, err)
	}
}

// TestImportSeveralAccounts: Pidgin keeps one file for every account.
func TestImportSeveralAccounts(t *testing.T) {
	one := ExportLibotrKey("alice@example.org", "prpl-jabber", testKey(t, 0))
	two := ExportLibotrKey("alice@irc.example", "prpl-irc", testKey(t, 1))
	// Join the two account lists inside one privkeys list.
	body := func(s string) string {
		s = strings.TrimSpace(s)
		return strings.TrimSuffix(strings.TrimPrefix(s, "(privkeys"), ")")
	}
	keys, err := ImportLibotrKeys([]byte("(privkeys" + body(one) + body(two) + ")\n"))
	if err != nil || len(keys) != 2 {
		t.Fatal(keys, err)
	}
	if keys[0].Account != "alice@example.org" || keys[1].Protocol != "prpl-irc" ||
		keys[0].Key.Fingerprint() != testKey(t, 0).Fingerprint() || keys[1].Key.Fingerprint() != testKey(t, 1).Fingerprint() {
		t.Fatalf("%+v", keys)
	}
}
