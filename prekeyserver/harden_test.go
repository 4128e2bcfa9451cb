package prekeyserver

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

// clockServer is a server with default limits (but for mod) on a clock the
// test moves.
func clockServer(t testing.TB, mod func(*Config)) (*Server, *time.Time) {
	t.Helper()
	now := new(time.Time)
	*now = testNow
	cfg := Config{Name: serverName, DataDir: t.TempDir(), Logger: testLogger(t), Now: func() time.Time { return *now }}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, now
}

// deviceUntil is a device whose client profile expires at cpExp; its
// publications carry a prekey profile expiring at ppExp.
type timedDevice struct {
	*device
	ppExp time.Time
}

func deviceUntil(t testing.TB, bare, resource string, cpExp, ppExp time.Time) *timedDevice {
	t.Helper()
	d := newDevice(t, bare, resource)
	var err error
	if d.profile, err = otr4.NewClientProfile(d.id, d.tag, "4", cpExp); err != nil {
		t.Fatal(err)
	}
	return &timedDevice{d, ppExp}
}

func (d *timedDevice) publish(t testing.TB, s *Server, n int) error {
	t.Helper()
	pp, ps, err := otr4.NewPrekeyProfile(rand.Reader, d.id, d.tag, d.ppExp)
	if err != nil {
		t.Fatal(err)
	}
	r := &prekey.PublishRequest{ClientProfile: d.profile, PrekeyProfile: pp, PrekeyProfileSecret: ps}
	r.PrekeyMessages, r.PrekeySecrets = prekeyMessages(t, d.tag, n)
	res, err := d.dake(t, direct(s), s.Fingerprint(), r, nil)
	if err == nil && res.Kind != prekey.ResultSuccess {
		err = fmt.Errorf("result %v", res.Kind)
	}
	return err
}

// TestDeviceSlotsExpire: an account whose device slots (the default 32, or
// 4) belong to devices whose profiles expired, or that are drained and
// idle, can publish a new device; while they are alive it cannot (issue
// 16, item 5).
func TestDeviceSlotsExpire(t *testing.T) {
	day := 24 * time.Hour
	t.Run("expired profiles", func(t *testing.T) {
		s, now := clockServer(t, nil)
		for i := range 32 {
			d := deviceUntil(t, "alice@localhost", fmt.Sprint("old", i), testNow.Add(14*day), testNow.Add(7*day))
			if err := d.publish(t, s, 1); err != nil {
				t.Fatalf("device %d: %v", i, err)
			}
		}
		*now = testNow.Add(6 * day)
		fresh := deviceUntil(t, "alice@localhost", "new", now.Add(14*day), now.Add(7*day))
		if err := fresh.publish(t, s, 1); !errors.Is(err, prekey.ErrFailure) {
			t.Fatalf("a 33rd device while 32 are alive: %v", err)
		}
		// The prekey profiles of the old devices expire at day 7: they can
		// never be handed out again.
		*now = testNow.Add(8 * day)
		if err := fresh.publish(t, s, 1); err != nil {
			t.Fatalf("a new device after the old ones expired: %v", err)
		}
		m := retrieve(t, direct(s), jid.MustParse("bob@localhost/pc"), 0x1234, "alice@localhost")
		if r, ok := m.(*prekey.EnsembleRetrieval); !ok || len(r.Ensembles) != 1 || r.Ensembles[0].Client.InstanceTag != fresh.tag {
			t.Fatalf("retrieval after the slots were freed: %#v", m)
		}
	})
	t.Run("drained and idle", func(t *testing.T) {
		// Four slots keep this case quick; the first case has the default 32.
		s, now := clockServer(t, func(c *Config) { c.Limits.MaxDevicesPerAccount = 4 })
		for i := range 4 {
			d := deviceUntil(t, "alice@localhost", fmt.Sprint("old", i), testNow.Add(90*day), testNow.Add(90*day))
			if err := d.publish(t, s, 1); err != nil {
				t.Fatalf("device %d: %v", i, err)
			}
		}
		// One retrieval drains all 4 devices.
		m := retrieve(t, direct(s), jid.MustParse("bob@localhost/pc"), 0x1234, "alice@localhost")
		if r, ok := m.(*prekey.EnsembleRetrieval); !ok || len(r.Ensembles) != 4 {
			t.Fatalf("drain: %#v", m)
		}
		fresh := deviceUntil(t, "alice@localhost", "new", testNow.Add(90*day), testNow.Add(90*day))
		*now = testNow.Add(2 * day) // drained, but recently: they may refill
		if err := fresh.publish(t, s, 1); !errors.Is(err, prekey.ErrFailure) {
			t.Fatalf("a 5th device while 4 were drained recently: %v", err)
		}
		*now = testNow.Add(31 * day)
		if err := fresh.publish(t, s, 1); err != nil {
			t.Fatalf("a new device after the old ones stayed drained for 31 days: %v", err)
		}
	})
}

