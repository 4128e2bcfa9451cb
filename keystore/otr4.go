package keystore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/otrchat/otrchat/otr4"
)

// PrekeySecretOf converts the secret half of a prekey message made by
// otr4.NewPrekeyMessage into a record for AddPrekeySecrets.
func PrekeySecretOf(p *otr4.PrekeySecret, created time.Time) PrekeySecret {
	b := p.Marshal() // ID || ECDH seed || DH secret
	defer clear(b)
	return PrekeySecret{
		ID:         binary.BigEndian.Uint32(b),
		ECDHSecret: append([]byte(nil), b[4:4+ECDHSecretSize]...),
		DHSecret:   append([]byte(nil), b[4+ECDHSecretSize:]...),
		Created:    created,
	}
}

// deviceSecrets is one device's prekey secrets, as otr4 uses them.
type deviceSecrets struct {
	s       *Store
	account string
	tag     uint32
}

// PrekeySecrets returns the otr4.PrekeySecretStore of one device: each
// secret is handed out once (deleted in the same transaction) and never
// again.
func (s *Store) PrekeySecrets(account string, tag uint32) otr4.PrekeySecretStore {
	return deviceSecrets{s, account, tag}
}

func (d deviceSecrets) TakePrekeySecret(id uint32) (*otr4.PrekeySecret, error) {
	rec, err := d.s.TakePrekeySecret(d.account, d.tag, id)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrPrekeyUsed) {
		return nil, fmt.Errorf("%w: %v", otr4.ErrPrekeyUnknown, err)
	}
	if err != nil {
		return nil, err
	}
	b := binary.BigEndian.AppendUint32(nil, rec.ID)
	b = append(b, rec.ECDHSecret...)
	b = append(b, rec.DHSecret...)
	defer clear(b)
	clear(rec.ECDHSecret)
	clear(rec.DHSecret)
	return otr4.ParsePrekeySecret(b)
}
