package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/instancetag"
	"github.com/otrchat/otrchat/session"
)

// fake is an in-memory Backend: it records the calls the interface makes
// and lets a test emit events as the session layer would.
type fake struct {
	mu       sync.Mutex
	account  jid.JID
	self     session.DeviceInfo
	own      []session.DeviceInfo
	contacts []session.ContactInfo
	policy   map[string]instancetag.Policy
	enc      map[string]session.EncryptionPolicy
	mode     session.TrustMode
	subs     []func(session.Event)
	calls    []string
	nextID   int
	sendErr  error
	panicOn  string // a method name that panics, for the crash test
	prekeys  session.PrekeyEvent
}

const (
	aliceFP = "0123abcd 0123abcd 0123abcd 0123abcd 0123abcd 0123abcd 0123abcd 0123abcd 0123abcd 0123abcd 0123abcd 0123abcd 0123abcd 0123abcd"
	phoneFP = "11111111 22222222 33333333 44444444 55555555 66666666 77777777 88888888 99999999 aaaaaaaa bbbbbbbb cccccccc dddddddd eeeeeeee"
	lapFP   = "deadbeef deadbeef deadbeef deadbeef deadbeef deadbeef deadbeef deadbeef deadbeef deadbeef deadbeef deadbeef deadbeef deadbeef"
)

var (
	alice    = jid.MustParse("alice@localhost")
	bob      = jid.MustParse("bob@localhost")
	carol    = jid.MustParse("carol@localhost")
	bobPhone = session.Device{Account: bob, Tag: 0x1a2b3c4d, Label: "phone"}
	bobLap   = session.Device{Account: bob, Tag: 0x00000abc, Label: "laptop"}
)

func newFake() *fake {
	return &fake{
		account: alice,
		self: session.DeviceInfo{Device: session.Device{Account: alice, Tag: 0x0a11ce00, Label: "desk"}, Online: true,
			Fingerprint: aliceFP, Trust: session.Verified, Own: true, Listed: true, Version: 4},
		own: []session.DeviceInfo{{Device: session.Device{Account: alice, Tag: 0x0a11ce01, Label: "mobile"}, Own: true, Listed: true}},
		contacts: []session.ContactInfo{
			{JID: bob, Name: "Bob", Subscription: "both", Online: true, Devices: []session.DeviceInfo{
				{Device: bobPhone, Online: true, Fingerprint: phoneFP, Trust: session.Assumed, Listed: true},
			}},
			{JID: carol, Subscription: "to", Pending: true},
		},
		policy: map[string]instancetag.Policy{}, enc: map[string]session.EncryptionPolicy{},
		mode:    session.TrustManual,
		prekeys: session.PrekeyEvent{Server: jid.MustParse("prekeys.localhost"), Stored: 17, Published: 3},
	}
}

func (f *fake) call(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := fmt.Sprintf(format, a...)
	f.calls = append(f.calls, name)
	if f.panicOn != "" && strings.HasPrefix(name, f.panicOn) {
		panic("fake: " + name)
	}
}

func (f *fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fake) emit(ev session.Event) {
	f.mu.Lock()
	subs := f.subs
	f.mu.Unlock()
	for _, s := range subs {
		s(ev)
	}
}

// setDevice changes (or adds) a device of contact c.
func (f *fake) setDevice(c jid.JID, d session.DeviceInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.contacts {
		if !f.contacts[i].JID.Equal(c) {
			continue
		}
		ci := &f.contacts[i]
		found := false
		for j := range ci.Devices {
			if ci.Devices[j].Tag == d.Tag {
				ci.Devices[j], found = d, true
			}
		}
		if !found {
			ci.Devices = append(ci.Devices, d)
		}
		ci.State, ci.Trust = session.Plaintext, session.Verified
		for _, dd := range ci.Devices {
			if dd.State > ci.State {
				ci.State = dd.State
			}
			if dd.State == session.Encrypted && dd.Trust < ci.Trust {
				ci.Trust = dd.Trust
			}
		}
	}
}

