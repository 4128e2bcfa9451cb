package session

import (
	"fmt"
	"slices"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/pep"
	"github.com/otrchat/otrchat/xmppconn"
)

// handleClientEvent runs on the XMPP client's event goroutine.
func (m *Manager) handleClientEvent(e xmppconn.Event) {
	switch e := e.(type) {
	case *xmppconn.StateEvent:
		m.mu.Lock()
		m.online = e.State == xmppconn.StateOnline
		if m.online {
			m.addr = e.Addr
		}
		m.mu.Unlock()
		switch e.State {
		case xmppconn.StateOnline:
			m.emit(&ConnectionEvent{Online: true, Addr: e.Addr, Resumable: e.StreamManagement != xmppconn.SMOff})
		case xmppconn.StateDisconnected:
			m.emit(&ConnectionEvent{Online: false, Err: e.Err})
		}
	case *xmppconn.MessageEvent:
		m.handleMessage(&e.Message)
	case *xmppconn.DeliveryEvent:
		m.handleDelivery(e)
	case *xmppconn.PresenceEvent:
		m.handlePresence(&e.Presence)
	case *xmppconn.RosterEvent:
		m.mu.Lock()
		c := m.contact(e.Item.JID)
		info := m.contactInfo(c)
		m.mu.Unlock()
		m.emit(&RosterEvent{Contact: info, Removed: e.Removed})
	case *xmppconn.SubscriptionEvent:
		if e.Type == xmppconn.Subscribe {
			m.emit(&SubscriptionRequestEvent{From: e.From})
		}
	}
}

func (m *Manager) handlePresence(p *xmppconn.Presence) {
	m.mu.Lock()
	defer m.mu.Unlock()
	bare := p.From.Bare()
	c := m.contact(bare)
	if c.own && p.Tag == m.tag && p.Show != xmppconn.Unavailable && !p.From.Equal(m.addr) && m.addr.Resourcepart() != "" {
		m.emit(&WarningEvent{Contact: c.jid, Kind: WarnProtocol,
			Text: fmt.Sprintf("instance tag collision: %s announces this device's tag %08x; give one of the devices a new key (otrchat keys create -new-device)", p.From, p.Tag)})
	}
	if p.Tag != 0 {
		if d, ok := c.devices[p.Tag]; ok && p.Show != xmppconn.Unavailable {
			d.route = p.From
		}
	}
	m.emitRoster(c)
}

