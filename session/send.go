package session

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/instancetag"
	"github.com/otrchat/otrchat/multicast"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/prekeyclient"
	"github.com/otrchat/otrchat/xmppconn"
)

// instances lists what the policies know of c's devices: the listed ones
// (when a device list is known, only those) and those we talk with.
// Called with m.mu held.
func (m *Manager) instances(c *contact) []instancetag.Instance {
	seen := map[uint32]bool{}
	var out []instancetag.Instance
	add := func(tag uint32) {
		if seen[tag] || (c.own && tag == m.tag) || tag < uint32(otr4.MinInstanceTag) {
			return
		}
		seen[tag] = true
		in := instancetag.Instance{Tag: tag}
		if d, ok := c.devices[tag]; ok {
			switch d.state {
			case Encrypted:
				in.State = instancetag.Encrypted
			case Finished:
				in.State = instancetag.Finished
			}
			switch d.trust {
			case Verified:
				in.Trust = instancetag.Verified
			case Assumed:
				in.Trust = instancetag.Assumed
			}
			in.LastReceived, in.LastSent = d.lastRecv, d.lastSent
		}
		out = append(out, in)
	}
	for _, l := range c.listed {
		add(l.Tag)
	}
	if c.listed == nil {
		tags := make([]uint32, 0, len(c.devices))
		for tag, d := range c.devices {
			if d.conv != nil {
				tags = append(tags, tag)
			}
		}
		slices.Sort(tags)
		for _, t := range tags {
			add(t)
		}
	}
	for _, t := range v3Tags(c) { // OTRv3 instances are never in a device list (v3.go)
		add(t)
	}
	return out
}

// retrieve fetches the prekey ensembles of an account. Called without
// m.mu.
func (m *Manager) retrieve(ctx context.Context, account jid.JID) (*prekeyclient.Ensembles, error) {
	if m.pk == nil {
		return nil, ErrNoPrekeys
	}
	if err := m.connectPrekeyServer(ctx); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 2*m.cfg.RequestTimeout)
	defer cancel()
	ens, err := m.pk.Retrieve(rctx, account.Bare())
	if err != nil {
		return nil, err
	}
	for _, w := range ens.Warnings {
		m.emit(&WarningEvent{Contact: account.Bare(), Kind: WarnPrekeyServer, Text: "prekey ensemble dropped: " + w.Error()})
	}
	return ens, nil
}

// startDevices makes sure the conversation with each device of account is
// encrypted or on its way: an online DAKE with a device available in
// presence, an offline DAKE from its prekey ensemble otherwise. It returns
// the error for each device it could not start. Called without m.mu.
func (m *Manager) startDevices(ctx context.Context, account jid.JID, tags []uint32) map[uint32]error {
	errs := map[uint32]error{}
	var offline []uint32
	m.mu.Lock()
	c := m.contact(account)
	for _, tag := range tags {
		if d := c.devices[tag]; d != nil && d.v3 != nil {
			if err := m.startV3(c, d); err != nil { // v3.go: online only
				errs[tag] = err
			}
			continue
		}
		d, err := m.deviceFor(c, tag)
		if err != nil {
			errs[tag] = err
			continue
		}
		switch d.conv.State() {
		case otr4.StateEncrypted, otr4.StateWaitingAuthR, otr4.StateWaitingAuthI:
			continue
		case otr4.StateFinished:
			conv, err := m.newConv(c)
			if err != nil {
				errs[tag] = err
				continue
			}
			d.conv, d.state = conv, Plaintext
		}
		if _, ok := m.onlineJID(c, tag); ok {
			out, err := d.conv.StartInteractive()
			if err != nil {
				errs[tag] = err
				continue
			}
			d.dakeStarted = m.cfg.Now()
			m.process(c, d, out)
			continue
		}
		if m.pk == nil || m.cfg.Contacts[c.key].InteractiveOnly {
			errs[tag] = fmt.Errorf("the device is offline and offline conversations are disabled (interactive-only mode)")
			continue
		}
		offline = append(offline, tag)
	}
	m.mu.Unlock()
	if len(offline) == 0 {
		return errs
	}
	ens, err := m.retrieve(ctx, account)
	m.mu.Lock()
	defer m.mu.Unlock()
	type start struct {
		d   *device
		e   *otr4.PrekeyEnsemble
		out *otr4.Message
		err error
	}
	var starts []*start
	for _, tag := range offline {
		if err != nil {
			errs[tag] = fmt.Errorf("offline start: %w", err)
			continue
		}
		d := c.devices[tag]
		if d.conv.State() != otr4.StateStart {
			continue // the device came online and answered meanwhile
		}
		e := ens.ByTag[otr4.InstanceTag(tag)]
		if e == nil {
			errs[tag] = fmt.Errorf("the device is offline and the prekey server has no prekey ensemble for it")
			continue
		}
		starts = append(starts, &start{d: d, e: e})
	}
	// The offline DAKEs are independent: run them on every core. Each
	// goroutine touches only its own conversation, and m.mu (held here)
	// keeps everyone else away from them.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, st := range starts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			st.out, st.err = st.d.conv.StartOffline(st.e, "")
		}()
	}
	wg.Wait()
	for _, st := range starts {
		if st.err != nil {
			errs[st.d.tag] = fmt.Errorf("offline start: %w", st.err)
			continue
		}
		st.d.offlineStarted = true
		m.process(c, st.d, st.out)
	}
	return errs
}

