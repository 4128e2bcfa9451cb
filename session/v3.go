package session

// The OTRv3-compatible mode (docs/session.md, "OTRv3"): with an OTRv3 key (Config.V3Key, or
// the account's key in the store with Config.V3Compatible) query messages and whitespace tags
// offer versions 3 and 4; a contact's instance that offers only 3, or that writes OTRv3
// messages, gets an otr3.Conversation. Such a device is one instance of the contact: no
// offline start, no multicast copy unless it is the contact's only encrypted device.

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/instancetag"
	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/otr3"
	"github.com/otrchat/otrchat/xmppconn"
)

// otrv3Notice is the text of the warning shown when a conversation is OTRv3.
const otrv3Notice = "this conversation uses OTR version 3: no offline messages, weaker cryptography (DSA-1024, SHA-1, 1536-bit Diffie-Hellman)"

// v3dev is the OTRv3 side of a device: the conversation with one OTRv3 instance of a
// contact and the fingerprint it showed.
type v3dev struct {
	conv       *otr3.Conversation
	fp         otr3.Fingerprint
	fpKnown    bool
	akeStarted time.Time // when we last sent a D-H Commit
}

// akeRunning reports whether an AKE with the instance is under way and not stalled (older
// than Config.DAKETimeout: a D-H Commit that got no answer is sent again).
func (m *Manager) akeRunning(v *v3dev) bool {
	return v.conv.AuthState() != otr3.AuthNone && m.cfg.Now().Sub(v.akeStarted) < m.cfg.DAKETimeout
}

// startAKE sends a D-H Commit. Called with m.mu held.
func (m *Manager) startAKE(c *contact, d *device) error {
	out, err := d.v3.conv.StartAKE()
	if err != nil {
		return err
	}
	d.v3.akeStarted = m.cfg.Now()
	m.process(c, d, out)
	return nil
}

// engine is the method set otr4.Conversation and otr3.Conversation share.
type engine interface {
	Receive(string) (*otr4.Message, error)
	Send(string, ...otr4.TLV) (*otr4.Message, error)
	StartSMP(question string, secret []byte) (*otr4.Message, error)
	AnswerSMP(secret []byte) (*otr4.Message, error)
	AbortSMP() (*otr4.Message, error)
	End() (*otr4.Message, error)
	State() otr4.State
	TheirInstanceTag() otr4.InstanceTag
}

// engine returns the conversation the device talks through (nil when it has none).
func (d *device) engine() engine {
	if d.v3 != nil {
		return d.v3.conv
	}
	if d.conv == nil {
		return nil
	}
	return d.conv
}

// version is the OTR version of the device's conversation.
func (d *device) version() int {
	if d.v3 != nil {
		return 3
	}
	return 4
}

// fingerprint returns the device's fingerprint (56 bytes for OTRv4, 20 for OTRv3) once known.
func (d *device) fingerprint() ([]byte, bool) {
	if d.v3 != nil {
		return d.v3.fp[:], d.v3.fpKnown
	}
	return d.fp[:], d.fpKnown
}

// convState is what the user sees of the device's conversation.
func (d *device) convState() OTRState {
	if d.v3 != nil {
		if d.v3.conv.State() == otr4.StateStart && d.v3.conv.AuthState() != otr3.AuthNone {
			return Starting
		}
		return stateOf(d.v3.conv.State())
	}
	return stateOf(d.conv.State())
}

// loadV3Key finds the OTRv3 key for the compatible mode (nil when the mode is off).
func loadV3Key(cfg *Config, account string) (*otr3.PrivateKey, error) {
	if cfg.V3Key != nil || !cfg.V3Compatible {
		return cfg.V3Key, nil
	}
	k, err := cfg.Store.OTR3PrivateKey(account)
	if errors.Is(err, keystore.ErrNotFound) {
		return nil, fmt.Errorf("session: the OTRv3-compatible mode needs an OTRv3 key for %s (otrchat keys import-libotr, or keys create in mode v3-compatible)", account)
	}
	return k, err
}