// TestServedDomains: only accounts of the configured domain (by default
// the parent of the component's name) may run a DAKE and have ensembles
// handed out (issue 16, item 7).
func TestServedDomains(t *testing.T) {
	s := newServer(t, t.TempDir(), Limits{})
	for _, bare := range []string{"mallory@evil.example", "mallory@prekeys.localhost.evil"} {
		d := newDevice(t, bare, "x")
		res, err := d.dake(t, direct(s), s.Fingerprint(), d.publishRequest(t, 3), nil)
		if !errors.Is(err, prekey.ErrUnauthenticatedFailure) {
			t.Fatalf("%s publishes: %v %v", bare, res, err)
		}
		if n, _ := s.Stored(bare, d.tag); n != 0 {
			t.Fatalf("%s: %d stored", bare, n)
		}
		if _, err := d.dake(t, direct(s), s.Fingerprint(), prekey.StorageRequest{}, nil); !errors.Is(err, prekey.ErrUnauthenticatedFailure) {
			t.Fatalf("%s asks for its storage status: %v", bare, err)
		}
	}
	// A user of the served domain publishes and anyone, from anywhere,
	// may fetch its ensembles.
	d := newDevice(t, "alice@localhost", "x")
	if res, err := d.dake(t, direct(s), s.Fingerprint(), d.publishRequest(t, 2), nil); err != nil || res.Kind != prekey.ResultSuccess {
		t.Fatal(res, err)
	}
	if _, ok := retrieve(t, direct(s), jid.MustParse("carol@elsewhere.example/x"), 0x1234, "alice@localhost").(*prekey.EnsembleRetrieval); !ok {
		t.Fatal("a federated contact cannot fetch a local user's ensemble")
	}
	if _, ok := retrieve(t, direct(s), jid.MustParse("alice@localhost/x"), 0x1234, "mallory@evil.example").(*prekey.NoEnsembles); !ok {
		t.Fatal("ensembles for a foreign domain")
	}
}

// TestServedDomainsWidened: Domains names the served domains; "*" serves
// every domain.
func TestServedDomainsWidened(t *testing.T) {
	s, _ := clockServer(t, func(c *Config) { c.Domains = []string{"example.org", "Example.NET"} })
	for bare, ok := range map[string]bool{"a@example.org": true, "b@example.net": true, "c@localhost": false} {
		d := newDevice(t, bare, "x")
		_, err := d.dake(t, direct(s), s.Fingerprint(), d.publishRequest(t, 1), nil)
		if (err == nil) != ok {
			t.Errorf("%s: %v", bare, err)
		}
	}
	s, _ = clockServer(t, func(c *Config) { c.Domains = []string{"*"} })
	d := newDevice(t, "mallory@evil.example", "x")
	if _, err := d.dake(t, direct(s), s.Fingerprint(), d.publishRequest(t, 1), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Name: serverName, DataDir: t.TempDir(), Domains: []string{"a@b"}}); err == nil {
		t.Fatal("a JID accepted as a served domain")
	}
}

