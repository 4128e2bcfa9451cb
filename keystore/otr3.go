package keystore

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/otrchat/otrchat/otr4/otr3"
)

// OTRv3 records, for the OTRv3-compatible mode (docs/keystore.md, "OTRv3"): the account's
// OTRv3 DSA key, trust decisions on OTRv3 fingerprints (20-byte SHA-1, kept as TrustDecision
// records of their own type), and the OTRv3 devices seen for a contact.

// OTR3FingerprintSize is the size of an OTRv3 fingerprint (SHA-1 of the DSA public key).
const OTR3FingerprintSize = 20

// maxOTR3Key bounds the encoded OTRv3 key: a DSA-1024 PUBKEY (four MPIs of at most 129
// bytes each with their lengths) and the private exponent.
const maxOTR3Key = 2048

// Record types of this file; numbers far from the core ones so that both can grow.
const (
	typeOTR3Key     byte = 40
	typeTrustOTR3   byte = 41
	typeOTR3Contact byte = 42
)

var (
	keyOTR3Key         = []byte("otr3-key")
	bucketOTR3Contacts = []byte("otr3-contacts")
)

// OTR3Key is an account's OTRv3 long-term DSA key. There is one per account, shared by the
// account's devices in this store, as libotr keeps one per account: a key imported from a
// libotr client keeps the fingerprint the account's contacts know.
type OTR3Key struct {
	Key         []byte // otr3.PrivateKey.Marshal: PUBKEY || MPI x (secret)
	Fingerprint []byte // OTR3FingerprintSize bytes, of the public key in Key
	Imported    bool   // imported from a libotr key file (else generated here)
	Created     time.Time
}

type otr3ContactRecord struct {
	Contact string
	Devices []KnownDevice // Fingerprint of OTR3FingerprintSize bytes; sorted by InstanceTag, unique
}

func (*OTR3Key) recordType() byte           { return typeOTR3Key }
func (*otr3ContactRecord) recordType() byte { return typeOTR3Contact }

func (r *OTR3Key) encodeBody(w *writer) {
	w.blob(r.Key)
	w.fixed(r.Fingerprint)
	w.bool(r.Imported)
	w.time(r.Created)
}

func (r *otr3ContactRecord) encodeBody(w *writer) { (*contactRecord)(r).encodeBody(w) }

// decodeOTR3Record decodes the record types of this file; nil for another type.
func decodeOTR3Record(typ byte, r *reader) record {
	switch typ {
	case typeOTR3Key:
		x := &OTR3Key{Key: r.blob(), Fingerprint: r.fixed(OTR3FingerprintSize), Imported: r.bool(), Created: r.time()}
		if r.err == nil && len(x.Key) > maxOTR3Key {
			r.fail("OTRv3 key too long")
		}
		return x
	case typeTrustOTR3:
		x := &TrustDecision{Contact: r.jid(), Fingerprint: r.fixed(OTR3FingerprintSize), Trusted: r.bool(), Method: TrustMethod(r.u8()), Time: r.time()}
		if r.err == nil && x.Method != MethodSMP && x.Method != MethodManual {
			r.fail("unknown trust method")
		}
		return x
	case typeOTR3Contact:
		x := &otr3ContactRecord{Contact: r.jid()}
		n := r.u32()
		if n > maxKnownDevices {
			r.fail("too many known devices")
		}
		for i := uint32(0); i < n && r.err == nil; i++ {
			d := KnownDevice{InstanceTag: r.tag(), Fingerprint: r.fixed(OTR3FingerprintSize), LastSeen: r.time(), FullJID: r.str()}
			if r.err == nil && i > 0 && d.InstanceTag <= x.Devices[i-1].InstanceTag {
				r.fail("known devices not sorted by instance tag")
			}
			x.Devices = append(x.Devices, d)
		}
		return x
	}
	return nil
}