// StartOTR starts OTR with every device of a contact (at most 8): online
// devices by an interactive DAKE, offline ones from the prekey server.
// A contact that publishes no device list gets a query message.
func (m *Manager) StartOTR(ctx context.Context, c jid.JID) error {
	c = c.Bare()
	m.refreshList(ctx, c)
	m.mu.Lock()
	ct := m.contact(c)
	ins := m.instances(ct)
	m.mu.Unlock()
	if len(ins) == 0 {
		// No device list and no conversation: ask with a query message;
		// every OTRv4 device of the contact that is online answers.
		_, err := m.client.SendChat(ctx, c, m.queryMessage(), xmppconn.SendOptions{})
		return err
	}
	tags := make([]uint32, 0, len(ins))
	for _, in := range ins {
		tags = append(tags, in.Tag)
	}
	if len(tags) > multicast.MaxPerAccount {
		tags = tags[:multicast.MaxPerAccount]
	}
	errs := m.startDevices(ctx, c, tags)
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []error
	for _, tag := range tags {
		if err := errs[tag]; err != nil {
			d := Device{Account: c, Tag: tag, Label: labelOf(ct.listed, tag)}
			m.emit(&WarningEvent{Contact: c, Device: d, Kind: WarnProtocol, Text: fmt.Sprintf("could not start OTR with %s: %v", describe(d), err)})
			all = append(all, err)
		}
	}
	if len(all) == len(tags) {
		return fmt.Errorf("session: could not start OTR with any device of %s: %w", c, errors.Join(all...))
	}
	return nil
}

// EndOTR ends the conversations with every device of a contact (TLV 1 to
// those that are encrypted).
func (m *Manager) EndOTR(ctx context.Context, c jid.JID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ct := m.contact(c)
	for _, d := range ct.devices {
		e := d.engine()
		if e == nil {
			continue
		}
		switch e.State() {
		case otr4.StateEncrypted, otr4.StateFinished, otr4.StateWaitingAuthR, otr4.StateWaitingAuthI:
		default:
			continue
		}
		out, err := e.End()
		if err != nil {
			return err
		}
		m.process(ct, d, out)
		if d.v3 != nil {
			m.resetV3(ct, d) // v3.go
			continue
		}
		if d.conv.State() != otr4.StateStart {
			// Begin the next conversation from scratch.
			if conv, err := m.newConv(ct); err == nil {
				d.conv = conv
				prev := d.state
				d.state = Plaintext
				if prev != Plaintext {
					m.emit(&StateEvent{Contact: ct.jid, Device: m.devRef(ct, d), State: Plaintext, Prev: prev, Version: 4})
				}
			}
		}
	}
	m.emitRoster(ct)
	return nil
}

// selection applies the instance policy. Called with m.mu held.
func (m *Manager) selection(c *contact) (instancetag.Selection, instancetag.Policy, error) {
	pol := m.policyFor(c)
	sel, err := instancetag.Select(pol, m.instances(c))
	return sel, pol, err
}

// ownOthers lists our own other devices (for multicast copies). Called with
// m.mu held.
func (m *Manager) ownOthers() []uint32 {
	oc := m.contact(m.account)
	var tags []uint32
	for _, in := range m.instances(oc) {
		tags = append(tags, in.Tag)
	}
	tags, _ = splitV3(oc, tags) // a libotr client of our own account cannot read sent copies (v3.go)
	if len(tags) > multicast.MaxPerAccount-1 {
		tags = tags[:multicast.MaxPerAccount-1]
	}
	return tags
}

// Recipients returns the devices the next message to c goes to under its
// policy: for MULTICASTING, the contact's devices and our own other ones.
func (m *Manager) Recipients(c jid.JID) ([]Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ct := m.contact(c)
	sel, pol, err := m.selection(ct)
	if err != nil {
		return nil, err
	}
	var out []Device
	sel.Tags = m.applyV3(ct, pol, sel.Tags) // v3.go
	for _, tag := range sel.Tags {
		out = append(out, Device{Account: ct.jid, Tag: tag, Label: m.labelFor(ct, tag)})
	}
	if pol == instancetag.Multicasting {
		oc := m.contact(m.account)
		for _, tag := range m.ownOthers() {
			out = append(out, Device{Account: m.account, Tag: tag, Label: m.labelFor(oc, tag)})
		}
	}
	return out, nil
}

