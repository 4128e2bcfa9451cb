package xmppconn

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file holds the XML forms of the stanzas the client writes and the
// strict decoders of the stanzas it reads. Incoming stanzas are first
// re-encoded from the session's token stream into bytes (see readElement),
// so every decoder here works on bytes and is fuzzed.

type emptyEl struct{}

// deviceEl is <device xmlns='urn:otrchat:otrv4:0' tag='0x…'/>: in presence
// the sender's instance tag, in a message the receiver's.
type deviceEl struct {
	XMLName xml.Name `xml:"urn:otrchat:otrv4:0 device"`
	Tag     string   `xml:"tag,attr"`
}

type emeEl struct {
	XMLName   xml.Name `xml:"urn:xmpp:eme:0 encryption"`
	Namespace string   `xml:"namespace,attr"`
	Name      string   `xml:"name,attr,omitempty"`
}

type originIDEl struct {
	XMLName xml.Name `xml:"urn:xmpp:sid:0 origin-id"`
	ID      string   `xml:"id,attr"`
}

// outMessage is a chat message as written to the stream. Its extension
// elements (device addressing, EME, carbons and processing hints,
// origin-id) are written as one pre-rendered run of XML (Ext), not as
// struct fields: encoding/xml's reflection over eight namespaced elements
// cost as much as encrypting the message (TestOutMessageExt checks that
// the stanza is the same).
type outMessage struct {
	XMLName xml.Name `xml:"message"`
	ID      string   `xml:"id,attr"`
	To      string   `xml:"to,attr"`
	Type    string   `xml:"type,attr"`
	Body    string   `xml:"body,omitempty"` // set only when it needs escaping
	Ext     string   `xml:",innerxml"`
}

// plainXMLText reports whether s needs no escaping as XML character data:
// true for every encoded OTR message (base64 with its ASCII framing).
func plainXMLText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '&' || c == '"' || c == '\'' {
			return false
		}
	}
	return true
}

// SendOptions choose the traffic rules of one chat message.
type SendOptions struct {
	// OTR marks the body as an OTR message: it gets the carbons <private/>
	// element (never carbon-copied) and the XEP-0380 hint for OTR, and the
	// XEP-0334 hints of XEP-0364 ("no-copy", "no-permanent-store") unless
	// Store is set.
	OTR bool
	// ToDevice is the receiver's OTRv4 instance tag. When not zero the
	// message carries <device xmlns='urn:otrchat:otrv4:0' tag='…'/> so that
	// the account's other devices drop it.
	ToDevice uint32
	// Store asks the server to keep the message for a device that is
	// offline: the XEP-0334 <store/> hint replaces "no-copy" and
	// "no-permanent-store", so that the server puts it in offline storage and
	// in the account's archive, where the device finds it on its return.
	Store bool
}

// newOutMessage builds the stanza for SendChat. The choice of hints is
// documented in docs/device-list.md ("Message hints").
func newOutMessage(id, to, body string, o SendOptions) *outMessage {
	var b strings.Builder
	b.Grow(len(body) + 400)
	m := &outMessage{ID: id, To: to, Type: "chat"}
	if plainXMLText(body) {
		b.WriteString("<body>")
		b.WriteString(body)
		b.WriteString("</body>")
	} else {
		m.Body = body
	}
	if o.ToDevice != 0 {
		b.WriteString(`<device xmlns="` + NS + `" tag="`)
		b.WriteString(FormatTag(o.ToDevice))
		b.WriteString(`"></device>`)
	}
	if o.OTR {
		b.WriteString(`<encryption xmlns="urn:xmpp:eme:0" namespace="` + nsOTREME + `" name="OTR"></encryption>`)
		b.WriteString(`<private xmlns="urn:xmpp:carbons:2"></private>`)
		if !o.Store {
			b.WriteString(`<no-copy xmlns="urn:xmpp:hints"></no-copy><no-permanent-store xmlns="urn:xmpp:hints"></no-permanent-store>`)
		}
	}
	if o.Store {
		b.WriteString(`<store xmlns="urn:xmpp:hints"></store>`)
	}
	b.WriteString(`<origin-id xmlns="urn:xmpp:sid:0" id="`)
	_ = xml.EscapeText(&b, []byte(id))
	b.WriteString(`"></origin-id>`)
	m.Ext = b.String()
	return m
}

// wire forms of incoming stanzas.

type wireText struct {
	XMLName xml.Name
	Lang    string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Text    string `xml:",chardata"`
}

type wireDelay struct {
	Stamp string `xml:"stamp,attr"`
}

type wireStanzaID struct {
	ID string `xml:"id,attr"`
	By string `xml:"by,attr"`
}

