// Package ui is otrchat's user interface: a full-screen terminal chat
// (tview) and a line mode for scripts, bots and tests, sharing one command
// language (commands.go). It knows the session layer only through the
// Backend interface and the session package's types, and never the wire:
// no OTR, XMPP or key-store package is imported here.
//
// The TUI shows a roster (presence, number of devices, trust at a glance),
// one window per conversation, a status bar (account, connection, the
// contact's OTR state and version, the instance policy, the devices the next
// message goes to) and an input line with history and completion. Every
// message shows whether it was encrypted, the device (label and instance
// tag) and whether that device is verified; warnings are shown in red in the
// conversation, in the console window and in a bar above the input that
// stays until acknowledged.
//
// The line mode reads the same commands on standard input and writes every
// event as one line (docs/line-mode.md).
package ui

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/instancetag"
	"github.com/otrchat/otrchat/session"
)

// Backend is what the interface needs from the session layer;
// *session.Manager implements it.
type Backend interface {
	// Subscribe registers fn for every event, delivered in order on one goroutine.
	Subscribe(fn func(session.Event))
	Account() jid.JID
	Self() session.DeviceInfo         // this device: label, tag, fingerprint
	OwnDevices() []session.DeviceInfo // our other devices
	Contacts() []session.ContactInfo
	Contact(c jid.JID) (session.ContactInfo, bool)
	StartOTR(ctx context.Context, c jid.JID) error
	EndOTR(ctx context.Context, c jid.JID) error
	Send(ctx context.Context, c jid.JID, text string) (id string, err error)
	Recipients(c jid.JID) ([]session.Device, error)  // where the next message goes
	SetPolicy(c jid.JID, p instancetag.Policy) error // zero JID: the default
	Policy(c jid.JID) instancetag.Policy
	// StartSMP starts SMP with one device of c; tag 0 is the device the policy picks.
	StartSMP(ctx context.Context, c jid.JID, tag uint32, question, secret string) error
	AnswerSMP(ctx context.Context, c jid.JID, tag uint32, secret string) error
	AbortSMP(ctx context.Context, c jid.JID, tag uint32) error
	// SetTrust records a trust decision; it is synced to our own devices.
	SetTrust(ctx context.Context, c jid.JID, fingerprint string, level session.TrustLevel) error
	SetTrustMode(m session.TrustMode)
	TrustMode() session.TrustMode
	SetEncryptionPolicy(c jid.JID, p session.EncryptionPolicy) error // zero JID: the default
	EncryptionPolicy(c jid.JID) session.EncryptionPolicy
	FingerprintURI() string // xmpp:alice@localhost?otr-fingerprint=HEX
	AddContact(ctx context.Context, c jid.JID, name string) error
	RemoveContact(ctx context.Context, c jid.JID) error
	ApproveSubscription(ctx context.Context, c jid.JID) error
	DenySubscription(ctx context.Context, c jid.JID) error
	SetPresence(ctx context.Context, show, status string) error // show: available, chat, away, xa, dnd
	PrekeyStatus(ctx context.Context) (session.PrekeyEvent, error)
	RefillPrekeys(ctx context.Context) (session.PrekeyEvent, error)
}
