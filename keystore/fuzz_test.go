package keystore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func seedRecords(t testing.TB) [][]byte {
	s := []record{
		&accountRecord{JID: alice},
		&Identity{InstanceTag: tagA, LongTermSeed: randBytes(t, SeedSize), ForgingPublic: randBytes(t, PublicKeySize), ForgingSecret: randBytes(t, SeedSize), Created: ts(1)},
		&Identity{InstanceTag: tagB, LongTermSeed: randBytes(t, SeedSize), ForgingPublic: randBytes(t, PublicKeySize)},
		&ClientProfile{Encoded: randBytes(t, 40), Expires: ts(2)},
		&PrekeyProfile{Encoded: []byte{}, SharedPrekeySecret: randBytes(t, ECDHSecretSize), Expires: ts(3)},
		&PrekeySecret{ID: 7, ECDHSecret: randBytes(t, ECDHSecretSize), DHSecret: randBytes(t, DHSecretSize), Created: ts(4)},
		&usedPrekeyRecord{ID: 8, Taken: ts(5)},
		&usedPrekeyRecord{ID: 9, Taken: ts(5), Until: ts(9), v2: true},
		&seenPrekeyRecord{Digest: [32]byte{1, 2, 3, 31: 0xff}, Seen: ts(10)},
		&PinnedServer{ServerJID: "prekeys.example.org", Fingerprint: randBytes(t, FingerprintSize), FirstSeen: ts(6)},
		&TrustDecision{Contact: bob, Fingerprint: randBytes(t, FingerprintSize), Trusted: true, Method: MethodSMP, Time: ts(7)},
		&contactRecord{Contact: bob, Devices: []KnownDevice{
			{InstanceTag: 0x100, Fingerprint: randBytes(t, FingerprintSize), LastSeen: ts(8), FullJID: bob + "/a"},
			{InstanceTag: 0x101, Fingerprint: randBytes(t, FingerprintSize)}}},
		&conversationRecord{Contact: bob, InstanceTag: 0x200, State: []byte("state")},
		&passwordRecord{Password: "correct horse battery staple"},
	}
	var out [][]byte
	for _, r := range s {
		out = append(out, encodeRecord(r))
	}
	return out
}

// TestRecordRoundTrip checks decode(encode(r)) for a record of every type, and that every
// strict check rejects: each seed with a byte appended, one removed, or a bad version.
func TestRecordRoundTrip(t *testing.T) {
	for _, b := range seedRecords(t) {
		r, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("type %d: %v", b[1], err)
		}
		if got := encodeRecord(r); !bytes.Equal(got, b) {
			t.Fatalf("type %d: re-encoding differs", b[1])
		}
		for name, bad := range map[string][]byte{
			"trailing": append(bytes.Clone(b), 0),
			"short":    b[:len(b)-1],
			"version":  append([]byte{9}, b[1:]...),
			"type":     append([]byte{b[0], 99}, b[2:]...),
		} {
			if _, err := decodeRecord(bad); !errors.Is(err, ErrCorrupt) {
				t.Errorf("type %d, %s: %v, want ErrCorrupt", b[1], name, err)
			}
		}
	}
}

// FuzzDecodeRecord: the decoder never panics, and whatever it accepts re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, b := range seedRecords(f) {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, typeContact, 0, 0, 0, 1, 'x', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		if got := encodeRecord(r); !bytes.Equal(got, b) {
			t.Fatalf("accepted %x but re-encodes to %x", b, got)
		}
	})
}

// FuzzCheckBolt feeds damaged store files to the structure check that runs before bbolt maps
// a file: it must never panic, and a file it accepts must be safe to give to Open, which then
// returns (usually ErrCorrupt) and never panics or faults. The seed is a real store written
// with 1 KiB pages, so that mutations reach every page.
func FuzzCheckBolt(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.db")
	o := testOpts()
	o.pageSize = 1024
	s, err := Create(path, pass, o)
	must(f, err)
	must(f, s.PutIdentity(alice, Identity{InstanceTag: tagA, LongTermSeed: randBytes(f, SeedSize), ForgingPublic: randBytes(f, PublicKeySize)}))
	must(f, s.SetTrust(alice, TrustDecision{Contact: bob, Fingerprint: randBytes(f, FingerprintSize), Method: MethodSMP}))
	must(f, s.AddPrekeySecrets(alice, tagA, PrekeySecret{ID: 1, ECDHSecret: randBytes(f, ECDHSecretSize), DHSecret: randBytes(f, DHSecretSize)}))
	var used int64
	must(f, s.view(func(t txn) error { used = t.tx.Size(); return nil }))
	must(f, s.Close())
	full, err := os.ReadFile(path)
	must(f, err)
	if err := checkBolt(full[:used]); err != nil {
		f.Fatalf("seed rejected: %v", err)
	}
	f.Add(full[:used])
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := checkBolt(b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		p := filepath.Join(t.TempDir(), "k.db")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(p, pass, testOpts())
		if err != nil {
			return
		}
		s.Accounts()
		s.Devices(alice)
		s.TrustDecisions(alice)
		s.Close()
	})
}
