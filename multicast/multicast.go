// Package multicast sends one user message to several OTR instances: the
// devices of a contact and the user's own other devices
// (shared/spec/otrv4-over-xmpp.md, "Proposal for OTR version 4": the
// MULTICASTING policy, "A maximum of 8 devices are allowed", and "Disallow
// carbons", which is why the user's own devices get their copy through
// their own OTR conversations).
//
// The message is encrypted separately in each device's conversation, the
// wire strings are handed to a transport, and the outcome is reported per
// device: a failure for one device never stops the others and is never
// hidden.
package multicast

import (
	"errors"
	"fmt"

	"github.com/otrchat/otrchat/otr4"
)

// MaxPerAccount is the most devices of one account a message goes to.
const MaxPerAccount = 8

// ErrTooMany is returned when the recipients hold more than MaxPerAccount
// devices of one account.
var ErrTooMany = errors.New("multicast: more than 8 devices of one account")

// ErrDuplicate is returned when a device is listed twice.
var ErrDuplicate = errors.New("multicast: a device is listed twice")

// Encrypter is one device's conversation; *otr4.Conversation implements it.
type Encrypter interface {
	Send(text string, tlvs ...otr4.TLV) (*otr4.Message, error)
}

// Recipient is one device the message goes to.
type Recipient struct {
	Account string // bare JID
	Tag     uint32 // instance tag
	Conv    Encrypter
	// TLVs are added for this device only (for example the marker that
	// tells an own device which contact the copy belongs to).
	TLVs []otr4.TLV
}

// Transport sends the wire strings of one recipient's encrypted message,
// in order. It is called once per recipient that produced wire strings.
type Transport func(r Recipient, wire []string) error

// Outcome is what became of the message for one recipient.
type Outcome struct {
	Account string
	Tag     uint32
	// Queued is set when the conversation keeps the message until its DAKE
	// ends; it is sent then.
	Queued bool
	// Sent is set when the transport took the wire strings.
	Sent bool
	// Events are the conversation's events for this send.
	Events []otr4.Event
	// Err says why the message did not reach this device (encryption or
	// transport), nil otherwise.
	Err error
}

// Check validates a recipient list: at most MaxPerAccount devices per
// account and no device twice.
func Check(rs []Recipient) error {
	per := map[string]int{}
	seen := map[string]bool{}
	for _, r := range rs {
		k := fmt.Sprintf("%s/%08x", r.Account, r.Tag)
		if seen[k] {
			return fmt.Errorf("%w: %s", ErrDuplicate, k)
		}
		seen[k] = true
		per[r.Account]++
		if per[r.Account] > MaxPerAccount {
			return fmt.Errorf("%w: %s", ErrTooMany, r.Account)
		}
	}
	return nil
}

// Send encrypts text for every recipient and hands each result to tr. It
// returns one outcome per recipient, in order; the error is only for an
// invalid recipient list (nothing is sent then).
func Send(text string, rs []Recipient, tr Transport) ([]Outcome, error) {
	if err := Check(rs); err != nil {
		return nil, err
	}
	outs := make([]Outcome, len(rs))
	for i, r := range rs {
		o := &outs[i]
		o.Account, o.Tag = r.Account, r.Tag
		if r.Conv == nil {
			o.Err = errors.New("multicast: no conversation with this device")
			continue
		}
		msg, err := r.Conv.Send(text, r.TLVs...)
		if msg != nil {
			o.Events = msg.Events
			for _, e := range msg.Events {
				if e.Kind == otr4.EventQueued {
					o.Queued = true
				}
			}
		}
		if err != nil {
			o.Err = err
			continue
		}
		if len(msg.ToSend) == 0 {
			continue
		}
		if err := tr(r, msg.ToSend); err != nil {
			o.Err = err
			continue
		}
		o.Sent = true
	}
	return outs, nil
}

// Failed returns the outcomes that did not reach their device.
func Failed(outs []Outcome) []Outcome {
	var f []Outcome
	for _, o := range outs {
		if o.Err != nil {
			f = append(f, o)
		}
	}
	return f
}
