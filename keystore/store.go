package keystore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/chacha20poly1305"
)

// SchemaVersion is the layout version this package writes. Older stores are migrated on Open.
const SchemaVersion = 2

// Bucket and key names of the layout (docs/keystore.md).
var (
	bucketMeta     = []byte("meta")
	bucketAccounts = []byte("accounts")
	metaVersion    = []byte("version")
	metaKDF        = []byte("kdf")
	metaKeys       = []byte("keys")
	metaCheck      = []byte("check")

	keyAccount       = []byte("account")
	keyIdentity      = []byte("identity")
	keyClientProfile = []byte("client-profile")
	keyPrekeyProfile = []byte("prekey-profile")
	bucketDevices    = []byte("devices")
	bucketServers    = []byte("servers")
	bucketTrust      = []byte("trust")
	bucketContacts   = []byte("contacts")
	bucketPrekeys    = []byte("prekeys")
	bucketUsed       = []byte("used-prekeys")
	bucketConvs      = []byte("conversations")
	bucketSeen       = []byte("seen-prekeys")
)

// DefaultLockTimeout bounds how long Open and Create wait for another process's file lock.
const DefaultLockTimeout = 2 * time.Second

// Options tune Create, Open and ChangePassphrase. The zero value is usable.
type Options struct {
	KDF         KDFParams        // argon2id cost for Create and ChangePassphrase, and the least Open keeps; zero: DefaultKDF
	LockTimeout time.Duration    // zero: DefaultLockTimeout
	Rand        io.Reader        // nil: crypto/rand.Reader
	Now         func() time.Time // nil: time.Now
	Logger      *slog.Logger     // nil: discard

	pageSize int // bbolt page size for Create; tests use small pages for small fuzz seeds
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.KDF == (KDFParams{}) {
		r.KDF = DefaultKDF
	}
	if r.LockTimeout <= 0 {
		r.LockTimeout = DefaultLockTimeout
	}
	if r.Rand == nil {
		r.Rand = rand.Reader
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r
}

// Store is an open, unlocked key store. Its methods are safe for concurrent use.
type Store struct {
	mu   sync.RWMutex // guards k and db against Close and ChangePassphrase; held exclusively by writes
	db   *bolt.DB
	k    *keys
	opts Options
	path string
	// scrubbed are the free pages known to be zero (scrub.go).
	scrubbed map[uint64]bool
}

// Create makes a new store at path (creating missing parent directories 0700) with mode 0600,
// sealed under passphrase. It fails with ErrExist if path exists.
func Create(path string, passphrase []byte, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	if len(passphrase) == 0 {
		return nil, ErrEmptyPassphrase
	}
	if err := o.KDF.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if err := checkDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %s", ErrExist, path)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	f.Close()
	s, err := create(path, passphrase, o)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return s, nil
}

func create(path string, passphrase []byte, o Options) (*Store, error) {
	db, err := openBoltPage(path, false, o.LockTimeout, o.pageSize)
	if err != nil {
		return nil, err
	}
	var k *keys
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketAccounts); err != nil {
			return err
		}
		raw := make([]byte, 2*keySize)
		if _, err := io.ReadFull(o.Rand, raw); err != nil {
			return fmt.Errorf("keystore: reading randomness: %w", err)
		}
		k, err = newKeys(raw[:keySize], raw[keySize:])
		if err != nil {
			return err
		}
		if err := meta.Put(metaVersion, binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
			return err
		}
		return writeKeys(meta, k, passphrase, o)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("keystore: creating store: %w", err)
	}
	return &Store{db: db, k: k, opts: o, path: path}, nil
}

// writeKeys wraps the data keys under a fresh salt and the passphrase, and rewrites the
// meta checksum. Called inside a write transaction.
func writeKeys(meta *bolt.Bucket, k *keys, passphrase []byte, o Options) error {
	salt := make([]byte, saltSize)
	if _, err := io.ReadFull(o.Rand, salt); err != nil {
		return fmt.Errorf("keystore: reading randomness: %w", err)
	}
	kdf := encodeKDF(salt, o.KDF)
	kek := deriveKEK(passphrase, salt, o.KDF)
	defer clear(kek)
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return err
	}
	defer wipeAEAD(aead)
	plain := append(append([]byte(nil), k.record...), k.name...)
	defer clear(plain)
	wrapped, err := sealValue(aead, o.Rand, plain, keysAD(kdf))
	if err != nil {
		return err
	}
	if err := meta.Put(metaKDF, kdf); err != nil {
		return err
	}
	if err := meta.Put(metaKeys, wrapped); err != nil {
		return err
	}
	return writeCheck(meta)
}