// TestStorageQuota: MaxStorageBytes bounds what all accounts store
// together; a publication past it is refused whole, retrievals free room,
// and the count survives a restart (issue 16, item 7).
func TestStorageQuota(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, dir, Limits{})
	a := newDevice(t, "alice@localhost", "a")
	if _, err := a.dake(t, direct(s), s.Fingerprint(), a.publishRequest(t, 10), nil); err != nil {
		t.Fatal(err)
	}
	used := s.StorageBytes()
	if used < 10*400 || used > 10*1000 {
		t.Fatalf("%d bytes counted for 10 prekey messages and two profiles", used)
	}
	s.Close()
	// Room for about 5 more prekey messages of another account.
	quota := used + 5*500
	s = newServer(t, dir, Limits{MaxStorageBytes: quota})
	if s.StorageBytes() != used {
		t.Fatalf("%d bytes counted after a restart, %d before", s.StorageBytes(), used)
	}
	b := newDevice(t, "bob@localhost", "b")
	if _, err := b.dake(t, direct(s), s.Fingerprint(), b.publishRequest(t, 10), nil); !errors.Is(err, prekey.ErrFailure) {
		t.Fatalf("a publication past the quota: %v", err)
	}
	if n, _ := s.Stored(b.bare, b.tag); n != 0 || s.StorageBytes() != used {
		t.Fatalf("%d stored, %d bytes after a refused publication", n, s.StorageBytes())
	}
	if _, err := b.dake(t, direct(s), s.Fingerprint(), b.publishRequest(t, 2), nil); err != nil {
		t.Fatalf("a publication within the quota: %v", err)
	}
	if s.StorageBytes() > quota {
		t.Fatalf("%d bytes stored, quota %d", s.StorageBytes(), quota)
	}
	before := s.StorageBytes()
	retrieve(t, direct(s), jid.MustParse("carol@localhost/x"), 0x1234, "alice@localhost")
	if s.StorageBytes() >= before {
		t.Fatalf("a retrieval did not free storage: %d, then %d", before, s.StorageBytes())
	}
}

// fragmentAttack makes each of jids full JIDs hold partial fragmented
// messages: the first 7 of 8 fragments of 64 KiB of two messages each,
// under the per-sender limit (2 × 512 KiB) of the default limits.
func fragmentAttack(s *Server, jids int) {
	piece := strings.Repeat("A", 64<<10)
	for j := range jids {
		from := jid.MustParse(fmt.Sprintf("mallory%d@localhost/r%d", j, j))
		for msg := range 2 {
			for k := 1; k <= 7; k++ {
				s.Handle(from, fmt.Sprintf("?OTRP|%x|100|0,%d,8,%s,", 0x1000+msg, k, piece))
			}
		}
	}
}

// heapHeld runs attack and returns the heap it leaves allocated.
func heapHeld(attack func()) int64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	attack()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	return int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
}

