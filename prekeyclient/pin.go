package prekeyclient

import (
	"bytes"
	"crypto/subtle"
	"sync"

	"mellium.im/xmpp/jid"
)

// PinStore keeps the fingerprint of each prekey server the user has used
// (trust on first use). keystore implements it on bbolt; MemoryPinStore is
// for tests. Servers are identified by their bare JID.
type PinStore interface {
	// Pinned returns the fingerprint pinned for server, if any.
	Pinned(server jid.JID) (fp []byte, ok bool, err error)
	// Pin records fp as the fingerprint of server, replacing any other.
	Pin(server jid.JID, fp []byte) error
}

// MemoryPinStore is a PinStore in memory, safe for concurrent use.
type MemoryPinStore struct {
	mu   sync.Mutex
	pins map[string][]byte
}

// NewMemoryPinStore returns an empty MemoryPinStore.
func NewMemoryPinStore() *MemoryPinStore { return &MemoryPinStore{pins: map[string][]byte{}} }

// Pinned implements PinStore.
func (m *MemoryPinStore) Pinned(server jid.JID) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fp, ok := m.pins[server.Bare().String()]
	return bytes.Clone(fp), ok, nil
}

// Pin implements PinStore.
func (m *MemoryPinStore) Pin(server jid.JID, fp []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pins[server.Bare().String()] = bytes.Clone(fp)
	return nil
}

// equalFingerprints compares two fingerprints in constant time.
func equalFingerprints(a, b []byte) bool {
	return len(a) == FingerprintSize && subtle.ConstantTimeCompare(a, b) == 1
}