func keysAD(kdf []byte) []byte { return append([]byte("otrchat keystore keys\x00"), kdf...) }

// metaSum is an unkeyed checksum over the meta values: it tells accidental corruption of the
// meta bucket (ErrCorrupt) apart from a wrong passphrase (ErrWrongPassphrase).
func metaSum(meta *bolt.Bucket) []byte {
	h := sha256.New()
	for _, k := range [][]byte{metaVersion, metaKDF, metaKeys} {
		v := meta.Get(k)
		binary.Write(h, binary.BigEndian, uint32(len(v)))
		h.Write(v)
	}
	return h.Sum(nil)
}

func writeCheck(meta *bolt.Bucket) error { return meta.Put(metaCheck, metaSum(meta)) }

// openBolt opens the bbolt file; it never creates one, so a vanished file is not recreated empty.
func openBolt(path string, readOnly bool, timeout time.Duration) (*bolt.DB, error) {
	return openBoltPage(path, readOnly, timeout, 0)
}

func openBoltPage(path string, readOnly bool, timeout time.Duration, pageSize int) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  timeout,
		ReadOnly: readOnly,
		PageSize: pageSize,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			return os.OpenFile(name, flag&^os.O_CREATE|oNoFollow, mode)
		},
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s", ErrNotExist, path)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
}

// Open unlocks the store at path. It refuses (ErrPermissions) a file whose mode grants any
// access to group or others rather than silently fixing it: the secrets may already have
// leaked, and the user should know. It refuses a directory others may write to (without the
// sticky bit) with ErrPermissions too, and a path that is a symbolic link with ErrSymlink. Before anything is written it checks, read-only, that the
// file is complete, that bbolt's structure is consistent, that the passphrase unwraps the keys
// and that every record authenticates and decodes; a failure changes nothing.
// Stores of an older schema version are then migrated in one transaction, in which keys
// wrapped with argon2id parameters weaker than opts.KDF (DefaultKDF) are wrapped again with
// them. Last, pages bbolt freed but did not zero (scrub.go) are zeroed.
func Open(path string, passphrase []byte, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	if err := o.KDF.validate(); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotExist, path)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%w: %s; open the file it points to, or move the store there", ErrSymlink, path)
	}
	if err := checkDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrCorrupt, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run chmod 600 on it", ErrPermissions, path, perm)
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrTruncated, path)
	}
	if len(passphrase) == 0 {
		return nil, ErrEmptyPassphrase
	}
	k, metaSnap, version, err := verifyReadOnly(path, passphrase, o)
	if err != nil {
		return nil, err
	}
	db, err := openBolt(path, false, o.LockTimeout)
	if err != nil {
		k.wipe()
		return nil, err
	}
	s := &Store{db: db, k: k, opts: o, path: path}
	err = s.guard(func() error {
		unchanged := func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			if meta == nil || !bytes.Equal(meta.Get(metaCheck), metaSnap) {
				return fmt.Errorf("%w: store changed while it was being opened", ErrCorrupt)
			}
			return nil
		}
		var stored KDFParams
		err := db.View(func(tx *bolt.Tx) error {
			if err := unchanged(tx); err != nil {
				return err
			}
			_, p, err := decodeKDF(tx.Bucket(bucketMeta).Get(metaKDF))
			stored = p
			return err
		})
		if err != nil {
			return err
		}
		// Parameters weaker than o.KDF (DefaultKDF unless the caller chose) are replaced:
		// the keys are wrapped again under the same passphrase with a fresh salt.
		rekdf := stored.dominatedBy(o.KDF)
		if version == SchemaVersion && !rekdf {
			return nil // nothing to write: Open leaves the file as it was
		}
		return db.Update(func(tx *bolt.Tx) error {
			if err := unchanged(tx); err != nil {
				return err
			}
			if version != SchemaVersion {
				if err := migrate(tx, k, version, o); err != nil {
					return err
				}
				if err := walk(tx, k, true); err != nil {
					return err
				}
			}
			if rekdf {
				if err := writeKeys(tx.Bucket(bucketMeta), k, passphrase, o); err != nil {
					return err
				}
				o.Logger.Info("keystore: argon2id parameters raised", "from", stored, "to", o.KDF)
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		k.wipe()
		return nil, err
	}
	// Zero what earlier sessions left in free pages (a crash between a commit and its
	// scrub, or a store written before scrubbing existed); a clean store is only read.
	s.scrubLocked(true)
	return s, nil
}

// checkDir refuses a store directory that others may write to (they could replace the file),
// unless its sticky bit keeps them from renaming or removing files they do not own.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("%w: directory %s has mode %04o; others may replace the store: run chmod go-w on it",
			ErrPermissions, dir, perm)
	}
	return nil
}

