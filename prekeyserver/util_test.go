package prekeyserver

import (
	"crypto/rand"
	"os"
	"path/filepath"
)

func writeFile(dir, name string, b []byte) error {
	return os.WriteFile(filepath.Join(dir, name), b, 0o600)
}

func readFile(dir, name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }

var randReader = rand.Reader
