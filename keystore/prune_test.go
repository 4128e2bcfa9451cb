package keystore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// clockStore creates a store whose clock the test moves.
func clockStore(t *testing.T) (s *Store, path string, now *time.Time, opts *Options) {
	t.Helper()
	now = new(time.Time)
	*now = ts(0)
	opts = testOpts()
	opts.Now = func() time.Time { return *now }
	path = filepath.Join(t.TempDir(), "keys.db")
	s, err := Create(path, pass, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, path, now, opts
}

func reopenWith(t *testing.T, s *Store, path string, opts *Options) *Store {
	t.Helper()
	must(t, s.Close())
	s2, err := Open(path, pass, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	return s2
}

func secret(t *testing.T, id uint32) PrekeySecret {
	return PrekeySecret{ID: id, ECDHSecret: randBytes(t, ECDHSecretSize), DHSecret: randBytes(t, DHSecretSize), Created: ts(0)}
}

// TestUsedPrekeyMarkersPruned: a used marker refuses its identifier until the prekey profile
// in force when it was taken has expired (plus the grace), across a reopen of the store; then
// PruneUsedPrekeys (or AddPrekeySecrets on its own) removes it and the identifier may be
// stored again.
func TestUsedPrekeyMarkersPruned(t *testing.T) {
	s, path, now, opts := clockStore(t)
	must(t, s.PutIdentity(alice, Identity{InstanceTag: tagA, LongTermSeed: randBytes(t, SeedSize), ForgingPublic: randBytes(t, PublicKeySize), Created: ts(0)}))
	must(t, s.PutPrekeyProfile(alice, tagA, PrekeyProfile{Encoded: []byte{1}, SharedPrekeySecret: randBytes(t, ECDHSecretSize), Expires: ts(3600)}))
	must(t, s.AddPrekeySecrets(alice, tagA, secret(t, 7), secret(t, 8)))
	if _, err := s.TakePrekeySecret(alice, tagA, 7); err != nil {
		t.Fatal(err)
	}
	// A later profile, then prekey 8 taken under it.
	must(t, s.PutPrekeyProfile(alice, tagA, PrekeyProfile{Encoded: []byte{2}, SharedPrekeySecret: randBytes(t, ECDHSecretSize), Expires: ts(10 * 86400)}))
	*now = ts(60)
	if _, err := s.TakePrekeySecret(alice, tagA, 8); err != nil {
		t.Fatal(err)
	}

	// Profile 1 expired, but within the grace: both still matter.
	*now = ts(3600).Add(UsedMarkerGrace - time.Second)
	s = reopenWith(t, s, path, opts)
	if n, err := s.PruneUsedPrekeys(alice, tagA); err != nil || n != 0 {
		t.Fatalf("pruned %d, %v within the grace", n, err)
	}
	if err := s.AddPrekeySecrets(alice, tagA, secret(t, 7)); !errors.Is(err, ErrPrekeyUsed) {
		t.Fatalf("re-adding 7 within the grace: %v", err)
	}
	// After it: 7 can go, 8 (taken under the later profile) stays.
	*now = ts(3600).Add(UsedMarkerGrace + time.Second)
	s = reopenWith(t, s, path, opts)
	if n, err := s.PruneUsedPrekeys(alice, tagA); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v after the grace", n, err)
	}
	if ids, err := s.UsedPrekeyIDs(alice, tagA); err != nil || !slices.Equal(ids, []uint32{8}) {
		t.Fatalf("markers left: %v, %v", ids, err)
	}
	must(t, s.AddPrekeySecrets(alice, tagA, secret(t, 7)))
	if err := s.AddPrekeySecrets(alice, tagA, secret(t, 8)); !errors.Is(err, ErrPrekeyUsed) {
		t.Fatalf("re-adding 8: %v", err)
	}

	// AddPrekeySecrets prunes on its own once 8's profile has expired too.
	*now = ts(10 * 86400).Add(UsedMarkerGrace + time.Second)
	s = reopenWith(t, s, path, opts)
	must(t, s.AddPrekeySecrets(alice, tagA, secret(t, 9)))
	if ids, err := s.UsedPrekeyIDs(alice, tagA); err != nil || len(ids) != 0 {
		t.Fatalf("markers left after AddPrekeySecrets: %v, %v", ids, err)
	}
}

// TestLegacyUsedMarker: a marker written by schema version 1 (no expiry) matters for
// legacyMarkerLife after it was taken.
func TestLegacyUsedMarker(t *testing.T) {
	r := &usedPrekeyRecord{ID: 1, Taken: ts(0)}
	if !r.matters(ts(0).Add(legacyMarkerLife)) || r.matters(ts(0).Add(legacyMarkerLife+time.Second)) {
		t.Fatal("legacy marker lifetime")
	}
	if b := encodeRecord(r); b[1] != typeUsedPrekey {
		t.Fatalf("legacy marker encoded as type %d", b[1])
	}
}

// TestSeenPrekeys: the seen-prekey log survives a reopen, keeps the first sighting of each
// digest, lists oldest first, and keeps only the newest MaxSeenPrekeys.
func TestSeenPrekeys(t *testing.T) {
	s, path, now, opts := clockStore(t)
	d := func(i int) [32]byte { return sha256.Sum256([]byte{byte(i >> 8), byte(i)}) }
	must(t, s.AddSeenPrekeys(alice, d(1), d(2)))
	*now = ts(10)
	must(t, s.AddSeenPrekeys(alice, d(3), d(1))) // d(1) keeps its first time
	s = reopenWith(t, s, path, opts)
	got, err := s.SeenPrekeys(alice)
	// d(1) and d(2) were seen at the same time: ordered by digest.
	want := [][32]byte{d(1), d(2)}
	slices.SortFunc(want, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	want = append(want, d(3))
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("SeenPrekeys = %x, %v", got, err)
	}
	if got, err := s.SeenPrekeys(bob); !errors.Is(err, ErrNotFound) || len(got) != 0 {
		t.Fatalf("unknown account: %v, %v", got, err)
	}
	if got, err := s.SeenPrekeyLog(bob).SeenPrekeys(); err != nil || len(got) != 0 {
		t.Fatalf("unknown account's log: %v, %v", got, err)
	}
	// Past the bound (and its slack) the oldest go.
	total := MaxSeenPrekeys + seenSlack + 10
	batch := make([][32]byte, 0, 512)
	for i := 4; i < total; i++ {
		*now = ts(int64(100 + i))
		batch = append(batch, d(i))
		if len(batch) == cap(batch) || i == total-1 {
			must(t, s.SeenPrekeyLog(alice).AddSeenPrekeys(batch...))
			batch = batch[:0]
		}
	}
	s = reopenWith(t, s, path, opts)
	got, err = s.SeenPrekeyLog(alice).SeenPrekeys()
	if err != nil || len(got) != MaxSeenPrekeys || !slices.Contains(got, d(total-1)) || slices.Contains(got, d(1)) || slices.Contains(got, d(3)) {
		t.Fatalf("after %d: %d kept, %v", total, len(got), err)
	}
}