// guard turns panics and memory faults inside bbolt (it panics on some corrupted pages, and
// a page beyond the end of a truncated file faults) into ErrCorrupt.
func (s *Store) guard(fn func() error) error { return guard(fn) }

func guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return fn()
}

func verifyReadOnly(path string, passphrase []byte, o Options) (k *keys, check []byte, version uint32, err error) {
	db, err := openBolt(path, true, o.LockTimeout)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			if cerr := checkFile(path); errors.Is(cerr, ErrTruncated) {
				err = cerr
			}
		}
		return nil, nil, 0, err
	}
	defer db.Close()
	// The shared lock is held now: no writer can change the file under the structure check.
	if err := checkFile(path); err != nil {
		return nil, nil, 0, err
	}
	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			fi, err := os.Stat(path)
			if err != nil {
				return fmt.Errorf("keystore: %w", err)
			}
			if tx.Size() > fi.Size() {
				return fmt.Errorf("%w (%d of %d bytes)", ErrTruncated, fi.Size(), tx.Size())
			}
			meta := tx.Bucket(bucketMeta)
			if meta == nil || tx.Bucket(bucketAccounts) == nil {
				return fmt.Errorf("%w: not an otrchat key store", ErrCorrupt)
			}
			check = bytes.Clone(meta.Get(metaCheck))
			if !bytes.Equal(check, metaSum(meta)) {
				return fmt.Errorf("%w: meta bucket checksum mismatch", ErrCorrupt)
			}
			vb := meta.Get(metaVersion)
			if len(vb) != 4 {
				return fmt.Errorf("%w: bad schema version", ErrCorrupt)
			}
			version = binary.BigEndian.Uint32(vb)
			if version > SchemaVersion {
				return fmt.Errorf("%w: version %d, this program knows %d", ErrUnsupportedVersion, version, SchemaVersion)
			}
			k, err = unwrapKeys(meta, passphrase)
			if err != nil {
				return err
			}
			var checkErr error
			for e := range tx.Check() { // drain, so bbolt's checking goroutine ends
				if checkErr == nil {
					checkErr = fmt.Errorf("%w: %v", ErrCorrupt, e)
				}
			}
			if checkErr != nil {
				return checkErr
			}
			return walk(tx, k, version == SchemaVersion)
		})
	})
	if err != nil && k != nil {
		k.wipe()
		k = nil
	}
	return k, check, version, err
}

func unwrapKeys(meta *bolt.Bucket, passphrase []byte) (*keys, error) {
	kdf := meta.Get(metaKDF)
	salt, p, err := decodeKDF(kdf)
	if err != nil {
		return nil, err
	}
	kek := deriveKEK(passphrase, salt, p)
	defer clear(kek)
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, err
	}
	defer wipeAEAD(aead)
	plain, err := openValue(aead, meta.Get(metaKeys), keysAD(kdf))
	if err != nil {
		if errors.Is(err, ErrCorrupt) && len(meta.Get(metaKeys)) == envelopeOver+2*keySize {
			// The meta checksum matched, so the wrapped keys are as written: the passphrase is wrong.
			return nil, ErrWrongPassphrase
		}
		return nil, err
	}
	if len(plain) != 2*keySize {
		clear(plain)
		return nil, corrupt("wrapped keys have the wrong length")
	}
	k, err := newKeys(plain[:keySize], plain[keySize:])
	if err != nil {
		clear(plain)
	}
	return k, err
}