// newConv3 makes an OTRv3 conversation for one remote instance.
func (m *Manager) newConv3() (*v3dev, error) {
	conv, err := otr3.NewConversation(otr3.Config{Key: m.v3key, InstanceTag: otr4.InstanceTag(m.tag),
		Rand: m.cfg.Rand, Now: m.cfg.Now, FragmentSize: m.cfg.FragmentSize, ErrorStartAKE: m.cfg.ErrorStartAKE})
	if err != nil {
		return nil, err
	}
	return &v3dev{conv: conv}, nil
}

// queryMessage is the query message StartOTR sends to a contact without known devices.
func (m *Manager) queryMessage() string {
	if m.v3key != nil {
		return "?OTRv43? This device would like an Off-the-Record conversation."
	}
	return "?OTRv4? This device would like an Off-the-Record conversation."
}

// answerOfferV3 answers a query message or whitespace tag that offers version 3 but not 4:
// an OTRv3 AKE with the instance at that full JID. Called with m.mu held.
func (m *Manager) answerOfferV3(c *contact, from jid.JID) {
	d := m.deviceAt(c, from)
	if d == nil || d.v3 == nil {
		d = c.tagless[from.String()]
		if d == nil || d.v3 == nil {
			v, err := m.newConv3()
			if err != nil {
				return
			}
			d = &device{v3: v}
			c.tagless[from.String()] = d
		}
	}
	d.route = from
	conv := d.v3.conv
	if conv.State() == otr4.StateEncrypted || m.akeRunning(d.v3) {
		return
	}
	if conv.State() == otr4.StateFinished {
		v, err := m.newConv3()
		if err != nil {
			return
		}
		d.v3 = v
	}
	_ = m.startAKE(c, d)
}

// receiveV3 feeds an OTRv3 encoded message or fragment to the conversation with its sender
// instance. Called with m.mu held.
func (m *Manager) receiveV3(c *contact, msg *xmppconn.Message, r otr4.Route) {
	if r.Receiver != 0 && uint32(r.Receiver) != m.tag {
		return // for another device of ours
	}
	sender := uint32(r.Sender)
	if sender < uint32(otr4.MinInstanceTag) || (c.own && sender == m.tag) {
		m.emit(&WarningEvent{Contact: c.jid, Kind: WarnProtocol,
			Text: fmt.Sprintf("ignored an OTR version 3 message from %s with the invalid instance tag %08x", msg.From, sender)})
		return
	}
	d, ok := c.devices[sender]
	switch {
	case ok && d.v3 == nil:
		// A device we knew as OTRv4 now writes OTRv3: accepted only while no OTRv4
		// conversation with it is running.
		if d.conv != nil && d.conv.State() != otr4.StateStart {
			m.emit(&WarningEvent{Contact: c.jid, Device: m.devRef(c, d), Kind: WarnProtocol,
				Text: fmt.Sprintf("%s, in an OTRv4 conversation, sent an OTR version 3 message: ignored", describe(m.devRef(c, d)))})
			return
		}
		v, err := m.newConv3()
		if err != nil {
			return
		}
		d.conv, d.v3, d.fpKnown = nil, v, false
	case !ok:
		if td := c.tagless[msg.From.String()]; td != nil && td.v3 != nil {
			// The answer to the AKE we began before the instance tag was known.
			delete(c.tagless, msg.From.String())
			td.tag, td.label = sender, labelOf(c.listed, sender)
			c.devices[sender] = td
			d = td
		} else {
			v, err := m.newConv3()
			if err != nil {
				return
			}
			d = &device{tag: sender, v3: v, label: labelOf(c.listed, sender)}
			c.devices[sender] = d
		}
	}
	if msg.From.Resourcepart() != "" {
		d.route = msg.From
	}
	d.lastRecv = m.cfg.Now()
	d.rxStamp, d.rxDelayed = stampOf(msg, m.cfg.Now()), msg.Delayed
	out, _ := d.v3.conv.Receive(msg.Body)
	m.process(c, d, out)
}

