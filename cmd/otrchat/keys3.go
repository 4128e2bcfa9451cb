package main

// OTRv3 keys for the OTRv3-compatible mode: importing a libotr key file, generating a key
// in "keys create" when the configuration's mode is v3-compatible, and making the account's
// client profiles transitional (they carry the OTRv3 key and its signature).

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/otrchat/otrchat/config"
	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/otr3"
)

// v3Mode reports whether the configuration runs the OTRv3-compatible mode.
func v3Mode(cfg *config.Config) bool {
	return cfg.OTR.Mode == config.ModeV3Compatible && strings.Contains(versions(cfg), "3")
}

func keysImportLibotr(args []string, e env) error {
	c := newFlags("keys import-libotr", e)
	account := c.fs.String("account", "", "bare JID of the account (required)")
	file := c.fs.String("file", "", "libotr private key file, e.g. ~/.purple/otr.private_key (required)")
	name := c.fs.String("name", "", "the account's name in the file when it differs from -account")
	replace := c.fs.Bool("replace", false, "replace the account's OTRv3 key (contacts will see a new fingerprint)")
	if err := c.parse(args); err != nil {
		return err
	}
	if *account == "" || *file == "" {
		return fmt.Errorf("%w: -account and -file are required", errUsage)
	}
	cfg, err := c.config(e)
	if err != nil {
		return err
	}
	key, err := readLibotrKey(*file, *account, *name)
	if err != nil {
		return err
	}
	defer key.Wipe()
	s, err := openOrCreate(cfg, e)
	if err != nil {
		return err
	}
	defer s.Close()
	fp := key.Fingerprint()
	rec := keystore.OTR3Key{Key: key.Marshal(), Fingerprint: fp[:], Imported: true, Created: time.Now().UTC()}
	defer clear(rec.Key)
	if err := s.PutOTR3Key(*account, rec, *replace); err != nil {
		if errors.Is(err, keystore.ErrExist) {
			old, _ := s.OTR3Key(*account)
			return fmt.Errorf("%s already has an OTRv3 key (fingerprint %s); use -replace to replace it", *account, fpString(old.Fingerprint))
		}
		return err
	}
	fmt.Fprintf(e.stdout, "imported the OTRv3 key of %s from %s\nfingerprint %s\n", *account, *file, fp)
	if !v3Mode(cfg) {
		fmt.Fprintf(e.stdout, "it is used when the configuration says otr.mode = \"v3-compatible\" and versions = [3, 4]\n")
		return nil
	}
	return transitionalProfiles(s, *account, key, e.stdout)
}

// readLibotrKey reads the key of account (or of the name in the file) from a libotr key file.
func readLibotrKey(path, account, name string) (*otr3.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, otr3.MaxLibotrKeyFile+1))
	if err != nil {
		return nil, err
	}
	defer clear(data)
	keys, err := otr3.ImportLibotrKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var found *otr3.PrivateKey
	var names []string
	for _, k := range keys {
		names = append(names, fmt.Sprintf("%s (%s)", k.Account, k.Protocol))
		// Pidgin names XMPP accounts user@domain/Resource; Profanity uses the bare JID.
		bare, _, _ := strings.Cut(k.Account, "/")
		match := k.Account == name || (name == "" && strings.EqualFold(bare, account))
		if !match {
			continue
		}
		if found != nil && found.Fingerprint() != k.Key.Fingerprint() {
			return nil, fmt.Errorf("%s holds several keys for %s; choose one with -name (accounts: %s)", path, account, strings.Join(names, ", "))
		}
		found = k.Key
	}
	if found == nil {
		want := account
		if name != "" {
			want = name
		}
		return nil, fmt.Errorf("%s has no key for %s (accounts: %s); -name picks another", path, want, strings.Join(names, ", "))
	}
	return found, nil
}

// ensureV3Key returns the account's OTRv3 key, generating one when it has none (keys create
// in the OTRv3-compatible mode).
func ensureV3Key(s *keystore.Store, account string, e env) (*otr3.PrivateKey, error) {
	k, err := s.OTR3PrivateKey(account)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, keystore.ErrNotFound) {
		return nil, err
	}
	k, err = otr3.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	fp := k.Fingerprint()
	rec := keystore.OTR3Key{Key: k.Marshal(), Fingerprint: fp[:], Created: time.Now().UTC()}
	defer clear(rec.Key)
	if err := s.PutOTR3Key(account, rec, false); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stdout, "created the OTRv3 key of %s\nOTRv3 fingerprint %s\n", account, fp)
	return k, nil
}

