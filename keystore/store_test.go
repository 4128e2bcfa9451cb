package keystore

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// testKDF keeps tests fast; BenchmarkOpen measures DefaultKDF.
var testKDF = KDFParams{Time: 1, Memory: 64, Threads: 1}

var pass = []byte("correct horse battery staple")

const (
	alice = "alice@example.org"
	bob   = "bob@example.net"
	tagA  = uint32(0x1234abcd)
	tagB  = uint32(0x00000100)
)

func testOpts() *Options { return &Options{KDF: testKDF, LockTimeout: 200 * time.Millisecond} }

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// ts is a time that survives the round trip exactly (UTC, no monotonic reading).
func ts(sec int64) time.Time { return time.Unix(1_790_000_000+sec, 123456789).UTC() }

func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "keys.db")
	s, err := Create(path, pass, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func reopen(t testing.TB, s *Store, path string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, pass, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	return s2
}

type fixture struct {
	id      Identity
	id2     Identity
	cp      ClientProfile
	pp      PrekeyProfile
	pks     []PrekeySecret
	server  PinnedServer
	trust   []TrustDecision
	devices []KnownDevice
	conv    []byte
}

// populate stores one of every record type.
func populate(t testing.TB, s *Store) fixture {
	t.Helper()
	f := fixture{
		id: Identity{InstanceTag: tagA, LongTermSeed: randBytes(t, SeedSize), ForgingPublic: randBytes(t, PublicKeySize),
			ForgingSecret: randBytes(t, SeedSize), Created: ts(1)},
		id2:    Identity{InstanceTag: tagB, LongTermSeed: randBytes(t, SeedSize), ForgingPublic: randBytes(t, PublicKeySize), Created: ts(2)},
		cp:     ClientProfile{Encoded: randBytes(t, 300), Expires: ts(1000)},
		pp:     PrekeyProfile{Encoded: randBytes(t, 200), SharedPrekeySecret: randBytes(t, ECDHSecretSize), Expires: ts(2000)},
		server: PinnedServer{ServerJID: "prekeys.example.org", Fingerprint: randBytes(t, FingerprintSize), FirstSeen: ts(3)},
		conv:   randBytes(t, 77),
	}
	for i := range 3 {
		f.pks = append(f.pks, PrekeySecret{ID: uint32(10 + i), ECDHSecret: randBytes(t, ECDHSecretSize), DHSecret: randBytes(t, DHSecretSize), Created: ts(int64(i))})
	}
	f.trust = []TrustDecision{
		{Contact: bob, Fingerprint: randBytes(t, FingerprintSize), Trusted: true, Method: MethodSMP, Time: ts(4)},
		{Contact: "carol@example.com", Fingerprint: randBytes(t, FingerprintSize), Trusted: false, Method: MethodManual, Time: ts(5)},
	}
	f.devices = []KnownDevice{
		{InstanceTag: 0x200, Fingerprint: randBytes(t, FingerprintSize), LastSeen: ts(6), FullJID: bob + "/laptop"},
		{InstanceTag: 0x9000, Fingerprint: randBytes(t, FingerprintSize), LastSeen: ts(7)},
	}
	must(t, s.PutIdentity(alice, f.id))
	must(t, s.PutIdentity(alice, f.id2))
	must(t, s.PutClientProfile(alice, tagA, f.cp))
	must(t, s.PutPrekeyProfile(alice, tagA, f.pp))
	must(t, s.AddPrekeySecrets(alice, tagA, f.pks...))
	if _, err := s.PinServer(alice, f.server); err != nil {
		t.Fatal(err)
	}
	for _, d := range f.trust {
		must(t, s.SetTrust(alice, d))
	}
	// Out of order on purpose: the store keeps them sorted.
	must(t, s.SeeDevice(alice, bob, f.devices[1]))
	must(t, s.SeeDevice(alice, bob, f.devices[0]))
	must(t, s.PutConversationState(alice, tagA, bob, 0x200, f.conv))
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func eq[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func checkFixture(t *testing.T, s *Store, f fixture) {
	t.Helper()
	accts, err := s.Accounts()
	must(t, err)
	eq(t, "accounts", accts, []string{alice})
	id, err := s.Identity(alice, tagA)
	must(t, err)
	eq(t, "identity", id, f.id)
	devs, err := s.Devices(alice)
	must(t, err)
	eq(t, "devices", devs, []Identity{f.id2, f.id})
	cp, err := s.ClientProfile(alice, tagA)
	must(t, err)
	eq(t, "client profile", cp, f.cp)
	pp, err := s.PrekeyProfile(alice, tagA)
	must(t, err)
	eq(t, "prekey profile", pp, f.pp)
	ids, err := s.PrekeySecretIDs(alice, tagA)
	must(t, err)
	eq(t, "prekey ids", ids, []uint32{10, 11, 12})
	servers, err := s.PinnedServers(alice)
	must(t, err)
	eq(t, "servers", servers, []PinnedServer{f.server})
	td, err := s.TrustDecisions(alice)
	must(t, err)
	eq(t, "trust decisions", td, f.trust)
	d, err := s.Trust(alice, bob, f.trust[0].Fingerprint)
	must(t, err)
	eq(t, "trust", d, f.trust[0])
	contacts, err := s.Contacts(alice)
	must(t, err)
	eq(t, "contacts", contacts, []string{bob})
	kd, err := s.ContactDevices(alice, bob)
	must(t, err)
	eq(t, "known devices", kd, f.devices)
	conv, err := s.ConversationState(alice, tagA, bob, 0x200)
	must(t, err)
	eq(t, "conversation", conv, f.conv)
}

func TestRoundTripEveryRecord(t *testing.T) {
	s, path := newStore(t)
	f := populate(t, s)
	checkFixture(t, s, f)
	s = reopen(t, s, path)
	defer s.Close()
	checkFixture(t, s, f)
	pk, err := s.TakePrekeySecret(alice, tagA, 11)
	must(t, err)
	eq(t, "taken prekey", pk, f.pks[1])
}

func TestCreatedFileMode(t *testing.T) {
	s, path := newStore(t)
	defer s.Close()
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode())
	}
	if _, err := Create(path, pass, testOpts()); !errors.Is(err, ErrExist) {
		t.Fatalf("Create over an existing store: %v, want ErrExist", err)
	}
}

func TestRefusesWideMode(t *testing.T) {
	s, path := newStore(t)
	must(t, s.Close())
	must(t, os.Chmod(path, 0o640))
	if _, err := Open(path, pass, testOpts()); !errors.Is(err, ErrPermissions) {
		t.Fatalf("Open of a 0640 store: %v, want ErrPermissions", err)
	}
	must(t, os.Chmod(path, 0o600))
	s, err := Open(path, pass, testOpts())
	must(t, err)
	s.Close()
}

func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	if _, err := Open(path, pass, testOpts()); !errors.Is(err, ErrNotExist) {
		t.Fatalf("got %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Open created a file")
	}
}