// handleMessage routes one received message: to the prekey client, to a
// device's conversation by the instance tags in the OTR message, or to the
// user as plaintext.
func (m *Manager) handleMessage(msg *xmppconn.Message) {
	from := msg.From
	if from.Localpart() == "" {
		// Services (the prekey server) never reach a conversation.
		if m.pk != nil {
			m.pk.HandleMessage(from, msg.Body)
		}
		return
	}
	if msg.Carbon != xmppconn.NotCarbon {
		m.handleCarbon(msg)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.contact(from.Bare())
	r := otr4.PeekRoute(msg.Body)
	m.log.Debug("session: received", "from", from, "kind", r.Kind, "sender", fmt.Sprintf("%08x", uint32(r.Sender)), "receiver", fmt.Sprintf("%08x", uint32(r.Receiver)), "archive", msg.FromArchive, "delayed", msg.Delayed)
	switch r.Kind {
	case otr4.RouteEncoded, otr4.RouteFragment:
		m.receiveEncoded(c, msg, r)
	case otr4.RouteQuery, otr4.RoutePlaintextWithTag:
		if r.Kind == otr4.RoutePlaintextWithTag {
			if text := otr4.StripWhitespaceTag(msg.Body); text != "" {
				m.emitPlaintext(c, msg, text)
			}
		}
		if !slices.Contains(r.Offers, 4) {
			if slices.Contains(r.Offers, 3) && m.v3key != nil {
				if r.Kind == otr4.RouteQuery || m.encFor(c) != EncryptManual {
					m.answerOfferV3(c, from) // v3.go
				}
				return
			}
			if slices.Contains(r.Offers, 3) {
				m.emit(&WarningEvent{Contact: c.jid, Kind: WarnProtocol,
					Text: from.String() + " offers only OTR version 3, which this device does not speak"})
			}
			return
		}
		if r.Kind == otr4.RouteQuery || m.encFor(c) != EncryptManual {
			m.answerOffer(c, from)
		}
	case otr4.RouteError:
		d := m.deviceAt(c, from)
		if d == nil {
			m.emit(&WarningEvent{Contact: c.jid, Kind: WarnUndecryptable,
				Text: fmt.Sprintf("%s reports an OTR error: %s", from, msg.Body)})
			return
		}
		if e := d.engine(); e != nil {
			out, _ := e.Receive(msg.Body)
			m.process(c, d, out)
		}
	default:
		m.emitPlaintext(c, msg, msg.Body)
		if m.encFor(c) == EncryptAlways || c.anyEncrypted() {
			m.emit(&WarningEvent{Contact: c.jid, Kind: WarnUnencryptedReceived,
				Text: "the last message from " + from.String() + " arrived UNENCRYPTED"})
		}
	}
}

func (c *contact) anyEncrypted() bool {
	for _, d := range c.devices {
		if d.state == Encrypted {
			return true
		}
	}
	return false
}

func (m *Manager) emitPlaintext(c *contact, msg *xmppconn.Message, text string) {
	tag := m.presenceTag(msg.From)
	m.emit(&MessageEvent{Contact: c.jid, From: Device{Account: c.jid, Tag: tag, Label: labelOf(c.listed, tag)},
		Text: text, Time: stampOf(msg, m.cfg.Now()), Delayed: msg.Delayed, Trust: Untrusted})
}

func stampOf(msg *xmppconn.Message, now time.Time) time.Time {
	if !msg.Stamp.IsZero() {
		return msg.Stamp
	}
	return now
}

// presenceTag is the instance tag a full JID announced in presence (0 when
// none).
func (m *Manager) presenceTag(full jid.JID) uint32 {
	for _, p := range m.client.Presences(full.Bare()) {
		if p.From.Equal(full) {
			return p.Tag
		}
	}
	return 0
}

// deviceAt finds the device writing from a full JID.
func (m *Manager) deviceAt(c *contact, from jid.JID) *device {
	if tag := m.presenceTag(from); tag != 0 {
		if d, ok := c.devices[tag]; ok {
			return d
		}
	}
	var best *device
	for _, d := range c.devices {
		if d.route.Equal(from) && (best == nil || d.lastRecv.After(best.lastRecv)) {
			best = d
		}
	}
	if best == nil {
		best = c.tagless[from.String()]
	}
	return best
}

// answerOffer starts a DAKE with the device that offered OTRv4 (query
// message or whitespace tag).
func (m *Manager) answerOffer(c *contact, from jid.JID) {
	tag := m.presenceTag(from)
	var d *device
	if tag >= uint32(otr4.MinInstanceTag) && !(c.own && tag == m.tag) {
		var err error
		if d, err = m.deviceFor(c, tag); err != nil {
			return
		}
	} else {
		d = c.tagless[from.String()]
		if d == nil || d.v3 != nil { // an OTRv3 AKE begun there is replaced by OTRv4
			conv, err := m.newConv(c)
			if err != nil {
				return
			}
			d = &device{conv: conv}
			c.tagless[from.String()] = d
		}
	}
	d.route = from
	if st := d.conv.State(); st == otr4.StateEncrypted || st == otr4.StateWaitingAuthR || st == otr4.StateWaitingAuthI {
		return
	}
	if d.conv.State() == otr4.StateFinished {
		conv, err := m.newConv(c)
		if err != nil {
			return
		}
		d.conv = conv
	}
	out, err := d.conv.StartInteractive()
	if err != nil {
		return
	}
	d.dakeStarted = m.cfg.Now()
	m.process(c, d, out)
}

// receiveEncoded feeds an encoded OTR message (or fragment) to the
// conversation with its sender instance.
func (m *Manager) receiveEncoded(c *contact, msg *xmppconn.Message, r otr4.Route) {
	if r.Version == 3 && m.v3key != nil {
		m.receiveV3(c, msg, r) // v3.go
		return
	}
	if r.Version != 4 {
		m.emit(&WarningEvent{Contact: c.jid, Kind: WarnProtocol,
			Text: fmt.Sprintf("%s sent an OTR version %d message, which this device does not speak", msg.From, r.Version)})
		return
	}
	if r.Receiver != 0 && uint32(r.Receiver) != m.tag {
		return // for another device of ours
	}
	sender := uint32(r.Sender)
	if sender < uint32(otr4.MinInstanceTag) || (c.own && sender == m.tag) {
		m.emit(&WarningEvent{Contact: c.jid, Kind: WarnProtocol,
			Text: fmt.Sprintf("ignored an OTR message from %s with the invalid instance tag %08x", msg.From, sender)})
		return
	}
	d, ok := c.devices[sender]
	if ok {
		if err := m.leaveV3(c, d); err != nil { // v3.go
			m.emit(&WarningEvent{Contact: c.jid, Device: m.devRef(c, d), Kind: WarnProtocol,
				Text: fmt.Sprintf("%s, in an OTRv3 conversation, sent an OTR version 4 message: ignored", describe(m.devRef(c, d)))})
			return
		}
	}
	if !ok {
		if td := c.tagless[msg.From.String()]; td != nil && td.v3 == nil && !r.Identity() {
			// The answer to a DAKE begun before the tag was known.
			delete(c.tagless, msg.From.String())
			td.tag, td.label = sender, labelOf(c.listed, sender)
			c.devices[sender] = td
			d = td
		} else {
			var err error
			if d, err = m.deviceFor(c, sender); err != nil {
				m.log.Warn("new conversation", "err", err)
				return
			}
			if c.listed != nil && !slices.ContainsFunc(c.listed, func(x pep.Device) bool { return x.Tag == sender }) && !c.warnedUnlist[sender] {
				c.warnedUnlist[sender] = true
				m.emit(&WarningEvent{Contact: c.jid, Device: m.devRef(c, d), Kind: WarnNewDevice,
					Text: fmt.Sprintf("a device that is NOT in %s's device list writes to you: %s", c.key, describe(m.devRef(c, d)))})
			}
		}
	}
	if d.conv == nil {
		conv, err := m.newConv(c)
		if err != nil {
			return
		}
		d.conv = conv
	}
	if msg.From.Resourcepart() != "" {
		d.route = msg.From
	}
	d.lastRecv = m.cfg.Now()
	d.rxStamp, d.rxDelayed = stampOf(msg, m.cfg.Now()), msg.Delayed
	out, _ := d.conv.Receive(msg.Body)
	m.process(c, d, out)
}

// deliver shows a decrypted message and acts on our own TLVs.
func (m *Manager) deliver(c *contact, d *device, out *otr4.Message) {
	ref := m.devRef(c, d)
	stamp := d.rxStamp
	if stamp.IsZero() {
		stamp = m.cfg.Now()
	}
	for _, t := range out.TLVs {
		switch t.Type {
		case TLVSentCopy:
			if !c.own {
				m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnProtocol,
					Text: describe(ref) + " sent a copy marker, which only our own devices may send; shown as its own message"})
				continue
			}
			cp, err := parseSentCopy(t.Value)
			if err != nil {
				m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnProtocol, Text: "malformed copy from " + describe(ref) + ": " + err.Error()})
				continue
			}
			target := m.contact(cp.contact)
			m.emit(&MessageEvent{Contact: target.jid, From: ref, Text: out.Text, Encrypted: out.Encrypted, Version: 4,
				Trust: d.trust, Outgoing: true, Time: cp.sent, Delayed: d.rxDelayed})
			return
		case TLVTrust:
			m.receiveTrust(c, d, t.Value)
		}
	}
	if out.Text == "" {
		return
	}
	v := 0
	if out.Encrypted {
		v = d.version()
	}
	m.emit(&MessageEvent{Contact: c.jid, From: ref, Text: out.Text, Encrypted: out.Encrypted, Version: v,
		Trust: d.trust, Time: stamp, Delayed: d.rxDelayed})
}