type wireForwarded struct {
	Delay   *wireDelay   `xml:"urn:xmpp:delay delay"`
	Message *wireMessage `xml:"message"`
}

type wireCarbon struct {
	Forwarded *wireForwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

type wireMAMResult struct {
	QueryID   string         `xml:"queryid,attr"`
	ID        string         `xml:"id,attr"`
	Forwarded *wireForwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

type wireEventItem struct {
	ID    string `xml:"id,attr"`
	Inner []byte `xml:",innerxml"`
}

type wireEventItems struct {
	Node    string          `xml:"node,attr"`
	Items   []wireEventItem `xml:"http://jabber.org/protocol/pubsub#event item"`
	Retract []struct {
		ID string `xml:"id,attr"`
	} `xml:"http://jabber.org/protocol/pubsub#event retract"`
}

type wireEventNode struct {
	Node string `xml:"node,attr"`
}

type wireEvent struct {
	Items  []wireEventItems `xml:"http://jabber.org/protocol/pubsub#event items"`
	Delete []wireEventNode  `xml:"http://jabber.org/protocol/pubsub#event delete"`
	Purge  []wireEventNode  `xml:"http://jabber.org/protocol/pubsub#event purge"`
}

type wireDevice struct {
	Tag string `xml:"tag,attr"`
}

type wireMessage struct {
	XMLName   xml.Name
	ID        string         `xml:"id,attr"`
	From      string         `xml:"from,attr"`
	To        string         `xml:"to,attr"`
	Type      string         `xml:"type,attr"`
	Bodies    []wireText     `xml:"body"`
	Thread    string         `xml:"thread"`
	Devices   []wireDevice   `xml:"urn:otrchat:otrv4:0 device"`
	EME       []emeEl        `xml:"urn:xmpp:eme:0 encryption"`
	Received  *wireCarbon    `xml:"urn:xmpp:carbons:2 received"`
	Sent      *wireCarbon    `xml:"urn:xmpp:carbons:2 sent"`
	Result    *wireMAMResult `xml:"urn:xmpp:mam:2 result"`
	Delay     *wireDelay     `xml:"urn:xmpp:delay delay"`
	StanzaIDs []wireStanzaID `xml:"urn:xmpp:sid:0 stanza-id"`
	Event     *wireEvent     `xml:"http://jabber.org/protocol/pubsub#event event"`
}

type wirePresence struct {
	XMLName  xml.Name
	ID       string       `xml:"id,attr"`
	From     string       `xml:"from,attr"`
	To       string       `xml:"to,attr"`
	Type     string       `xml:"type,attr"`
	Show     []string     `xml:"show"`
	Status   []wireText   `xml:"status"`
	Priority []string     `xml:"priority"`
	Devices  []wireDevice `xml:"urn:otrchat:otrv4:0 device"`
}

type wireRosterItem struct {
	JID          string   `xml:"jid,attr"`
	Name         string   `xml:"name,attr,omitempty"`
	Subscription string   `xml:"subscription,attr,omitempty"`
	Ask          string   `xml:"ask,attr,omitempty"`
	Groups       []string `xml:"jabber:iq:roster group"`
}

type wireIQ struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	From    string `xml:"from,attr"`
	To      string `xml:"to,attr"`
	Type    string `xml:"type,attr"`
	Roster  *struct {
		Ver   string           `xml:"ver,attr"`
		Items []wireRosterItem `xml:"jabber:iq:roster item"`
	} `xml:"jabber:iq:roster query"`
	DiscoInfo *struct {
		Node string `xml:"node,attr"`
	} `xml:"http://jabber.org/protocol/disco#info query"`
	Ping *emptyEl `xml:"urn:xmpp:ping ping"`
}

func isClientNS(space string) bool { return space == "" || space == nsClient }

func decodeStrict(b []byte, v any, local string) error {
	if len(b) > MaxStanzaSize {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(b), MaxStanzaSize)
	}
	if !utf8.Valid(b) {
		return fmt.Errorf("%w: not UTF-8", ErrMalformed)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, local, err)
	}
	// Nothing but white space may follow the element.
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) == 0 {
			continue
		}
		return fmt.Errorf("%w: trailing data after <%s/>", ErrMalformed, local)
	}
	return nil
}

// decodeMessage parses one <message/> stanza.
func decodeMessage(b []byte) (*wireMessage, error) {
	var m wireMessage
	if err := decodeStrict(b, &m, "message"); err != nil {
		return nil, err
	}
	if m.XMLName.Local != "message" || !isClientNS(m.XMLName.Space) {
		return nil, fmt.Errorf("%w: not a message", ErrMalformed)
	}
	return &m, nil
}

