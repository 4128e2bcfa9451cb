package session

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/keystore"
)

// trustLevel computes how far a device's fingerprint is trusted: an
// explicit decision first (verified or distrusted), then the trust mode.
// changed is set when the device showed another fingerprint before.
func (m *Manager) trustLevel(c *contact, fp []byte, changed bool) TrustLevel {
	dec, err := m.cfg.Store.Trust(m.account.String(), c.key, fp)
	if err == nil {
		if dec.Trusted {
			return Verified
		}
		return Untrusted
	}
	if changed {
		return Untrusted
	}
	switch m.trustMode {
	case TrustBlind:
		return Assumed
	case TrustTOFU:
		return Assumed
	case TrustBlindBeforeVerification:
		if m.hasVerified(c) {
			return Untrusted
		}
		return Assumed
	}
	return Untrusted
}

// hasVerified reports whether any fingerprint of c was verified.
func (m *Manager) hasVerified(c *contact) bool {
	decs, err := m.cfg.Store.TrustDecisions(m.account.String())
	if err != nil {
		return false
	}
	return slices.ContainsFunc(decs, func(d keystore.TrustDecision) bool { return d.Contact == c.key && d.Trusted })
}

func (m *Manager) refreshTrust(c *contact, d *device) {
	if fp, ok := d.fingerprint(); ok {
		d.trust = m.trustLevel(c, fp, false)
	}
}

// SetTrust records the user's decision about a contact's fingerprint after
// a manual comparison: Verified trusts it, Untrusted (or Assumed) revokes
// the trust. The decision reaches the account's other verified devices
// inside the OTR conversations with them.
func (m *Manager) SetTrust(ctx context.Context, c jid.JID, fingerprint string, level TrustLevel) error {
	fp, err := parseFingerprint(fingerprint)
	if err != nil {
		return err
	}
	if level != Verified {
		level = Untrusted
	}
	m.mu.Lock()
	ct := m.contact(c)
	err = m.setTrustLocked(ct, fp, level, keystore.MethodManual, nil)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return nil
}

// setTrustLocked stores a trust decision, updates the devices showing that
// fingerprint, reports it, and (for a decision made here) sends it to our
// other devices. Called with m.mu held.
func (m *Manager) setTrustLocked(c *contact, fp []byte, level TrustLevel, method keystore.TrustMethod, from *Device) error {
	now := m.cfg.Now().UTC()
	dec := keystore.TrustDecision{Contact: c.key, Fingerprint: fp, Trusted: level == Verified, Method: method, Time: now}
	if err := m.cfg.Store.SetTrust(m.account.String(), dec); err != nil {
		return err
	}
	for _, d := range c.devices {
		m.refreshTrust(c, d)
	}
	m.emit(&TrustEvent{Contact: c.jid, Fingerprint: formatFP(fp), Level: level, FromDevice: from})
	m.emitRoster(c)
	if from == nil {
		ts := trustSync{contact: c.jid, fingerprint: fp, level: level, method: uint8(method), at: now}
		go m.syncTrust(ts)
	}
	return nil
}

// syncTrust sends a trust decision to every verified own device.
func (m *Manager) syncTrust(ts trustSync) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*m.cfg.RequestTimeout)
	defer cancel()
	own := m.account
	m.ensureList(ctx, own)
	m.mu.Lock()
	oc := m.contact(own)
	var tags []uint32
	for _, in := range m.instances(oc) {
		d, ok := oc.devices[in.Tag]
		if !ok || !d.fpKnown {
			continue
		}
		if m.trustLevel(oc, d.fp[:], false) == Verified {
			tags = append(tags, in.Tag)
		}
	}
	m.mu.Unlock()
	if len(tags) == 0 {
		return
	}
	errs := m.startDevices(ctx, own, tags)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tag := range tags {
		if errs[tag] != nil {
			m.emit(&WarningEvent{Contact: oc.jid, Device: Device{Account: own, Tag: tag}, Kind: WarnTrustSync,
				Text: fmt.Sprintf("could not send the trust decision to your device [%08x]: %v", tag, errs[tag])})
			continue
		}
		d := oc.devices[tag]
		out, err := d.conv.Send("", ts.tlv())
		if err != nil {
			m.emit(&WarningEvent{Contact: oc.jid, Device: m.devRef(oc, d), Kind: WarnTrustSync,
				Text: fmt.Sprintf("could not send the trust decision to %s: %v", describe(m.devRef(oc, d)), err)})
			continue
		}
		m.process(oc, d, out)
	}
}

// receiveTrust applies a trust decision sent by one of our own devices,
// which we accept only from an own device whose fingerprint we verified.
func (m *Manager) receiveTrust(c *contact, d *device, value []byte) {
	ref := m.devRef(c, d)
	if !c.own {
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnTrustSync,
			Text: describe(ref) + " sent a trust decision, which only your own devices may send: ignored"})
		return
	}
	if !d.fpKnown || m.trustLevel(c, d.fp[:], false) != Verified {
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnTrustSync,
			Text: "refused a trust decision from your device " + describe(ref) + ", which is not verified: verify it first"})
		return
	}
	ts, err := parseTrustSync(value)
	if err != nil {
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnTrustSync, Text: err.Error()})
		return
	}
	target := m.contact(ts.contact)
	method := keystore.TrustMethod(ts.method)
	if method != keystore.MethodSMP {
		method = keystore.MethodManual
	}
	if err := m.setTrustLocked(target, ts.fingerprint, ts.level, method, &ref); err != nil {
		m.emit(&WarningEvent{Contact: target.jid, Device: ref, Kind: WarnTrustSync, Text: err.Error()})
	}
}

// ensureList makes sure an account's device list is known, fetching it
// when no notification brought it. Called without m.mu.
func (m *Manager) ensureList(ctx context.Context, account jid.JID) {
	m.mu.Lock()
	known := m.contact(account).listed != nil
	m.mu.Unlock()
	if known {
		return
	}
	m.refreshList(ctx, account)
}

// refreshList reads an account's device list from its PEP node, whatever
// is cached, for commands that must not act on a stale list. Called
// without m.mu.
func (m *Manager) refreshList(ctx context.Context, account jid.JID) {
	fctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
	defer cancel()
	if _, err := m.pep.Fetch(fctx, account.Bare()); err != nil {
		if !errors.Is(err, context.Canceled) {
			m.log.Debug("device list", "account", account, "err", err)
		}
	}
	m.handleDeviceListChange(account.Bare())
}