// TestFragmentMemoryBound: 200 full JIDs with partial messages hold a
// bounded amount of memory (16 MiB by default; the test allows 24 MiB of
// heap for the bookkeeping around it), and a sender that completes its
// message afterwards is still served (issue 16, item 6).
func TestFragmentMemoryBound(t *testing.T) {
	s := newServer(t, t.TempDir(), Limits{})
	held := heapHeld(func() { fragmentAttack(s, 200) })
	t.Logf("200 full JIDs with partial messages hold %.1f MiB of heap", float64(held)/(1<<20))
	if held > 24<<20 {
		t.Fatalf("200 full JIDs with partial messages hold %d bytes", held)
	}
	if n := s.FragmentBytes(); n > DefaultLimits().MaxFragmentBytes || n < DefaultLimits().MaxFragmentBytes/2 {
		t.Fatalf("%d bytes counted for partial messages", n)
	}
	d := newDevice(t, "alice@localhost", "laptop")
	tr := func(from jid.JID, body string) []string {
		frags, err := prekey.Fragment(rand.Reader, body, 2000, d.tag, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range frags {
			out = append(out, s.Handle(from, f)...)
		}
		return out
	}
	if res, err := d.dake(t, tr, s.Fingerprint(), d.publishRequest(t, 20), nil); err != nil || res.Kind != prekey.ResultSuccess {
		t.Fatalf("a fragmented publication after the attack: %v %v", res, err)
	}
}

// BenchmarkFragmentAttack reports the heap held by 200 full JIDs with
// partial messages (held-B/op) and the CPU time the attack costs.
func BenchmarkFragmentAttack(b *testing.B) {
	for range b.N {
		b.StopTimer()
		s := newServer(b, b.TempDir(), Limits{})
		cpu0 := cpuTime()
		b.StartTimer()
		held := heapHeld(func() { fragmentAttack(s, 200) })
		b.StopTimer()
		b.ReportMetric(float64(held), "held-B/op")
		b.ReportMetric(float64(cpuTime()-cpu0), "cpu-ns/op")
		s.Close()
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// TestFragmentAccounting: what the partial messages count goes back to
// zero when messages complete, are refused or time out.
func TestFragmentAccounting(t *testing.T) {
	s, now := clockServer(t, nil)
	from := jid.MustParse("alice@localhost/x")
	s.Handle(from, "?OTRP|1|100|0,9,2,AAQ,") // malformed: k > n
	if n := s.FragmentBytes(); n != 0 {
		t.Fatalf("%d bytes counted after a malformed fragment", n)
	}
	frags, err := prekey.Fragment(rand.Reader, prekey.Encode((&prekey.EnsembleQuery{SenderTag: 0x100, Identity: "bob@localhost", Versions: "4"}).Marshal()), 80, 0x100, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frags {
		replies := s.Handle(from, f)
		if i < len(frags)-1 && (len(replies) != 0 || s.FragmentBytes() == 0) {
			t.Fatalf("fragment %d: %d replies, %d bytes counted", i, len(replies), s.FragmentBytes())
		}
	}
	if n := s.FragmentBytes(); n != 0 {
		t.Fatalf("%d bytes counted after the message completed", n)
	}
	s.Handle(from, frags[0])
	*now = now.Add(DefaultLimits().SessionTimeout + time.Minute)
	s.Handle(jid.MustParse("bob@localhost/y"), "hello")
	if n := s.FragmentBytes(); n != 0 {
		t.Fatalf("%d bytes counted after the partial message timed out", n)
	}
}

// BenchmarkForeignPublishers reports what 10 accounts of a federated domain
// (evil.example, which the server does not serve) make the server store by
// publishing 20 prekey messages each: the growth of prekeys.db (stored-B/op)
// and the server's CPU time.
func BenchmarkForeignPublishers(b *testing.B) {
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		s := newServer(b, dir, Limits{})
		var reqs []*prekey.PublishRequest
		var devs []*device
		for i := range 10 {
			d := newDevice(b, fmt.Sprintf("user%d@evil.example", i), "x")
			devs, reqs = append(devs, d), append(reqs, d.publishRequest(b, 20))
		}
		size := func() int64 {
			fi, err := os.Stat(filepath.Join(dir, dbFile))
			if err != nil {
				b.Fatal(err)
			}
			return fi.Size()
		}
		before := size()
		cpu0 := cpuTime()
		b.StartTimer()
		for i, d := range devs {
			d.dake(b, direct(s), s.Fingerprint(), reqs[i], nil)
		}
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-cpu0), "cpu-ns/op")
		b.ReportMetric(float64(size()-before), "stored-B/op")
		s.Close()
	}
}
