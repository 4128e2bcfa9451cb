// Package xmppbind is the client side of resource binding (RFC 6120 §7)
// that asks for a named resource. mellium.im/xmpp v0.22.0's BindResource
// sends an empty <resource/> whatever the session's address says, so the
// server always picks the resource; otrchat's devices (and the test bed's
// test clients) name theirs.
package xmppbind

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// NS is the resource binding namespace.
const NS = "urn:ietf:params:xml:ns:xmpp-bind"

// maxResponse bounds the server's answer.
const maxResponse = 16 << 10

// ErrMalformed is returned for an answer that is not a valid bind result.
var ErrMalformed = errors.New("xmppbind: malformed bind response")

type response struct {
	XMLName xml.Name      `xml:"iq"`
	ID      string        `xml:"id,attr"`
	Type    string        `xml:"type,attr"`
	JID     string        `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
	Err     *stanza.Error `xml:"error"`
}

func short(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// ParseResponse checks the server's answer (one <iq/> element) to the bind
// request with the given id and returns the bound full JID.
func ParseResponse(b []byte, id string) (jid.JID, error) {
	if len(b) > maxResponse || !utf8.Valid(b) {
		return jid.JID{}, fmt.Errorf("%w: too long or not UTF-8", ErrMalformed)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	var resp response
	if err := d.Decode(&resp); err != nil {
		return jid.JID{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) == 0 {
			continue
		}
		return jid.JID{}, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	switch {
	case resp.XMLName.Space != "" && resp.XMLName.Space != "jabber:client":
		return jid.JID{}, fmt.Errorf("%w: not a client iq", ErrMalformed)
	case resp.ID != id:
		return jid.JID{}, fmt.Errorf("%w: response id %q, want %q", ErrMalformed, short(resp.ID), id)
	case resp.Type == "error" && resp.Err != nil:
		return jid.JID{}, fmt.Errorf("xmppbind: bind refused: %w", *resp.Err)
	case resp.Type != "result":
		return jid.JID{}, fmt.Errorf("%w: response type %q", ErrMalformed, short(resp.Type))
	}
	j, err := jid.Parse(resp.JID)
	if err != nil || j.Resourcepart() == "" || j.Localpart() == "" {
		return jid.JID{}, fmt.Errorf("%w: bad JID %q", ErrMalformed, short(resp.JID))
	}
	return j, nil
}

// readElement copies the element that start opens into bytes, bounded.
func readElement(d *xml.Decoder, start xml.StartElement) ([]byte, error) {
	var buf bytes.Buffer
	e := xml.NewEncoder(&buf)
	start.Attr = withoutXMLNS(start.Attr)
	if err := e.EncodeToken(start); err != nil {
		return nil, err
	}
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			t.Attr = withoutXMLNS(t.Attr)
			tok = t
		case xml.EndElement:
			depth--
		}
		if err := e.EncodeToken(xml.CopyToken(tok)); err != nil {
			return nil, err
		}
		if buf.Len() > maxResponse {
			return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxResponse)
		}
	}
	if err := e.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// withoutXMLNS drops namespace declarations: the encoder writes its own.
func withoutXMLNS(attrs []xml.Attr) []xml.Attr {
	out := attrs[:0:0]
	for _, a := range attrs {
		if a.Name.Local == "xmlns" && a.Name.Space == "" || a.Name.Space == "xmlns" {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Feature returns the stream feature that binds resource, with id as the
// id of the bind request.
func Feature(resource, id string) xmpp.StreamFeature {
	return xmpp.StreamFeature{
		Name:       xml.Name{Space: NS, Local: "bind"},
		Necessary:  xmpp.Authn,
		Prohibited: xmpp.Ready,
		List: func(context.Context, xmlstream.TokenWriter, xml.StartElement) (bool, error) {
			return true, errors.New("xmppbind: resource binding is client-side only")
		},
		Parse: func(_ context.Context, d *xml.Decoder, _ *xml.StartElement) (bool, any, error) {
			return true, nil, d.Skip()
		},
		Negotiate: func(ctx context.Context, session *xmpp.Session, _ any) (xmpp.SessionState, io.ReadWriter, error) {
			if session.State()&xmpp.Received != 0 {
				return 0, nil, errors.New("xmppbind: resource binding is client-side only")
			}
			w := session.TokenWriter()
			defer w.Close()
			var inner xml.TokenReader
			if resource != "" {
				inner = xmlstream.Wrap(xmlstream.Token(xml.CharData(resource)), xml.StartElement{Name: xml.Name{Local: "resource"}})
			}
			req := stanza.IQ{ID: id, Type: stanza.SetIQ}
			if _, err := xmlstream.Copy(w, req.Wrap(xmlstream.Wrap(inner, xml.StartElement{Name: xml.Name{Space: NS, Local: "bind"}}))); err != nil {
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
				return 0, nil, fmt.Errorf("%w: expected an iq, got %T", ErrMalformed, tok)
			}
			b, err := readElement(d, start)
			if err != nil {
				return 0, nil, err
			}
			j, err := ParseResponse(b, id)
			if err != nil {
				return 0, nil, err
			}
			session.UpdateAddr(j)
			return xmpp.Ready, nil, nil
		},
	}
}
