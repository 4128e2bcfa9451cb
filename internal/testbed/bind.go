package testbed

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// nsBind is RFC 6120 §7's resource binding namespace.
const nsBind = "urn:ietf:params:xml:ns:xmpp-bind"

// bindResource is the client side of RFC 6120 §7 resource binding that
// asks for a specific resource. mellium's xmpp.BindResource (v0.22.0)
// sends an empty <resource/> whatever the JID says, so the server always
// picks one; the multi-device tests want to name their devices.
func bindResource(resource string) xmpp.StreamFeature {
	return xmpp.StreamFeature{
		Name:       xml.Name{Space: nsBind, Local: "bind"},
		Necessary:  xmpp.Authn,
		Prohibited: xmpp.Ready,
		List: func(context.Context, xmlstream.TokenWriter, xml.StartElement) (bool, error) {
			return true, fmt.Errorf("testbed: resource binding is client-side only")
		},
		Parse: func(_ context.Context, d *xml.Decoder, start *xml.StartElement) (bool, any, error) {
			return true, nil, d.Skip()
		},
		Negotiate: func(ctx context.Context, session *xmpp.Session, _ any) (xmpp.SessionState, io.ReadWriter, error) {
			if session.State()&xmpp.Received != 0 {
				return 0, nil, fmt.Errorf("testbed: resource binding is client-side only")
			}
			type bindPayload struct {
				XMLName  xml.Name `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
				Resource string   `xml:"resource,omitempty"`
				JID      string   `xml:"jid,omitempty"`
			}
			type bindIQ struct {
				stanza.IQ
				Bind bindPayload  `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
				Err  stanza.Error `xml:"jabber:client error"`
			}
			id := randomToken()
			w := session.TokenWriter()
			defer w.Close()
			req := stanza.IQ{ID: id, Type: stanza.SetIQ}
			var inner xml.TokenReader
			if resource != "" {
				inner = xmlstream.Wrap(xmlstream.Token(xml.CharData(resource)), xml.StartElement{Name: xml.Name{Local: "resource"}})
			}
			payload := xmlstream.Wrap(inner, xml.StartElement{Name: xml.Name{Space: nsBind, Local: "bind"}})
			if _, err := xmlstream.Copy(w, req.Wrap(payload)); err != nil {
				return 0, nil, err
			}
			if err := w.Flush(); err != nil {
				return 0, nil, err
			}

			r := session.TokenReader()
			defer r.Close()
			d := xml.NewTokenDecoder(r)
			tok, err := d.Token()
			if err != nil {
				return 0, nil, err
			}
			start, ok := tok.(xml.StartElement)
			if !ok || start.Name.Local != "iq" {
				return 0, nil, fmt.Errorf("testbed: bind: expected an iq, got %T %v", tok, tok)
			}
			var resp bindIQ
			if err := d.DecodeElement(&resp, &start); err != nil {
				return 0, nil, fmt.Errorf("testbed: bind: %w", err)
			}
			switch {
			case resp.ID != id:
				return 0, nil, fmt.Errorf("testbed: bind: reply to iq %q, want %q", resp.ID, id)
			case resp.Type == stanza.ErrorIQ:
				return 0, nil, fmt.Errorf("testbed: bind %q refused: %w", resource, resp.Err)
			case resp.Type != stanza.ResultIQ:
				return 0, nil, fmt.Errorf("testbed: bind: unexpected iq type %q", resp.Type)
			}
			j, err := jid.Parse(resp.Bind.JID)
			if err != nil {
				return 0, nil, fmt.Errorf("testbed: bind: server returned JID %q: %w", resp.Bind.JID, err)
			}
			session.UpdateAddr(j)
			return xmpp.Ready, nil, nil
		},
	}
}
