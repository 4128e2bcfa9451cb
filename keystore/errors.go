package keystore

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of these where it applies, so
// callers branch with errors.Is.
var (
	// ErrWrongPassphrase: the store is intact but the passphrase does not unlock it.
	ErrWrongPassphrase = errors.New("keystore: wrong passphrase")
	// ErrCorrupt: the file is truncated, has flipped bytes, or is not a keystore at all.
	ErrCorrupt = errors.New("keystore: store is corrupt")
	// ErrTruncated: the file is shorter than its own structure says (a kind of ErrCorrupt:
	// errors.Is matches both).
	ErrTruncated = fmt.Errorf("%w: the file is truncated", ErrCorrupt)
	// ErrNotExist: Open was given a path with no store; use Create.
	ErrNotExist = errors.New("keystore: store does not exist")
	// ErrExist: Create was given a path that already exists.
	ErrExist = errors.New("keystore: store already exists")
	// ErrPermissions: the store file is readable or writable by group or others, or its
	// directory is writable by them (without the sticky bit).
	ErrPermissions = errors.New("keystore: store file permissions are wider than 0600")
	// ErrSymlink: the store's path is a symbolic link; Open and Create refuse to follow it.
	ErrSymlink = errors.New("keystore: store file is a symbolic link")
	// ErrLocked: another process holds the store open.
	ErrLocked = errors.New("keystore: store is locked by another process")
	// ErrUnsupportedVersion: the store was written by a newer otrchat.
	ErrUnsupportedVersion = errors.New("keystore: store schema version is newer than this program")
	// ErrNotFound: no such account, device or record.
	ErrNotFound = errors.New("keystore: not found")
	// ErrInvalid: an argument is malformed (bad JID, wrong key length, instance tag < 0x100).
	ErrInvalid = errors.New("keystore: invalid argument")
	// ErrPrekeyUsed: a prekey identifier that was already taken cannot be stored again.
	ErrPrekeyUsed = errors.New("keystore: prekey identifier was already used")
	// ErrPinMismatch: a prekey server already pinned with a different fingerprint.
	ErrPinMismatch = errors.New("keystore: prekey server fingerprint differs from the pinned one")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("keystore: store is closed")
	// ErrEmptyPassphrase: a passphrase source produced nothing.
	ErrEmptyPassphrase = errors.New("keystore: empty passphrase")
)
