package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func fakeEnv(kv ...string) Env {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

var testEnv = fakeEnv("HOME", "/home/u")

// tomlKeys lists the dotted TOML keys of every field of a struct type, recursing into
// nested tables and arrays of tables.
func tomlKeys(t reflect.Type, prefix string, out *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		*out = append(*out, key)
		ft := f.Type
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}) {
			tomlKeys(ft, key+".", out)
		}
	}
}

func TestExampleFileDocumentsAndUsesEveryOption(t *testing.T) {
	src, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, md, err := parse("config.example.toml", src, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Fatalf("keys in the example that the program does not read: %v", u)
	}
	inFile := map[string]bool{}
	for _, k := range md.Keys() {
		inFile[k.String()] = true
	}
	var fields []string
	tomlKeys(reflect.TypeOf(Config{}), "", &fields)
	if len(fields) < 40 {
		t.Fatalf("only %d fields found by reflection", len(fields))
	}
	for _, k := range fields {
		if !inFile[k] {
			t.Errorf("option %s is not in config.example.toml", k)
		}
	}
	// Spot checks that values are really read.
	if len(c.Accounts) != 2 || c.Accounts[1].TLS != TLSDirect || c.Accounts[0].TLS != TLSStartTLS ||
		c.Accounts[0].PasswordFile != "/home/u/.config/otrchat/alice.password" || c.Accounts[0].Port != 5222 {
		t.Errorf("accounts: %+v", c.Accounts)
	}
	if len(c.Contacts) != 1 || c.Contacts[0].Instance != InstanceMulticasting || c.Contacts[0].RequireEncryption == nil || !*c.Contacts[0].RequireEncryption {
		t.Errorf("contacts: %+v", c.Contacts)
	}
	if c.Keystore.Path != "/home/u/.local/share/otrchat/keys.db" || c.Keystore.LockTimeout.Duration != 2*time.Second {
		t.Errorf("keystore: %+v", c.Keystore)
	}
	// The example states the defaults: apart from the example accounts and contacts, and
	// paths written with "~", it must decode to exactly Defaults.
	d, err := Defaults(fakeEnv("HOME", "/home/u"))
	if err != nil {
		t.Fatal(err)
	}
	c.Accounts, c.Contacts = nil, nil
	if !reflect.DeepEqual(c, d) {
		t.Errorf("the example's values differ from Defaults:\n got %+v\nwant %+v", c, d)
	}
}

