package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/otrchat/otrchat/config"
	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
)

// profileLifetime is the expiry the spec recommends for client and prekey profiles
// (otrv4.md: "The recommended expiration time is one week").
const profileLifetime = 7 * 24 * time.Hour

func keysCreate(args []string, e env) error {
	c := newFlags("keys create", e)
	account := c.fs.String("account", "", "bare JID of the account (required)")
	newDevice := c.fs.Bool("new-device", false, "add another device to an account that has one")
	keepForging := c.fs.Bool("keep-forging-secret", false, "keep the forging key's secret (the spec recommends erasing it)")
	if err := c.parse(args); err != nil {
		return err
	}
	if *account == "" {
		return fmt.Errorf("%w: -account is required", errUsage)
	}
	cfg, err := c.config(e)
	if err != nil {
		return err
	}
	s, err := openOrCreate(cfg, e)
	if err != nil {
		return err
	}
	defer s.Close()
	devs, err := s.Devices(*account)
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		return err
	}
	if len(devs) > 0 && !*newDevice {
		return fmt.Errorf("%s already has %d device(s); use -new-device to add another", *account, len(devs))
	}
	tag, fp, err := createDevice(s, cfg, *account, *keepForging, e)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created device %08x of %s\nfingerprint %s\n", tag, *account, fp)
	return nil
}

// createDevice makes a new device of account in s: its long-term and
// forging keys, instance tag, client and prekey profiles.
func createDevice(s *keystore.Store, cfg *config.Config, account string, keepForging bool, e env) (uint32, otr4.Fingerprint, error) {
	id, err := otr4.GenerateIdentity(rand.Reader, keepForging)
	if err != nil {
		return 0, otr4.Fingerprint{}, err
	}
	defer id.Wipe()
	tag, err := otr4.NewInstanceTag(rand.Reader)
	if err != nil {
		return 0, otr4.Fingerprint{}, err
	}
	now := time.Now()
	cp, err := newClientProfile(s, cfg, account, id, tag, now, e) // keys3.go: transitional in v3-compatible mode
	if err != nil {
		return 0, otr4.Fingerprint{}, err
	}
	pp, shared, err := otr4.NewPrekeyProfile(rand.Reader, id, tag, now.Add(profileLifetime))
	if err != nil {
		return 0, otr4.Fingerprint{}, err
	}
	defer shared.Wipe()
	rec := keystore.Identity{InstanceTag: uint32(tag), LongTermSeed: id.Seed(), ForgingPublic: id.ForgingKey(),
		ForgingSecret: id.ForgingSeed(), Created: now.UTC()}
	if err := s.PutIdentity(account, rec); err != nil {
		return 0, otr4.Fingerprint{}, err
	}
	if err := s.PutClientProfile(account, uint32(tag), keystore.ClientProfile{Encoded: cp.Marshal(), Expires: cp.Expires.UTC()}); err != nil {
		return 0, otr4.Fingerprint{}, err
	}
	if err := s.PutPrekeyProfile(account, uint32(tag), keystore.PrekeyProfile{Encoded: pp.Marshal(),
		SharedPrekeySecret: shared.Seed(), Expires: pp.Expires.UTC()}); err != nil {
		return 0, otr4.Fingerprint{}, err
	}
	return uint32(tag), id.Fingerprint(), nil
}

// versions is the client profile's versions string ("4" or "34") from the configuration.
func versions(cfg *config.Config) string {
	var b strings.Builder
	for _, v := range []int{3, 4} {
		for _, w := range cfg.OTR.Versions {
			if v == w {
				fmt.Fprint(&b, v)
			}
		}
	}
	return b.String()
}

// openOrCreate opens the key store, creating it (asking for the passphrase twice on a
// terminal) when it does not exist yet.
func openOrCreate(cfg *config.Config, e env) (*keystore.Store, error) {
	if _, err := os.Stat(cfg.Keystore.Path); err == nil {
		return openStore(cfg, e)
	}
	fmt.Fprintf(e.stderr, "Creating the key store %s\n", cfg.Keystore.Path)
	p, err := passphrase(cfg, e, "New key store passphrase: ", true)
	if err != nil {
		return nil, err
	}
	defer clear(p)
	return keystore.Create(cfg.Keystore.Path, p, storeOptions(cfg))
}

// fingerprint computes a stored device's fingerprint with otr4.
func fingerprint(id keystore.Identity) (otr4.Fingerprint, error) {
	oid, err := otr4.NewIdentity(id.LongTermSeed, id.ForgingPublic, id.ForgingSecret)
	if err != nil {
		return otr4.Fingerprint{}, fmt.Errorf("device %08x: %w", id.InstanceTag, err)
	}
	defer oid.Wipe()
	return oid.Fingerprint(), nil
}

func keysShow(args []string, e env) error {
	c := newFlags("keys show", e)
	account := c.fs.String("account", "", "only this account")
	if err := c.parse(args); err != nil {
		return err
	}
	s, err := c.open(e)
	if err != nil {
		return err
	}
	defer s.Close()
	accts, err := accounts(s, *account)
	if err != nil {
		return err
	}
	for _, a := range accts {
		devs, err := s.Devices(a)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", a)
		if err := showV3Key(s, a, e.stdout); err != nil { // keys3.go
			return err
		}
		for _, d := range devs {
			fp, err := fingerprint(d)
			if err != nil {
				return err
			}
			exp := "none"
			if cp, err := s.ClientProfile(a, d.InstanceTag); err == nil {
				exp = cp.Expires.Format(time.DateOnly)
			}
			fmt.Fprintf(e.stdout, "  device %08x  %s\n    created %s, client profile expires %s\n",
				d.InstanceTag, fp, d.Created.Format(time.DateOnly), exp)
		}
	}
	return nil
}
