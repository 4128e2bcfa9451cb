package prekeyserver

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/otrchat/otrchat/otr4/prekey"
)

// Service discovery namespaces (XEP-0030).
const (
	NSDiscoInfo  = "http://jabber.org/protocol/disco#info"
	NSDiscoItems = "http://jabber.org/protocol/disco#items"
)

// DiscoName is the name in the server's disco identity.
const DiscoName = "OTR Prekey Server"

// Connect dials the XMPP server's component port at addr (within ctx and
// a 30 s bound) and completes the XEP-0114 handshake as s.Name().
func (s *Server) Connect(ctx context.Context, addr, secret string) (*xmpp.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	name, err := jid.Parse(s.cfg.Name)
	if err != nil {
		return nil, fmt.Errorf("prekeyserver: %w", err)
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("prekeyserver: connecting to %s: %w", addr, err)
	}
	sess, err := component.NewSession(ctx, name, []byte(secret), conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("prekeyserver: component handshake with %s: %w", addr, err)
	}
	s.log.Info("connected as a component", "addr", addr, "name", s.cfg.Name)
	return sess, nil
}

// Run connects and serves until ctx ends or the connection is lost.
func (s *Server) Run(ctx context.Context, addr, secret string) error {
	sess, err := s.Connect(ctx, addr, secret)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// Bound the close on the connection itself: mellium v0.22.0's
			// SetCloseDeadline races with a running Serve.
			_ = sess.Conn().SetDeadline(time.Now().Add(5 * time.Second))
			_ = sess.Close()
		case <-done:
		}
	}()
	err = s.Serve(sess)
	close(done)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Serve answers disco queries and prekey server messages on an
// established component session until it ends.
func (s *Server) Serve(sess *xmpp.Session) error {
	err := sess.Serve(xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		switch start.Name.Local {
		case "message":
			return s.handleMessage(t, start)
		case "iq":
			return s.handleIQ(t, start)
		}
		return nil
	}))
	if err != nil {
		return fmt.Errorf("prekeyserver: serving: %w", err)
	}
	return nil
}

type messageStanza struct {
	stanza.Message
	Body string `xml:"body,omitempty"`
}

func (s *Server) handleMessage(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var m messageStanza
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
	if err := d.Decode(&m); err != nil {
		s.log.Warn("undecodable message stanza", "err", err)
		return nil
	}
	// Never answer errors (no loops) or bodiless messages (chat states,
	// receipts).
	if m.Type == stanza.ErrorMessage || m.Body == "" {
		return nil
	}
	typ := stanza.NormalMessage
	if m.Type == stanza.ChatMessage {
		typ = stanza.ChatMessage
	}
	me := jid.MustParse(s.cfg.Name)
	for _, body := range s.Handle(m.From, m.Body) {
		reply := messageStanza{Message: stanza.Message{From: me, To: m.From, Type: typ}, Body: body}
		if err := t.Encode(reply); err != nil {
			return err
		}
	}
	return nil
}

type iqQuery struct {
	stanza.IQ
	Query struct {
		XMLName xml.Name
		Node    string `xml:"node,attr"`
	} `xml:",any"`
}

type discoIdentity struct {
	XMLName  xml.Name `xml:"identity"`
	Category string   `xml:"category,attr"`
	Type     string   `xml:"type,attr"`
	Name     string   `xml:"name,attr"`
}

type discoFeature struct {
	XMLName xml.Name `xml:"feature"`
	Var     string   `xml:"var,attr"`
}

type discoInfo struct {
	stanza.IQ
	Query struct {
		XMLName    xml.Name `xml:"http://jabber.org/protocol/disco#info query"`
		Node       string   `xml:"node,attr,omitempty"`
		Identities []discoIdentity
		Features   []discoFeature
	}
}

type discoItem struct {
	XMLName xml.Name `xml:"item"`
	JID     string   `xml:"jid,attr"`
	Node    string   `xml:"node,attr,omitempty"`
	Name    string   `xml:"name,attr,omitempty"`
}