func TestLocked(t *testing.T) {
	s, path := newStore(t)
	defer s.Close()
	start := time.Now()
	if _, err := Open(path, pass, testOpts()); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("lock wait took %v", d)
	}
}

func TestTakePrekeySecretOnce(t *testing.T) {
	s, path := newStore(t)
	f := populate(t, s)
	got, err := s.TakePrekeySecret(alice, tagA, 10)
	must(t, err)
	eq(t, "taken", got, f.pks[0])
	if _, err := s.TakePrekeySecret(alice, tagA, 10); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second take: %v, want ErrNotFound", err)
	}
	if err := s.AddPrekeySecrets(alice, tagA, f.pks[0]); !errors.Is(err, ErrPrekeyUsed) {
		t.Fatalf("re-adding a used prekey: %v, want ErrPrekeyUsed", err)
	}
	// All or nothing: a batch with one used identifier adds nothing.
	fresh := PrekeySecret{ID: 99, ECDHSecret: randBytes(t, ECDHSecretSize), DHSecret: randBytes(t, DHSecretSize)}
	if err := s.AddPrekeySecrets(alice, tagA, fresh, f.pks[0]); !errors.Is(err, ErrPrekeyUsed) {
		t.Fatalf("batch with a used prekey: %v", err)
	}
	s = reopen(t, s, path)
	defer s.Close()
	ids, err := s.PrekeySecretIDs(alice, tagA)
	must(t, err)
	eq(t, "ids after reopen", ids, []uint32{11, 12})
	if _, err := s.TakePrekeySecret(alice, tagA, 10); !errors.Is(err, ErrNotFound) {
		t.Fatalf("take after reopen: %v, want ErrNotFound", err)
	}
}

