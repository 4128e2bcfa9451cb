package keystore

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// A migration upgrades a store from version from to from+1. All migrations needed run in the
// one write transaction Open starts, followed by a full decode of every record, so a store is
// either fully migrated or untouched.
type migration struct {
	from uint32
	name string
	run  func(tx *bolt.Tx, k *keys, o Options) error
}

// migrations is the migration table, in order.
var migrations = []migration{
	{from: 0, name: "trust decisions record how they were verified", run: migrateV0TrustMethod},
	// Version 2 adds record types (used-prekey markers with an expiry, seen prekeys) that a
	// version 1 program would call corrupt; the version tells it to refuse the store
	// instead. Version 1 markers stay as they are (see PruneUsedPrekeys).
	{from: 1, name: "used-prekey markers with expiry, seen prekeys", run: func(*bolt.Tx, *keys, Options) error { return nil }},
}

func migrate(tx *bolt.Tx, k *keys, version uint32, o Options) error {
	for _, m := range migrations {
		if m.from < version {
			continue
		}
		if m.from != version {
			return fmt.Errorf("%w: no migration from schema version %d", ErrUnsupportedVersion, version)
		}
		if err := m.run(tx, k, o); err != nil {
			return fmt.Errorf("keystore: migration from version %d (%s): %w", m.from, m.name, err)
		}
		version++
		o.Logger.Info("keystore: migrated", "to", version, "step", m.name)
	}
	if version != SchemaVersion {
		return fmt.Errorf("%w: migrations end at version %d, want %d", ErrUnsupportedVersion, version, SchemaVersion)
	}
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(metaVersion, binary.BigEndian.AppendUint32(nil, version)); err != nil {
		return err
	}
	return writeCheck(meta)
}

// Version 0 (the pre-release layout) sealed trust decisions as record version 0 without the
// method byte: version 0 || typeTrust || contact || fingerprint || trusted || time. Only manual
// fingerprint comparison existed then, so migrated decisions get MethodManual.
func decodeTrustV0(b []byte) (*TrustDecision, error) {
	if len(b) < recordHeaderSize || b[0] != recordVersionV0 || b[1] != typeTrust {
		return nil, corrupt("not a version 0 trust record")
	}
	r := &reader{b: b[recordHeaderSize:]}
	d := &TrustDecision{Contact: r.jid(), Fingerprint: r.fixed(FingerprintSize), Trusted: r.bool(), Method: MethodManual, Time: r.time()}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return d, r.err
}

// encodeTrustV0 exists for tests that build a synthetic version 0 store.
func encodeTrustV0(d *TrustDecision) []byte {
	w := &writer{b: []byte{recordVersionV0, typeTrust}}
	w.str(d.Contact)
	w.fixed(d.Fingerprint)
	w.bool(d.Trusted)
	w.time(d.Time)
	return w.b
}

func migrateV0TrustMethod(tx *bolt.Tx, k *keys, o Options) error {
	type upd struct {
		b        *bolt.Bucket
		key, val []byte
	}
	var todo []upd
	err := walkValues(tx, func(b *bolt.Bucket, path [][]byte, key, v []byte) error {
		if len(path) != 3 || !bytes.Equal(path[2], bucketTrust) {
			return nil
		}
		plain, err := openValue(k.aead, v, recordAD(path, key))
		if err != nil {
			return err
		}
		defer clear(plain)
		if len(plain) < recordHeaderSize {
			return corrupt("record too short")
		}
		if plain[0] != recordVersionV0 {
			return nil
		}
		d, err := decodeTrustV0(plain)
		if err != nil {
			return err
		}
		nv, err := k.seal(o.Rand, path, key, d)
		if err != nil {
			return err
		}
		todo = append(todo, upd{b, bytes.Clone(key), nv})
		return nil
	})
	if err != nil {
		return err
	}
	for _, u := range todo {
		if err := u.b.Put(u.key, u.val); err != nil {
			return err
		}
	}
	return nil
}
