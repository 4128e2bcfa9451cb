package prekeyserver

import (
	"bytes"
	"encoding/xml"
	"testing"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/otrchat/otrchat/otr4/prekey"
)

// FuzzHandle feeds arbitrary message bodies to the server, from one full
// JID, after a real DAKE-1: it never panics, answers at most one message
// per body (no fragmentation configured), and every answer decodes as a
// prekey server message.
func FuzzHandle(f *testing.F) {
	s := newServer(f, f.TempDir(), Limits{MaxBodyBytes: 4096})
	d := newDevice(f, "alice@localhost", "x")
	c, d1, err := prekey.NewClientDAKE(prekey.ClientConfig{Identity: d.id, Profile: d.profile,
		Publisher: d.bare, Server: serverName, ServerFingerprint: s.Fingerprint()}, prekey.StorageRequest{})
	if err != nil {
		f.Fatal(err)
	}
	_ = c
	f.Add(prekey.Encode(d1))
	f.Add(prekey.Encode((&prekey.EnsembleQuery{SenderTag: 0x100, Identity: "alice@localhost", Versions: "4"}).Marshal()))
	f.Add("?OTRP|1|100|0,1,2,AAQ1,")
	f.Add("?OTRP|1|100|0,2,2,AAQ1,")
	f.Add("hello")
	f.Add("AAQ3AAABAA==.")
	from := jid.MustParse("mallory@localhost/fuzz")
	f.Fuzz(func(t *testing.T, body string) {
		s.Handle(from, prekey.Encode(d1))
		replies := s.Handle(from, body)
		if len(replies) > 1 {
			t.Fatalf("%d answers to one body", len(replies))
		}
		for _, r := range replies {
			b, err := prekey.Decode(r)
			if err != nil {
				t.Fatalf("answer %q does not decode: %v", r, err)
			}
			if _, err := prekey.Parse(b); err != nil {
				t.Fatalf("answer does not parse: %v", err)
			}
		}
	})
}

// FuzzHandleIQ feeds arbitrary stanzas to the IQ handler as Serve would
// (the start element, then a reader of what is inside it): it never
// panics, answers a get or set with exactly one result or error carrying
// the request's id, and never answers anything else.
func FuzzHandleIQ(f *testing.F) {
	s := newServer(f, f.TempDir(), Limits{})
	for _, seed := range []string{
		`<iq xmlns='jabber:component:accept' type='get' id='d1' from='alice@localhost/x' to='prekeys.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
		`<iq xmlns='jabber:component:accept' type='get' id='d2' from='alice@localhost/x' to='prekeys.localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='fingerprint'/></iq>`,
		`<iq xmlns='jabber:component:accept' type='get' id='d3' from='alice@localhost/x' to='prekeys.localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>`,
		`<iq xmlns='jabber:component:accept' type='get' id='p1' from='alice@localhost/x' to='prekeys.localhost'><ping xmlns='urn:xmpp:ping'/></iq>`,
		`<iq xmlns='jabber:component:accept' type='set' id='s1' from='alice@localhost/x' to='prekeys.localhost'><query xmlns='jabber:iq:private'><x/></query></iq>`,
		`<iq xmlns='jabber:component:accept' type='result' id='r1' from='alice@localhost/x' to='prekeys.localhost'/>`,
		`<iq type='get' id='b1' from='alice@localhost/x'><query xmlns='http://jabber.org/protocol/disco#info'><a></b></query></iq>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := xml.NewDecoder(bytes.NewReader(b))
		var start xml.StartElement
		for {
			tok, err := d.Token()
			if err != nil {
				return
			}
			if se, ok := tok.(xml.StartElement); ok {
				start = se
				break
			}
		}
		var out bytes.Buffer
		enc := xml.NewEncoder(&out)
		rw := struct {
			xml.TokenReader
			*xml.Encoder
		}{xmlstream.Inner(d), enc}
		if err := s.handleIQ(rw, &start); err != nil {
			return // an encoding error ends the stream in Serve
		}
		if err := enc.Flush(); err != nil {
			t.Fatal(err)
		}
		head, herr := stanza.NewIQ(start)
		wantReply := herr == nil && (head.Type == stanza.GetIQ || head.Type == stanza.SetIQ)
		if !wantReply {
			if out.Len() != 0 {
				t.Fatalf("answered %q with %q", b, out.Bytes())
			}
			return
		}
		var reply struct {
			XMLName xml.Name
			Type    string `xml:"type,attr"`
			ID      string `xml:"id,attr"`
		}
		od := xml.NewDecoder(bytes.NewReader(out.Bytes()))
		if err := od.Decode(&reply); err != nil {
			t.Fatalf("reply %q does not decode: %v", out.Bytes(), err)
		}
		if reply.XMLName.Local != "iq" || (reply.Type != "result" && reply.Type != "error") || reply.ID != head.ID {
			t.Fatalf("reply %q to %q", out.Bytes(), b)
		}
		if tok, err := od.Token(); err == nil {
			if _, ok := tok.(xml.CharData); !ok {
				t.Fatalf("more than one reply: %q", out.Bytes())
			}
		}
	})
}