func TestUpdatesAndForgetting(t *testing.T) {
	s, _ := newStore(t)
	defer s.Close()
	f := populate(t, s)
	if err := s.PutIdentity(alice, f.id); !errors.Is(err, ErrExist) {
		t.Fatalf("replacing an identity: %v, want ErrExist", err)
	}
	other := f.server
	other.Fingerprint = randBytes(t, FingerprintSize)
	if _, err := s.PinServer(alice, other); !errors.Is(err, ErrPinMismatch) {
		t.Fatalf("re-pin: %v, want ErrPinMismatch", err)
	}
	same := f.server
	same.FirstSeen = ts(999)
	got, err := s.PinServer(alice, same)
	must(t, err)
	eq(t, "pin keeps first-seen time", got.FirstSeen, f.server.FirstSeen)
	must(t, s.ForgetServer(alice, f.server.ServerJID))
	if _, err := s.PinServer(alice, other); err != nil {
		t.Fatalf("pin after forget: %v", err)
	}
	// Trust decisions are replaced per (contact, fingerprint).
	d := f.trust[0]
	d.Trusted, d.Method, d.Time = false, MethodManual, ts(50)
	must(t, s.SetTrust(alice, d))
	got2, err := s.Trust(alice, bob, d.Fingerprint)
	must(t, err)
	eq(t, "updated trust", got2, d)
	if _, err := s.Trust(alice, bob, randBytes(t, FingerprintSize)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown fingerprint: %v", err)
	}
	// Known devices: update in place, forget one by one.
	dev := f.devices[0]
	dev.LastSeen = ts(60)
	must(t, s.SeeDevice(alice, bob, dev))
	kd, err := s.ContactDevices(alice, bob)
	must(t, err)
	eq(t, "updated device", kd, []KnownDevice{dev, f.devices[1]})
	must(t, s.ForgetContactDevice(alice, bob, 0x200))
	must(t, s.ForgetContactDevice(alice, bob, 0x9000))
	if _, err := s.ContactDevices(alice, bob); !errors.Is(err, ErrNotFound) {
		t.Fatalf("contact after forgetting all devices: %v", err)
	}
	must(t, s.DeleteConversationState(alice, tagA, bob, 0x200))
	if _, err := s.ConversationState(alice, tagA, bob, 0x200); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted conversation: %v", err)
	}
	must(t, s.ForgetDevice(alice, tagA))
	if _, err := s.Identity(alice, tagA); !errors.Is(err, ErrNotFound) {
		t.Fatalf("forgotten device: %v", err)
	}
	if _, err := s.TakePrekeySecret(alice, tagA, 11); !errors.Is(err, ErrNotFound) {
		t.Fatalf("prekey of a forgotten device: %v", err)
	}
	devs, err := s.Devices(alice)
	must(t, err)
	eq(t, "remaining devices", devs, []Identity{f.id2})
	must(t, s.ForgetAccount(alice))
	if accts, _ := s.Accounts(); len(accts) != 0 {
		t.Fatalf("accounts after forget: %v", accts)
	}
	if _, err := s.Devices(alice); !errors.Is(err, ErrNotFound) {
		t.Fatalf("devices of a forgotten account: %v", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	s, _ := newStore(t)
	defer s.Close()
	good := Identity{InstanceTag: tagA, LongTermSeed: randBytes(t, SeedSize), ForgingPublic: randBytes(t, PublicKeySize)}
	cases := map[string]error{
		"short seed":  s.PutIdentity(alice, Identity{InstanceTag: tagA, LongTermSeed: make([]byte, 56), ForgingPublic: good.ForgingPublic}),
		"low tag":     s.PutIdentity(alice, Identity{InstanceTag: 0xff, LongTermSeed: good.LongTermSeed, ForgingPublic: good.ForgingPublic}),
		"full JID":    s.PutIdentity(alice+"/res", good),
		"empty JID":   s.PutIdentity("", good),
		"no device":   s.PutClientProfile(alice, tagA, ClientProfile{}),
		"bad method":  s.SetTrust(alice, TrustDecision{Contact: bob, Fingerprint: make([]byte, FingerprintSize)}),
		"short fp":    s.SetTrust(alice, TrustDecision{Contact: bob, Fingerprint: make([]byte, 55), Method: MethodSMP}),
		"control JID": s.SetTrust(alice, TrustDecision{Contact: "bob\x00@x", Fingerprint: make([]byte, FingerprintSize), Method: MethodSMP}),
	}
	for name, err := range cases {
		if name == "no device" {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestWrongPassphraseChangesNothing(t *testing.T) {
	s, path := newStore(t)
	populate(t, s)
	must(t, s.Close())
	before, err := os.ReadFile(path)
	must(t, err)
	_, err = Open(path, []byte("wrong"), testOpts())
	if !errors.Is(err, ErrWrongPassphrase) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrWrongPassphrase only", err)
	}
	after, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(before, after) {
		t.Fatal("a failed Open modified the file")
	}
	// Reading does not write either.
	s, err = Open(path, pass, testOpts())
	must(t, err)
	if _, err := s.Devices(alice); err != nil {
		t.Fatal(err)
	}
	must(t, s.Close())
	after, err = os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(before, after) {
		t.Fatal("Open, a read and Close modified the file")
	}
}

func TestChangePassphrase(t *testing.T) {
	s, path := newStore(t)
	f := populate(t, s)
	before := rawValues(t, s)
	newPass := []byte("new passphrase")
	must(t, s.ChangePassphrase(newPass, &Options{KDF: KDFParams{Time: 1, Memory: 128, Threads: 2}}))
	after := rawValues(t, s)
	if len(after) != len(before) || len(before) < 10 {
		t.Fatalf("%d values before, %d after", len(before), len(after))
	}
	for k, v := range after {
		if bytes.Equal(before[k], v) {
			t.Errorf("value %q was not re-sealed", k)
		}
	}
	checkFixture(t, s, f)
	must(t, s.Close())
	if _, err := Open(path, pass, testOpts()); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase: %v, want ErrWrongPassphrase", err)
	}
	s, err := Open(path, newPass, testOpts())
	must(t, err)
	defer s.Close()
	checkFixture(t, s, f)
}

// rawValues returns every sealed value under accounts, keyed by its path.
func rawValues(t testing.TB, s *Store) map[string][]byte {
	out := map[string][]byte{}
	must(t, s.db.View(func(tx *bolt.Tx) error {
		return walkValues(tx, func(_ *bolt.Bucket, path [][]byte, key, v []byte) error {
			out[string(recordAD(path, key))] = bytes.Clone(v)
			return nil
		})
	}))
	return out
}

// rawUpdate edits the bbolt file directly, bypassing the keystore.
func rawUpdate(t testing.TB, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	must(t, err)
	must(t, db.Update(fn))
	must(t, db.Close())
}

func TestRecordsCannotBeSwapped(t *testing.T) {
	s, path := newStore(t)
	populate(t, s)
	name := s.k.accountName(alice)
	must(t, s.Close())
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		pk := tx.Bucket(bucketAccounts).Bucket(name).Bucket(bucketDevices).Bucket(tagKey(tagA)).Bucket(bucketPrekeys)
		a, b := bytes.Clone(pk.Get(tagKey(10))), bytes.Clone(pk.Get(tagKey(11)))
		must(t, pk.Put(tagKey(10), b))
		return pk.Put(tagKey(11), a)
	})
	if _, err := Open(path, pass, testOpts()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("swapped records: %v, want ErrCorrupt", err)
	}
}

