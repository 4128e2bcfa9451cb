package session

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/instancetag"
	"github.com/otrchat/otrchat/keystore"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/otr3"
	"github.com/otrchat/otrchat/pep"
	"github.com/otrchat/otrchat/xmppconn"
)

type (
	itemsItem = items.Item
	discoInfo = disco.Info
)

// contact is one correspondent (or, with own set, the account's other
// devices) and the conversations with each of its devices.
type contact struct {
	jid     jid.JID
	key     string // jid's string form
	own     bool
	policy  instancetag.Policy
	enc     EncryptionPolicy
	devices map[uint32]*device
	// tagless holds conversations begun with a full JID whose instance tag
	// is not known yet (a query message or whitespace tag from a client
	// that does not announce its tag); they are adopted by tag when the
	// first encoded message of the DAKE arrives.
	tagless map[string]*device
	// listed is the last device list seen (nil when none is known).
	listed       []pep.Device
	waiting      []pendingMsg // messages typed before any device was known
	taggedPlain  bool         // the whitespace tag was sent with a plaintext message
	warnedUnlist map[uint32]bool
}

// pendingMsg is a user message waiting in a conversation for its DAKE, kept
// so that it can be sent again through an offline DAKE when the device went
// offline before answering.
type pendingMsg struct {
	id   string
	text string
	tlvs []otr4.TLV
}

// device is one remote instance and our conversation with it.
type device struct {
	tag   uint32
	label string
	conv  *otr4.Conversation
	// v3 is set for an OTRv3 instance (v3.go); conv is nil then.
	v3 *v3dev
	// route is the full JID it last wrote from (zero if none).
	route              jid.JID
	lastRecv, lastSent time.Time
	state              OTRState
	fp                 otr4.Fingerprint
	fpKnown            bool
	trust              TrustLevel
	warned             bool     // new/unverified device warning shown for this session
	queued             []string // ids of user messages waiting for the DAKE
	pending            []pendingMsg
	dakeStarted        time.Time
	offlineStarted     bool
	smpQuestion        string
	smpPending         bool
	rxStamp            time.Time
	rxDelayed          bool
}

func (m *Manager) contact(c jid.JID) *contact {
	c = c.Bare()
	k := c.String()
	if ct, ok := m.contacts[k]; ok {
		return ct
	}
	ct := &contact{jid: c, key: k, own: c.Equal(m.account), devices: map[uint32]*device{},
		tagless: map[string]*device{}, warnedUnlist: map[uint32]bool{}}
	m.contacts[k] = ct
	return ct
}

// newConv makes a conversation with one remote instance of c.
func (m *Manager) newConv(c *contact) (*otr4.Conversation, error) {
	cp, pp, shared, err := m.dev.Profiles()
	if err != nil {
		return nil, err
	}
	mode := otr4.ModeStandalone
	if m.encFor(c) != EncryptAlways {
		mode = otr4.ModeCompatible
	}
	if (!m.cfg.Offline || m.cfg.Contacts[c.key].InteractiveOnly) && mode == otr4.ModeStandalone {
		mode = otr4.ModeInteractiveOnly
	}
	cfg := otr4.Config{
		Identity: m.id, InstanceTag: otr4.InstanceTag(m.tag), ClientProfile: cp,
		ProfileLifetime: 30 * 24 * time.Hour,
		OurAccount:      m.account.String(), TheirAccount: c.key, Mode: mode,
		Rand: m.cfg.Rand, Now: m.cfg.Now, FragmentSize: m.cfg.FragmentSize,
		AllowV3: m.v3key != nil,
	}
	if m.v3prof != nil && (cfg.ClientProfile == nil || len(cfg.ClientProfile.DSAKey) == 0) {
		cfg.ClientProfile = m.v3prof // v3.go
	}
	if m.cfg.Offline && mode != otr4.ModeInteractiveOnly {
		cfg.PrekeyProfile, cfg.SharedPrekeySecret = pp, shared
		cfg.PrekeySecrets = m.cfg.Store.PrekeySecrets(m.account.String(), m.tag)
	}
	if cfg.ClientProfile != nil && cfg.ClientProfile.Expires.Before(m.cfg.Now().Add(time.Hour)) {
		cfg.ClientProfile = nil // expired or about to: let the conversation make a fresh one
	}
	return otr4.NewConversation(cfg)
}