// Path returns the file the store lives in.
func (s *Store) Path() string { return s.path }

// Close wipes the keys held in memory and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return ErrClosed
	}
	s.k.wipe()
	s.k = nil
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// ChangePassphrase re-seals everything in one transaction: a fresh record key seals every
// record again, and the data keys are wrapped under newPassphrase with a fresh salt and the
// KDF parameters of opts (nil: the Options the store was opened with). On error nothing changed.
func (s *Store) ChangePassphrase(newPassphrase []byte, opts *Options) error {
	if len(newPassphrase) == 0 {
		return ErrEmptyPassphrase
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return ErrClosed
	}
	o := s.opts
	if opts != nil && opts.KDF != (KDFParams{}) {
		o.KDF = opts.KDF
	}
	if err := o.KDF.validate(); err != nil {
		return err
	}
	raw := make([]byte, keySize)
	if _, err := io.ReadFull(o.Rand, raw); err != nil {
		return fmt.Errorf("keystore: reading randomness: %w", err)
	}
	nk, err := newKeys(raw, bytes.Clone(s.k.name))
	if err != nil {
		return err
	}
	err = s.guard(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			type slot struct {
				b   *bolt.Bucket
				key []byte
				v   []byte
			}
			var slots []slot
			err := walkValues(tx, func(b *bolt.Bucket, path [][]byte, key, v []byte) error {
				rec, err := s.k.open(path, key, v)
				if err != nil {
					return err
				}
				nv, err := nk.seal(o.Rand, path, key, rec)
				if err != nil {
					return err
				}
				slots = append(slots, slot{b, bytes.Clone(key), nv})
				return nil
			})
			if err != nil {
				return err
			}
			for _, sl := range slots {
				if err := sl.b.Put(sl.key, sl.v); err != nil {
					return err
				}
			}
			return writeKeys(tx.Bucket(bucketMeta), nk, newPassphrase, o)
		})
	})
	if err != nil {
		nk.wipe()
		return fmt.Errorf("keystore: changing passphrase: %w", err)
	}
	s.k.wipe()
	s.k = nk
	s.opts = o
	// Every record sealed under the old record key, and the keys wrapped
	// under the old passphrase, are in freed pages now.
	s.scrubLocked(false)
	return nil
}

// walkValues calls fn for every value under the accounts bucket, depth first.
func walkValues(tx *bolt.Tx, fn func(b *bolt.Bucket, path [][]byte, key, v []byte) error) error {
	root := tx.Bucket(bucketAccounts)
	if root == nil {
		return fmt.Errorf("%w: accounts bucket missing", ErrCorrupt)
	}
	return walkBucket(root, [][]byte{bucketAccounts}, fn)
}

func walkBucket(b *bolt.Bucket, path [][]byte, fn func(b *bolt.Bucket, path [][]byte, key, v []byte) error) error {
	return b.ForEach(func(k, v []byte) error {
		if v != nil {
			return fn(b, path, k, v)
		}
		sub := b.Bucket(k)
		if sub == nil {
			return fmt.Errorf("%w: dangling bucket entry", ErrCorrupt)
		}
		p := append(append([][]byte(nil), path...), bytes.Clone(k))
		return walkBucket(sub, p, fn)
	})
}

// walk authenticates every value; with decode it also decodes each record and checks that it
// sits in the slot its content names (the layout in docs/keystore.md).
func walk(tx *bolt.Tx, k *keys, decode bool) error {
	root := tx.Bucket(bucketAccounts)
	if root == nil {
		return fmt.Errorf("%w: accounts bucket missing", ErrCorrupt)
	}
	if decode {
		err := root.ForEach(func(name, v []byte) error {
			b := root.Bucket(name)
			if v != nil || b == nil || b.Get(keyAccount) == nil {
				return corrupt("account bucket without its account record")
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return walkValues(tx, func(_ *bolt.Bucket, path [][]byte, key, v []byte) error {
		if !decode {
			_, err := openValue(k.aead, v, recordAD(path, key))
			return err
		}
		rec, err := k.open(path, key, v)
		if err != nil {
			return err
		}
		return checkSlot(k, path, key, rec)
	})
}