// transitionalProfiles replaces the client profile of each device of account by a
// transitional one carrying the OTRv3 key (versions "34"), with the same expiry.
func transitionalProfiles(s *keystore.Store, account string, key *otr3.PrivateKey, w io.Writer) error {
	devs, err := s.Devices(account)
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		return err
	}
	for _, d := range devs {
		id, err := otr4.NewIdentity(d.LongTermSeed, d.ForgingPublic, d.ForgingSecret)
		if err != nil {
			return fmt.Errorf("device %08x: %w", d.InstanceTag, err)
		}
		expires := time.Now().Add(profileLifetime)
		if old, err := s.ClientProfile(account, d.InstanceTag); err == nil && old.Expires.After(time.Now()) {
			expires = old.Expires
		}
		cp, err := otr4.NewTransitionalClientProfile(id, key, otr4.InstanceTag(d.InstanceTag), "34", expires, rand.Reader)
		id.Wipe()
		if err != nil {
			return err
		}
		if err := s.PutClientProfile(account, d.InstanceTag, keystore.ClientProfile{Encoded: cp.Marshal(), Expires: cp.Expires.UTC()}); err != nil {
			return err
		}
		fmt.Fprintf(w, "device %08x: client profile now carries the OTRv3 key (versions 3 and 4)\n", d.InstanceTag)
	}
	return nil
}

// showV3Key prints the account's OTRv3 key for keys show.
func showV3Key(s *keystore.Store, account string, w io.Writer) error {
	k, err := s.OTR3Key(account)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	how := "generated"
	if k.Imported {
		how = "imported"
	}
	fmt.Fprintf(w, "  OTRv3 key  %s\n    %s %s\n", fpString(k.Fingerprint), how, k.Created.Format(time.DateOnly))
	return nil
}

// fpString formats a 20-byte OTRv3 fingerprint as libotr does.
func fpString(b []byte) string {
	var fp otr3.Fingerprint
	copy(fp[:], b)
	return fp.String()
}

// newClientProfile makes a new device's client profile: transitional, with the account's
// OTRv3 key (generated when there is none), in the OTRv3-compatible mode.
func newClientProfile(s *keystore.Store, cfg *config.Config, account string, id *otr4.Identity, tag otr4.InstanceTag, now time.Time, e env) (*otr4.ClientProfile, error) {
	if !v3Mode(cfg) {
		return otr4.NewClientProfile(id, tag, versions(cfg), now.Add(profileLifetime))
	}
	k, err := ensureV3Key(s, account, e)
	if err != nil {
		return nil, err
	}
	defer k.Wipe()
	return otr4.NewTransitionalClientProfile(id, k, tag, versions(cfg), now.Add(profileLifetime), rand.Reader)
}

// listV3Devices prints the contacts' known OTRv3 instances for devices list, with the
// fingerprint as libotr shows it.
func listV3Devices(s *keystore.Store, account string, w io.Writer) error {
	contacts, err := s.OTR3Contacts(account)
	if err != nil {
		return err
	}
	for _, ct := range contacts {
		kd, err := s.OTR3ContactDevices(account, ct)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s (OTRv3):\n", ct)
		for _, d := range kd {
			trust := "unverified"
			if td, err := s.Trust(account, ct, d.Fingerprint); err == nil {
				trust = "untrusted"
				if td.Trusted {
					trust = "trusted"
				}
				trust += fmt.Sprintf(" (%v, %s)", td.Method, td.Time.Format(time.DateOnly))
			} else if !errors.Is(err, keystore.ErrNotFound) {
				return err
			}
			fmt.Fprintf(w, "    %08x  %s  %s, last seen %s %s\n", d.InstanceTag, fpString(d.Fingerprint), trust,
				d.LastSeen.Format(time.DateTime), d.FullJID)
		}
	}
	return nil
}

// forgetContactDevice forgets a contact's device, OTRv4 or (failing that) OTRv3.
func forgetContactDevice(s *keystore.Store, account, contact string, tag uint32) error {
	err := s.ForgetContactDevice(account, contact, tag)
	if errors.Is(err, keystore.ErrNotFound) {
		if err3 := s.ForgetOTR3ContactDevice(account, contact, tag); err3 == nil || !errors.Is(err3, keystore.ErrNotFound) {
			return err3
		}
	}
	return err
}
