package session

import (
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/pep"
	"github.com/otrchat/otrchat/xmppconn"
)

// contactInfo describes c for the user interface. Called with m.mu held.
func (m *Manager) contactInfo(c *contact) ContactInfo {
	info := ContactInfo{JID: c.jid, Policy: m.policyFor(c), State: Plaintext, Trust: Verified}
	for _, it := range m.client.Roster() {
		if it.JID.Bare().Equal(c.jid) {
			info.Name, info.Subscription, info.Pending = it.Name, it.Subscription, it.Ask
		}
	}
	pres := m.client.Presences(c.jid)
	for _, p := range pres {
		if p.Show != xmppconn.Unavailable && !(c.own && p.Tag == m.tag) {
			info.Online = true
		}
	}
	anyEnc := false
	for _, in := range m.instances(c) {
		di := DeviceInfo{Device: Device{Account: c.jid, Tag: in.Tag, Label: m.labelFor(c, in.Tag)}, Own: c.own,
			Listed: slices.ContainsFunc(c.listed, func(x pep.Device) bool { return x.Tag == in.Tag })}
		for _, p := range pres {
			if p.Tag == in.Tag && p.Show != xmppconn.Unavailable {
				di.Online = true
			}
		}
		if d, ok := c.devices[in.Tag]; ok {
			di.State, di.Trust = d.state, d.trust
			if d.state != Plaintext {
				di.Version = d.version()
			}
			if fp, ok := d.fingerprint(); ok {
				di.Fingerprint = formatFP(fp)
			}
		}
		if di.State > info.State && di.State != Finished || (info.State == Plaintext && di.State == Finished) {
			info.State = di.State
		}
		if di.State == Encrypted {
			anyEnc = true
			if di.Trust < info.Trust {
				info.Trust = di.Trust
			}
		}
		info.Devices = append(info.Devices, di)
	}
	if !anyEnc {
		info.Trust = Untrusted
	}
	return info
}

// emitRoster reports c's current state. Called with m.mu held.
func (m *Manager) emitRoster(c *contact) {
	m.emit(&RosterEvent{Contact: m.contactInfo(c)})
}

// Contacts lists the roster's contacts and everyone we have conversations
// with, sorted by JID. Our own account is not among them (see OwnDevices).
func (m *Manager) Contacts() []ContactInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, it := range m.client.Roster() {
		m.contact(it.JID)
	}
	var out []ContactInfo
	for _, c := range m.contacts {
		if c.own {
			continue
		}
		out = append(out, m.contactInfo(c))
	}
	slices.SortFunc(out, func(a, b ContactInfo) int {
		switch {
		case a.JID.String() < b.JID.String():
			return -1
		case a.JID.String() > b.JID.String():
			return 1
		}
		return 0
	})
	return out
}

// Contact describes one contact; ok is false when it is neither in the
// roster nor in a conversation.
func (m *Manager) Contact(c jid.JID) (ContactInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, known := m.contacts[c.Bare().String()]
	if !known {
		for _, it := range m.client.Roster() {
			if it.JID.Bare().Equal(c.Bare()) {
				known = true
			}
		}
	}
	return m.contactInfo(m.contact(c)), known
}

// OwnDevices lists the account's other devices.
func (m *Manager) OwnDevices() []DeviceInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.contactInfo(m.contact(m.account)).Devices
}
