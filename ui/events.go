package ui

import (
	"fmt"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/session"
)

// note is an event as the TUI shows it: a line for the window of a contact
// (zero: the console), and whether it is a warning.
type note struct {
	contact jid.JID
	kind    Kind
	text    string // plain text; the TUI escapes and colours it
	alert   bool   // also shown in the alert bar until acknowledged
	console bool   // also copied to the console window
}

// describe turns events other than messages and deliveries into notes.
func describe(ev session.Event, account jid.JID) []note {
	switch e := ev.(type) {
	case *session.StateEvent:
		d := deviceName(e.Device)
		switch e.State {
		case session.Encrypted:
			v := ""
			if e.Version != 0 {
				v = fmt.Sprintf(" (OTRv%d)", e.Version)
			}
			return []note{{contact: e.Contact, text: fmt.Sprintf("OTR conversation with %s %s is encrypted%s", e.Contact, d, v)}}
		case session.Starting:
			return []note{{contact: e.Contact, text: fmt.Sprintf("starting OTR with %s %s…", e.Contact, d)}}
		case session.Finished:
			return []note{{contact: e.Contact, kind: KindWarning, alert: true, text: fmt.Sprintf("%s %s ended the OTR conversation: nothing more is sent until you /otr end or /otr start", e.Contact, d)}}
		default:
			if e.Prev == session.Encrypted || e.Prev == session.Finished {
				return []note{{contact: e.Contact, kind: KindWarning, text: fmt.Sprintf("OTR with %s %s ended: messages to it are now sent in PLAINTEXT", e.Contact, d)}}
			}
			return []note{{contact: e.Contact, text: fmt.Sprintf("%s %s: no OTR conversation", e.Contact, d)}}
		}
	case *session.WarningEvent:
		who := ""
		if !e.Contact.Equal(jid.JID{}) {
			who = e.Contact.String()
			if e.Device.Tag != 0 {
				who += " " + deviceName(e.Device)
			}
			who += ": "
		}
		return []note{{contact: e.Contact, kind: KindWarning, alert: true, console: !e.Contact.Equal(jid.JID{}),
			text: fmt.Sprintf("WARNING %s: %s%s", e.Kind, who, e.Text)}}
	case *session.SMPEvent:
		d := e.Contact.String() + " " + deviceName(e.Device)
		switch e.Kind {
		case session.SMPAsked:
			q := "without a question"
			if e.Question != "" {
				q = fmt.Sprintf("asking %q", e.Question)
			}
			return []note{{contact: e.Contact, kind: KindWarning, alert: true, text: fmt.Sprintf("%s wants to verify you with SMP, %s: answer with /smp answer SECRET (or /smp abort)", d, q)}}
		case session.SMPInProgress:
			return []note{{contact: e.Contact, text: "SMP with " + d + " in progress…"}}
		case session.SMPSucceeded:
			return []note{{contact: e.Contact, text: "SMP succeeded: " + d + " is now VERIFIED ✔"}}
		case session.SMPFailed:
			return []note{{contact: e.Contact, kind: KindWarning, alert: true, text: "SMP FAILED with " + d + ": the secrets differ; the device is NOT verified"}}
		case session.SMPAborted:
			return []note{{contact: e.Contact, kind: KindWarning, text: "SMP with " + d + " was aborted"}}
		default:
			return []note{{contact: e.Contact, kind: KindWarning, alert: true, text: "SMP error with " + d + ": the device is NOT verified"}}
		}
	case *session.TrustEvent:
		from := ""
		if e.FromDevice != nil {
			from = " (decided on our device " + deviceName(*e.FromDevice) + ")"
		}
		k := KindInfo
		if e.Level == session.Untrusted {
			k = KindWarning
		}
		return []note{{contact: e.Contact, kind: k, text: fmt.Sprintf("%s fingerprint %s is now %s%s", e.Contact, e.Fingerprint, trustWord(e.Level), from)}}
	case *session.ConnectionEvent:
		if e.Online {
			t := "signed in as " + e.Addr.String()
			if !e.Resumable {
				t += " (the server offers no stream management)"
			}
			return []note{{text: t}}
		}
		if e.Err != nil {
			return []note{{kind: KindWarning, alert: true, text: "DISCONNECTED: " + e.Err.Error()}}
		}
		return []note{{text: "signed out"}}
	case *session.RosterEvent:
		if e.Removed {
			return []note{{text: e.Contact.JID.String() + " was removed from the roster"}}
		}
	case *session.SubscriptionRequestEvent:
		return []note{{kind: KindWarning, alert: true, text: fmt.Sprintf("%s asks to see your presence: /approve %s or /deny %s", e.From.Bare(), e.From.Bare(), e.From.Bare())}}
	case *session.PrekeyEvent:
		if e.Err != nil {
			return []note{{kind: KindWarning, alert: true, text: "prekey server " + e.Server.String() + ": " + e.Err.Error()}}
		}
		return []note{{text: fmt.Sprintf("prekey server %s stores %d of our prekeys (%d published)", e.Server, e.Stored, e.Published)}}
	}
	return nil
}

