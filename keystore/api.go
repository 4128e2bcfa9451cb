package keystore

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// node is a bucket together with its path from the root, which sealing binds into the AD.
type node struct {
	b    *bolt.Bucket
	path [][]byte
}

func (n node) child(name []byte, create bool) (node, error) {
	var b *bolt.Bucket
	if create {
		var err error
		if b, err = n.b.CreateBucketIfNotExists(name); err != nil {
			return node{}, fmt.Errorf("keystore: %w", err)
		}
	} else if b = n.b.Bucket(name); b == nil {
		return node{}, ErrNotFound
	}
	return node{b, append(slices.Clone(n.path), bytes.Clone(name))}, nil
}

// txn is one bbolt transaction with the store's keys.
type txn struct {
	s  *Store
	tx *bolt.Tx
}

// update runs fn in a write transaction and then zeroes the pages it freed
// (scrub.go). It holds the lock exclusively, so no read transaction of this
// process is looking at a page while it is zeroed.
func (s *Store) update(fn func(t txn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return ErrClosed
	}
	err := s.guard(func() error { return s.db.Update(func(tx *bolt.Tx) error { return fn(txn{s, tx}) }) })
	if err == nil {
		s.scrubLocked(false)
	}
	return err
}

// scrubLocked zeroes the free pages not known to be zero; s.mu is held
// exclusively (or s is not shared yet). A failure is logged and retried
// after the next write: the transaction itself has committed.
func (s *Store) scrubLocked(check bool) {
	done, err := scrubFreePages(s.path, s.scrubbed, check)
	s.scrubbed = done
	if err != nil {
		s.opts.Logger.Error("keystore: free pages not zeroed; deleted records stay in the file until the next write", "err", err)
	}
}

func (s *Store) view(fn func(t txn) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	return s.guard(func() error { return s.db.View(func(tx *bolt.Tx) error { return fn(txn{s, tx}) }) })
}

func (t txn) put(n node, key []byte, r record) error {
	v, err := t.s.k.seal(t.s.opts.Rand, n.path, key, r)
	if err != nil {
		return err
	}
	if err := n.b.Put(key, v); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

func get[T record](t txn, n node, key []byte) (T, error) {
	var zero T
	v := n.b.Get(key)
	if v == nil {
		return zero, ErrNotFound
	}
	rec, err := t.s.k.open(n.path, key, v)
	if err != nil {
		return zero, err
	}
	r, ok := rec.(T)
	if !ok {
		return zero, corrupt("record of the wrong type")
	}
	return r, nil
}

func (t txn) root() node {
	return node{t.tx.Bucket(bucketAccounts), [][]byte{bucketAccounts}}
}

func (t txn) account(jid string, create bool) (node, error) {
	if err := checkBareJID(jid); err != nil {
		return node{}, err
	}
	n, err := t.root().child(t.s.k.accountName(jid), create)
	if err != nil {
		return node{}, fmt.Errorf("%w: account %s", err, jid)
	}
	if create && n.b.Get(keyAccount) == nil {
		if err := t.put(n, keyAccount, &accountRecord{JID: jid}); err != nil {
			return node{}, err
		}
	}
	return n, nil
}

func (t txn) sub(account string, name []byte, create bool) (node, error) {
	a, err := t.account(account, create)
	if err != nil {
		return node{}, err
	}
	// A missing sub-bucket is reported as the bare ErrNotFound (see notFoundIsEmpty).
	return a.child(name, create)
}

// notFoundIsEmpty maps the bare ErrNotFound of a missing sub-bucket to success: listing
// an existing account's empty collection is not an error, listing an unknown account is.
func notFoundIsEmpty(err error) error {
	if err == ErrNotFound {
		return nil
	}
	return err
}

func tagKey(tag uint32) []byte { return binary.BigEndian.AppendUint32(nil, tag) }

func (t txn) device(account string, tag uint32, create bool) (node, error) {
	if tag < MinInstanceTag {
		return node{}, fmt.Errorf("%w: instance tag %#x below 0x100", ErrInvalid, tag)
	}
	ds, err := t.sub(account, bucketDevices, create)
	if err != nil {
		return node{}, err
	}
	n, err := ds.child(tagKey(tag), create)
	if err == ErrNotFound {
		return n, fmt.Errorf("%w: device %#08x of %s", err, tag, account)
	}
	return n, err
}

// deviceSub is a sub-bucket of an existing device; the device itself is never created here.
func (t txn) deviceSub(account string, tag uint32, name []byte, create bool) (node, error) {
	d, err := t.device(account, tag, false)
	if err != nil {
		return node{}, err
	}
	return d.child(name, create)
}

func checkLen(what string, p []byte, n int) error {
	if len(p) != n {
		return fmt.Errorf("%w: %s must be %d bytes, not %d", ErrInvalid, what, n, len(p))
	}
	return nil
}

func checkBlob(what string, p []byte) error {
	if len(p) > maxBlobSize {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, what, maxBlobSize)
	}
	return nil
}