func (m *Manager) labelFor(c *contact, tag uint32) string {
	if d, ok := c.devices[tag]; ok && d.label != "" {
		return d.label
	}
	return labelOf(c.listed, tag)
}

// Send sends a message to a contact: to the devices the instance policy
// picks, encrypted separately for each, and (under MULTICASTING) a copy to
// our own other devices. Under the "always" encryption policy nothing goes
// out in plaintext: the message waits until the conversations are up. The
// fate of each copy is reported with DeliveryEvents.
func (m *Manager) Send(ctx context.Context, c jid.JID, text string) (string, error) {
	c = c.Bare()
	m.ensureList(ctx, c)
	m.mu.Lock()
	ct := m.contact(c)
	m.nextID++
	id := fmt.Sprintf("m%d", m.nextID)
	enc := m.encFor(ct)
	sel, pol, selErr := m.selection(ct)
	anyUp := false
	for _, tag := range sel.Tags {
		if d, ok := ct.devices[tag]; ok && (d.state == Encrypted || d.state == Starting) {
			anyUp = true
		}
	}
	if enc != EncryptAlways && !anyUp {
		defer m.mu.Unlock()
		return id, m.sendPlaintext(ctx, ct, id, text, enc)
	}
	if selErr != nil {
		if enc != EncryptAlways {
			m.mu.Unlock()
			return "", selErr
		}
		// No device known: ask with a query message, and keep the
		// message until the first conversation is up.
		ct.waiting = append(ct.waiting, pendingMsg{id: id, text: text})
		m.emit(&DeliveryEvent{Contact: c, ID: id, Device: Device{Account: c}, Status: Queued})
		m.mu.Unlock()
		if err := m.StartOTR(ctx, c); err != nil {
			return id, err
		}
		return id, nil
	}
	if sel.NotMostRecent && pol != instancetag.Multicasting {
		m.emit(&WarningEvent{Contact: c, Kind: WarnNotMostRecent,
			Text: fmt.Sprintf("the message goes to %s, which is not the most recently active device (%s)",
				describe(Device{Account: c, Tag: sel.Tags[0], Label: m.labelFor(ct, sel.Tags[0])}),
				describe(Device{Account: c, Tag: sel.MostRecent, Label: m.labelFor(ct, sel.MostRecent)}))})
	}
	var own []uint32
	if pol == instancetag.Multicasting {
		own = m.ownOthers()
	}
	var v3tags []uint32
	sel.Tags, v3tags = splitV3(ct, m.applyV3(ct, pol, sel.Tags)) // v3.go
	m.mu.Unlock()

	errs := m.startDevices(ctx, c, sel.Tags)
	ownErrs := map[uint32]error{}
	if len(own) > 0 {
		ownErrs = m.startDevices(ctx, m.account, own)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	oc := m.contact(m.account)
	var rs []multicast.Recipient
	for _, tag := range sel.Tags {
		d := ct.devices[tag]
		if err := errs[tag]; err != nil || d == nil {
			m.failed(ct, tag, id, err)
			continue
		}
		rs = append(rs, multicast.Recipient{Account: ct.key, Tag: tag, Conv: d.conv})
	}
	cp := sentCopy{contact: c, sent: m.cfg.Now()}.tlv()
	for _, tag := range own {
		d := oc.devices[tag]
		if err := ownErrs[tag]; err != nil || d == nil {
			m.failed(oc, tag, id, err)
			continue
		}
		rs = append(rs, multicast.Recipient{Account: oc.key, Tag: tag, Conv: d.conv, TLVs: []otr4.TLV{cp}})
	}
	outs, err := multicast.Send(text, rs, func(r multicast.Recipient, wire []string) error {
		cc := ct
		if r.Account == oc.key {
			cc = oc
		}
		d := cc.devices[r.Tag]
		ids, err := m.sendWire(cc, d, wire)
		if err == nil {
			d.lastSent = m.cfg.Now()
			m.track(c, id, m.devRef(cc, d), ids)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	m.sendV3(ct, v3tags, id, text) // v3.go
	for _, o := range outs {
		cc := ct
		if o.Account == oc.key {
			cc = oc
		}
		d := cc.devices[o.Tag]
		ref := m.devRef(cc, d)
		for _, e := range o.Events {
			if e.Kind != otr4.EventQueued {
				m.handleConvEvent(cc, d, e)
			}
		}
		switch {
		case o.Err != nil:
			m.failed(cc, o.Tag, id, o.Err)
		case o.Queued:
			d.queued = append(d.queued, id)
			var tlvs []otr4.TLV
			if cc.own {
				tlvs = []otr4.TLV{cp}
			}
			d.pending = append(d.pending, pendingMsg{id: id, text: text, tlvs: tlvs})
			m.emit(&DeliveryEvent{Contact: c, ID: id, Device: ref, Status: Queued})
		case o.Sent:
			m.emit(&DeliveryEvent{Contact: c, ID: id, Device: ref, Status: Sent})
		}
	}
	return id, nil
}

// failed reports that message id could not go to one device.
func (m *Manager) failed(c *contact, tag uint32, id string, err error) {
	if err == nil {
		err = ErrNoSuchDevice
	}
	ref := Device{Account: c.jid, Tag: tag, Label: m.labelFor(c, tag)}
	contact := c.jid
	m.emit(&DeliveryEvent{Contact: contact, ID: id, Device: ref, Status: Failed, Err: err})
	m.emit(&WarningEvent{Contact: contact, Device: ref, Kind: WarnDeliveryFailed,
		Text: fmt.Sprintf("the message did NOT reach %s: %v", describe(ref), err)})
}

// sendPlaintext sends a message unencrypted (manual and opportunistic
// policies while no conversation is up), with the whitespace tag on the
// first one under the opportunistic policy. Called with m.mu held.
func (m *Manager) sendPlaintext(ctx context.Context, c *contact, id, text string, enc EncryptionPolicy) error {
	body := text
	if enc == EncryptOpportunistic && !c.taggedPlain {
		if conv, err := m.newConv(c); err == nil {
			if tagged, err := conv.TagPlaintext(text); err == nil {
				body = tagged
				c.taggedPlain = true
			}
		}
	}
	sid, err := m.client.SendChat(ctx, c.jid, body, xmppconn.SendOptions{})
	if err != nil {
		m.emit(&DeliveryEvent{Contact: c.jid, ID: id, Device: Device{Account: c.jid}, Status: Failed, Err: err})
		return err
	}
	m.track(c.jid, id, Device{Account: c.jid}, []string{sid})
	m.emit(&WarningEvent{Contact: c.jid, Kind: WarnSentPlaintext, Text: "the message was sent UNENCRYPTED (no OTR conversation; /otr to start one)"})
	m.emit(&DeliveryEvent{Contact: c.jid, ID: id, Device: Device{Account: c.jid}, Status: Sent})
	m.emit(&MessageEvent{Contact: c.jid, From: Device{Account: m.account, Tag: m.tag, Label: m.label}, Text: text,
		Outgoing: true, Time: m.cfg.Now()})
	return nil
}

// pickDevice returns the device an SMP command is for: tag, or the one the
// policy picks among the encrypted ones.
func (m *Manager) pickDevice(c *contact, tag uint32) (*device, error) {
	if tag != 0 {
		d, ok := c.devices[tag]
		if !ok || d.engine() == nil {
			return nil, fmt.Errorf("%w: %08x", ErrNoSuchDevice, tag)
		}
		return d, nil
	}
	var enc []instancetag.Instance
	for _, in := range m.instances(c) {
		if in.State == instancetag.Encrypted {
			enc = append(enc, in)
		}
	}
	pol := m.policyFor(c)
	if pol == instancetag.Multicasting {
		pol = instancetag.Best
	}
	sel, err := instancetag.Select(pol, enc)
	if err != nil {
		return nil, ErrNotEncrypted
	}
	return c.devices[sel.Tags[0]], nil
}

// StartSMP asks a device of c (tag 0: the one the policy picks) to prove
// knowledge of the same secret, with an optional question.
func (m *Manager) StartSMP(ctx context.Context, c jid.JID, tag uint32, question, secret string) error {
	return m.smp(c, tag, func(d *device) (*otr4.Message, error) { return d.engine().StartSMP(question, []byte(secret)) })
}

// AnswerSMP answers a device's SMP request.
func (m *Manager) AnswerSMP(ctx context.Context, c jid.JID, tag uint32, secret string) error {
	return m.smp(c, tag, func(d *device) (*otr4.Message, error) { return d.engine().AnswerSMP([]byte(secret)) })
}

// AbortSMP cancels an SMP run.
func (m *Manager) AbortSMP(ctx context.Context, c jid.JID, tag uint32) error {
	return m.smp(c, tag, func(d *device) (*otr4.Message, error) { return d.engine().AbortSMP() })
}

func (m *Manager) smp(c jid.JID, tag uint32, f func(*device) (*otr4.Message, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ct := m.contact(c)
	if tag == 0 {
		// Answer the device that asked, when one did.
		for _, d := range ct.devices {
			if d.smpQuestion != "" || d.smpPending {
				tag = d.tag
			}
		}
	}
	d, err := m.pickDevice(ct, tag)
	if err != nil {
		return err
	}
	out, err := f(d)
	if err != nil {
		return err
	}
	d.smpQuestion, d.smpPending = "", false
	m.process(ct, d, out)
	return nil
}
