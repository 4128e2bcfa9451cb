package prekeyclient

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/otrchat/otrchat/otr4"
)

// Device is what the client needs from the device's key store: the current
// profiles with the secret of the shared prekey (for its proof), fresh
// profiles when they are about to expire, and a place for the secrets of
// the prekey messages it publishes. keystore implements it on bbolt;
// MemoryDevice keeps everything in memory.
type Device interface {
	// Profiles returns the device's current Client Profile and Prekey
	// Profile and the secret of the Prekey Profile's shared prekey. It
	// may return nil profiles when none were made yet.
	Profiles() (*otr4.ClientProfile, *otr4.PrekeyProfile, *otr4.SharedPrekeySecret, error)
	// RenewProfiles makes, stores and returns new profiles valid from now.
	RenewProfiles(now time.Time) (*otr4.ClientProfile, *otr4.PrekeyProfile, *otr4.SharedPrekeySecret, error)
	// AddPrekeySecrets stores the secrets of prekey messages before they
	// are published.
	AddPrekeySecrets(secrets []*otr4.PrekeySecret) error
	// PrekeySecretCount returns how many prekey secrets are stored and
	// not yet used: an upper bound for what a server can hold for the
	// device.
	PrekeySecretCount() (int, error)
}

// MemoryDevice is a Device in memory, for tests and short-lived tools. It
// also implements otr4.PrekeySecretStore. It is safe for concurrent use.
type MemoryDevice struct {
	id       *otr4.Identity
	tag      otr4.InstanceTag
	versions string
	validity time.Duration
	rand     io.Reader

	mu      sync.Mutex
	cp      *otr4.ClientProfile
	pp      *otr4.PrekeyProfile
	shared  *otr4.SharedPrekeySecret
	secrets map[uint32]*otr4.PrekeySecret
}

// NewMemoryDevice returns a device with identity id and instance tag tag
// whose profiles, once made by RenewProfiles, are valid for validity. r
// is the randomness for the shared prekeys (crypto/rand if nil).
func NewMemoryDevice(id *otr4.Identity, tag otr4.InstanceTag, validity time.Duration, r io.Reader) *MemoryDevice {
	if r == nil {
		r = rand.Reader
	}
	return &MemoryDevice{id: id, tag: tag, versions: "4", validity: validity, rand: r, secrets: map[uint32]*otr4.PrekeySecret{}}
}

// Profiles implements Device.
func (d *MemoryDevice) Profiles() (*otr4.ClientProfile, *otr4.PrekeyProfile, *otr4.SharedPrekeySecret, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cp, d.pp, d.shared, nil
}

// RenewProfiles implements Device.
func (d *MemoryDevice) RenewProfiles(now time.Time) (*otr4.ClientProfile, *otr4.PrekeyProfile, *otr4.SharedPrekeySecret, error) {
	cp, err := otr4.NewClientProfile(d.id, d.tag, d.versions, now.Add(d.validity))
	if err != nil {
		return nil, nil, nil, err
	}
	pp, shared, err := otr4.NewPrekeyProfile(d.rand, d.id, d.tag, now.Add(d.validity))
	if err != nil {
		return nil, nil, nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cp, d.pp, d.shared = cp, pp, shared
	return cp, pp, shared, nil
}

// SetProfiles replaces the profiles, for example with ones that expire
// soon, in tests.
func (d *MemoryDevice) SetProfiles(cp *otr4.ClientProfile, pp *otr4.PrekeyProfile, shared *otr4.SharedPrekeySecret) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cp, d.pp, d.shared = cp, pp, shared
}

// AddPrekeySecrets implements Device.
func (d *MemoryDevice) AddPrekeySecrets(secrets []*otr4.PrekeySecret) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range secrets {
		if _, dup := d.secrets[s.ID]; dup {
			return fmt.Errorf("prekeyclient: prekey secret %#08x stored twice", s.ID)
		}
	}
	for _, s := range secrets {
		d.secrets[s.ID] = s
	}
	return nil
}

// PrekeySecretCount implements Device.
func (d *MemoryDevice) PrekeySecretCount() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.secrets), nil
}

// TakePrekeySecret implements otr4.PrekeySecretStore.
func (d *MemoryDevice) TakePrekeySecret(id uint32) (*otr4.PrekeySecret, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.secrets[id]
	if !ok {
		return nil, otr4.ErrPrekeyUnknown
	}
	delete(d.secrets, id)
	return s, nil
}

var errNoProfiles = errors.New("prekeyclient: the device has no profiles")