func TestErrorsNameTheLine(t *testing.T) {
	cases := []struct {
		name, src string
		line      int
		key       string
	}{
		{"unknown top-level key", "resource = \"x\"\n\ncolour = \"red\"\n", 3, "colour"},
		{"unknown table", "[ui]\ntheme = \"dark\"\n\n[fonts]\nsize = 3\n", 4, "fonts"},
		{"unknown key in second account", "[[account]]\njid = \"a@b\"\n\n[[account]]\njid = \"c@d\"\nportt = 1\n", 6, "account[1].portt"},
		{"unknown key in both accounts", "[[account]]\njid = \"a@b\"\nportt = 2\n[[account]]\njid = \"c@d\"\nportt = 1\n", 3, "account[0].portt"},
		{"bad enum", "[policy]\n# comment\ninstance = \"WORST\"\n", 3, "policy.instance"},
		{"bad tls in second account", "[[account]]\njid = \"a@b\"\ntls = \"direct\"\n[[account]]\njid = \"c@d\"\ntls = \"none\"\n", 6, "account[1].tls"},
		{"wrong type", "[[account]]\njid = \"a@b\"\nport = \"5222\"\n", 3, "account[0].port"},
		{"wrong type in first of two accounts", "[[account]]\njid = \"a@b\"\nport = \"x\"\n[[account]]\njid = \"c@d\"\nport = 5\n", 3, "account[0].port"},
		{"wrong type in array", "[otr]\nversions = [4, \"3\"]\n", 2, "otr.versions"},
		{"table instead of array of tables", "[account]\njid = \"a@b\"\n", 1, "account"},
		{"int for pointer bool", "[[contact]]\njid=\"a@b\"\nrequire_encryption = 1\n[[contact]]\njid=\"c@d\"\nrequire_encryption = true\n", 3, "contact[0].require_encryption"},
		{"syntax error", "resource = \"a\"\nresource2 = \n", 2, ""},
		{"duplicate key", "resource = \"a\"\nresource = \"b\"\n", 2, ""},
		{"bad duration", "[prekey_server]\n\ntimeout = \"soon\"\n", 3, ""},
		{"insecure non-loopback", "[[account]]\njid = \"a@b\"\nserver = \"xmpp.example.org\"\ninsecure_skip_verify = true\n", 4, "account[0].insecure_skip_verify"},
		{"missing jid", "resource = \"r\"\n\n[[account]]\nport = 5\n", 3, "account[0].jid"},
		{"v3 in standalone", "[otr]\nmode = \"standalone\"\nversions = [\n  3,\n  4,\n]\n", 3, "otr.versions"},
		{"bad contact mode", "[[contact]]\njid = \"b@c\"\n[[contact]]\njid = \"d@e\"\nmode = \"loud\"\n", 5, "contact[1].mode"},
		{"key after multi-line string", "[ui]\ntimestamp_format = \"\"\"\nlevel = 1\n\"\"\"\nthme = \"x\"\n", 5, "ui.thme"},
		{"duplicate account", "[[account]]\njid = \"a@b\"\n[[account]]\njid = \"A@b\"\n", 4, "account[1].jid"},
		{"quoted unknown key", "[log]\n\"lvl\" = \"x\"\n", 2, "log.lvl"},
		{"bad device list access", "[otr]\nmode = \"standalone\"\ndevice_list_access = \"roster\"\n", 3, "otr.device_list_access"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tc.src), testEnv)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v (%T), want *Error", err, err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid")
			}
			if e.Line != tc.line {
				t.Errorf("line %d, want %d: %v", e.Line, tc.line, err)
			}
			if tc.key != "" && e.Key != tc.key {
				t.Errorf("key %q, want %q", e.Key, tc.key)
			}
			if want := "test.toml:" + itoa(tc.line) + ":"; !strings.Contains(err.Error(), want) {
				t.Errorf("message %q does not contain %q", err, want)
			}
		})
	}
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(i)) }
func fmtInt(i int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}

// TestDeviceListAccess: "open" by default (XEP-0364), "presence" on request.
func TestDeviceListAccess(t *testing.T) {
	c, err := Parse("test.toml", []byte("[otr]\nmode = \"standalone\"\n"), testEnv)
	if err != nil || c.OTR.DeviceListAccess != DeviceListOpen {
		t.Fatalf("default: %q, %v", c.OTR.DeviceListAccess, err)
	}
	c, err = Parse("test.toml", []byte("[otr]\ndevice_list_access = \"presence\"\n"), testEnv)
	if err != nil || c.OTR.DeviceListAccess != DeviceListPresence {
		t.Fatalf("presence: %q, %v", c.OTR.DeviceListAccess, err)
	}
}

