package keystore

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/otrchat/otrchat/otr4/otr3"
)

// libotrKey reads one of otr3's fixed test keys (libotr's file format).
func libotrKey(t testing.TB, name string) *otr3.PrivateKey {
	t.Helper()
	data, err := os.ReadFile("../otr4/otr3/testdata/" + name + ".private_key")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := otr3.ImportLibotrKeys(data)
	if err != nil || len(keys) != 1 {
		t.Fatalf("%v %v", keys, err)
	}
	return keys[0].Key
}

func otr3Record(t testing.TB, name string) OTR3Key {
	k := libotrKey(t, name)
	fp := k.Fingerprint()
	return OTR3Key{Key: k.Marshal(), Fingerprint: fp[:], Imported: true, Created: ts(20)}
}

func TestOTR3Key(t *testing.T) {
	s, path := newStore(t)
	if _, err := s.OTR3Key(alice); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no key yet: %v", err)
	}
	a := otr3Record(t, "alice")
	must(t, s.PutOTR3Key(alice, a, false))
	if err := s.PutOTR3Key(alice, otr3Record(t, "bob"), false); !errors.Is(err, ErrExist) {
		t.Fatalf("second key without replace: %v", err)
	}
	bad := otr3Record(t, "bob")
	bad.Fingerprint = a.Fingerprint
	if err := s.PutOTR3Key(bob, bad, false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("fingerprint of another key: %v", err)
	}
	bad = a
	bad.Key = append(bytes.Clone(a.Key), 0)
	if err := s.PutOTR3Key(bob, bad, false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("malformed key: %v", err)
	}
	s = reopen(t, s, path) // full decode and slot check of every record
	defer s.Close()
	got, err := s.OTR3Key(alice)
	must(t, err)
	eq(t, "key", got.Key, a.Key)
	eq(t, "fingerprint", got.Fingerprint, a.Fingerprint)
	eq(t, "imported", got.Imported, true)
	eq(t, "created", got.Created, a.Created)
	pk, err := s.OTR3PrivateKey(alice)
	must(t, err)
	if pk.Fingerprint() != libotrKey(t, "alice").Fingerprint() {
		t.Fatal("OTR3PrivateKey gives another key")
	}
	// The account's devices and other records are unaffected; replace works.
	must(t, s.PutOTR3Key(alice, otr3Record(t, "bob"), true))
	got, _ = s.OTR3Key(alice)
	eq(t, "replaced fingerprint", got.Fingerprint, otr3Record(t, "bob").Fingerprint)
	must(t, s.DeleteOTR3Key(alice))
	if _, err := s.OTR3Key(alice); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if accts, _ := s.Accounts(); len(accts) != 1 || accts[0] != alice {
		t.Fatalf("accounts %v", accts)
	}
}

// TestOTR3Trust: decisions on 20-byte OTRv3 fingerprints sit next to OTRv4 ones, both
// survive a reopen, and other lengths are refused.
func TestOTR3Trust(t *testing.T) {
	s, path := newStore(t)
	fp3 := randBytes(t, OTR3FingerprintSize)
	fp4 := randBytes(t, FingerprintSize)
	must(t, s.SetTrust(alice, TrustDecision{Contact: bob, Fingerprint: fp3, Trusted: true, Method: MethodSMP, Time: ts(1)}))
	must(t, s.SetTrust(alice, TrustDecision{Contact: bob, Fingerprint: fp4, Trusted: false, Method: MethodManual, Time: ts(2)}))
	if err := s.SetTrust(alice, TrustDecision{Contact: bob, Fingerprint: fp3[:19], Method: MethodManual}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("19-byte fingerprint: %v", err)
	}
	s = reopen(t, s, path)
	defer s.Close()
	d, err := s.Trust(alice, bob, fp3)
	must(t, err)
	if !d.Trusted || d.Method != MethodSMP || !bytes.Equal(d.Fingerprint, fp3) {
		t.Fatalf("OTRv3 decision %+v", d)
	}
	d, err = s.Trust(alice, bob, fp4)
	must(t, err)
	if d.Trusted || len(d.Fingerprint) != FingerprintSize {
		t.Fatalf("OTRv4 decision %+v", d)
	}
	all, err := s.TrustDecisions(alice)
	must(t, err)
	eq(t, "decisions", len(all), 2)
	// Decisions on OTRv4 fingerprints keep their record type and layout (stores written
	// before stay readable without a migration); OTRv3 ones have their own type.
	if b := encodeRecord(&TrustDecision{Contact: bob, Fingerprint: fp4, Method: MethodManual}); b[1] != typeTrust || len(b) != 2+4+len(bob)+FingerprintSize+1+1+12 {
		t.Fatalf("OTRv4 trust record: type %d, %d bytes", b[1], len(b))
	}
	if b := encodeRecord(&TrustDecision{Contact: bob, Fingerprint: fp3, Method: MethodManual}); b[1] != typeTrustOTR3 {
		t.Fatalf("OTRv3 trust record: type %d", b[1])
	}
	// A 20-byte prefix of the OTRv4 fingerprint is another fingerprint.
	if _, err := s.Trust(alice, bob, fp4[:OTR3FingerprintSize]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("prefix: %v", err)
	}
}