// checkSlotOTR3 checks the slots of this file's records:
//
//	accounts/<H(account)>/otr3-key                    OTR3Key
//	accounts/<H(account)>/otr3-contacts/<H(contact)>  the contact's OTRv3 devices
//
// (trust decisions on OTRv3 fingerprints sit in trust/ like the others). mine is false when
// neither the slot nor the record is one of these.
func checkSlotOTR3(k *keys, path [][]byte, key []byte, rec record) (ok, mine bool) {
	n := len(path)
	switch r := rec.(type) {
	case *OTR3Key:
		return n == 2 && bytes.Equal(key, keyOTR3Key) && len(r.Fingerprint) == OTR3FingerprintSize, true
	case *otr3ContactRecord:
		return n == 3 && bytes.Equal(path[2], bucketOTR3Contacts) && len(r.Devices) > 0 &&
			bytes.Equal(key, k.contactKey(r.Contact)), true
	}
	if (n == 2 && bytes.Equal(key, keyOTR3Key)) || (n == 3 && bytes.Equal(path[2], bucketOTR3Contacts)) {
		return false, true
	}
	return false, false
}

// checkFingerprint accepts an OTRv4 (56-byte) or an OTRv3 (20-byte) fingerprint.
func checkFingerprint(fp []byte) error {
	if len(fp) != FingerprintSize && len(fp) != OTR3FingerprintSize {
		return fmt.Errorf("%w: fingerprint must be %d (OTRv4) or %d (OTRv3) bytes, not %d",
			ErrInvalid, FingerprintSize, OTR3FingerprintSize, len(fp))
	}
	return nil
}

func validateOTR3Key(k *OTR3Key) error {
	if len(k.Key) == 0 || len(k.Key) > maxOTR3Key {
		return fmt.Errorf("%w: OTRv3 key of %d bytes", ErrInvalid, len(k.Key))
	}
	pk, err := otr3.ParsePrivateKey(k.Key)
	if err != nil {
		return fmt.Errorf("%w: OTRv3 key: %v", ErrInvalid, err)
	}
	defer pk.Wipe()
	fp := pk.Fingerprint()
	if !bytes.Equal(fp[:], k.Fingerprint) {
		return fmt.Errorf("%w: the OTRv3 fingerprint does not match the key", ErrInvalid)
	}
	return nil
}

// PutOTR3Key stores the account's OTRv3 key (creating the account if needed). An existing
// key is replaced only with replace set (its contacts will see a new fingerprint); otherwise
// ErrExist.
func (s *Store) PutOTR3Key(account string, k OTR3Key, replace bool) error {
	if err := validateOTR3Key(&k); err != nil {
		return err
	}
	return s.update(func(t txn) error {
		a, err := t.account(account, true)
		if err != nil {
			return err
		}
		if a.b.Get(keyOTR3Key) != nil && !replace {
			return fmt.Errorf("%w: %s already has an OTRv3 key", ErrExist, account)
		}
		return t.put(a, keyOTR3Key, &k)
	})
}

// OTR3Key returns the account's OTRv3 key record, or ErrNotFound.
func (s *Store) OTR3Key(account string) (OTR3Key, error) {
	var k OTR3Key
	err := s.view(func(t txn) error {
		a, err := t.account(account, false)
		if err != nil {
			return err
		}
		r, err := get[*OTR3Key](t, a, keyOTR3Key)
		if err == ErrNotFound {
			return fmt.Errorf("%w: OTRv3 key of %s", err, account)
		}
		if err == nil {
			k = *r
		}
		return err
	})
	return k, err
}

// OTR3PrivateKey returns the account's OTRv3 key ready for otr3.Config.Key, or ErrNotFound.
func (s *Store) OTR3PrivateKey(account string) (*otr3.PrivateKey, error) {
	k, err := s.OTR3Key(account)
	if err != nil {
		return nil, err
	}
	defer clear(k.Key)
	pk, err := otr3.ParsePrivateKey(k.Key)
	if err != nil {
		return nil, corrupt("stored OTRv3 key: " + err.Error())
	}
	return pk, nil
}