func TestTruncated(t *testing.T) {
	s, path := newStore(t)
	populate(t, s)
	var used int
	must(t, s.db.View(func(tx *bolt.Tx) error { used = int(tx.Size()); return nil }))
	must(t, s.Close())
	full, err := os.ReadFile(path)
	must(t, err)
	// bbolt grows the file ahead of use; cutting only that unused tail loses nothing, so
	// the cuts are made inside the used part.
	for _, n := range []int{1, 100, 4096, 4096*2 + 17, used / 2, used - 4096, used - 1} {
		must(t, os.WriteFile(path, full[:n], 0o600))
		s, err := Open(path, pass, testOpts())
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, ErrTruncated) || !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d of %d used bytes: %v, want ErrTruncated", n, used, err)
		}
		got, _ := os.ReadFile(path)
		if len(got) != n {
			t.Errorf("truncated to %d: Open changed the file to %d bytes", n, len(got))
		}
	}
	must(t, os.WriteFile(path, nil, 0o600))
	if _, err := Open(path, pass, testOpts()); !errors.Is(err, ErrTruncated) {
		t.Errorf("empty file: %v, want ErrTruncated", err)
	}
}

// flip returns the file with one byte inverted at off.
func flipAt(t testing.TB, path string, full []byte, off int) {
	b := bytes.Clone(full)
	b[off] ^= 0xff
	must(t, os.WriteFile(path, b, 0o600))
}