// onEncryptedV3 checks an OTRv3 device's fingerprint when its conversation becomes
// encrypted, as onEncrypted does for OTRv4 ones, and says that the conversation is OTRv3.
// Called with m.mu held.
func (m *Manager) onEncryptedV3(c *contact, d *device) {
	ref := m.devRef(c, d)
	m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnOTRv3,
		Text: fmt.Sprintf("%s: %s", describe(ref), otrv3Notice)})
	fp, ok := d.v3.conv.TheirFingerprint()
	if !ok {
		return
	}
	changed := d.v3.fpKnown && d.v3.fp != fp
	d.v3.fp, d.v3.fpKnown = fp, true
	account := m.account.String()
	known, err := m.cfg.Store.OTR3ContactDevices(account, c.key)
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		m.log.Warn("known OTRv3 devices", "err", err)
	}
	firstSeen := true
	for _, k := range known {
		if k.InstanceTag == d.tag {
			firstSeen = false
			if !slices.Equal(k.Fingerprint, fp[:]) {
				changed = true
			}
		}
	}
	if changed {
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnFingerprintChanged,
			Text: fmt.Sprintf("the OTRv3 fingerprint of %s CHANGED to %s: verify it before trusting this device", describe(ref), fp)})
	}
	full := ""
	if d.route.Resourcepart() != "" {
		full = d.route.String()
	}
	_ = m.cfg.Store.SeeOTR3Device(account, c.key, keystore.KnownDevice{InstanceTag: d.tag, Fingerprint: fp[:],
		LastSeen: m.cfg.Now().UTC(), FullJID: full})
	d.trust = m.trustLevel(c, fp[:], changed)
	if firstSeen && !d.warned {
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnNewDevice,
			Text: fmt.Sprintf("a new OTRv3 device of %s: %s, fingerprint %s (%s)", c.key, describe(ref), fp, d.trust)})
		d.warned = true
	}
	if d.trust != Verified && !d.warned {
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnUnverifiedDevice,
			Text: fmt.Sprintf("%s is not verified (OTRv3 fingerprint %s): use SMP or compare fingerprints", describe(ref), fp)})
	}
	d.warned = true
}

// restartV3 starts a new OTRv3 AKE with a device whose session is gone.
func (m *Manager) restartV3(c *contact, d *device) {
	if m.akeRunning(d.v3) {
		return
	}
	v, err := m.newConv3()
	if err != nil {
		return
	}
	d.v3, d.state = v, Plaintext
	_ = m.startAKE(c, d)
}

// startV3 makes sure the conversation with an OTRv3 device is encrypted or on its way (an
// AKE, online only). Called with m.mu held.
func (m *Manager) startV3(c *contact, d *device) error {
	switch {
	case d.v3.conv.State() == otr4.StateEncrypted, m.akeRunning(d.v3):
		return nil
	case d.v3.conv.State() == otr4.StateFinished:
		v, err := m.newConv3()
		if err != nil {
			return err
		}
		d.v3, d.state = v, Plaintext
	}
	return m.startAKE(c, d)
}

// splitV3 takes the OTRv3 devices out of a selection of c's devices.
func splitV3(c *contact, tags []uint32) (v4, v3 []uint32) {
	for _, t := range tags {
		if d, ok := c.devices[t]; ok && d.v3 != nil {
			v3 = append(v3, t)
		} else {
			v4 = append(v4, t)
		}
	}
	return v4, v3
}

// v3Multicast applies the MULTICASTING rule to OTRv3 devices: one gets the message only
// when it is the contact's only encrypted device (an OTRv3 instance is the whole contact
// for the client behind it; docs/session.md). Called with m.mu held.
func (m *Manager) v3Multicast(c *contact, v4, v3 []uint32) []uint32 {
	var enc []uint32
	for _, t := range append(slices.Clone(v4), v3...) {
		if d, ok := c.devices[t]; ok && d.state == Encrypted {
			enc = append(enc, t)
		}
	}
	if len(enc) == 1 && slices.Contains(v3, enc[0]) {
		return enc
	}
	if len(v4) == 0 && len(v3) == 1 {
		return v3
	}
	return nil
}