type discoItems struct {
	stanza.IQ
	Query struct {
		XMLName xml.Name `xml:"http://jabber.org/protocol/disco#items query"`
		Node    string   `xml:"node,attr,omitempty"`
		Items   []discoItem
	}
}

// handleIQ answers disco#info and disco#items as the spec's XMPP section
// shows. Every other IQ of type get or set gets an error reply, as RFC 6120
// §8.2.3 requires (mellium answers unhandled IQs itself only on client
// streams, not on a component's): service-unavailable for a payload the
// server does not handle (ping, version, any set), item-not-found for
// disco on a node it does not have (XEP-0030 §3.1, §4.1), bad-request for
// an IQ it cannot decode. Results and errors are never answered.
func (s *Server) handleIQ(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	head, herr := stanza.NewIQ(*start)
	if herr != nil || (head.Type != stanza.GetIQ && head.Type != stanza.SetIQ) {
		return nil // no JID to answer, or a result or error: never answered
	}
	var iq iqQuery
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
	if err := d.Decode(&iq); err != nil {
		s.log.Warn("undecodable iq", "from", head.From.String(), "err", err)
		return s.iqError(t, head, stanza.Modify, stanza.BadRequest)
	}
	log := s.log.With("from", iq.From.String(), "type", string(iq.Type), "payload", iq.Query.XMLName.Space+" "+iq.Query.XMLName.Local)
	if iq.Type != stanza.GetIQ {
		log.Debug("iq set: service-unavailable")
		return s.iqError(t, head, stanza.Cancel, stanza.ServiceUnavailable)
	}
	known := iq.Query.Node == "" || iq.Query.Node == prekey.FingerprintNode
	res := stanza.IQ{ID: iq.ID, From: jid.MustParse(s.cfg.Name), To: iq.From, Type: stanza.ResultIQ}
	switch iq.Query.XMLName {
	case xml.Name{Space: NSDiscoInfo, Local: "query"}:
		if !known {
			log.Debug("disco#info on an unknown node", "node", iq.Query.Node)
			return s.iqError(t, head, stanza.Cancel, stanza.ItemNotFound)
		}
		log.Debug("disco#info")
		r := discoInfo{IQ: res}
		r.Query.Node = iq.Query.Node
		r.Query.Identities = []discoIdentity{{Category: prekey.IdentityCategory, Type: prekey.IdentityType, Name: DiscoName}}
		r.Query.Features = []discoFeature{{Var: NSDiscoInfo}, {Var: NSDiscoItems}, {Var: prekey.NSFeature}}
		return t.Encode(r)
	case xml.Name{Space: NSDiscoItems, Local: "query"}:
		if !known {
			log.Debug("disco#items on an unknown node", "node", iq.Query.Node)
			return s.iqError(t, head, stanza.Cancel, stanza.ItemNotFound)
		}
		log.Debug("disco#items")
		r := discoItems{IQ: res}
		r.Query.Node = iq.Query.Node
		r.Query.Items = []discoItem{{JID: s.cfg.Name, Node: prekey.FingerprintNode, Name: prekey.FingerprintHex(s.key.Fingerprint())}}
		return t.Encode(r)
	}
	log.Debug("unhandled iq: service-unavailable")
	return s.iqError(t, head, stanza.Cancel, stanza.ServiceUnavailable)
}

// iqError answers the IQ req with an error of the given type and condition.
func (s *Server) iqError(t xmlstream.TokenReadEncoder, req stanza.IQ, typ stanza.ErrorType, cond stanza.Condition) error {
	to := req.From
	req.From = req.To
	if req.From.Equal(jid.JID{}) {
		req.From = jid.MustParse(s.cfg.Name)
	}
	req.To, req.Type = to, stanza.ErrorIQ
	if _, err := xmlstream.Copy(t, req.Wrap(stanza.Error{Type: typ, Condition: cond}.TokenReader())); err != nil {
		return err
	}
	return nil
}
