package keystore

import (
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4"
)

// TestPrekeySecretsForOTR4 stores prekey secrets made by otr4 and takes
// them back through the otr4.PrekeySecretStore view: once, then never.
func TestPrekeySecretsForOTR4(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	s, err := Create(path, []byte("pass"), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, _ := otr4.GenerateIdentity(rand.Reader, false)
	if err := s.PutIdentity("bob@example.org", Identity{InstanceTag: 0x1234, LongTermSeed: id.Seed(), ForgingPublic: id.ForgingKey(), Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	m, sec, err := otr4.NewPrekeyMessage(rand.Reader, 0x1234)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddPrekeySecrets("bob@example.org", 0x1234, PrekeySecretOf(sec, time.Now())); err != nil {
		t.Fatal(err)
	}
	store := s.PrekeySecrets("bob@example.org", 0x1234)
	got, err := store.TakePrekeySecret(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Marshal()) != string(sec.Marshal()) {
		t.Fatal("secret changed in the store")
	}
	if _, err := store.TakePrekeySecret(m.ID); !errors.Is(err, otr4.ErrPrekeyUnknown) {
		t.Fatalf("second take: %v", err)
	}
}
