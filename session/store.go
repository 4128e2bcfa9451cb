package session

import (
	"errors"
	"fmt"
	"io"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/otr3"
)

// storeDevice is one own device in the key store, as prekeyclient needs it
// (prekeyclient.Device) and as the prekey server's pins need it
// (prekeyclient.PinStore).
type storeDevice struct {
	s        *keystore.Store
	account  string
	tag      uint32
	id       *otr4.Identity
	versions string
	v3       *otr3.PrivateKey // OTRv3-compatible mode: transitional client profiles
	validity time.Duration
	rand     io.Reader
}

func (d *storeDevice) Profiles() (*otr4.ClientProfile, *otr4.PrekeyProfile, *otr4.SharedPrekeySecret, error) {
	cr, err := d.s.ClientProfile(d.account, d.tag)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	pr, err := d.s.PrekeyProfile(d.account, d.tag)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	cp, _, err := otr4.ParseClientProfile(cr.Encoded)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("session: stored client profile: %w", err)
	}
	pp, _, err := otr4.ParsePrekeyProfile(pr.Encoded)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("session: stored prekey profile: %w", err)
	}
	shared, err := otr4.NewSharedPrekeySecret(pr.SharedPrekeySecret)
	clear(pr.SharedPrekeySecret)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("session: stored shared prekey: %w", err)
	}
	return cp, pp, shared, nil
}

func (d *storeDevice) RenewProfiles(now time.Time) (*otr4.ClientProfile, *otr4.PrekeyProfile, *otr4.SharedPrekeySecret, error) {
	tag := otr4.InstanceTag(d.tag)
	cp, err := otr4.NewClientProfile(d.id, tag, d.versions, now.Add(d.validity))
	if d.v3 != nil {
		cp, err = otr4.NewTransitionalClientProfile(d.id, d.v3, tag, d.versions, now.Add(d.validity), d.rand)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	pp, shared, err := otr4.NewPrekeyProfile(d.rand, d.id, tag, now.Add(d.validity))
	if err != nil {
		return nil, nil, nil, err
	}
	if err := d.s.PutClientProfile(d.account, d.tag, keystore.ClientProfile{Encoded: cp.Marshal(), Expires: cp.Expires.UTC()}); err != nil {
		return nil, nil, nil, err
	}
	seed := shared.Seed()
	defer clear(seed)
	if err := d.s.PutPrekeyProfile(d.account, d.tag, keystore.PrekeyProfile{Encoded: pp.Marshal(),
		SharedPrekeySecret: seed, Expires: pp.Expires.UTC()}); err != nil {
		return nil, nil, nil, err
	}
	return cp, pp, shared, nil
}

func (d *storeDevice) AddPrekeySecrets(secrets []*otr4.PrekeySecret) error {
	recs := make([]keystore.PrekeySecret, len(secrets))
	now := time.Now().UTC()
	for i, s := range secrets {
		recs[i] = keystore.PrekeySecretOf(s, now)
	}
	defer func() {
		for _, r := range recs {
			clear(r.ECDHSecret)
			clear(r.DHSecret)
		}
	}()
	return d.s.AddPrekeySecrets(d.account, d.tag, recs...)
}

func (d *storeDevice) PrekeySecretCount() (int, error) {
	ids, err := d.s.PrekeySecretIDs(d.account, d.tag)
	if errors.Is(err, keystore.ErrNotFound) {
		return 0, nil
	}
	return len(ids), err
}

// Pinned implements prekeyclient.PinStore.
func (d *storeDevice) Pinned(server jid.JID) ([]byte, bool, error) {
	pins, err := d.s.PinnedServers(d.account)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	for _, p := range pins {
		if p.ServerJID == server.Bare().String() {
			return p.Fingerprint, true, nil
		}
	}
	return nil, false, nil
}

// Pin implements prekeyclient.PinStore: it replaces any other pin.
func (d *storeDevice) Pin(server jid.JID, fp []byte) error {
	p := keystore.PinnedServer{ServerJID: server.Bare().String(), Fingerprint: fp, FirstSeen: time.Now().UTC()}
	_, err := d.s.PinServer(d.account, p)
	if errors.Is(err, keystore.ErrPinMismatch) {
		if err := d.s.ForgetServer(d.account, p.ServerJID); err != nil {
			return err
		}
		_, err = d.s.PinServer(d.account, p)
	}
	return err
}