// DeleteOTR3Key removes the account's OTRv3 key.
func (s *Store) DeleteOTR3Key(account string) error {
	return s.update(func(t txn) error {
		a, err := t.account(account, false)
		if err != nil {
			return err
		}
		if a.b.Get(keyOTR3Key) == nil {
			return fmt.Errorf("%w: OTRv3 key of %s", ErrNotFound, account)
		}
		return a.b.Delete(keyOTR3Key)
	})
}

// SeeOTR3Device records (or updates, by instance tag) one of a contact's OTRv3 instances;
// d.Fingerprint is the 20-byte OTRv3 fingerprint.
func (s *Store) SeeOTR3Device(account, contact string, d KnownDevice) error {
	if err := checkKnownDevice(contact, d, "OTRv3 fingerprint", OTR3FingerprintSize); err != nil {
		return err
	}
	return s.update(func(t txn) error {
		n, err := t.sub(account, bucketOTR3Contacts, true)
		if err != nil {
			return err
		}
		key := s.k.contactKey(contact)
		r, err := get[*otr3ContactRecord](t, n, key)
		if err == ErrNotFound {
			r, err = &otr3ContactRecord{Contact: contact}, nil
		}
		if err != nil {
			return err
		}
		if r.Devices, err = upsertDevice(r.Devices, d, contact, "known OTRv3 devices"); err != nil {
			return err
		}
		return t.put(n, key, r)
	})
}

// OTR3ContactDevices returns a contact's known OTRv3 instances sorted by instance tag
// (ErrNotFound when none).
func (s *Store) OTR3ContactDevices(account, contact string) ([]KnownDevice, error) {
	var out []KnownDevice
	err := s.view(func(t txn) error {
		n, err := t.sub(account, bucketOTR3Contacts, false)
		if err != nil {
			return err
		}
		r, err := get[*otr3ContactRecord](t, n, s.k.contactKey(contact))
		if err == ErrNotFound {
			return fmt.Errorf("%w: OTRv3 devices of %s", err, contact)
		}
		if err == nil {
			out = r.Devices
		}
		return err
	})
	return out, err
}

// trustType is the record type of a trust decision: OTRv3 fingerprints have their own.
func trustType(fp []byte) byte {
	if len(fp) == OTR3FingerprintSize {
		return typeTrustOTR3
	}
	return typeTrust
}

// OTR3Contacts lists the contacts of account with known OTRv3 instances, sorted.
func (s *Store) OTR3Contacts(account string) ([]string, error) {
	var out []string
	err := s.view(func(t txn) error {
		n, err := t.sub(account, bucketOTR3Contacts, false)
		if err != nil {
			return notFoundIsEmpty(err)
		}
		return n.b.ForEach(func(k, _ []byte) error {
			r, err := get[*otr3ContactRecord](t, n, k)
			if err == nil {
				out = append(out, r.Contact)
			}
			return err
		})
	})
	slices.Sort(out)
	return out, err
}

// ForgetOTR3ContactDevice removes one known OTRv3 instance of a contact.
func (s *Store) ForgetOTR3ContactDevice(account, contact string, tag uint32) error {
	return s.update(func(t txn) error {
		n, err := t.sub(account, bucketOTR3Contacts, false)
		if err != nil {
			return err
		}
		key := s.k.contactKey(contact)
		r, err := get[*otr3ContactRecord](t, n, key)
		if err != nil {
			return fmt.Errorf("%w: OTRv3 devices of %s", err, contact)
		}
		i := slices.IndexFunc(r.Devices, func(d KnownDevice) bool { return d.InstanceTag == tag })
		if i < 0 {
			return fmt.Errorf("%w: OTRv3 device %#08x of %s", ErrNotFound, tag, contact)
		}
		r.Devices = slices.Delete(r.Devices, i, i+1)
		if len(r.Devices) == 0 {
			return n.b.Delete(key)
		}
		return t.put(n, key, r)
	})
}
