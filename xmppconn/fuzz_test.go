package xmppconn

import (
	"bytes"
	"encoding/xml"
	"testing"
)

var messageSeeds = []string{
	`<message xmlns='jabber:client' from='bob@example.org/x' type='chat' id='m1'><body>hi</body></message>`,
	`<message xmlns='jabber:client' from='bob@example.org/x' type='chat' id='m2'><body>?OTR:AAQD.</body><device xmlns='urn:otrchat:otrv4:0' tag='0x1aaa0001'/><encryption xmlns='urn:xmpp:eme:0' namespace='urn:xmpp:otr:0'/><stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.org' id='A1'/></message>`,
	`<message xmlns='jabber:client'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='bob@example.org/x' type='chat'><body>?OTR:AAQD.</body></message></forwarded></received></message>`,
	`<message xmlns='jabber:client'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' to='bob@example.org' type='chat' id='c'><body>x</body></message></forwarded></sent></message>`,
	`<message xmlns='jabber:client'><result xmlns='urn:xmpp:mam:2' queryid='q1' id='A1'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2026-11-23T10:00:00Z'/><message xmlns='jabber:client' from='bob@example.org/x' type='chat'><body>old</body></message></forwarded></result></message>`,
	`<message xmlns='jabber:client' from='bob@example.org' type='headline'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:otrchat:otrv4:devices:0'><item id='current'><devices xmlns='urn:otrchat:otrv4:0'><device tag='0x2bbb0001'/></devices></item><retract id='old'/></items></event></message>`,
	`<message xmlns='jabber:client' from='bob@example.org/x' type='error'><error type='cancel'/></message>`,
	`<message xmlns='jabber:client' from='bob@example.org' type='headline'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:otr:1:devices'><item id='current'><devices xmlns='urn:xmpp:otr:1'><device id='2bbb0001' label='x'/></devices></item></items><delete node='urn:xmpp:otr:1:devices'/><purge node='urn:xmpp:otr:1:devices'/></event></message>`,
}

// FuzzHandleMessage runs arbitrary bytes through the whole incoming message
// path (decoder, carbons, archive, device filter, PEP events): it must never
// panic, and every reported message has a body.
func FuzzHandleMessage(f *testing.F) {
	for _, s := range messageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, drain := testClient(t, laptopTag)
		c.mamQueries["q1"] = true
		c.handleMessage(b)
		for _, e := range drain() {
			switch e := e.(type) {
			case *MessageEvent:
				if e.ToDevice != 0 && e.ToDevice != laptopTag {
					t.Fatalf("message for device %#x delivered", e.ToDevice)
				}
				if e.Carbon != NotCarbon && e.OTR {
					t.Fatal("OTR carbon delivered")
				}
				// What we report can be sent again and read back the same.
				out, err := xml.Marshal(newOutMessage("id", "bob@example.org", e.Body, SendOptions{OTR: e.OTR, ToDevice: e.ToDevice}))
				if err != nil {
					t.Fatal(err)
				}
				w, err := decodeMessage(out)
				if err != nil {
					t.Fatalf("re-decoding %s: %v", out, err)
				}
				if body, _ := w.body(); body != e.Body && !bytes.ContainsRune([]byte(e.Body), '\r') {
					t.Fatalf("body %q became %q", e.Body, body)
				}
			case *PEPEvent:
				if e.Node == "" {
					t.Fatal("PEP event without node")
				}
			default:
				t.Fatalf("unexpected event %T", e)
			}
		}
	})
}

