package otr4

import (
	"github.com/otrchat/otrchat/otr4/internal/smp"
)

func (c *Conversation) smpBinding() smp.Binding {
	fp := c.theirProfile.Fingerprint()
	return smp.Binding{OurFingerprint: c.cfg.Identity.Fingerprint(), TheirFingerprint: fp, SSID: c.ssid}
}

func (c *Conversation) sendSMP(out *Message, tlvs []smp.TLV) error {
	if len(tlvs) == 0 {
		return nil
	}
	ts := make([]TLV, len(tlvs))
	for i, t := range tlvs {
		ts[i] = TLV{Type: t.Type, Value: t.Value}
	}
	return c.sendData(out, "", ts, flagIgnoreUnreadable)
}

// StartSMP asks the peer to prove knowledge of the same secret, with an
// optional question shown to them (otrv4.md, "Socialist Millionaires
// Protocol"). The result arrives as an SMP event.
func (c *Conversation) StartSMP(question string, secret []byte) (*Message, error) {
	out := new(Message)
	if c.state != StateEncrypted {
		return out, ErrNotEncrypted
	}
	tlvs, err := c.smp.Start(c.smpBinding(), question, secret)
	if err != nil {
		return out, err
	}
	return out, c.sendSMP(out, tlvs)
}

// AnswerSMP answers the peer's SMP request (after EventSMPSecretNeeded).
func (c *Conversation) AnswerSMP(secret []byte) (*Message, error) {
	out := new(Message)
	if c.state != StateEncrypted {
		return out, ErrNotEncrypted
	}
	tlvs, err := c.smp.Respond(c.smpBinding(), secret)
	if err != nil {
		return out, err
	}
	return out, c.sendSMP(out, tlvs)
}

// AbortSMP cancels an SMP run and tells the peer (TLV 6).
func (c *Conversation) AbortSMP() (*Message, error) {
	out := new(Message)
	if c.state != StateEncrypted {
		return out, ErrNotEncrypted
	}
	t := c.smp.Abort()
	return out, c.sendSMP(out, []smp.TLV{t})
}

var smpEvents = map[smp.Result]EventKind{
	smp.InProgress:   EventSMPInProgress,
	smp.SecretNeeded: EventSMPSecretNeeded,
	smp.Succeeded:    EventSMPSucceeded,
	smp.Failed:       EventSMPFailed,
	smp.Aborted:      EventSMPAborted,
	smp.Cheated:      EventSMPCheated,
	smp.Error:        EventSMPError,
}

func (c *Conversation) handleSMP(out *Message, t TLV) {
	res, err := c.smp.Receive(smp.TLV{Type: t.Type, Value: t.Value})
	if kind, ok := smpEvents[res.Result]; ok {
		out.Events = append(out.Events, Event{Kind: kind, Question: res.Question, Err: err})
	} else if err != nil {
		out.Events = append(out.Events, Event{Kind: EventSMPError, Err: err})
	}
	if err := c.sendSMP(out, res.Reply); err != nil {
		out.Events = append(out.Events, Event{Kind: EventSMPError, Err: err})
	}
}