func (f *fake) Subscribe(fn func(session.Event)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, fn)
}
func (f *fake) Account() jid.JID { return f.account }
func (f *fake) Self() session.DeviceInfo {
	f.call("Self")
	return f.self
}
func (f *fake) OwnDevices() []session.DeviceInfo { return f.own }
func (f *fake) Contacts() []session.ContactInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]session.ContactInfo, len(f.contacts))
	for i, c := range f.contacts {
		c.Devices = append([]session.DeviceInfo(nil), c.Devices...)
		out[i] = c
	}
	return out
}
func (f *fake) Contact(c jid.JID) (session.ContactInfo, bool) {
	for _, ci := range f.Contacts() {
		if ci.JID.Equal(c.Bare()) {
			return ci, true
		}
	}
	return session.ContactInfo{}, false
}
func (f *fake) StartOTR(ctx context.Context, c jid.JID) error { f.call("StartOTR %s", c); return nil }
func (f *fake) EndOTR(ctx context.Context, c jid.JID) error   { f.call("EndOTR %s", c); return nil }
func (f *fake) Send(ctx context.Context, c jid.JID, text string) (string, error) {
	f.call("Send %s %q", c, text)
	if f.sendErr != nil {
		return "", f.sendErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	return fmt.Sprintf("m%d", f.nextID), nil
}
func (f *fake) Recipients(c jid.JID) ([]session.Device, error) {
	f.mu.Lock()
	p := f.panicOn
	f.mu.Unlock()
	if p == "Recipients" {
		panic("fake: Recipients")
	}
	ci, ok := f.Contact(c)
	if !ok {
		return nil, nil
	}
	var out []session.Device
	for _, d := range ci.Devices {
		out = append(out, d.Device)
		if f.Policy(c) != instancetag.Multicasting {
			break
		}
	}
	return out, nil
}
func (f *fake) SetPolicy(c jid.JID, p instancetag.Policy) error {
	f.call("SetPolicy %s %s", c, p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policy[c.String()] = p
	return nil
}
func (f *fake) Policy(c jid.JID) instancetag.Policy {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.policy[c.String()]; ok {
		return p
	}
	if p, ok := f.policy[""]; ok {
		return p
	}
	return instancetag.Best
}
func (f *fake) StartSMP(ctx context.Context, c jid.JID, tag uint32, question, secret string) error {
	f.call("StartSMP %s %08x %q %q", c, tag, question, secret)
	return nil
}
func (f *fake) AnswerSMP(ctx context.Context, c jid.JID, tag uint32, secret string) error {
	f.call("AnswerSMP %s %08x %q", c, tag, secret)
	return nil
}
func (f *fake) AbortSMP(ctx context.Context, c jid.JID, tag uint32) error {
	f.call("AbortSMP %s %08x", c, tag)
	return nil
}
func (f *fake) SetTrust(ctx context.Context, c jid.JID, fp string, level session.TrustLevel) error {
	f.call("SetTrust %s %q %s", c, fp, trustToken(level))
	return nil
}
func (f *fake) SetTrustMode(m session.TrustMode) { f.call("SetTrustMode %s", m); f.mode = m }
func (f *fake) TrustMode() session.TrustMode     { return f.mode }
func (f *fake) SetEncryptionPolicy(c jid.JID, p session.EncryptionPolicy) error {
	f.call("SetEncryptionPolicy %s %s", c, p)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enc[c.String()] = p
	return nil
}
func (f *fake) EncryptionPolicy(c jid.JID) session.EncryptionPolicy {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.enc[c.String()]; ok {
		return p
	}
	return session.EncryptOpportunistic
}
func (f *fake) FingerprintURI() string {
	return "xmpp:alice@localhost?otr-fingerprint=" + strings.ReplaceAll(aliceFP, " ", "")
}
func (f *fake) AddContact(ctx context.Context, c jid.JID, name string) error {
	f.call("AddContact %s %q", c, name)
	return nil
}
func (f *fake) RemoveContact(ctx context.Context, c jid.JID) error {
	f.call("RemoveContact %s", c)
	return nil
}
func (f *fake) ApproveSubscription(ctx context.Context, c jid.JID) error {
	f.call("ApproveSubscription %s", c)
	return nil
}
func (f *fake) DenySubscription(ctx context.Context, c jid.JID) error {
	f.call("DenySubscription %s", c)
	return nil
}
func (f *fake) SetPresence(ctx context.Context, show, status string) error {
	f.call("SetPresence %s %q", show, status)
	return nil
}
func (f *fake) PrekeyStatus(ctx context.Context) (session.PrekeyEvent, error) {
	f.call("PrekeyStatus")
	return f.prekeys, nil
}
func (f *fake) RefillPrekeys(ctx context.Context) (session.PrekeyEvent, error) {
	f.call("RefillPrekeys")
	p := f.prekeys
	p.Stored += 50
	p.Published += 50
	return p, nil
}

var _ Backend = (*fake)(nil)