// lineEvent is an event as one line of the line mode (docs/line-mode.md).
func lineEvent(ev session.Event) string {
	var f fields
	switch e := ev.(type) {
	case *session.MessageEvent:
		dir := "in"
		if e.Outgoing {
			dir = "out"
		}
		f.add("message", "contact", e.Contact.Bare().String(), "dir", dir, "device", tagString(e.From.Tag),
			"label", e.From.Label, "encrypted", yesNo(e.Encrypted), "version", fmt.Sprint(e.Version),
			"trust", trustToken(e.Trust), "delayed", yesNo(e.Delayed))
		if !e.Time.IsZero() {
			f.kv("time", e.Time.UTC().Format("2006-01-02T15:04:05Z"))
		}
		f.kv("text", e.Text)
	case *session.StateEvent:
		f.add("state", "contact", e.Contact.Bare().String(), "device", tagString(e.Device.Tag), "label", e.Device.Label,
			"state", e.State.String(), "prev", e.Prev.String(), "version", fmt.Sprint(e.Version))
	case *session.WarningEvent:
		f.add("warning", "kind", e.Kind.String(), "contact", jidOrDash(e.Contact), "device", tagOrDash(e.Device.Tag),
			"label", e.Device.Label, "text", e.Text)
	case *session.DeliveryEvent:
		f.add("delivery", "contact", e.Contact.Bare().String(), "id", e.ID, "device", tagString(e.Device.Tag),
			"label", e.Device.Label, "status", e.Status.String())
		if e.Err != nil {
			f.kv("error", e.Err.Error())
		}
	case *session.SMPEvent:
		f.add("smp", "contact", e.Contact.Bare().String(), "device", tagString(e.Device.Tag), "label", e.Device.Label,
			"kind", e.Kind.String(), "question", e.Question)
	case *session.TrustEvent:
		from := "-"
		if e.FromDevice != nil {
			from = tagString(e.FromDevice.Tag)
		}
		f.add("trust", "contact", e.Contact.Bare().String(), "fingerprint", e.Fingerprint, "level", trustToken(e.Level), "from", from)
	case *session.ConnectionEvent:
		f.add("connection", "online", yesNo(e.Online), "addr", jidOrDash(e.Addr), "resumable", yesNo(e.Resumable))
		if e.Err != nil {
			f.kv("error", e.Err.Error())
		}
	case *session.RosterEvent:
		c := e.Contact
		f.add("roster", "contact", c.JID.Bare().String(), "name", c.Name, "subscription", c.Subscription,
			"pending", yesNo(c.Pending), "online", yesNo(c.Online), "devices", fmt.Sprint(len(c.Devices)),
			"state", c.State.String(), "trust", trustToken(c.Trust), "policy", c.Policy.Short(), "removed", yesNo(e.Removed))
	case *session.SubscriptionRequestEvent:
		f.add("subscription-request", "from", e.From.Bare().String())
	case *session.PrekeyEvent:
		f.add("prekeys", "server", jidOrDash(e.Server), "stored", fmt.Sprint(e.Stored), "published", fmt.Sprint(e.Published))
		if e.Err != nil {
			f.kv("error", e.Err.Error())
		}
	default:
		return ""
	}
	return f.String()
}

// fields builds one line-mode line: a word, then key=value pairs.
type fields struct{ b strings.Builder }

func (f *fields) add(word string, kv ...string) {
	f.b.WriteString(word)
	for i := 0; i+1 < len(kv); i += 2 {
		f.kv(kv[i], kv[i+1])
	}
}

func (f *fields) kv(k, v string) {
	f.b.WriteByte(' ')
	f.b.WriteString(k)
	f.b.WriteByte('=')
	f.b.WriteString(lineValue(v))
}

func (f *fields) String() string { return f.b.String() }

func jidOrDash(j jid.JID) string {
	if j.Equal(jid.JID{}) {
		return "-"
	}
	return j.String()
}

func tagOrDash(t uint32) string {
	if t == 0 {
		return "-"
	}
	return tagString(t)
}
