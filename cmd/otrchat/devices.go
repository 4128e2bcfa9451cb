package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
)

func devicesList(args []string, e env) error {
	c := newFlags("devices list", e)
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
		fmt.Fprintf(e.stdout, "%s\n  own devices:\n", a)
		for _, d := range devs {
			fp, err := fingerprint(d)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "    %08x  %s\n", d.InstanceTag, fp)
		}
		contacts, err := s.Contacts(a)
		if err != nil {
			return err
		}
		for _, ct := range contacts {
			kd, err := s.ContactDevices(a, ct)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "  %s:\n", ct)
			for _, d := range kd {
				trust := "unverified"
				if td, err := s.Trust(a, ct, d.Fingerprint); err == nil {
					trust = "untrusted"
					if td.Trusted {
						trust = "trusted"
					}
					trust += fmt.Sprintf(" (%v, %s)", td.Method, td.Time.Format(time.DateOnly))
				} else if !errors.Is(err, keystore.ErrNotFound) {
					return err
				}
				var fp otr4.Fingerprint
				copy(fp[:], d.Fingerprint)
				fmt.Fprintf(e.stdout, "    %08x  %s  %s, last seen %s %s\n", d.InstanceTag, fp, trust,
					d.LastSeen.Format(time.DateTime), d.FullJID)
			}
		}
		if err := listV3Devices(s, a, e.stdout); err != nil { // keys3.go
			return err
		}
	}
	return nil
}

func devicesForget(args []string, e env) error {
	c := newFlags("devices forget", e)
	account := c.fs.String("account", "", "bare JID of the account (required)")
	contact := c.fs.String("contact", "", "forget a device of this contact instead of an own device")
	instance := c.fs.String("instance", "", "instance tag of the device, hexadecimal (required)")
	yes := c.fs.Bool("yes", false, "confirm forgetting an own device: its long-term key is destroyed")
	if err := c.parse(args); err != nil {
		return err
	}
	if *account == "" || *instance == "" {
		return fmt.Errorf("%w: -account and -instance are required", errUsage)
	}
	tag, err := parseTag(*instance)
	if err != nil {
		return err
	}
	if *contact == "" && !*yes {
		return fmt.Errorf("%w: forgetting own device %08x destroys its long-term key; add -yes", errUsage, tag)
	}
	s, err := c.open(e)
	if err != nil {
		return err
	}
	defer s.Close()
	if *contact != "" {
		if err := forgetContactDevice(s, *account, *contact, tag); err != nil { // keys3.go: OTRv4 or OTRv3
			return err
		}
		fmt.Fprintf(e.stdout, "forgot device %08x of %s\n", tag, *contact)
		return nil
	}
	if err := s.ForgetDevice(*account, tag); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "forgot own device %08x of %s\n", tag, *account)
	return nil
}