// Accounts lists the accounts (bare JIDs) in the store, sorted.
func (s *Store) Accounts() ([]string, error) {
	var out []string
	err := s.view(func(t txn) error {
		return t.root().b.ForEach(func(k, v []byte) error {
			n, err := t.root().child(k, false)
			if err != nil {
				return corrupt("value where an account bucket belongs")
			}
			r, err := get[*accountRecord](t, n, keyAccount)
			if err != nil {
				return err
			}
			out = append(out, r.JID)
			return nil
		})
	})
	slices.Sort(out)
	return out, err
}

// ForgetAccount deletes an account and everything stored for it.
func (s *Store) ForgetAccount(account string) error {
	return s.update(func(t txn) error {
		if err := checkBareJID(account); err != nil {
			return err
		}
		name := s.k.accountName(account)
		if t.root().b.Bucket(name) == nil {
			return fmt.Errorf("%w: account %s", ErrNotFound, account)
		}
		return t.root().b.DeleteBucket(name)
	})
}

// PutIdentity stores a new own device of account (created if needed). It refuses to replace an
// existing device's identity: forget the device first.
func (s *Store) PutIdentity(account string, id Identity) error {
	if err := validateIdentity(&id); err != nil {
		return err
	}
	return s.update(func(t txn) error {
		d, err := t.device(account, id.InstanceTag, true)
		if err != nil {
			return err
		}
		if d.b.Get(keyIdentity) != nil {
			return fmt.Errorf("%w: device %#08x of %s already has an identity", ErrExist, id.InstanceTag, account)
		}
		return t.put(d, keyIdentity, &id)
	})
}

func validateIdentity(id *Identity) error {
	if id.InstanceTag < MinInstanceTag {
		return fmt.Errorf("%w: instance tag %#x below 0x100", ErrInvalid, id.InstanceTag)
	}
	if err := checkLen("long-term key seed", id.LongTermSeed, SeedSize); err != nil {
		return err
	}
	if err := checkLen("forging public key", id.ForgingPublic, PublicKeySize); err != nil {
		return err
	}
	if id.ForgingSecret != nil {
		return checkLen("forging secret key", id.ForgingSecret, SeedSize)
	}
	return nil
}

// Identity returns one own device's identity.
func (s *Store) Identity(account string, tag uint32) (Identity, error) {
	var id Identity
	err := s.view(func(t txn) error {
		d, err := t.device(account, tag, false)
		if err != nil {
			return err
		}
		r, err := get[*Identity](t, d, keyIdentity)
		if err == nil {
			id = *r
		}
		return err
	})
	return id, err
}

