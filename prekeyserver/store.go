package prekeyserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

// Storage layout (bbolt):
//
//	users/<bare JID>/<instance tag, 4 bytes BE>/
//	    "client"    -> CLIENT-PROF
//	    "prekey"    -> PREKEY-PROF
//	    "published" -> time of the last publication (Unix seconds, 8 bytes BE)
//	    "messages"/<prekey message ID, 4 bytes BE> -> prekey message
//
// Everything for one device sits under its instance tag, so devices of an
// account publish and are drained independently. Devices stored before
// "published" existed count as published at the Unix epoch.
var (
	bucketUsers    = []byte("users")
	bucketMessages = []byte("messages")
	keyClient      = []byte("client")
	keyPrekey      = []byte("prekey")
	keyPublished   = []byte("published")
)

// Storage errors.
var (
	// ErrStorageFull: accepting a publication would exceed a storage limit.
	ErrStorageFull = errors.New("prekeyserver: storage limit reached")
	// ErrNoProfile: prekey messages or a prekey profile arrived for a
	// device whose client profile (with the key that ran the DAKE) the
	// server does not have.
	ErrNoProfile = errors.New("prekeyserver: no client profile stored for this device")
)

// store is the server's persistent storage.
type store struct {
	db     *bolt.DB
	limits Limits
	// bytes is the size of everything stored (keys and values of the
	// users bucket, as counted by usage), counted at open and kept up to
	// date by every committed change; MaxStorageBytes bounds it.
	bytes atomic.Int64
}

func openStore(path string, limits Limits) (*store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("prekeyserver: opening storage %s: %w", path, err)
	}
	var total int64
	if err := db.Update(func(tx *bolt.Tx) error {
		users, err := tx.CreateBucketIfNotExists(bucketUsers)
		if err != nil {
			return err
		}
		total = usage(users)
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("prekeyserver: initialising storage: %w", err)
	}
	st := &store{db: db, limits: limits}
	st.bytes.Store(total)
	return st, nil
}

// usage is what a bucket's content counts against MaxStorageBytes: the
// length of every key and value in it and in its sub-buckets.
func usage(b *bolt.Bucket) int64 {
	var n int64
	_ = b.ForEach(func(k, v []byte) error {
		n += int64(len(k))
		if v == nil {
			if sub := b.Bucket(k); sub != nil {
				n += usage(sub)
			}
		} else {
			n += int64(len(v))
		}
		return nil
	})
	return n
}

// StorageBytes returns what the storage holds, as MaxStorageBytes counts
// it.
func (s *store) storageBytes() int64 { return s.bytes.Load() }

func (s *store) close() error { return s.db.Close() }

func tagKey(t otr4.InstanceTag) []byte { return binary.BigEndian.AppendUint32(nil, uint32(t)) }

// publish stores a verified publication for the device (bare, tag), whose
// DAKE was run with the client profile auth, in one transaction: all of it
// or, on error, nothing.
//
// A publication without a client profile is only accepted when the stored
// client profile has the key that ran the DAKE. A new client profile with
// another key than the stored one drops the stored prekey profile (signed
// by the old key) unless the publication brings a new one.
//
// A new device of an account that has MaxDevicesPerAccount devices takes
// the slot of the dead ones (see dead); the whole publication is refused
// with ErrStorageFull if none is dead, or if it would make the storage
// exceed MaxStorageBytes.
func (s *store) publish(bare string, tag otr4.InstanceTag, auth *otr4.ClientProfile, p *prekey.Publication, now time.Time) (stored, reclaimed int, err error) {
	var delta int64
	err = s.db.Update(func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		before := int64(0)
		user := users.Bucket([]byte(bare))
		if user == nil {
			var err error
			if user, err = users.CreateBucket([]byte(bare)); err != nil {
				return err
			}
			before = -int64(len(bare)) // the account's own key counts too
		} else {
			before = usage(user)
		}
		dev := user.Bucket(tagKey(tag))
		if dev == nil {
			if countBuckets(user) >= s.limits.MaxDevicesPerAccount {
				var err error
				if reclaimed, err = s.reclaim(user, now); err != nil {
					return err
				}
			}
			if countBuckets(user) >= s.limits.MaxDevicesPerAccount {
				return fmt.Errorf("%w: %d devices for %s", ErrStorageFull, s.limits.MaxDevicesPerAccount, bare)
			}
			var err error
			if dev, err = user.CreateBucket(tagKey(tag)); err != nil {
				return err
			}
		}
		if err := dev.Put(keyPublished, binary.BigEndian.AppendUint64(nil, uint64(now.Unix()))); err != nil {
			return err
		}
		old := storedProfile(dev)
		if p.ClientProfile != nil {
			if old != nil && old.Fingerprint() != p.ClientProfile.Fingerprint() && p.PrekeyProfile == nil {
				if err := dev.Delete(keyPrekey); err != nil {
					return err
				}
			}
			if err := dev.Put(keyClient, p.ClientProfile.Marshal()); err != nil {
				return err
			}
		} else if old == nil || old.Fingerprint() != auth.Fingerprint() {
			return ErrNoProfile
		}
		if p.PrekeyProfile != nil {
			if err := dev.Put(keyPrekey, p.PrekeyProfile.Marshal()); err != nil {
				return err
			}
		}
		msgs, err := dev.CreateBucketIfNotExists(bucketMessages)
		if err != nil {
			return err
		}
		have := countKeys(msgs)
		for _, m := range p.PrekeyMessages {
			k := binary.BigEndian.AppendUint32(nil, m.ID)
			if msgs.Get(k) != nil {
				continue // "Discard any invalid or duplicated values."
			}
			if have >= s.limits.MaxStoredPerDevice {
				return fmt.Errorf("%w: %d prekey messages for one device", ErrStorageFull, s.limits.MaxStoredPerDevice)
			}
			if err := msgs.Put(k, m.Marshal()); err != nil {
				return err
			}
			have++
		}
		stored = have
		delta = usage(user) - before
		if delta > 0 && s.bytes.Load()+delta > s.limits.MaxStorageBytes {
			return fmt.Errorf("%w: the server's storage quota (%d bytes) is used up", ErrStorageFull, s.limits.MaxStorageBytes)
		}
		return nil
	})
	if err == nil {
		s.bytes.Add(delta)
	}
	return stored, reclaimed, err
}