// sendV3 encrypts a user message for OTRv3 devices and reports each copy. Called with
// m.mu held.
func (m *Manager) sendV3(c *contact, tags []uint32, id, text string) {
	for _, tag := range tags {
		d := c.devices[tag]
		ref := m.devRef(c, d)
		if err := m.startV3(c, d); err != nil {
			m.failed(c, tag, id, err)
			continue
		}
		out, err := d.v3.conv.Send(text)
		if err != nil {
			m.failed(c, tag, id, err)
			continue
		}
		queued := false
		for _, e := range out.Events {
			if e.Kind == otr4.EventQueued {
				queued = true
			}
		}
		m.process(c, d, out)
		if queued {
			d.queued = append(d.queued, id)
			m.emit(&DeliveryEvent{Contact: c.jid, ID: id, Device: ref, Status: Queued})
			continue
		}
		m.emit(&DeliveryEvent{Contact: c.jid, ID: id, Device: ref, Status: Sent})
	}
}

// setupV3 turns the OTRv3-compatible mode on when there is a key: the client profile
// becomes transitional (it carries the OTRv3 key and its signature, versions "34") and is
// stored for the device.
func (m *Manager) setupV3() error {
	k, err := loadV3Key(&m.cfg, m.account.String())
	if err != nil || k == nil {
		return err
	}
	m.v3key = k
	m.dev.versions, m.dev.v3 = "34", k
	now := m.cfg.Now()
	acct := m.account.String()
	if cr, err := m.cfg.Store.ClientProfile(acct, m.tag); err == nil {
		cp, _, err := otr4.ParseClientProfile(cr.Encoded)
		if err == nil && bytes.Equal(cp.DSAKey, k.DSAPublicKey()) && cp.Expires.After(now.Add(time.Hour)) {
			m.v3prof = cp
			return nil
		}
	}
	cp, err := otr4.NewTransitionalClientProfile(m.id, k, otr4.InstanceTag(m.tag), "34", now.Add(m.dev.validity), m.cfg.Rand)
	if err != nil {
		return fmt.Errorf("session: transitional client profile: %w", err)
	}
	m.v3prof = cp
	return m.cfg.Store.PutClientProfile(acct, m.tag, keystore.ClientProfile{Encoded: cp.Marshal(), Expires: cp.Expires.UTC()})
}

// leaveV3 lets a device known as an OTRv3 instance speak OTRv4, as long as no OTRv3
// conversation with it is running. Called with m.mu held.
func (m *Manager) leaveV3(c *contact, d *device) error {
	if d.v3 == nil {
		return nil
	}
	if d.v3.conv.State() != otr4.StateStart || d.v3.conv.AuthState() != otr3.AuthNone {
		return fmt.Errorf("session: %s is in an OTRv3 conversation", describe(m.devRef(c, d)))
	}
	d.v3, d.state = nil, Plaintext
	return nil
}

// resetV3 begins the next OTRv3 conversation with a device from scratch after /end.
// Called with m.mu held.
func (m *Manager) resetV3(c *contact, d *device) {
	if d.v3.conv.State() == otr4.StateStart && d.v3.conv.AuthState() == otr3.AuthNone {
		return
	}
	v, err := m.newConv3()
	if err != nil {
		return
	}
	d.v3 = v
	if prev := d.state; prev != Plaintext {
		d.state = Plaintext
		m.emit(&StateEvent{Contact: c.jid, Device: m.devRef(c, d), State: Plaintext, Prev: prev, Version: 3})
	}
}

// v3Tags lists c's OTRv3 instances, sorted.
func v3Tags(c *contact) []uint32 {
	var tags []uint32
	for tag, d := range c.devices {
		if d.v3 != nil {
			tags = append(tags, tag)
		}
	}
	slices.Sort(tags)
	return tags
}

// applyV3 applies the rules for OTRv3 instances to the devices a policy selected: under
// MULTICASTING an OTRv3 instance is kept only when it is the contact's only encrypted
// device, or the only device at all. Called with m.mu held.
func (m *Manager) applyV3(c *contact, pol instancetag.Policy, tags []uint32) []uint32 {
	v4, v3 := splitV3(c, tags)
	if len(v3) == 0 || pol != instancetag.Multicasting {
		return tags
	}
	return append(v4, m.v3Multicast(c, v4, v3)...)
}

// V3Fingerprint returns the account's OTRv3 fingerprint in libotr's form, "" when the
// OTRv3-compatible mode is off.
func (m *Manager) V3Fingerprint() string {
	if m.v3key == nil {
		return ""
	}
	return m.v3key.Fingerprint().String()
}