// deviceFor returns the device with tag, creating it (and its
// conversation) when missing.
func (m *Manager) deviceFor(c *contact, tag uint32) (*device, error) {
	if d, ok := c.devices[tag]; ok {
		if err := m.leaveV3(c, d); err != nil { // v3.go
			return nil, err
		}
		if d.conv == nil {
			conv, err := m.newConv(c)
			if err != nil {
				return nil, err
			}
			d.conv = conv
		}
		return d, nil
	}
	conv, err := m.newConv(c)
	if err != nil {
		return nil, err
	}
	d := &device{tag: tag, conv: conv, label: labelOf(c.listed, tag)}
	c.devices[tag] = d
	return d, nil
}

func labelOf(l []pep.Device, tag uint32) string {
	for _, d := range l {
		if d.Tag == tag {
			return d.Label
		}
	}
	return ""
}

// stateOf maps the protocol state to what the user sees.
func stateOf(s otr4.State) OTRState {
	switch s {
	case otr4.StateEncrypted:
		return Encrypted
	case otr4.StateFinished:
		return Finished
	case otr4.StateWaitingAuthR, otr4.StateWaitingAuthI:
		return Starting
	}
	return Plaintext
}

func (m *Manager) devRef(c *contact, d *device) Device {
	return Device{Account: c.jid, Tag: d.tag, Label: d.label}
}

// online returns the full JID at which a device of c is available, by the
// instance tag it announced in presence.
func (m *Manager) onlineJID(c *contact, tag uint32) (jid.JID, bool) {
	for _, p := range m.client.Presences(c.jid) {
		if p.Tag == tag && p.Show != xmppconn.Unavailable {
			return p.From, true
		}
	}
	return jid.JID{}, false
}

// route returns where to send a device's messages: its full JID while it
// is online, else the bare JID with the device addressing element and the
// store hint, for offline storage and the archive.
func (m *Manager) route(c *contact, d *device) (jid.JID, xmppconn.SendOptions) {
	if j, ok := m.onlineJID(c, d.tag); ok {
		return j, xmppconn.SendOptions{OTR: true, ToDevice: d.tag}
	}
	if d.route.Resourcepart() != "" && !c.listedKnown() {
		// A client without a device list or presence tag: answer where it
		// wrote from.
		return d.route, xmppconn.SendOptions{OTR: true, ToDevice: d.tag}
	}
	return c.jid, xmppconn.SendOptions{OTR: true, ToDevice: d.tag, Store: true}
}

func (c *contact) listedKnown() bool { return c.listed != nil }