func TestValidFileParses(t *testing.T) {
	src := `
resource = "desk"
[[account]]
jid = "me@localhost"
server = "127.0.0.1"
port = 15222
insecure_skip_verify = true
[otr]
mode = "v3-compatible"
versions = [3, 4]
`
	c, err := Parse("t", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Resource != "desk" || c.Accounts[0].Port != 15222 || !reflect.DeepEqual(c.OTR.Versions, []int{3, 4}) || c.UI.Theme != "dark" {
		t.Fatalf("%+v", c)
	}
}

func TestXDGDefaults(t *testing.T) {
	c, err := Defaults(fakeEnv("HOME", "/h", "XDG_DATA_HOME", "/data", "XDG_STATE_HOME", "relative/ignored"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Keystore.Path != "/data/otrchat/keys.db" || c.Log.File != "/h/.local/state/otrchat/otrchat.log" {
		t.Fatalf("keystore %q, log %q", c.Keystore.Path, c.Log.File)
	}
	p, err := DefaultPath(fakeEnv("HOME", "/h"))
	if err != nil || p != "/h/.config/otrchat/config.toml" {
		t.Fatalf("%q %v", p, err)
	}
	p, err = DefaultPath(fakeEnv("HOME", "/h", "XDG_CONFIG_HOME", "/cfg"))
	if err != nil || p != "/cfg/otrchat/config.toml" {
		t.Fatalf("%q %v", p, err)
	}
	if _, err := Defaults(fakeEnv()); err == nil {
		t.Fatal("no HOME and no XDG variables: want an error")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	env := fakeEnv("HOME", "/h", "XDG_CONFIG_HOME", dir)
	c, err := Load("", env)
	if err != nil || c.Resource != DefaultResource {
		t.Fatalf("missing default file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "nope.toml"), env); err == nil {
		t.Fatal("missing explicit file: want an error")
	}
	must(t, os.MkdirAll(filepath.Join(dir, "otrchat"), 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "otrchat", "config.toml"), []byte("resource = \"x\"\nbogus = 1\n"), 0o600))
	_, err = Load("", env)
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 || !strings.HasSuffix(e.File, "config.toml") {
		t.Fatalf("got %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOverrides(t *testing.T) {
	c, err := Parse("t", []byte("resource = \"file\"\n[log]\nlevel = \"warn\"\n"), testEnv)
	must(t, err)
	var o Overrides
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	o.Register(fs)
	must(t, fs.Parse([]string{"-resource", "flag", "-passphrase-file", "/run/pass", "-mode", "v3-compatible"}))
	must(t, c.Apply(o, testEnv))
	if c.Resource != "flag" || c.Log.Level != "warn" || c.Keystore.Passphrase != PassphraseFile ||
		c.Keystore.PassphraseFile != "/run/pass" || c.OTR.Mode != ModeV3Compatible {
		t.Fatalf("%+v", c)
	}
	err = c.Apply(Overrides{LogLevel: "chatty"}, testEnv)
	var e *Error
	if !errors.As(err, &e) || e.Key != "log.level" || e.File != "command line" {
		t.Fatalf("bad override: %v", err)
	}
}

func TestLineIndex(t *testing.T) {
	src := `a = 1
s = '''
b = 2
'''
arr = [
  "x = 1",
  { c = 3 },
]
"quoted.key" = 1
dotted.key = 2 # comment = x
[t.u]
v = "str # not a comment"
w = 1
[[arr2]]
x = 1
[[arr2]]
x = 2
[arr2.sub]
y = 3
`
	ix := indexLines(src)
	want := map[string]int{"a": 1, "s": 2, "b": 0, "arr": 5, "c": 0, "quoted.key": 9, "dotted.key": 10,
		"t.u": 11, "t.u.v": 12, "t.u.w": 13, "arr2[0].x": 15, "arr2[1].x": 17, "arr2.x": 15, "arr2[1].sub.y": 19}
	for k, l := range want {
		if got := ix.exact[k] + ix.plain[k]; l != 0 && ix.line(k) != l || l == 0 && got != 0 {
			t.Errorf("%s: line %d, want %d", k, ix.line(k), l)
		}
	}
}

// FuzzParse: Parse never panics, errors are *Error, and an accepted configuration survives
// encoding back to TOML and parsing again unchanged.
func FuzzParse(f *testing.F) {
	if src, err := os.ReadFile("../config.example.toml"); err == nil {
		f.Add(src)
	}
	f.Add([]byte("[[account]]\njid = \"a@b\"\n[otr]\nversions=[4]\n"))
	f.Add([]byte("a = '''\nx\n'''\n[t]\n\"k.k\" = [1,\n2]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse("f", src, testEnv)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not *Error: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(c); err != nil {
			t.Fatalf("encode: %v", err)
		}
		c2, err := Parse("f2", buf.Bytes(), testEnv)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", buf.String(), err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip differs:\n%+v\n%+v", c, c2)
		}
	})
}

func TestPerContactAndAccountResolution(t *testing.T) {
	src := `
resource = "top"
[[account]]
jid = "a@x"
resource = "own"
prekey_server = "pk.x"
[[account]]
jid = "b@y"
[prekey_server]
jid = "pk.default"
[policy]
instance = "RECENT"
[otr]
require_encryption = true
[[contact]]
jid = "Bob@Example.net"
instance = "MULTICASTING"
require_encryption = false
[[contact]]
jid = "carol@example.net"
mode = "interactive-only"
`
	c, err := Parse("t", []byte(src), testEnv)
	must(t, err)
	cases := map[string]ContactSettings{
		"bob@example.net":   {Instance: InstanceMulticasting, Mode: ModeStandalone, RequireEncryption: false},
		"carol@example.net": {Instance: InstanceRecent, Mode: ModeInteractiveOnly, RequireEncryption: true},
		"dave@example.net":  {Instance: InstanceRecent, Mode: ModeStandalone, RequireEncryption: true},
	}
	for jid, want := range cases {
		if got := c.For(jid); got != want {
			t.Errorf("%s: %+v, want %+v", jid, got, want)
		}
	}
	if c.ResourceFor(c.Accounts[0]) != "own" || c.ResourceFor(c.Accounts[1]) != "top" {
		t.Error("ResourceFor")
	}
	if c.PrekeyServerFor(c.Accounts[0]) != "pk.x" || c.PrekeyServerFor(c.Accounts[1]) != "pk.default" {
		t.Error("PrekeyServerFor")
	}
}

// TestErrorsNameKeysInTheFile: an error names only keys that the file sets, with the index of
// the [[account]] they are in (issue 16, item 12).
func TestErrorsNameKeysInTheFile(t *testing.T) {
	cases := []struct {
		name, src string
		keys      []string // every error's key, in order
	}{
		{"batch_size zero", "[prekey_server]\nbatch_size = 0\n", []string{"prekey_server.batch_size"}},
		{"batch_size too small for the default threshold", "[prekey_server]\nbatch_size = 1\n", []string{"prekey_server.batch_size"}},
		{"threshold too large for batch_size", "[prekey_server]\nbatch_size = 2\nrefill_threshold = 20\n", []string{"prekey_server.refill_threshold"}},
		{"threshold too large for the default", "[prekey_server]\nrefill_threshold = 500\n", []string{"prekey_server.refill_threshold"}},
		{"unknown keys in two accounts", "[[account]]\njid = \"a@b\"\nportt = 2\n[[account]]\njid = \"c@d\"\ntsl = \"direct\"\n",
			[]string{"account[0].portt", "account[1].tsl"}},
		{"unknown key in a nested table", "[[account]]\njid = \"a@b\"\n[[account]]\njid = \"c@d\"\n[ui]\ncolour = 1\n", []string{"ui.colour"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.toml", []byte(tc.src), testEnv)
			if err == nil {
				t.Fatal("accepted")
			}
			var got []string
			var walk func(error)
			walk = func(err error) {
				if j, ok := err.(interface{ Unwrap() []error }); ok {
					for _, e := range j.Unwrap() {
						walk(e)
					}
					return
				}
				var e *Error
				if errors.As(err, &e) {
					got = append(got, e.Key)
				}
			}
			walk(err)
			if !reflect.DeepEqual(got, tc.keys) {
				t.Fatalf("errors name %q, want %q: %v", got, tc.keys, err)
			}
		})
	}
}