// Devices returns the identities of all own devices of account, sorted by instance tag.
func (s *Store) Devices(account string) ([]Identity, error) {
	var out []Identity
	err := s.view(func(t txn) error {
		ds, err := t.sub(account, bucketDevices, false)
		if err != nil {
			return notFoundIsEmpty(err)
		}
		return ds.b.ForEach(func(k, v []byte) error {
			d, err := ds.child(k, false)
			if err != nil {
				return corrupt("value where a device bucket belongs")
			}
			r, err := get[*Identity](t, d, keyIdentity)
			if err != nil {
				return err
			}
			out = append(out, *r)
			return nil
		})
	})
	return out, err
}

// ForgetDevice deletes an own device and all its secrets, profiles, prekeys and conversations.
func (s *Store) ForgetDevice(account string, tag uint32) error {
	return s.update(func(t txn) error {
		if _, err := t.device(account, tag, false); err != nil {
			return err
		}
		ds, _ := t.sub(account, bucketDevices, false)
		return ds.b.DeleteBucket(tagKey(tag))
	})
}

// PutClientProfile stores (replacing) the client profile of an own device.
func (s *Store) PutClientProfile(account string, tag uint32, p ClientProfile) error {
	if err := checkBlob("client profile", p.Encoded); err != nil {
		return err
	}
	return s.update(func(t txn) error {
		d, err := t.device(account, tag, false)
		if err != nil {
			return err
		}
		return t.put(d, keyClientProfile, &p)
	})
}

// ClientProfile returns the client profile of an own device.
func (s *Store) ClientProfile(account string, tag uint32) (ClientProfile, error) {
	var p ClientProfile
	err := s.view(func(t txn) error {
		d, err := t.device(account, tag, false)
		if err != nil {
			return err
		}
		r, err := get[*ClientProfile](t, d, keyClientProfile)
		if err == nil {
			p = *r
		}
		return err
	})
	return p, err
}

// PutPrekeyProfile stores (replacing) the prekey profile of an own device.
func (s *Store) PutPrekeyProfile(account string, tag uint32, p PrekeyProfile) error {
	if err := checkBlob("prekey profile", p.Encoded); err != nil {
		return err
	}
	if err := checkLen("shared prekey secret", p.SharedPrekeySecret, ECDHSecretSize); err != nil {
		return err
	}
	return s.update(func(t txn) error {
		d, err := t.device(account, tag, false)
		if err != nil {
			return err
		}
		return t.put(d, keyPrekeyProfile, &p)
	})
}

// PrekeyProfile returns the prekey profile of an own device.
func (s *Store) PrekeyProfile(account string, tag uint32) (PrekeyProfile, error) {
	var p PrekeyProfile
	err := s.view(func(t txn) error {
		d, err := t.device(account, tag, false)
		if err != nil {
			return err
		}
		r, err := get[*PrekeyProfile](t, d, keyPrekeyProfile)
		if err == nil {
			p = *r
		}
		return err
	})
	return p, err
}