// handleCarbon shows plaintext carbon copies (OTR ones are dropped by the
// transport: carbons are disallowed for OTR traffic).
func (m *Manager) handleCarbon(msg *xmppconn.Message) {
	if msg.OTR || msg.To.Localpart() == "" || msg.From.Localpart() == "" {
		// OTR carbons are disallowed; traffic with services (the prekey
		// server) is not a conversation.
		return
	}
	text := otr4.StripWhitespaceTag(msg.Body)
	if msg.Carbon == xmppconn.CarbonSent {
		m.emit(&MessageEvent{Contact: msg.To.Bare(), From: Device{Account: m.account}, Text: text,
			Outgoing: true, Time: stampOf(msg, m.cfg.Now())})
		return
	}
	m.emit(&MessageEvent{Contact: msg.From.Bare(), From: Device{Account: msg.From.Bare()}, Text: text,
		Time: stampOf(msg, m.cfg.Now())})
}

// handleDeviceListChange runs when an account's device list or device
// presence changed.
func (m *Manager) handleDeviceListChange(account jid.JID) {
	devs, ok, err := m.pep.Devices(account)
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.contact(account)
	if err != nil {
		m.emit(&WarningEvent{Contact: c.jid, Kind: WarnProtocol, Text: fmt.Sprintf("the device list of %s is invalid: %v", account, err)})
		return
	}
	if !ok {
		return
	}
	var list []pep.Device
	for _, d := range devs {
		list = append(list, d.Device)
	}
	old := c.listed
	c.listed = list
	if old != nil {
		for _, d := range list {
			if c.own && d.Tag == m.tag {
				continue
			}
			if !slices.ContainsFunc(old, func(x pep.Device) bool { return x.Tag == d.Tag }) {
				who := account.String()
				if c.own {
					who = "your own account"
				}
				m.emit(&WarningEvent{Contact: c.jid, Device: Device{Account: c.jid, Tag: d.Tag, Label: d.Label}, Kind: WarnNewDevice,
					Text: fmt.Sprintf("a new device was added to %s: %q [%08x], not verified", who, d.Label, d.Tag)})
			}
		}
	}
	for _, d := range list {
		if dv, ok := c.devices[d.Tag]; ok {
			dv.label = d.Label
		}
	}
	m.emitRoster(c)
}
