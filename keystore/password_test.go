package keystore

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestPassword(t *testing.T) {
	s, path := newStore(t)
	if _, err := s.Password(alice); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no account yet: %v", err)
	}
	for _, bad := range []string{"", strings.Repeat("x", MaxPasswordSize+1), "\xff"} {
		if err := s.SetPassword(alice, bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("SetPassword(%q): %v", bad, err)
		}
	}
	if err := s.SetPassword(alice+"/phone", "pw"); err == nil {
		t.Fatal("a password for a bad JID was stored")
	}
	must(t, s.SetPassword(alice, "first"))
	must(t, s.SetPassword(alice, "sécret wörd"))
	if _, err := s.Password(bob); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob: %v", err)
	}
	// It survives reopening (Open decodes every record and checks its slot),
	// and never appears in the clear in the file.
	s = reopen(t, s, path)
	if pw, err := s.Password(alice); err != nil || pw != "sécret wörd" {
		t.Fatalf("Password = %q, %v", pw, err)
	}
	// The account is listed once, with or without devices.
	if accts, err := s.Accounts(); err != nil || len(accts) != 1 || accts[0] != alice {
		t.Fatalf("accounts %v %v", accts, err)
	}
	must(t, s.Close())
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("sécret")) {
		t.Fatal("the password is in the file in the clear")
	}
	s, err = Open(path, pass, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.ForgetPassword(alice))
	must(t, s.ForgetPassword(alice))
	if _, err := s.Password(alice); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after forgetting: %v", err)
	}
	must(t, s.Close())
}
