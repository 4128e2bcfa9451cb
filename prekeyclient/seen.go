package prekeyclient

import (
	"crypto/sha256"
	"sync"
)

// maxSeenPrekeys bounds the memory of prekey messages received (as
// keystore.MaxSeenPrekeys bounds the persisted log).
const maxSeenPrekeys = 4096

// SeenStore keeps, across runs, the SHA-256 digests of the prekey messages
// prekey servers handed to this client, so that a server handing one out a
// second time is noticed after a restart too. keystore implements it
// (Store.SeenPrekeyLog); without one (Config.Seen nil) the client remembers
// them in memory only.
type SeenStore interface {
	// SeenPrekeys returns the recorded digests, oldest first.
	SeenPrekeys() ([][32]byte, error)
	// AddSeenPrekeys records digests.
	AddSeenPrekeys(digests ...[32]byte) error
}

// seenSet remembers the digests of the last prekey messages received, to
// notice a server handing out a prekey message a second time. The oldest
// are forgotten first.
type seenSet struct {
	mu    sync.Mutex
	max   int
	set   map[[32]byte]bool
	order [][32]byte
}

func newSeenSet(max int) *seenSet { return &seenSet{max: max, set: map[[32]byte]bool{}} }

func digest(encoded []byte) [32]byte { return sha256.Sum256(encoded) }

// contains reports whether d was added.
func (s *seenSet) contains(d [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set[d]
}

// add records d.
func (s *seenSet) add(d [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set[d] {
		return
	}
	if len(s.order) == s.max {
		delete(s.set, s.order[0])
		s.order = s.order[1:]
	}
	s.set[d] = true
	s.order = append(s.order, d)
}
