package keystore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// EnvPassphrase is the environment variable PassphraseFromEnv reads by default.
const EnvPassphrase = "OTRCHAT_PASSPHRASE"

const maxPassphraseFile = 64 << 10

// PassphraseFromEnv returns the value of the environment variable name (EnvPassphrase when
// empty). An unset or empty variable is ErrEmptyPassphrase.
func PassphraseFromEnv(name string) ([]byte, error) {
	if name == "" {
		name = EnvPassphrase
	}
	v := os.Getenv(name)
	if v == "" {
		return nil, fmt.Errorf("%w: environment variable %s is unset or empty", ErrEmptyPassphrase, name)
	}
	return []byte(v), nil
}

// PassphraseFromFile reads a passphrase file: its content without one trailing newline
// ("\n" or "\r\n"). A file that others (not the owner or group) may read is refused with
// ErrPermissions.
func PassphraseFromFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: passphrase file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keystore: passphrase file: %w", err)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("%w: passphrase file %s has mode %04o; others must not read it", ErrPermissions, path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPassphraseFile+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: passphrase file: %w", err)
	}
	if len(b) > maxPassphraseFile {
		return nil, fmt.Errorf("%w: passphrase file %s is larger than %d bytes", ErrInvalid, path, maxPassphraseFile)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: passphrase file %s is empty", ErrEmptyPassphrase, path)
	}
	return b, nil
}

// ErrMismatch is returned by PassphraseFromTerminal when the confirmation differs.
var ErrMismatch = errors.New("keystore: the passphrases do not match")

// PassphraseFromTerminal reads a passphrase without echo from the terminal fd, writing prompt
// to w (normally os.Stderr). With confirm it asks twice and fails with ErrMismatch if the two
// differ. fd must be a terminal.
func PassphraseFromTerminal(fd int, w io.Writer, prompt string, confirm bool) ([]byte, error) {
	if !term.IsTerminal(fd) {
		return nil, fmt.Errorf("%w: standard input is not a terminal; set %s or use a passphrase file", ErrEmptyPassphrase, EnvPassphrase)
	}
	read := func(p string) ([]byte, error) {
		fmt.Fprint(w, p)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(w)
		if err != nil {
			return nil, fmt.Errorf("keystore: reading passphrase: %w", err)
		}
		return b, nil
	}
	p, err := read(prompt)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, ErrEmptyPassphrase
	}
	if confirm {
		q, err := read("Repeat: ")
		if err != nil {
			return nil, err
		}
		defer clear(q)
		if !bytes.Equal(p, q) {
			clear(p)
			return nil, ErrMismatch
		}
	}
	return p, nil
}