// decodePresence parses one <presence/> stanza.
func decodePresence(b []byte) (*wirePresence, error) {
	var p wirePresence
	if err := decodeStrict(b, &p, "presence"); err != nil {
		return nil, err
	}
	if p.XMLName.Local != "presence" || !isClientNS(p.XMLName.Space) {
		return nil, fmt.Errorf("%w: not a presence", ErrMalformed)
	}
	return &p, nil
}

// decodeIQ parses one <iq/> stanza.
func decodeIQ(b []byte) (*wireIQ, error) {
	var q wireIQ
	if err := decodeStrict(b, &q, "iq"); err != nil {
		return nil, err
	}
	if q.XMLName.Local != "iq" || !isClientNS(q.XMLName.Space) {
		return nil, fmt.Errorf("%w: not an iq", ErrMalformed)
	}
	return &q, nil
}

// body picks the body without xml:lang, else the first one in the client
// namespace.
func (m *wireMessage) body() (string, bool) {
	var first *wireText
	for i := range m.Bodies {
		b := &m.Bodies[i]
		if !isClientNS(b.XMLName.Space) {
			continue
		}
		if b.Lang == "" {
			return b.Text, true
		}
		if first == nil {
			first = b
		}
	}
	if first != nil {
		return first.Text, true
	}
	return "", false
}

// deviceTag returns the tag of the single <device/> element, 0 when absent.
func deviceTag(ds []wireDevice) (uint32, error) {
	switch len(ds) {
	case 0:
		return 0, nil
	case 1:
		return ParseTag(ds[0].Tag)
	}
	return 0, fmt.Errorf("%w: %d <device/> elements", ErrMalformed, len(ds))
}

// otrWhitespaceBase is the OTR whitespace tag's common prefix (OTRv4
// §"Whitespace tags").
const otrWhitespaceBase = "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20"

// isOTR reports whether a message is OTR traffic by its hint or its body.
func isOTR(eme []emeEl, body string) bool {
	for _, e := range eme {
		if e.Namespace == nsOTREME {
			return true
		}
	}
	return strings.HasPrefix(body, "?OTR") || strings.Contains(body, otrWhitespaceBase)
}

func parseStamp(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

func parseShow(typ string, shows []string) (Show, error) {
	if typ == "unavailable" {
		return Unavailable, nil
	}
	if len(shows) > 1 {
		return 0, fmt.Errorf("%w: %d <show/> elements", ErrMalformed, len(shows))
	}
	if len(shows) == 0 {
		return Available, nil
	}
	switch strings.TrimSpace(shows[0]) {
	case "chat":
		return Chat, nil
	case "away":
		return Away, nil
	case "xa":
		return XA, nil
	case "dnd":
		return DND, nil
	}
	return 0, fmt.Errorf("%w: unknown <show/> %q", ErrMalformed, truncate(shows[0]))
}

func parsePriority(ps []string) (int8, error) {
	if len(ps) > 1 {
		return 0, fmt.Errorf("%w: %d <priority/> elements", ErrMalformed, len(ps))
	}
	if len(ps) == 0 {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.TrimSpace(ps[0]), 10, 8)
	if err != nil {
		return 0, fmt.Errorf("%w: priority %q", ErrMalformed, truncate(ps[0]))
	}
	return int8(v), nil
}

// encodeDevice returns <device xmlns='urn:otrchat:otrv4:0' tag='…'/>.
func encodeDevice(tag uint32) ([]byte, error) {
	if tag < MinInstanceTag {
		return nil, fmt.Errorf("%w: %#x", ErrBadTag, tag)
	}
	return xml.Marshal(deviceEl{Tag: FormatTag(tag)})
}

// DecodeDevice parses a standalone <device xmlns='urn:otrchat:otrv4:0'
// tag='…'/> element (no children, no text) and returns its tag.
func DecodeDevice(b []byte) (uint32, error) {
	var d struct {
		XMLName xml.Name
		Tag     *string    `xml:"tag,attr"`
		Attrs   []xml.Attr `xml:",any,attr"`
		Inner   []byte     `xml:",innerxml"`
	}
	if err := decodeStrict(b, &d, "device"); err != nil {
		return 0, err
	}
	if d.XMLName.Space != NS || d.XMLName.Local != "device" {
		return 0, fmt.Errorf("%w: expected <device xmlns='%s'/>", ErrMalformed, NS)
	}
	extra := 0
	for _, a := range d.Attrs {
		if a.Name.Local != "xmlns" && a.Name.Space != "xmlns" {
			extra++
		}
	}
	if len(bytes.TrimSpace(d.Inner)) != 0 || extra != 0 {
		return 0, fmt.Errorf("%w: <device/> has unexpected content", ErrMalformed)
	}
	if d.Tag == nil {
		return 0, fmt.Errorf("%w: <device/> without tag", ErrMalformed)
	}
	return ParseTag(*d.Tag)
}
