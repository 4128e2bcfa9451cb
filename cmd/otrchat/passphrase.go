package main

import (
	"fmt"

	"github.com/otrchat/otrchat/keystore"
)

func passphraseChange(args []string, e env) error {
	c := newFlags("passphrase change", e)
	newFile := c.fs.String("new-passphrase-file", "", "read the new passphrase from this file")
	newEnv := c.fs.String("new-passphrase-env", "", "read the new passphrase from this environment variable")
	if err := c.parse(args); err != nil {
		return err
	}
	s, err := c.open(e)
	if err != nil {
		return err
	}
	defer s.Close()
	var p []byte
	switch {
	case *newFile != "" && *newEnv != "":
		return fmt.Errorf("%w: give -new-passphrase-file or -new-passphrase-env, not both", errUsage)
	case *newFile != "":
		p, err = keystore.PassphraseFromFile(*newFile)
	case *newEnv != "":
		if v := e.getenv(*newEnv); v != "" {
			p = []byte(v)
		} else {
			err = fmt.Errorf("%w: environment variable %s is unset or empty", keystore.ErrEmptyPassphrase, *newEnv)
		}
	default:
		p, err = keystore.PassphraseFromTerminal(int(e.stdin.Fd()), e.stderr, "New passphrase: ", true)
	}
	if err != nil {
		return err
	}
	defer clear(p)
	if err := s.ChangePassphrase(p, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "passphrase of %s changed\n", s.Path())
	return nil
}
