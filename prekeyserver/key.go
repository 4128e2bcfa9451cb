package prekeyserver

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/otrchat/otrchat/otr4/prekey"
)

// keyFile is the name of the server's long-term key in DataDir: the raw
// 57-byte Ed448 seed, mode 0600.
const keyFile = "server.key"

// loadOrCreateKey reads the server's key from dir, or creates it on first
// start. It refuses a key file of the wrong size rather than replace it.
func loadOrCreateKey(dir string, rand io.Reader) (*prekey.ServerKey, bool, error) {
	path := filepath.Join(dir, keyFile)
	seed, err := os.ReadFile(path)
	switch {
	case err == nil:
		defer clear(seed)
		k, err := prekey.NewServerKey(seed)
		if err != nil {
			return nil, false, fmt.Errorf("prekeyserver: %s: %w", path, err)
		}
		return k, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, fmt.Errorf("prekeyserver: reading key: %w", err)
	}
	k, err := prekey.GenerateServerKey(rand)
	if err != nil {
		return nil, false, err
	}
	seed = k.Seed()
	defer clear(seed)
	// Write to a temporary file and rename, so a crash never leaves a
	// truncated key behind.
	tmp, err := os.CreateTemp(dir, keyFile+".tmp*")
	if err != nil {
		return nil, false, fmt.Errorf("prekeyserver: writing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("prekeyserver: writing key: %w", err)
	}
	if _, err := tmp.Write(seed); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("prekeyserver: writing key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("prekeyserver: writing key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("prekeyserver: writing key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		// Link fails if another process created the key meanwhile.
		return nil, false, fmt.Errorf("prekeyserver: installing key: %w", err)
	}
	return k, true, nil
}
