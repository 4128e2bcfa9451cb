package keystore

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/term"
)

// TestConcurrentTakes: goroutines race to take the same prekey secrets; each is handed out
// exactly once.
func TestConcurrentTakes(t *testing.T) {
	s, _ := newStore(t)
	defer s.Close()
	populate(t, s)
	const n = 40
	var batch []PrekeySecret
	for i := range n {
		batch = append(batch, PrekeySecret{ID: uint32(1000 + i), ECDHSecret: randBytes(t, ECDHSecretSize), DHSecret: randBytes(t, DHSecretSize)})
	}
	must(t, s.AddPrekeySecrets(alice, tagA, batch...))
	var mu sync.Mutex
	got := map[uint32]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range n {
				p, err := s.TakePrekeySecret(alice, tagA, uint32(1000+i))
				if err == nil {
					mu.Lock()
					got[p.ID]++
					mu.Unlock()
				} else if !errors.Is(err, ErrNotFound) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("%d of %d secrets handed out", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("prekey %d handed out %d times", id, c)
		}
	}
}

func TestPassphraseSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(content), mode))
		must(t, os.Chmod(p, mode))
		return p
	}
	p, err := PassphraseFromFile(write("a", "pass word\r\n", 0o600))
	if err != nil || string(p) != "pass word" {
		t.Fatalf("%q %v", p, err)
	}
	p, err = PassphraseFromFile(write("b", "two\n\n", 0o640))
	if err != nil || string(p) != "two\n" {
		t.Fatalf("only one newline is dropped: %q %v", p, err)
	}
	if _, err := PassphraseFromFile(write("c", "x", 0o604)); !errors.Is(err, ErrPermissions) {
		t.Fatalf("world-readable file: %v", err)
	}
	if _, err := PassphraseFromFile(write("d", "\n", 0o600)); !errors.Is(err, ErrEmptyPassphrase) {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := PassphraseFromFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
	t.Setenv("OTRCHAT_TEST_PASS", "from env")
	if p, err := PassphraseFromEnv("OTRCHAT_TEST_PASS"); err != nil || string(p) != "from env" {
		t.Fatalf("%q %v", p, err)
	}
	t.Setenv(EnvPassphrase, "")
	if _, err := PassphraseFromEnv(""); !errors.Is(err, ErrEmptyPassphrase) {
		t.Fatalf("unset default variable: %v", err)
	}
	if _, err := Create(filepath.Join(dir, "k.db"), nil, testOpts()); !errors.Is(err, ErrEmptyPassphrase) {
		t.Fatalf("empty passphrase accepted by Create: %v", err)
	}
	// Not a terminal under go test: a clear error instead of blocking.
	if fd := int(os.Stdin.Fd()); !term.IsTerminal(fd) {
		if _, err := PassphraseFromTerminal(fd, os.Stderr, "p: ", false); !errors.Is(err, ErrEmptyPassphrase) {
			t.Errorf("PassphraseFromTerminal on a non-terminal: %v", err)
		}
	}
}
