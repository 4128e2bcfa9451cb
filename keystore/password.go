package keystore

import (
	"fmt"
	"unicode/utf8"
)

// MaxPasswordSize bounds a stored XMPP password, in bytes.
const MaxPasswordSize = 1024

// keyPassword is the account's XMPP password record: accounts/<H(account)>/password.
var keyPassword = []byte("password")

// passwordRecord is an account's XMPP password, kept sealed like every other record so that
// the configuration file need not hold it.
type passwordRecord struct{ Password string }

func (*passwordRecord) recordType() byte       { return typePassword }
func (r *passwordRecord) encodeBody(w *writer) { w.str(r.Password) }

// SetPassword stores the XMPP password of account (created if needed), replacing any
// earlier one.
func (s *Store) SetPassword(account, password string) error {
	if password == "" || len(password) > MaxPasswordSize || !utf8.ValidString(password) {
		return fmt.Errorf("%w: a password is 1 to %d bytes of UTF-8", ErrInvalid, MaxPasswordSize)
	}
	return s.update(func(t txn) error {
		a, err := t.account(account, true)
		if err != nil {
			return err
		}
		return t.put(a, keyPassword, &passwordRecord{Password: password})
	})
}

// Password returns the stored XMPP password of account, or an error matching ErrNotFound.
func (s *Store) Password(account string) (string, error) {
	var pw string
	err := s.view(func(t txn) error {
		a, err := t.account(account, false)
		if err != nil {
			return err
		}
		r, err := get[*passwordRecord](t, a, keyPassword)
		if err == nil {
			pw = r.Password
		}
		return err
	})
	if err == ErrNotFound {
		err = fmt.Errorf("%w: no password stored for %s", ErrNotFound, account)
	}
	return pw, err
}

// ForgetPassword deletes the stored XMPP password of account; it is not an error if none
// was stored.
func (s *Store) ForgetPassword(account string) error {
	return s.update(func(t txn) error {
		a, err := t.account(account, false)
		if err != nil {
			return err
		}
		if err := a.b.Delete(keyPassword); err != nil {
			return fmt.Errorf("keystore: %w", err)
		}
		return nil
	})
}
