package testbed

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

func TestKindFromEnv(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"", "prosody"}, {"prosody", "prosody"}, {"EJABBERD", "ejabberd"}, {" ejabberd\n", "ejabberd"}, {"openfire", "openfire"},
	} {
		t.Setenv(EnvServer, tc.env)
		if got := KindFromEnv(); string(got) != tc.want {
			t.Errorf("KindFromEnv() with %q = %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestOptionsRejected(t *testing.T) {
	t.Setenv(EnvStartTimeout, "")
	for name, opts := range map[string]Options{
		"unknown kind":        {Kind: "openfire"},
		"bad domain":          {Kind: Prosody, Domain: "Local Host"},
		"bad account":         {Kind: Prosody, Accounts: Users("alice@x")},
		"empty account":       {Kind: Prosody, Accounts: Users("")},
		"duplicate account":   {Kind: Prosody, Accounts: Users("bob", "bob")},
		"quote in password":   {Kind: Prosody, Accounts: []Account{{Name: "a", Password: `pa"ss`}}},
		"bad component":       {Kind: Ejabberd, Components: []Component{{Name: "prekeys..localhost"}}},
		"component is domain": {Kind: Ejabberd, Components: []Component{{Name: "localhost"}}},
		"duplicate component": {Kind: Ejabberd, Components: []Component{{Name: "a.localhost"}, {Name: "a.localhost"}}},
		"newline in secret":   {Kind: Ejabberd, Components: []Component{{Name: "a.localhost", Secret: "x\ny"}}},
		"bad port":            {Kind: Prosody, C2SPort: 70000},
	} {
		_, err := newServer(opts)
		want := ErrBadOption
		if name == "unknown kind" {
			want = ErrUnknownKind
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: newServer = %v, want %v", name, err, want)
		}
	}
	t.Setenv(EnvStartTimeout, "soon")
	if _, err := newServer(Options{Kind: Prosody}); !errors.Is(err, ErrBadOption) {
		t.Errorf("bad $%s: %v", EnvStartTimeout, err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Setenv(EnvServer, "ejabberd")
	t.Setenv(EnvStartTimeout, "45s")
	s, err := newServer(Options{Accounts: []Account{{Name: "alice", Password: "secret-1"}, {Name: "bob"}}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind != Ejabberd || s.Domain != "localhost" || s.opts.StartTimeout != 45*time.Second {
		t.Fatalf("defaults: kind %q domain %q timeout %v", s.Kind, s.Domain, s.opts.StartTimeout)
	}
	if s.Password("alice") != "secret-1" || len(s.Password("bob")) < 20 || s.Password("carol") != "" {
		t.Fatalf("passwords: %q %q %q", s.Password("alice"), s.Password("bob"), s.Password("carol"))
	}
	if s.probe.Name != "alice" || len(s.registered()) != 2 {
		t.Fatalf("probe %q, registered %v", s.probe.Name, s.registered())
	}
	if got := s.JID("bob", "phone").String(); got != "bob@localhost/phone" {
		t.Fatalf("JID = %q", got)
	}
	if got := s.JID("a@b", ""); !got.Equal(jid.JID{}) {
		t.Fatalf("JID of an invalid localpart = %q, want the zero JID", got)
	}
	empty, err := newServer(Options{Kind: Prosody})
	if err != nil {
		t.Fatal(err)
	}
	if r := empty.registered(); len(r) != 1 || r[0] != empty.probe || len(empty.Accounts()) != 0 {
		t.Fatalf("without accounts: registered %v, accounts %v", r, empty.Accounts())
	}
}

func TestCertBundle(t *testing.T) {
	b, err := newCertBundle([]string{"localhost", "prekeys.localhost"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(b.certPEM, b.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b.caPEM) {
		t.Fatal("CA PEM not parsed")
	}
	for _, name := range []string{"localhost", "prekeys.localhost", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.org", Roots: roots}); err == nil {
		t.Error("certificate verified for a name it does not hold")
	}
	other, err := newCertBundle([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	otherRoots := x509.NewCertPool()
	otherRoots.AppendCertsFromPEM(other.caPEM)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: otherRoots}); err == nil {
		t.Error("certificate verified against another bundle's CA")
	}
	if blk, _ := pem.Decode(b.caPEM); blk == nil || blk.Type != "CERTIFICATE" {
		t.Error("CA PEM malformed")
	}
	if _, err := newCertBundle(nil); err == nil {
		t.Error("certificate without names accepted")
	}
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:14CE":                         "0.0.0.0:5326",
		"00000000000000000000000001000000:0016": "[::1]:22",
		"0000000000000000FFFF00000100007F:1466": "127.0.0.1:5222",
		"00000000000000000000000000000000:1466": "[::]:5222",
	} {
		got, err := parseProcAddr(in)
		if err != nil || got != netip.MustParseAddrPort(want) {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0100007F", "0100007F:", "01007F:1F90", "zz00007F:1F90", "0100007F:10000"} {
		if _, err := parseProcAddr(bad); err == nil {
			t.Errorf("parseProcAddr(%q) accepted", bad)
		}
	}
}

func TestListeningSockets(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1466 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 00000000:1467 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1468 0100007F:9999 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 100 0 0 10 0
   3: 0100007F:1469 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
`
	file := filepath.Join(t.TempDir(), "tcp")
	if err := os.WriteFile(file, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := listeningSockets(file, map[string]bool{"1111": true, "2222": true, "3333": true})
	if err != nil {
		t.Fatal(err)
	}
	// 3333 is an established connection, 4444 someone else's listener.
	want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5222"), netip.MustParseAddrPort("0.0.0.0:5223")}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("listeningSockets = %v, want %v", got, want)
	}
}

func TestProcStatAndGroups(t *testing.T) {
	state, pgid, ok := procStat(os.Getpid())
	if !ok || state == 0 || pgid <= 0 {
		t.Fatalf("procStat(self) = %c %d %v", state, pgid, ok)
	}
	found := false
	for _, pid := range groupMembers(pgid) {
		found = found || pid == os.Getpid()
	}
	if !found {
		t.Fatalf("groupMembers(%d) does not list this process", pgid)
	}
	if _, _, ok := procStat(-1); ok {
		t.Fatal("procStat(-1) succeeded")
	}
}

func TestConfigsStayOnLoopback(t *testing.T) {
	for _, kind := range Kinds() {
		s, err := newServer(Options{Kind: kind, Accounts: Users("alice"), Components: []Component{{Name: "prekeys.localhost", Secret: "s3cret"}}})
		if err != nil {
			t.Fatal(err)
		}
		s.dir, s.c2sPort, s.compPort, s.auxPort, s.aux2Port = t.TempDir(), 45222, 45347, 45400, 45401
		bundle, err := newCertBundle([]string{"localhost"})
		if err != nil {
			t.Fatal(err)
		}
		var cfg string
		switch b := s.be.(type) {
		case prosodyBackend:
			var sb strings.Builder
			if err := prosodyConfig.Execute(&sb, map[string]any{"Dir": s.dir, "Log": "x", "C2SPort": s.c2sPort, "CompPort": s.compPort, "Domain": s.Domain, "Components": s.components}); err != nil {
				t.Fatal(err)
			}
			cfg = sb.String()
			for _, want := range []string{`interfaces = { "127.0.0.1" }`, "c2s_ports = { 45222 }", "component_ports = { 45347 }", `modules_disabled = { "s2s" }`, `Component "prekeys.localhost"`, `component_secret = "s3cret"`, "run_as_root = true"} {
				if !strings.Contains(cfg, want) {
					t.Errorf("prosody config lacks %q:\n%s", want, cfg)
				}
			}
		case *ejabberdBackend:
			b.cred = nil // write files as ourselves
			if err := b.prepare(t.Context(), s, bundle); err != nil {
				t.Fatal(err)
			}
			yml, _ := os.ReadFile(filepath.Join(s.dir, "ejabberd.yml"))
			ctl, _ := os.ReadFile(filepath.Join(s.dir, "ejabberdctl.cfg"))
			cfg = string(yml)
			if strings.Count(cfg, "port: ") != 3 || strings.Count(cfg, `ip: "127.0.0.1"`) != 3 {
				t.Errorf("ejabberd listeners not all on loopback:\n%s", cfg)
			}
			for _, want := range []string{"module: ejabberd_service", `"prekeys.localhost":`, `password: "s3cret"`, "mod_carboncopy", "- pep", "mod_mam", "mod_stream_mgmt", "s2s_access: none", "port: 45401", "/api: mod_http_api", "ip: 127.0.0.1/8"} {
				if !strings.Contains(cfg, want) {
					t.Errorf("ejabberd config lacks %q:\n%s", want, cfg)
				}
			}
			for _, want := range []string{"ERL_DIST_PORT=45400", "inet_dist_use_interface {127,0,0,1}", "EJABBERD_CONFIG_PATH=" + s.dir + "/ejabberd.yml"} {
				if !strings.Contains(string(ctl), want) {
					t.Errorf("ejabberdctl.cfg lacks %q:\n%s", want, ctl)
				}
			}
		}
	}
}

// FuzzParseProcAddr: any input is either rejected or gives an address
// whose port is the input's port field.
func FuzzParseProcAddr(f *testing.F) {
	for _, s := range []string{"0100007F:1F90", "00000000000000000000000001000000:0016", "0000000000000000FFFF00000100007F:1466", ":", "0100007F:", "x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := parseProcAddr(s)
		if err != nil {
			return
		}
		_, port, _ := strings.Cut(s, ":")
		p, perr := strconv.ParseUint(port, 16, 16)
		if perr != nil || uint16(p) != ap.Port() || !ap.Addr().IsValid() {
			t.Fatalf("parseProcAddr(%q) = %v", s, ap)
		}
	})
}

// TestReapStale: a server directory whose owner died has its process
// group killed and is removed; one whose owner lives is left alone.
func TestReapStale(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := dead.Process.Pid

	orphanDir, err := os.MkdirTemp("", dirPrefix+"reaptest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(orphanDir) })
	liveDir, err := os.MkdirTemp("", dirPrefix+"reaptest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(liveDir) })

	// A stand-in server whose command line names its directory.
	srv := exec.Command("sh", "-c", "sleep 60; : "+orphanDir)
	p, err := startProc(srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.stop(time.Second) })
	// The group file goes first: a test binary running beside this one may
	// reap at any moment, and a directory with an owner but no group would
	// be removed without its process being killed.
	for dir, owner := range map[string]int{orphanDir: deadPID, liveDir: os.Getpid()} {
		if err := os.WriteFile(filepath.Join(dir, pgroupFile), []byte(strconv.Itoa(p.pgid)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(owner)), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	reapStale()

	if _, err := os.Stat(orphanDir); !os.IsNotExist(err) {
		t.Errorf("orphaned directory still there: %v", err)
	}
	if _, err := os.Stat(liveDir); err != nil {
		t.Errorf("directory of a live owner removed: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("orphaned server process not killed")
	}
}

// fakeTB records how Start ended a test instead of ending this one.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Logf(string, ...any)   {}
func (f *fakeTB) Cleanup(fn func())     { fn() }
func (f *fakeTB) Errorf(string, ...any) { f.failed = true }
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped, f.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestStartWithoutServer: with no server binary, Start skips a test,
// unless $CI is set, when it fails it (and under -short it always skips).
func TestStartWithoutServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no prosody, no ejabberdctl
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		for _, kind := range Kinds() {
			f := &fakeTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Start(f, Options{Kind: kind})
			}()
			<-done
			wantFail := ci != "" && !testing.Short()
			if f.failed != wantFail || f.skipped == wantFail {
				t.Errorf("CI=%q %s: failed=%v skipped=%v (%s)", ci, kind, f.failed, f.skipped, f.msg)
			}
			if !testing.Short() && !strings.Contains(f.msg, "not found in PATH") {
				t.Errorf("CI=%q %s: message %q does not say what is missing", ci, kind, f.msg)
			}
		}
	}
	if _, err := Launch(t.Context(), Options{Kind: Prosody}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Launch without prosody: %v, want ErrUnavailable", err)
	}
}

func TestReachable(t *testing.T) {
	base, err := os.MkdirTemp("", "testbed-reachable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	open := filepath.Join(base, "open", "inner")
	closed := filepath.Join(base, "closed", "inner")
	for _, d := range []string{open, closed} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Dir(closed), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	// An unrelated uid and gid: only "other" permissions count.
	const uid, gid = 54321, 54321
	if err := reachable(open, uid, gid); err != nil {
		t.Errorf("reachable(open): %v", err)
	}
	if err := reachable(closed, uid, gid); !errors.Is(err, ErrBadOption) {
		t.Errorf("reachable(closed) = %v, want ErrBadOption", err)
	}
}