// sendWire sends wire strings to one device, in order, and returns the
// stanza ids.
func (m *Manager) sendWire(c *contact, d *device, wire []string) ([]string, error) {
	to, opts := m.route(c, d)
	m.log.Debug("session: send", "to", to, "device", fmt.Sprintf("%08x", d.tag), "store", opts.Store, "n", len(wire), "state", d.state, "version", d.version())
	ids := make([]string, 0, len(wire))
	for _, w := range wire {
		id, err := m.client.SendChat(context.Background(), to, w, opts)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// process handles what a conversation produced: wire strings to send,
// text to show, TLVs and events. Called with m.mu held.
func (m *Manager) process(c *contact, d *device, out *otr4.Message) {
	if out == nil {
		return
	}
	prev := d.state
	if len(out.ToSend) > 0 {
		if _, err := m.sendWire(c, d, out.ToSend); err != nil {
			m.emit(&WarningEvent{Contact: c.jid, Device: m.devRef(c, d), Kind: WarnDeliveryFailed,
				Text: fmt.Sprintf("could not send to %s: %v", describe(m.devRef(c, d)), err)})
		} else {
			d.lastSent = m.cfg.Now()
		}
	}
	newState := d.convState()
	if newState != prev {
		d.state = newState
		if newState == Encrypted {
			m.onEncrypted(c, d)
		}
		if newState != Encrypted && newState != Starting {
			d.warned = false
		}
		m.emit(&StateEvent{Contact: c.jid, Device: m.devRef(c, d), State: newState, Prev: prev, Version: d.version()})
		m.emitRoster(c)
	}
	for _, e := range out.Events {
		m.handleConvEvent(c, d, e)
	}
	if out.Text != "" || len(out.TLVs) > 0 {
		m.deliver(c, d, out)
	}
}

// onEncrypted runs when a conversation with a device reaches
// ENCRYPTED_MESSAGES: the fingerprint is checked against what we knew, the
// trust level computed, and queued messages are reported as sent.
func (m *Manager) onEncrypted(c *contact, d *device) {
	if d.v3 != nil {
		m.onEncryptedV3(c, d)
		m.flushQueued(c, d)
		return
	}
	fp, ok := d.conv.TheirFingerprint()
	if !ok {
		return
	}
	changed := d.fpKnown && d.fp != fp
	d.fp, d.fpKnown = fp, true
	account := m.account.String()
	known, err := m.cfg.Store.ContactDevices(account, c.key)
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		m.log.Warn("known devices", "err", err)
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
		m.emit(&WarningEvent{Contact: c.jid, Device: m.devRef(c, d), Kind: WarnFingerprintChanged,
			Text: fmt.Sprintf("the fingerprint of %s CHANGED to %s: verify it before trusting this device", describe(m.devRef(c, d)), formatFingerprint(fp))})
	}
	_ = m.cfg.Store.SeeDevice(account, c.key, keystore.KnownDevice{InstanceTag: d.tag, Fingerprint: fp[:],
		LastSeen: m.cfg.Now().UTC(), FullJID: d.route.String()})
	d.trust = m.trustLevel(c, fp[:], changed)
	if firstSeen && !d.warned {
		who := "a new device of " + c.key
		if c.own {
			who = "a new device of your own account"
		}
		m.emit(&WarningEvent{Contact: c.jid, Device: m.devRef(c, d), Kind: WarnNewDevice,
			Text: fmt.Sprintf("%s: %s, fingerprint %s (%s)", who, describe(m.devRef(c, d)), formatFingerprint(fp), d.trust)})
		d.warned = true
	}
	if d.trust != Verified && !d.warned {
		m.emit(&WarningEvent{Contact: c.jid, Device: m.devRef(c, d), Kind: WarnUnverifiedDevice,
			Text: fmt.Sprintf("%s is not verified (fingerprint %s): use SMP or compare fingerprints", describe(m.devRef(c, d)), formatFingerprint(fp))})
		d.warned = true
	}
	d.warned = true
	m.flushQueued(c, d)
}

// flushQueued reports the messages that waited in a conversation as sent once it is
// encrypted, and sends it those that waited for any device of the contact.
func (m *Manager) flushQueued(c *contact, d *device) {
	for _, id := range d.queued {
		m.emit(&DeliveryEvent{Contact: c.jid, ID: id, Device: m.devRef(c, d), Status: Sent})
	}
	d.queued, d.pending = nil, nil
	waiting := c.waiting
	c.waiting = nil
	for _, p := range waiting {
		out, err := d.engine().Send(p.text)
		if err != nil {
			m.failed(c, d.tag, p.id, err)
			continue
		}
		if _, err := m.sendWire(c, d, out.ToSend); err != nil {
			m.failed(c, d.tag, p.id, err)
			continue
		}
		m.emit(&DeliveryEvent{Contact: c.jid, ID: p.id, Device: m.devRef(c, d), Status: Sent})
	}
}

// handleConvEvent turns a conversation event into session events.
func (m *Manager) handleConvEvent(c *contact, d *device, e otr4.Event) {
	ref := m.devRef(c, d)
	switch e.Kind {
	case otr4.EventUnencrypted:
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnUnencryptedReceived,
			Text: "a message from " + describe(ref) + " arrived UNENCRYPTED"})
	case otr4.EventErrorMessage:
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnUndecryptable,
			Text: fmt.Sprintf("%s could not read a message (%s)", describe(ref), strings.TrimSpace(e.Text))})
		if m.cfg.ErrorStartAKE {
			m.restartDAKE(c, d)
		}
	case otr4.EventUnreadable:
		if e.IgnoreUnreadable {
			// A heartbeat or the end of an old session: nothing the user
			// wrote was lost.
			m.log.Debug("session: ignorable unreadable message", "device", describe(ref), "err", e.Err)
			return
		}
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnUndecryptable,
			Text: fmt.Sprintf("one message from %s could not be read: %v", describe(ref), e.Err)})
		if d.engine().State() != otr4.StateEncrypted {
			// The session it belonged to no longer exists here (a
			// restart): start a fresh one.
			m.restartDAKE(c, d)
		}
	case otr4.EventRejected:
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnProtocol,
			Text: fmt.Sprintf("ignored an invalid OTR message from %s: %v", describe(ref), e.Err)})
	case otr4.EventDAKETimedOut:
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnProtocol,
			Text: "the OTR key exchange with " + describe(ref) + " did not finish in time and was abandoned"})
	case otr4.EventPeerEnded:
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnProtocol,
			Text: describe(ref) + " ended its OTR conversation; /end, then /otr to start again"})
	case otr4.EventSessionExpired:
		m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnProtocol,
			Text: "the OTR session with " + describe(ref) + " expired"})
	case otr4.EventSMPSecretNeeded:
		d.smpQuestion, d.smpPending = e.Question, true
		m.emit(&SMPEvent{Contact: c.jid, Device: ref, Kind: SMPAsked, Question: e.Question})
	case otr4.EventSMPInProgress:
		m.emit(&SMPEvent{Contact: c.jid, Device: ref, Kind: SMPInProgress})
	case otr4.EventSMPSucceeded:
		if fp, ok := d.fingerprint(); ok {
			if err := m.setTrustLocked(c, fp, Verified, keystore.MethodSMP, nil); err != nil {
				m.emit(&WarningEvent{Contact: c.jid, Device: ref, Kind: WarnProtocol, Text: "could not record the verification: " + err.Error()})
			}
		}
		m.emit(&SMPEvent{Contact: c.jid, Device: ref, Kind: SMPSucceeded})
	case otr4.EventSMPFailed:
		m.emit(&SMPEvent{Contact: c.jid, Device: ref, Kind: SMPFailed})
	case otr4.EventSMPAborted:
		m.emit(&SMPEvent{Contact: c.jid, Device: ref, Kind: SMPAborted})
	case otr4.EventSMPCheated, otr4.EventSMPError:
		m.emit(&SMPEvent{Contact: c.jid, Device: ref, Kind: SMPError})
	}
}