func TestFlippedBytesInRecords(t *testing.T) {
	s, path := newStore(t)
	populate(t, s)
	vals := rawValues(t, s)
	var meta [][]byte
	must(t, s.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		meta = [][]byte{bytes.Clone(m.Get(metaKDF)), bytes.Clone(m.Get(metaKeys)), bytes.Clone(m.Get(metaVersion))}
		return nil
	}))
	must(t, s.Close())
	full, err := os.ReadFile(path)
	must(t, err)
	targets := meta
	for _, v := range vals {
		targets = append(targets, v)
	}
	for i, v := range targets {
		// Copy-on-write leaves stale copies in free pages: flip the byte in every copy.
		var offs []int
		for o := 0; ; {
			j := bytes.Index(full[o:], v)
			if j < 0 {
				break
			}
			offs = append(offs, o+j)
			o += j + 1
		}
		if len(offs) == 0 {
			t.Fatalf("value %d not found in the file", i)
		}
		for _, d := range []int{0, len(v) / 2, len(v) - 1} {
			b := bytes.Clone(full)
			for _, o := range offs {
				b[o+d] ^= 0xff
			}
			must(t, os.WriteFile(path, b, 0o600))
			s, err := Open(path, pass, testOpts())
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrWrongPassphrase) || errors.Is(err, ErrTruncated) {
				t.Errorf("value %d, byte %d flipped: %v, want ErrCorrupt", i, d, err)
			}
		}
	}
}

// TestFlippedBytesAnywhere flips bytes across the data pages: Open must either fail with
// ErrCorrupt or succeed with exactly the original content; it must never panic or report a
// wrong passphrase. (The two bbolt meta pages are left out: bbolt falls back to the older meta
// page when the newer one fails its checksum; see docs/keystore.md.)
func TestFlippedBytesAnywhere(t *testing.T) {
	s, path := newStore(t)
	f := populate(t, s)
	want := rawValues(t, s)
	var pageSize, used int
	must(t, s.db.View(func(tx *bolt.Tx) error { pageSize, used = tx.DB().Info().PageSize, int(tx.Size()); return nil }))
	must(t, s.Close())
	full, err := os.ReadFile(path)
	must(t, err)
	step := 41
	if testing.Short() {
		step = 151
	}
	corruptN, okN := 0, 0
	for off := 2 * pageSize; off < used; off += step {
		flipAt(t, path, full, off)
		s, err := Open(path, pass, testOpts())
		switch {
		case err == nil:
			okN++
			got := rawValues(t, s)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("flip at %d: opened with different content", off)
			}
			s.Close()
		case errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongPassphrase):
			corruptN++
		default:
			t.Errorf("flip at %d: %v", off, err)
		}
	}
	t.Logf("%d flips detected as corrupt, %d in unused space", corruptN, okN)
	if corruptN == 0 {
		t.Fatal("no flip was detected")
	}
	must(t, os.WriteFile(path, full, 0o600))
	s, err = Open(path, pass, testOpts())
	must(t, err)
	defer s.Close()
	checkFixture(t, s, f)
}

func setVersion(tx *bolt.Tx, v uint32) error {
	m := tx.Bucket(bucketMeta)
	if err := m.Put(metaVersion, binary.BigEndian.AppendUint32(nil, v)); err != nil {
		return err
	}
	return writeCheck(m)
}

func TestUnsupportedVersion(t *testing.T) {
	s, path := newStore(t)
	must(t, s.Close())
	rawUpdate(t, path, func(tx *bolt.Tx) error { return setVersion(tx, SchemaVersion+1) })
	if _, err := Open(path, pass, testOpts()); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("got %v, want ErrUnsupportedVersion", err)
	}
}

