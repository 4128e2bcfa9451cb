package prekeyclient

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

// TestReusedPrekeyAfterRestart: the prekey messages received are recorded
// in the key store, so a server handing one out again is caught by a new
// client (a restart) on a reopened store; without the store it is not.
func TestReusedPrekeyAfterRestart(t *testing.T) {
	alice := newDevice(t, "alice@example.org/laptop")
	bob := newDevice(t, "bob@example.org/phone")
	e := bob.ensemble(t)
	srv := retrievalServer(t, func(q *prekey.EnsembleQuery) prekey.Message {
		return &prekey.EnsembleRetrieval{ReceiverTag: q.SenderTag, Identity: q.Identity, Ensembles: []*otr4.PrekeyEnsemble{e}}
	})
	path := filepath.Join(t.TempDir(), "keys.db")
	opts := &keystore.Options{KDF: keystore.KDFParams{Time: 1, Memory: 64, Threads: 1}}
	store, err := keystore.Create(path, []byte("passphrase"), opts)
	if err != nil {
		t.Fatal(err)
	}
	account := alice.account.Bare().String()
	c := newTestClientSeen(t, alice, srv, time.Second, store.SeenPrekeyLog(account))
	if _, err := c.Retrieve(context.Background(), jid.MustParse("bob@example.org")); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// Without the store a new client cannot tell.
	if _, err := newTestClient(t, alice, srv, time.Second).Retrieve(context.Background(), jid.MustParse("bob@example.org")); err != nil {
		t.Fatalf("fresh client without a log: %v", err)
	}
	store, err = keystore.Open(path, []byte("passphrase"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if seen, err := store.SeenPrekeys(account); err != nil || len(seen) != 1 || seen[0] != digest(e.Message.Marshal()) {
		t.Fatalf("log after reopen: %x, %v", seen, err)
	}
	c = newTestClientSeen(t, alice, srv, time.Second, store.SeenPrekeyLog(account))
	_, err = c.Retrieve(context.Background(), jid.MustParse("bob@example.org"))
	if !errors.Is(err, ErrNoValidEnsembles) || !errors.Is(err, ErrReusedPrekey) {
		t.Fatalf("after restart: err = %v, want ErrReusedPrekey", err)
	}
}

// failingSeen is a SeenStore whose log cannot be read.
type failingSeen struct{}

func (failingSeen) SeenPrekeys() ([][32]byte, error) { return nil, errors.New("disk on fire") }
func (failingSeen) AddSeenPrekeys(...[32]byte) error { return errors.New("disk on fire") }

func TestSeenStoreUnreadable(t *testing.T) {
	alice := newDevice(t, "alice@example.org/laptop")
	_, err := New(Config{Account: alice.account, Identity: alice.id, InstanceTag: alice.tag, Device: alice.dev,
		Transport: &fakeServer{jid: jid.MustParse(testServer)}, Pins: NewMemoryPinStore(), Seen: failingSeen{}})
	if err == nil {
		t.Fatal("New accepted an unreadable seen-prekey log")
	}
}