// restartDAKE starts a fresh DAKE with a device whose session is gone.
func (m *Manager) restartDAKE(c *contact, d *device) {
	if d.v3 != nil {
		m.restartV3(c, d)
		return
	}
	if d.conv.State() == otr4.StateWaitingAuthR || d.conv.State() == otr4.StateWaitingAuthI {
		return
	}
	conv, err := m.newConv(c)
	if err != nil {
		return
	}
	old := d.conv
	d.conv = conv
	d.state = Plaintext
	out, err := d.conv.StartInteractive()
	if err != nil {
		d.conv = old
		return
	}
	d.dakeStarted = m.cfg.Now()
	m.process(c, d, out)
}

// describe names a device for the user: label and instance tag.
func describe(d Device) string {
	if d.Label != "" {
		return fmt.Sprintf("%s's %q [%08x]", d.Account, d.Label, d.Tag)
	}
	return fmt.Sprintf("%s's device [%08x]", d.Account, d.Tag)
}

// formatFingerprint writes a fingerprint in groups of eight hex digits.
func formatFingerprint(fp otr4.Fingerprint) string { return formatFP(fp[:]) }

// formatFP writes an OTRv4 (56-byte) or OTRv3 (20-byte, as libotr shows it) fingerprint
// in groups of eight upper-case hex digits.
func formatFP(fp []byte) string {
	h := strings.ToUpper(hex.EncodeToString(fp))
	var b strings.Builder
	for i := 0; i < len(h); i += 8 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i:min(i+8, len(h))])
	}
	return b.String()
}

// parseFingerprint reads an OTRv4 (56-byte) or OTRv3 (20-byte) fingerprint with or without
// spaces.
func parseFingerprint(s string) ([]byte, error) {
	h := strings.NewReplacer(" ", "", ":", "", "\t", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != len(otr4.Fingerprint{}) && len(b) != len(otr3.Fingerprint{})) {
		return nil, fmt.Errorf("%w: %q", ErrBadFingerprint, s)
	}
	return b, nil
}