// FuzzHandlePresence: arbitrary presence stanzas never panic, and the
// presence table only holds available full JIDs.
func FuzzHandlePresence(f *testing.F) {
	for _, s := range []string{
		`<presence xmlns='jabber:client' from='bob@example.org/p'><show>dnd</show><status>busy</status><priority>5</priority><device xmlns='urn:otrchat:otrv4:0' tag='0x2bbb0001'/></presence>`,
		`<presence xmlns='jabber:client' from='bob@example.org/p' type='unavailable'/>`,
		`<presence xmlns='jabber:client' from='bob@example.org' type='unavailable'/>`,
		`<presence xmlns='jabber:client' from='carol@example.org' type='subscribe'/>`,
		`<presence xmlns='jabber:client' from='bob@example.org/p'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, drain := testClient(t, laptopTag)
		c.handlePresence(b)
		drain()
		for _, p := range c.presences {
			if p.Show == Unavailable || p.From.Resourcepart() == "" {
				t.Fatalf("bad presence entry %+v", p)
			}
			if p.Tag != 0 && p.Tag < MinInstanceTag {
				t.Fatalf("reserved tag %#x accepted", p.Tag)
			}
		}
	})
}

// FuzzDecodeIQ: the IQ decoder and the roster item check never panic.
func FuzzDecodeIQ(f *testing.F) {
	for _, s := range []string{
		`<iq xmlns='jabber:client' type='set' id='r1'><query xmlns='jabber:iq:roster' ver='v1'><item jid='bob@example.org' name='Bob' subscription='both'><group>Friends</group></item></query></iq>`,
		`<iq xmlns='jabber:client' type='set' id='r2'><query xmlns='jabber:iq:roster'><item jid='bob@example.org' subscription='remove'/></query></iq>`,
		`<iq xmlns='jabber:client' type='get' id='d1' from='example.org'><query xmlns='http://jabber.org/protocol/disco#info' node='https://otrchat.invalid/caps#abc'/></iq>`,
		`<iq xmlns='jabber:client' type='get' id='p1' from='example.org'><ping xmlns='urn:xmpp:ping'/></iq>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := decodeIQ(b)
		if err != nil {
			return
		}
		if q.Roster != nil {
			for _, it := range q.Roster.Items {
				ri, removed, err := rosterItem(it)
				if err == nil && removed != (ri.Subscription == "remove") {
					t.Fatalf("item %+v removed=%v", ri, removed)
				}
			}
		}
	})
}

// FuzzDecodeDevice: DecodeDevice is strict and round-trips:
// DecodeDevice(encodeDevice(DecodeDevice(b))) gives the same tag, and the
// canonical encoding is stable.
func FuzzDecodeDevice(f *testing.F) {
	f.Add([]byte(`<device xmlns='urn:otrchat:otrv4:0' tag='0x1234abcd'/>`))
	f.Add([]byte(`<device xmlns="urn:otrchat:otrv4:0" tag="0x00000100"></device>`))
	f.Add([]byte(`<x:device xmlns:x='urn:otrchat:otrv4:0' tag='0xffffffff'/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, err := DecodeDevice(b)
		if err != nil {
			return
		}
		enc, err := encodeDevice(tag)
		if err != nil {
			t.Fatalf("accepted tag %#x cannot be encoded: %v", tag, err)
		}
		tag2, err := DecodeDevice(enc)
		if err != nil || tag2 != tag {
			t.Fatalf("round trip %#x -> %s -> %#x, %v", tag, enc, tag2, err)
		}
		enc2, _ := encodeDevice(tag2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %s vs %s", enc, enc2)
		}
	})
}

// FuzzParseTag: ParseTag accepts exactly the canonical forms.
func FuzzParseTag(f *testing.F) {
	for _, s := range []string{"0x1234abcd", "0x00000100", "0x000000ff", "0X1234ABCD", "0x1234abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseTag(s)
		if err != nil {
			return
		}
		if FormatTag(v) != s || v < MinInstanceTag {
			t.Fatalf("ParseTag(%q) = %#x", s, v)
		}
	})
}

// FuzzReadElement: re-encoding what the session's decoder produces is
// idempotent, so the byte decoders see one canonical form.
func FuzzReadElement(f *testing.F) {
	for _, s := range messageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		once, ok := reencode(b)
		if !ok {
			return
		}
		twice, ok := reencode(once)
		if !ok {
			t.Fatalf("re-encoded element unreadable: %q", once)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("not idempotent:\n%q\n%q", once, twice)
		}
	})
}

func reencode(b []byte) ([]byte, bool) {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, false
		}
		if start, ok := tok.(xml.StartElement); ok {
			out, err := readElement(d, &start)
			if err != nil {
				return nil, false
			}
			return out, true
		}
	}
}