func TestOTR3Devices(t *testing.T) {
	s, path := newStore(t)
	fp := randBytes(t, OTR3FingerprintSize)
	must(t, s.SeeOTR3Device(alice, bob, KnownDevice{InstanceTag: 0x300, Fingerprint: fp, LastSeen: ts(3), FullJID: bob + "/pidgin"}))
	must(t, s.SeeOTR3Device(alice, bob, KnownDevice{InstanceTag: 0x200, Fingerprint: fp, LastSeen: ts(4)}))
	if err := s.SeeOTR3Device(alice, bob, KnownDevice{InstanceTag: 0x200, Fingerprint: randBytes(t, FingerprintSize)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("56-byte fingerprint: %v", err)
	}
	s = reopen(t, s, path)
	defer s.Close()
	ds, err := s.OTR3ContactDevices(alice, bob)
	must(t, err)
	if len(ds) != 2 || ds[0].InstanceTag != 0x200 || ds[1].FullJID != bob+"/pidgin" {
		t.Fatalf("devices %+v", ds)
	}
	if _, err := s.ContactDevices(alice, bob); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OTRv4 known devices: %v", err)
	}
	if cs, err := s.OTR3Contacts(alice); err != nil || len(cs) != 1 || cs[0] != bob {
		t.Fatalf("OTR3Contacts %v %v", cs, err)
	}
	must(t, s.ForgetOTR3ContactDevice(alice, bob, 0x200))
	if err := s.ForgetOTR3ContactDevice(alice, bob, 0x200); !errors.Is(err, ErrNotFound) {
		t.Fatalf("forgetting twice: %v", err)
	}
	must(t, s.ForgetOTR3ContactDevice(alice, bob, 0x300))
	if cs, err := s.OTR3Contacts(alice); err != nil || len(cs) != 0 {
		t.Fatalf("after forgetting every device: %v %v", cs, err)
	}
}

// TestOTR3RecordsCannotMove: an OTRv3 key record placed in a trust slot (with a valid seal
// for that slot) is refused by the slot check.
func TestOTR3Slots(t *testing.T) {
	k := otr3Record(t, "alice")
	if ok, mine := checkSlotOTR3(nil, [][]byte{bucketAccounts, []byte("x"), bucketTrust}, []byte("k"), &k); ok || !mine {
		t.Fatal("OTRv3 key accepted in the trust bucket")
	}
	if ok, mine := checkSlotOTR3(nil, [][]byte{bucketAccounts, []byte("x")}, keyOTR3Key, &accountRecord{JID: alice}); ok || !mine {
		t.Fatal("account record accepted in the OTRv3 key slot")
	}
}

func otr3Seeds(t testing.TB) [][]byte {
	k := otr3Record(t, "alice")
	rs := []record{
		&k,
		&TrustDecision{Contact: bob, Fingerprint: randBytes(t, OTR3FingerprintSize), Trusted: true, Method: MethodManual, Time: ts(5)},
		&otr3ContactRecord{Contact: bob, Devices: []KnownDevice{
			{InstanceTag: 0x100, Fingerprint: randBytes(t, OTR3FingerprintSize), LastSeen: ts(8), FullJID: bob + "/a"},
			{InstanceTag: 0x101, Fingerprint: randBytes(t, OTR3FingerprintSize)}}},
	}
	var out [][]byte
	for _, r := range rs {
		out = append(out, encodeRecord(r))
	}
	return out
}

func TestOTR3RecordRoundTrip(t *testing.T) {
	for _, b := range otr3Seeds(t) {
		r, err := decodeRecord(b)
		must(t, err)
		if !bytes.Equal(encodeRecord(r), b) {
			t.Fatalf("round trip of type %d", b[1])
		}
		for _, bad := range [][]byte{append(bytes.Clone(b), 0), b[:len(b)-1]} {
			if _, err := decodeRecord(bad); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("type %d, %d bytes: %v", b[1], len(bad), err)
			}
		}
	}
}

// FuzzDecodeOTR3Record is FuzzDecodeRecord seeded with the OTRv3 records.
func FuzzDecodeOTR3Record(f *testing.F) {
	for _, b := range otr3Seeds(f) {
		f.Add(b)
	}
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