// AddPrekeySecrets stores the secrets of newly published prekey messages, all or none. An
// identifier that is already stored (ErrInvalid) or was taken while its marker still matters
// (ErrPrekeyUsed; see TakePrekeySecret) is refused, so a used prekey secret cannot come back
// into use. Markers that no longer matter are pruned in the same transaction.
func (s *Store) AddPrekeySecrets(account string, tag uint32, secrets ...PrekeySecret) error {
	for i := range secrets {
		p := &secrets[i]
		if err := checkLen("prekey ECDH secret", p.ECDHSecret, ECDHSecretSize); err != nil {
			return err
		}
		if err := checkLen("prekey DH secret", p.DHSecret, DHSecretSize); err != nil {
			return err
		}
	}
	return s.update(func(t txn) error {
		pk, err := t.deviceSub(account, tag, bucketPrekeys, true)
		if err != nil {
			return err
		}
		used, err := t.deviceSub(account, tag, bucketUsed, true)
		if err != nil {
			return err
		}
		if _, err := t.pruneUsed(used, s.opts.Now()); err != nil {
			return err
		}
		for i := range secrets {
			id := tagKey(secrets[i].ID)
			if used.b.Get(id) != nil {
				return fmt.Errorf("%w: %#08x", ErrPrekeyUsed, secrets[i].ID)
			}
			if pk.b.Get(id) != nil {
				return fmt.Errorf("%w: prekey %#08x is already stored", ErrInvalid, secrets[i].ID)
			}
			if err := t.put(pk, id, &secrets[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// TakePrekeySecret returns the secrets of prekey message id and, in the same transaction,
// deletes them and records the identifier as used. Once it returned, no crash can bring the
// secret back. ErrNotFound if there is no such prekey (never stored, or already taken).
//
// The used marker keeps AddPrekeySecrets from storing the identifier again for as long as it
// can matter: until the device's prekey profile stored at the time expires (plus
// UsedMarkerGrace); PruneUsedPrekeys then removes it.
func (s *Store) TakePrekeySecret(account string, tag uint32, id uint32) (PrekeySecret, error) {
	var p PrekeySecret
	err := s.update(func(t txn) error {
		pk, err := t.deviceSub(account, tag, bucketPrekeys, false)
		if err != nil {
			return err
		}
		r, err := get[*PrekeySecret](t, pk, tagKey(id))
		if err != nil {
			if err == ErrNotFound {
				return fmt.Errorf("%w: prekey %#08x", err, id)
			}
			return err
		}
		if err := pk.b.Delete(tagKey(id)); err != nil {
			return err
		}
		now := s.opts.Now()
		until := now
		dev, err := t.device(account, tag, false)
		if err != nil {
			return err
		}
		if pp, err := get[*PrekeyProfile](t, dev, keyPrekeyProfile); err == nil && pp.Expires.After(until) {
			until = pp.Expires
		} else if err != nil && err != ErrNotFound {
			return err
		}
		used, err := t.deviceSub(account, tag, bucketUsed, true)
		if err != nil {
			return err
		}
		if err := t.put(used, tagKey(id), &usedPrekeyRecord{ID: id, Taken: now, Until: until, v2: true}); err != nil {
			return err
		}
		p = *r
		return nil
	})
	return p, err
}

// UsedMarkerGrace is how long a used-prekey marker is kept after the prekey profile it was
// taken under expired: for clocks that disagree and messages still on their way.
const UsedMarkerGrace = 24 * time.Hour

// legacyMarkerLife is how long a marker written by schema version 1 (which did not record
// the prekey profile's expiry) is kept after it was taken: longer than any prekey profile
// otrchat makes is valid.
const legacyMarkerLife = 90 * 24 * time.Hour

// matters reports whether a used marker can still matter at now. A prekey message is only
// accepted in a Non-Interactive-Auth together with the device's prekey profile; once the
// profile in force when the prekey was taken has expired, the device holds a new shared
// prekey and a message built on the old ensemble fails anyway, so storing the identifier
// again cannot bring the old secret back into use.
func (r *usedPrekeyRecord) matters(now time.Time) bool {
	if !r.v2 {
		return !now.After(r.Taken.Add(legacyMarkerLife))
	}
	return !now.After(r.Until.Add(UsedMarkerGrace))
}

// pruneUsed deletes the markers of used that no longer matter; it returns how many.
func (t txn) pruneUsed(used node, now time.Time) (int, error) {
	var stale [][]byte
	err := used.b.ForEach(func(k, _ []byte) error {
		r, err := get[*usedPrekeyRecord](t, used, k)
		if err != nil {
			return err
		}
		if !r.matters(now) {
			stale = append(stale, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range stale {
		if err := used.b.Delete(k); err != nil {
			return 0, fmt.Errorf("keystore: %w", err)
		}
	}
	return len(stale), nil
}

// PruneUsedPrekeys removes the used-prekey markers of a device that can no longer matter
// (see TakePrekeySecret) and returns how many it removed. AddPrekeySecrets does the same
// in its own transaction.
func (s *Store) PruneUsedPrekeys(account string, tag uint32) (int, error) {
	n := 0
	err := s.update(func(t txn) error {
		used, err := t.deviceSub(account, tag, bucketUsed, false)
		if err != nil {
			return notFoundIsEmpty(err)
		}
		n, err = t.pruneUsed(used, s.opts.Now())
		return err
	})
	return n, err
}

// UsedPrekeyIDs lists the identifiers with a used-prekey marker, sorted.
func (s *Store) UsedPrekeyIDs(account string, tag uint32) ([]uint32, error) {
	var out []uint32
	err := s.view(func(t txn) error {
		used, err := t.deviceSub(account, tag, bucketUsed, false)
		if err != nil {
			return notFoundIsEmpty(err)
		}
		return used.b.ForEach(func(k, _ []byte) error {
			if len(k) != 4 {
				return corrupt("bad used prekey identifier")
			}
			out = append(out, binary.BigEndian.Uint32(k))
			return nil
		})
	})
	return out, err
}

// MaxSeenPrekeys bounds the seen-prekey log of an account: beyond it the oldest entries are
// forgotten.
const MaxSeenPrekeys = 4096

// seenSlack lets the log grow a little past MaxSeenPrekeys before it is cut back, so that
// the cut (which decrypts every entry) is rare.
const seenSlack = 256

// AddSeenPrekeys records the SHA-256 digests of prekey messages a prekey server handed to
// account (prekeyclient's reuse check), keeping the first time each was seen, in one
// transaction. The log keeps the newest MaxSeenPrekeys digests.
func (s *Store) AddSeenPrekeys(account string, digests ...[32]byte) error {
	if len(digests) == 0 {
		return nil
	}
	return s.update(func(t txn) error {
		n, err := t.sub(account, bucketSeen, true)
		if err != nil {
			return err
		}
		now := s.opts.Now()
		for _, d := range digests {
			key := s.k.seenKey(d)
			if n.b.Get(key) != nil {
				continue
			}
			if err := t.put(n, key, &seenPrekeyRecord{Digest: d, Seen: now}); err != nil {
				return err
			}
		}
		count := 0
		c := n.b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			count++
		}
		if count <= MaxSeenPrekeys+seenSlack {
			return nil
		}
		all, err := t.seen(n)
		if err != nil {
			return err
		}
		for _, r := range all[:len(all)-MaxSeenPrekeys] {
			if err := n.b.Delete(s.k.seenKey(r.Digest)); err != nil {
				return fmt.Errorf("keystore: %w", err)
			}
		}
		return nil
	})
}

// seen returns the seen-prekey records of n, oldest first.
func (t txn) seen(n node) ([]*seenPrekeyRecord, error) {
	var out []*seenPrekeyRecord
	err := n.b.ForEach(func(k, _ []byte) error {
		r, err := get[*seenPrekeyRecord](t, n, k)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	slices.SortFunc(out, func(a, b *seenPrekeyRecord) int {
		return cmp.Or(a.Seen.Compare(b.Seen), bytes.Compare(a.Digest[:], b.Digest[:]))
	})
	return out, err
}

// SeenPrekeys returns the digests recorded by AddSeenPrekeys, oldest first.
func (s *Store) SeenPrekeys(account string) ([][32]byte, error) {
	var out [][32]byte
	err := s.view(func(t txn) error {
		n, err := t.sub(account, bucketSeen, false)
		if err != nil {
			return notFoundIsEmpty(err)
		}
		all, err := t.seen(n)
		for _, r := range all {
			out = append(out, r.Digest)
		}
		return err
	})
	return out, err
}

// SeenPrekeyLog is one account's seen-prekey log; it implements prekeyclient.SeenStore.
type SeenPrekeyLog struct {
	s       *Store
	account string
}

// SeenPrekeyLog returns account's seen-prekey log, for prekeyclient.Config.Seen.
func (s *Store) SeenPrekeyLog(account string) SeenPrekeyLog {
	return SeenPrekeyLog{s: s, account: account}
}

// SeenPrekeys implements prekeyclient.SeenStore; an account not in the store yet has an
// empty log.
func (l SeenPrekeyLog) SeenPrekeys() ([][32]byte, error) {
	ds, err := l.s.SeenPrekeys(l.account)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return ds, err
}

// AddSeenPrekeys implements prekeyclient.SeenStore.
func (l SeenPrekeyLog) AddSeenPrekeys(digests ...[32]byte) error {
	return l.s.AddSeenPrekeys(l.account, digests...)
}

// PrekeySecretIDs lists the identifiers of stored (not yet taken) prekey secrets, sorted.
func (s *Store) PrekeySecretIDs(account string, tag uint32) ([]uint32, error) {
	var out []uint32
	err := s.view(func(t txn) error {
		pk, err := t.deviceSub(account, tag, bucketPrekeys, false)
		if err != nil {
			return notFoundIsEmpty(err)
		}
		return pk.b.ForEach(func(k, _ []byte) error {
			if len(k) != 4 {
				return corrupt("bad prekey identifier")
			}
			out = append(out, binary.BigEndian.Uint32(k))
			return nil
		})
	})
	return out, err
}

// PinServer pins a prekey server's fingerprint on first use. Pinning the same fingerprint
// again returns the existing pin; a different one is refused with ErrPinMismatch (forget the
// server first to re-pin). It returns the pin in force.
func (s *Store) PinServer(account string, p PinnedServer) (PinnedServer, error) {
	if err := checkJID(p.ServerJID); err != nil {
		return PinnedServer{}, err
	}
	if err := checkLen("server fingerprint", p.Fingerprint, FingerprintSize); err != nil {
		return PinnedServer{}, err
	}
	var out PinnedServer
	err := s.update(func(t txn) error {
		n, err := t.sub(account, bucketServers, true)
		if err != nil {
			return err
		}
		key := s.k.serverKey(p.ServerJID)
		old, err := get[*PinnedServer](t, n, key)
		switch {
		case err == nil && bytes.Equal(old.Fingerprint, p.Fingerprint):
			out = *old
			return nil
		case err == nil:
			return fmt.Errorf("%w: %s", ErrPinMismatch, p.ServerJID)
		case err != ErrNotFound:
			return err
		}
		out = p
		return t.put(n, key, &p)
	})
	return out, err
}

// PinnedServers lists the pinned prekey servers of account, sorted by JID.
func (s *Store) PinnedServers(account string) ([]PinnedServer, error) {
	var out []PinnedServer
	err := s.view(func(t txn) error {
		n, err := t.sub(account, bucketServers, false)
		if err != nil {
			return notFoundIsEmpty(err)
		}
		return n.b.ForEach(func(k, _ []byte) error {
			r, err := get[*PinnedServer](t, n, k)
			if err == nil {
				out = append(out, *r)
			}
			return err
		})
	})
	slices.SortFunc(out, func(a, b PinnedServer) int { return cmp.Compare(a.ServerJID, b.ServerJID) })
	return out, err
}

// ForgetServer removes a prekey server's pin.
func (s *Store) ForgetServer(account, serverJID string) error {
	return s.update(func(t txn) error {
		n, err := t.sub(account, bucketServers, false)
		if err != nil {
			return err
		}
		key := s.k.serverKey(serverJID)
		if n.b.Get(key) == nil {
			return fmt.Errorf("%w: server %s", ErrNotFound, serverJID)
		}
		return n.b.Delete(key)
	})
}

// SetTrust records (replacing) the decision on a contact's fingerprint.
func (s *Store) SetTrust(account string, d TrustDecision) error {
	if err := checkBareJID(d.Contact); err != nil {
		return err
	}
	if err := checkFingerprint(d.Fingerprint); err != nil { // 56 bytes (OTRv4) or 20 (OTRv3)
		return err
	}
	if d.Method != MethodSMP && d.Method != MethodManual {
		return fmt.Errorf("%w: trust method %v", ErrInvalid, d.Method)
	}
	return s.update(func(t txn) error {
		n, err := t.sub(account, bucketTrust, true)
		if err != nil {
			return err
		}
		return t.put(n, s.k.trustKey(d.Contact, d.Fingerprint), &d)
	})
}

// Trust returns the decision on a contact's fingerprint, or ErrNotFound if none was made.
func (s *Store) Trust(account, contact string, fingerprint []byte) (TrustDecision, error) {
	var d TrustDecision
	err := s.view(func(t txn) error {
		n, err := t.sub(account, bucketTrust, false)
		if err != nil {
			return err
		}
		r, err := get[*TrustDecision](t, n, s.k.trustKey(contact, fingerprint))
		if err == nil {
			d = *r
		}
		return err
	})
	return d, err
}

// TrustDecisions lists every trust decision of account, sorted by contact then fingerprint.
func (s *Store) TrustDecisions(account string) ([]TrustDecision, error) {
	var out []TrustDecision
	err := s.view(func(t txn) error {
		n, err := t.sub(account, bucketTrust, false)
		if err != nil {
			return notFoundIsEmpty(err)
		}
		return n.b.ForEach(func(k, _ []byte) error {
			r, err := get[*TrustDecision](t, n, k)
			if err == nil {
				out = append(out, *r)
			}
			return err
		})
	})
	slices.SortFunc(out, func(a, b TrustDecision) int {
		return cmp.Or(cmp.Compare(a.Contact, b.Contact), bytes.Compare(a.Fingerprint, b.Fingerprint))
	})
	return out, err
}

// SeeDevice records (or updates, by instance tag) one of a contact's devices.
func (s *Store) SeeDevice(account, contact string, d KnownDevice) error {
	if err := checkKnownDevice(contact, d, "fingerprint", FingerprintSize); err != nil {
		return err
	}
	return s.update(func(t txn) error {
		n, err := t.sub(account, bucketContacts, true)
		if err != nil {
			return err
		}
		key := s.k.contactKey(contact)
		r, err := get[*contactRecord](t, n, key)
		if err == ErrNotFound {
			r, err = &contactRecord{Contact: contact}, nil
		}
		if err != nil {
			return err
		}
		if r.Devices, err = upsertDevice(r.Devices, d, contact, "known devices"); err != nil {
			return err
		}
		return t.put(n, key, r)
	})
}

// checkKnownDevice validates a device record of a contact whose
// fingerprint (named what) has size bytes.
func checkKnownDevice(contact string, d KnownDevice, what string, size int) error {
	if err := checkBareJID(contact); err != nil {
		return err
	}
	if d.InstanceTag < MinInstanceTag {
		return fmt.Errorf("%w: instance tag %#x below 0x100", ErrInvalid, d.InstanceTag)
	}
	if err := checkLen(what, d.Fingerprint, size); err != nil {
		return err
	}
	if d.FullJID != "" {
		return checkJID(d.FullJID)
	}
	return nil
}

// upsertDevice replaces the device with d's instance tag in devs, sorted
// by tag, or inserts d, up to maxKnownDevices.
func upsertDevice(devs []KnownDevice, d KnownDevice, contact, what string) ([]KnownDevice, error) {
	i, found := slices.BinarySearchFunc(devs, d.InstanceTag, func(x KnownDevice, tag uint32) int {
		return cmp.Compare(x.InstanceTag, tag)
	})
	if found {
		devs[i] = d
		return devs, nil
	}
	if len(devs) >= maxKnownDevices {
		return nil, fmt.Errorf("%w: %s has more than %d %s", ErrInvalid, contact, maxKnownDevices, what)
	}
	return slices.Insert(devs, i, d), nil
}

// ContactDevices returns a contact's known devices sorted by instance tag.
func (s *Store) ContactDevices(account, contact string) ([]KnownDevice, error) {
	var out []KnownDevice
	err := s.view(func(t txn) error {
		n, err := t.sub(account, bucketContacts, false)
		if err != nil {
			return err
		}
		r, err := get[*contactRecord](t, n, s.k.contactKey(contact))
		if err == ErrNotFound {
			return fmt.Errorf("%w: contact %s", err, contact)
		}
		if err == nil {
			out = r.Devices
		}
		return err
	})
	return out, err
}

// Contacts lists the contacts of account that have known devices, sorted.
func (s *Store) Contacts(account string) ([]string, error) {
	var out []string
	err := s.view(func(t txn) error {
		n, err := t.sub(account, bucketContacts, false)
		if err != nil {
			return notFoundIsEmpty(err)
		}
		return n.b.ForEach(func(k, _ []byte) error {
			r, err := get[*contactRecord](t, n, k)
			if err == nil {
				out = append(out, r.Contact)
			}
			return err
		})
	})
	slices.Sort(out)
	return out, err
}

// ForgetContactDevice removes one known device of a contact (and the contact when it was the last).
func (s *Store) ForgetContactDevice(account, contact string, tag uint32) error {
	return s.update(func(t txn) error {
		n, err := t.sub(account, bucketContacts, false)
		if err != nil {
			return err
		}
		key := s.k.contactKey(contact)
		r, err := get[*contactRecord](t, n, key)
		if err != nil {
			return fmt.Errorf("%w: contact %s", err, contact)
		}
		i := slices.IndexFunc(r.Devices, func(d KnownDevice) bool { return d.InstanceTag == tag })
		if i < 0 {
			return fmt.Errorf("%w: device %#08x of %s", ErrNotFound, tag, contact)
		}
		r.Devices = slices.Delete(r.Devices, i, i+1)
		if len(r.Devices) == 0 {
			return n.b.Delete(key)
		}
		return t.put(n, key, r)
	})
}

// PutConversationState stores (replacing) the opaque state of own device tag's conversation
// with a contact's device theirTag.
func (s *Store) PutConversationState(account string, tag uint32, contact string, theirTag uint32, state []byte) error {
	if err := checkBareJID(contact); err != nil {
		return err
	}
	if theirTag < MinInstanceTag {
		return fmt.Errorf("%w: instance tag %#x below 0x100", ErrInvalid, theirTag)
	}
	if err := checkBlob("conversation state", state); err != nil {
		return err
	}
	return s.update(func(t txn) error {
		n, err := t.deviceSub(account, tag, bucketConvs, true)
		if err != nil {
			return err
		}
		return t.put(n, s.k.conversationKey(contact, theirTag),
			&conversationRecord{Contact: contact, InstanceTag: theirTag, State: state})
	})
}

// ConversationState returns a stored conversation state.
func (s *Store) ConversationState(account string, tag uint32, contact string, theirTag uint32) ([]byte, error) {
	var out []byte
	err := s.view(func(t txn) error {
		n, err := t.deviceSub(account, tag, bucketConvs, false)
		if err != nil {
			return err
		}
		r, err := get[*conversationRecord](t, n, s.k.conversationKey(contact, theirTag))
		if err == nil {
			out = r.State
		}
		return err
	})
	return out, err
}

// DeleteConversationState removes a stored conversation state.
func (s *Store) DeleteConversationState(account string, tag uint32, contact string, theirTag uint32) error {
	return s.update(func(t txn) error {
		n, err := t.deviceSub(account, tag, bucketConvs, false)
		if err != nil {
			return err
		}
		key := s.k.conversationKey(contact, theirTag)
		if n.b.Get(key) == nil {
			return ErrNotFound
		}
		return n.b.Delete(key)
	})
}
