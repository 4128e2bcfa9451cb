package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "otrprekeyd.toml")
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	os.WriteFile(cfg, []byte(`
name = "prekeys.example.org"
secret_file = "`+secret+`"
data_dir = "/var/lib/otrprekeyd"
log_level = "debug"
domains = ["example.org", "example.net"]
[limits]
retrieval_burst = 5
retrieval_interval = "30s"
max_storage_bytes = 1073741824
max_fragment_bytes = 1048576
device_idle_timeout = "720h"
max_sessions = 100
`), 0o600)
	o, err := parseArgs([]string{"-config", cfg, "-server", "127.0.0.1:5999"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "prekeys.example.org" || o.secret != "s3cret" || o.Server != "127.0.0.1:5999" ||
		o.DataDir != "/var/lib/otrprekeyd" || o.level != slog.LevelDebug {
		t.Fatalf("%+v", o)
	}
	if l := o.Limits.limits(); l.RetrievalBurst != 5 || l.RetrievalInterval != 30*time.Second || l.MaxStorageBytes != 1<<30 ||
		l.MaxFragmentBytes != 1<<20 || l.DeviceIdleTimeout != 720*time.Hour || l.MaxSessions != 100 {
		t.Fatalf("limits %+v", l)
	}
	if len(o.Domains) != 2 || o.Domains[1] != "example.net" {
		t.Fatalf("domains %q", o.Domains)
	}
	// Flags override the file; the default server address.
	o, err = parseArgs([]string{"-config", cfg, "-name", "other.example.org", "-log-level", "warn"})
	if err != nil || o.Name != "other.example.org" || o.level != slog.LevelWarn || o.Server != "127.0.0.1:5347" {
		t.Fatalf("%+v %v", o, err)
	}
	for _, args := range [][]string{
		{"-name", "p.example.org"},               // no data dir
		{"-name", "p.example.org", "-data", dir}, // no secret
		{"-name", "p.example.org", "-data", dir, "-secret", "x", "-secret-file", secret},
		{"-name", "p.example.org", "-data", dir, "-secret", "x", "-log-level", "loud"},
		{"-name", "p.example.org", "-data", dir, "-secret", "x", "extra"},
		{"-config", filepath.Join(dir, "missing.toml")},
	} {
		if _, err := parseArgs(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	os.WriteFile(cfg, []byte("name = \"p\"\nsecrett = \"typo\"\n"), 0o600)
	if _, err := parseArgs([]string{"-config", cfg}); err == nil {
		t.Error("unknown key accepted")
	}
	if _, err := parseArgs([]string{"-h"}); !errors.Is(err, errHelp) {
		t.Error(err)
	}
}