// makeV0 turns a current store into a synthetic version 0 store: version 0 in meta and the
// trust decisions sealed in the version 0 record format (no method byte).
func makeV0(t *testing.T, s *Store, path string, extra func(tx *bolt.Tx, trust node) error) {
	k := s.k
	name := k.accountName(alice)
	k2, err := newKeys(bytes.Clone(k.record), bytes.Clone(k.name))
	must(t, err)
	must(t, s.Close())
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketAccounts).Bucket(name).Bucket(bucketTrust)
		n := node{tb, [][]byte{bucketAccounts, name, bucketTrust}}
		var keys [][]byte
		must(t, tb.ForEach(func(key, _ []byte) error { keys = append(keys, bytes.Clone(key)); return nil }))
		for _, key := range keys {
			rec, err := k2.open(n.path, key, tb.Get(key))
			must(t, err)
			v, err := sealValue(k2.aead, rand.Reader, encodeTrustV0(rec.(*TrustDecision)), recordAD(n.path, key))
			must(t, err)
			must(t, tb.Put(key, v))
		}
		if extra != nil {
			must(t, extra(tx, n))
		}
		return setVersion(tx, 0)
	})
}

func TestMigrationFromV0(t *testing.T) {
	s, path := newStore(t)
	f := populate(t, s)
	makeV0(t, s, path, nil)
	// A v0 store does not decode as current records: the test would pass vacuously otherwise.
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		if v := binary.BigEndian.Uint32(tx.Bucket(bucketMeta).Get(metaVersion)); v != 0 {
			t.Fatalf("version %d", v)
		}
		return nil
	})
	s, err := Open(path, pass, testOpts())
	must(t, err)
	for i := range f.trust {
		f.trust[i].Method = MethodManual // v0 knew only manual verification
	}
	checkFixture(t, s, f)
	s = reopen(t, s, path)
	defer s.Close()
	checkFixture(t, s, f)
	must(t, s.db.View(func(tx *bolt.Tx) error {
		if v := binary.BigEndian.Uint32(tx.Bucket(bucketMeta).Get(metaVersion)); v != SchemaVersion {
			t.Errorf("version after migration %d", v)
		}
		return nil
	}))
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	s, path := newStore(t)
	populate(t, s)
	k2, err := newKeys(bytes.Clone(s.k.record), bytes.Clone(s.k.name))
	must(t, err)
	makeV0(t, s, path, func(tx *bolt.Tx, trust node) error {
		// A sealed, authentic record whose v0 body is malformed: the migration must fail.
		bad := append(encodeTrustV0(&TrustDecision{Contact: bob, Fingerprint: make([]byte, FingerprintSize), Time: ts(0)}), 0xEE)
		v, err := sealValue(k2.aead, rand.Reader, bad, recordAD(trust.path, []byte("k")))
		if err != nil {
			return err
		}
		return trust.b.Put([]byte("k"), v)
	})
	before, err := os.ReadFile(path)
	must(t, err)
	if _, err := Open(path, pass, testOpts()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		if v := binary.BigEndian.Uint32(tx.Bucket(bucketMeta).Get(metaVersion)); v != 0 {
			t.Errorf("version after failed migration: %d", v)
		}
		return nil
	})
	_ = before
}

func TestClosed(t *testing.T) {
	s, _ := newStore(t)
	must(t, s.Close())
	if _, err := s.Accounts(); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// BenchmarkOpen measures unlocking with DefaultKDF; BenchmarkOpenCheapKDF the rest of Open
// (structure check, authenticating and decoding every record, reopening read-write).
func BenchmarkOpen(b *testing.B) { benchmarkOpen(b, DefaultKDF) }

// BenchmarkOpenOldDefaultKDF measures the DefaultKDF before issue 16 (one pass over 64 MiB,
// 2 lanes), for comparison.
func BenchmarkOpenOldDefaultKDF(b *testing.B) {
	benchmarkOpen(b, KDFParams{Time: 1, Memory: 64 * 1024, Threads: 2})
}

func BenchmarkOpenCheapKDF(b *testing.B) { benchmarkOpen(b, testKDF) }

func benchmarkOpen(b *testing.B, kdf KDFParams) {
	path := filepath.Join(b.TempDir(), "keys.db")
	s, err := Create(path, pass, &Options{KDF: kdf})
	must(b, err)
	populate(b, s)
	must(b, s.Close())
	// CPU time is reported too: wall time on a shared, loaded machine says little.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	n := 0
	for b.Loop() {
		s, err := Open(path, pass, &Options{KDF: kdf})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
		n++
	}
	b.ReportMetric(float64(cpu()-start)/float64(n)/1e6, "cpu-ms/op")
}