// reclaim deletes the dead devices of an account (inside publish's
// transaction) and returns how many it deleted.
func (s *store) reclaim(user *bolt.Bucket, now time.Time) (int, error) {
	var dead [][]byte
	err := user.ForEachBucket(func(k []byte) error {
		if s.dead(user.Bucket(k), now) {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range dead {
		if err := user.DeleteBucket(k); err != nil {
			return 0, err
		}
	}
	return len(dead), nil
}

// dead reports whether a device can no longer be handed out and may give
// up its slot: its client or prekey profile has expired (or cannot be
// read), or it has had no prekey message left since its last publication
// DeviceIdleTimeout ago. A device still waiting for its prekey profile
// (it publishes it in a later DAKE) is not dead until it is idle.
func (s *store) dead(dev *bolt.Bucket, now time.Time) bool {
	cp := storedProfile(dev)
	if cp == nil || !now.Before(cp.Expires) {
		return true
	}
	if pb := dev.Get(keyPrekey); pb != nil {
		pp, _, err := otr4.ParsePrekeyProfile(pb)
		if err != nil || !now.Before(pp.Expires) {
			return true
		}
	}
	if msgs := dev.Bucket(bucketMessages); msgs != nil {
		if k, _ := msgs.Cursor().First(); k != nil {
			return false
		}
	}
	var last time.Time // the epoch, for devices stored before "published"
	if b := dev.Get(keyPublished); len(b) == 8 {
		last = time.Unix(int64(binary.BigEndian.Uint64(b)), 0)
	} else {
		last = time.Unix(0, 0)
	}
	return now.Sub(last) >= s.limits.DeviceIdleTimeout
}

// count returns the number of prekey messages stored for a device.
func (s *store) count(bare string, tag otr4.InstanceTag) (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		user := tx.Bucket(bucketUsers).Bucket([]byte(bare))
		if user == nil {
			return nil
		}
		dev := user.Bucket(tagKey(tag))
		if dev == nil {
			return nil
		}
		if msgs := dev.Bucket(bucketMessages); msgs != nil {
			n = countKeys(msgs)
		}
		return nil
	})
	return n, err
}

// take selects one ensemble per device of bare whose profiles are valid at
// now and that has a prekey message left, deletes the prekey messages it
// hands out, and returns the ensembles. Devices without a complete, valid
// ensemble are skipped and keep their prekey messages.
func (s *store) take(bare string, now time.Time) ([]*otr4.PrekeyEnsemble, error) {
	var out []*otr4.PrekeyEnsemble
	var freed int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		out, freed = nil, 0
		user := tx.Bucket(bucketUsers).Bucket([]byte(bare))
		if user == nil {
			return nil
		}
		return user.ForEachBucket(func(k []byte) error {
			dev := user.Bucket(k)
			e, del, err := ensembleOf(dev, now)
			if err != nil || e == nil {
				return err
			}
			msgs := dev.Bucket(bucketMessages)
			freed += int64(len(del) + len(msgs.Get(del)))
			if err := msgs.Delete(del); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	if err == nil {
		s.bytes.Add(-freed)
	}
	return out, err
}

// ensembleOf builds a device's ensemble from its first prekey message, or
// returns nil if the device has none or invalid profiles.
func ensembleOf(dev *bolt.Bucket, now time.Time) (*otr4.PrekeyEnsemble, []byte, error) {
	msgs := dev.Bucket(bucketMessages)
	cb, pb := dev.Get(keyClient), dev.Get(keyPrekey)
	if msgs == nil || cb == nil || pb == nil {
		return nil, nil, nil
	}
	k, v := msgs.Cursor().First()
	if k == nil {
		return nil, nil, nil
	}
	cp, _, err := otr4.ParseClientProfile(cb)
	if err != nil {
		return nil, nil, nil
	}
	pp, _, err := otr4.ParsePrekeyProfile(pb)
	if err != nil {
		return nil, nil, nil
	}
	pm, _, err := otr4.ParsePrekeyMessage(v)
	if err != nil {
		return nil, nil, nil
	}
	e := &otr4.PrekeyEnsemble{Client: cp, Prekey: pp, Message: pm}
	if e.Validate(now) != nil {
		return nil, nil, nil // expired profiles: nothing to hand out
	}
	return e, append([]byte(nil), k...), nil
}

func countKeys(b *bolt.Bucket) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

func countBuckets(b *bolt.Bucket) int {
	n := 0
	_ = b.ForEachBucket(func([]byte) error { n++; return nil })
	return n
}

func storedProfile(dev *bolt.Bucket) *otr4.ClientProfile {
	b := dev.Get(keyClient)
	if b == nil {
		return nil
	}
	p, _, err := otr4.ParseClientProfile(b)
	if err != nil {
		return nil
	}
	return p
}
