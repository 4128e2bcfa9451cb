package xmppconn

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

const nsBind = "urn:ietf:params:xml:ns:xmpp-bind"

type bindRequest struct {
	XMLName xml.Name `xml:"jabber:client iq"`
	ID      string   `xml:"id,attr"`
	Type    string   `xml:"type,attr"`
	Bind    struct {
		XMLName  xml.Name `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
		Resource string   `xml:"resource"`
	}
}

type bindResponse struct {
	XMLName xml.Name      `xml:"iq"`
	ID      string        `xml:"id,attr"`
	Type    string        `xml:"type,attr"`
	JID     string        `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
	Err     *stanza.Error `xml:"error"`
}

// parseBindResponse checks the server's answer to the bind request with
// the given id and returns the bound full JID.
func parseBindResponse(b []byte, id string) (jid.JID, error) {
	var resp bindResponse
	if err := decodeStrict(b, &resp, "iq"); err != nil {
		return jid.JID{}, fmt.Errorf("xmppconn: bind: %w", err)
	}
	switch {
	case resp.XMLName.Local != "iq" || !isClientNS(resp.XMLName.Space):
		return jid.JID{}, fmt.Errorf("%w: bind: not an iq", ErrMalformed)
	case resp.ID != id:
		return jid.JID{}, fmt.Errorf("%w: bind: response id %q, want %q", ErrMalformed, truncate(resp.ID), id)
	case resp.Type == "error" && resp.Err != nil:
		return jid.JID{}, fmt.Errorf("xmppconn: bind: %w", *resp.Err)
	case resp.Type != "result":
		return jid.JID{}, fmt.Errorf("%w: bind: response type %q", ErrMalformed, truncate(resp.Type))
	}
	j, err := jid.Parse(resp.JID)
	if err != nil || j.Resourcepart() == "" || j.Localpart() == "" {
		return jid.JID{}, fmt.Errorf("%w: bind: bad JID %q", ErrMalformed, truncate(resp.JID))
	}
	return j, nil
}

// bindResource is the client side of resource binding (RFC 6120 §7) that
// requests a resourcepart. mellium v0.22.0's BindResource() sends an empty
// <resource/> whatever the session's address says, so the server always
// chooses; this feature is used when Config.Resource is set.
func bindResource(resource, id string) xmpp.StreamFeature {
	return xmpp.StreamFeature{
		Name:       xml.Name{Space: nsBind, Local: "bind"},
		Necessary:  xmpp.Authn,
		Prohibited: xmpp.Ready,
		Parse: func(ctx context.Context, d *xml.Decoder, start *xml.StartElement) (bool, interface{}, error) {
			return true, nil, d.Skip()
		},
		Negotiate: func(ctx context.Context, session *xmpp.Session, data interface{}) (xmpp.SessionState, io.ReadWriter, error) {
			req := bindRequest{ID: id, Type: "set"}
			req.Bind.Resource = resource
			w := session.TokenWriter()
			defer w.Close()
			if _, err := xmlstream.Copy(w, encodeTokens(req)); err != nil {
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
				return 0, nil, fmt.Errorf("xmppconn: bind: unexpected %T %v", tok, tok)
			}
			b, err := readElement(d, &start)
			if err != nil {
				return 0, nil, fmt.Errorf("xmppconn: bind: %w", err)
			}
			j, err := parseBindResponse(b, id)
			if err != nil {
				return 0, nil, err
			}
			session.UpdateAddr(j)
			return xmpp.Ready, nil, nil
		},
	}
}
