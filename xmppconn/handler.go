package xmppconn

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/xmppconn/internal/sm"
)

// limitedBuffer is a bytes.Buffer that refuses to grow past max.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

var errTooLarge = errors.New("xmppconn: stanza too large")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errTooLarge
	}
	return b.Buffer.Write(p)
}

// readElement re-encodes the element that starts with start (whose inner
// tokens, end element included, come from r) into bytes. Namespace
// declarations are dropped from the attributes: the encoder writes the
// namespace of each element itself.
func readElement(r xml.TokenReader, start *xml.StartElement) ([]byte, error) {
	buf := &limitedBuffer{max: MaxStanzaSize}
	e := xml.NewEncoder(buf)
	clean := func(s xml.StartElement) xml.StartElement {
		attrs := s.Attr[:0:0]
		for _, a := range s.Attr {
			if a.Name.Local == "xmlns" && a.Name.Space == "" || a.Name.Space == "xmlns" {
				continue
			}
			attrs = append(attrs, a)
		}
		s.Attr = attrs
		return s
	}
	if err := e.EncodeToken(clean(*start)); err != nil {
		return nil, err
	}
	depth := 1
	for depth > 0 {
		tok, err := r.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			tok = clean(t)
		case xml.EndElement:
			depth--
		case xml.CharData:
		default:
			continue // comments, processing instructions, directives
		}
		if err := e.EncodeToken(tok); err != nil {
			return nil, err
		}
	}
	if depth > 0 {
		if err := e.EncodeToken(xml.EndElement{Name: start.Name}); err != nil {
			return nil, err
		}
	}
	if err := e.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// handler returns the session's top-level handler. It runs on the session's
// read goroutine and must never wait for the network.
func (c *Client) handler(sess *xmpp.Session, sc *smConn) xmpp.HandlerFunc {
	return func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		if start.Name.Space == sm.NS {
			return c.handleSM(t, start, sc)
		}
		b, err := readElement(t, start)
		if err != nil {
			c.log.Warn("xmppconn: unreadable stanza dropped", "element", start.Name.Local, "err", err)
			c.countMalformed()
			return nil
		}
		switch start.Name.Local {
		case "message":
			c.handleMessage(b)
		case "presence":
			c.handlePresence(b)
		case "iq":
			return c.handleIQ(t, b)
		}
		return nil
	}
}

func (c *Client) countMalformed() {
	c.mu.Lock()
	c.stats.Malformed++
	c.mu.Unlock()
}

// fromOwnAccount reports whether a from attribute names the account itself
// (mellium rewrites the account's bare JID to "").
func (c *Client) fromOwnAccount(from string) bool {
	if from == "" {
		return true
	}
	j, err := jid.Parse(from)
	return err == nil && j.Equal(c.account)
}

// ownStanzaID returns the XEP-0359 stanza-id the account's archive gave a
// message (by='<account bare JID>'), or "".
func (c *Client) ownStanzaID(ids []wireStanzaID) string {
	for _, s := range ids {
		if s.By == "" || s.ID == "" {
			continue
		}
		if j, err := jid.Parse(s.By); err == nil && j.Equal(c.account) {
			return s.ID
		}
	}
	return ""
}

func (c *Client) parseFrom(from string) (jid.JID, error) {
	if from == "" {
		return c.account, nil
	}
	j, err := jid.Parse(from)
	if err != nil {
		return jid.JID{}, fmt.Errorf("%w: from %q: %v", ErrMalformed, truncate(from), err)
	}
	return j, nil
}

func (c *Client) handleMessage(b []byte) {
	w, err := decodeMessage(b)
	if err != nil {
		c.log.Debug("xmppconn: message dropped", "err", err)
		c.countMalformed()
		return
	}
	if w.Type == "error" {
		c.log.Debug("xmppconn: message error", "from", w.From, "id", w.ID)
		c.mu.Lock()
		ours := w.ID != "" && c.sentIDs.has(w.ID)
		c.mu.Unlock()
		if ours {
			to, _ := jid.Parse(w.From)
			c.emit(&DeliveryEvent{ID: w.ID, To: to, Status: DeliveryFailed,
				Err: fmt.Errorf("xmppconn: the server returned an error for message %s", truncate(w.ID))})
		}
		return
	}
	switch {
	case w.Event != nil:
		c.handlePEP(w)
	case w.Result != nil:
		c.handleArchived(w)
	case w.Received != nil || w.Sent != nil:
		c.handleCarbon(w)
	default:
		archiveID := c.ownStanzaID(w.StanzaIDs)
		m, ok := c.interpret(w, archiveID)
		if !ok {
			return
		}
		if w.Delay != nil {
			m.Delayed = true
			m.Stamp, _ = parseStamp(w.Delay.Stamp)
		}
		c.deliver(m, false)
	}
}

// interpret turns a wire message into a Message; ok is false for messages
// without a body or with bad addresses.
func (c *Client) interpret(w *wireMessage, archiveID string) (Message, bool) {
	body, ok := w.body()
	if !ok {
		return Message{}, false
	}
	from, err := c.parseFrom(w.From)
	if err != nil {
		c.countMalformed()
		return Message{}, false
	}
	var to jid.JID
	if w.To != "" {
		if to, err = jid.Parse(w.To); err != nil {
			c.countMalformed()
			return Message{}, false
		}
	}
	tag, err := deviceTag(w.Devices)
	if err != nil {
		c.log.Debug("xmppconn: bad device element", "err", err)
		c.countMalformed()
		return Message{}, false
	}
	typ := w.Type
	if typ == "" {
		typ = "normal"
	}
	return Message{
		ID: w.ID, From: from, To: to, Type: typ, Body: body, Thread: w.Thread,
		OTR: isOTR(w.EME, body), ToDevice: tag, ArchiveID: archiveID,
	}, true
}

// deliver applies the per-device and duplicate rules and emits the
// message. Live messages that arrive while the archive is caught up on
// wait until it is done (flushLive), so that they are reported after the
// older archived ones and the archive position never passes a message that
// was not handed over.
func (c *Client) deliver(m Message, fromArchive bool) {
	c.mu.Lock()
	if c.catchingUp && !fromArchive && len(c.liveBuf) < maxLiveBuffer {
		c.liveBuf = append(c.liveBuf, m)
		c.mu.Unlock()
		return
	}
	c.deliverLocked(m, fromArchive, true)
}

// flushLive delivers the live messages held back during a catch-up. After
// a complete catch-up (moved) they move the archive position; when Run
// stops during one they are delivered without moving it, so that the next
// catch-up starts where the archive's delivery stopped.
func (c *Client) flushLive(moved bool) {
	c.mu.Lock()
	buf := c.liveBuf
	c.liveBuf = nil
	c.catchingUp = false
	// After a failed catch-up the position stays where the archive's
	// delivery stopped until one succeeds.
	c.posFrozen = !moved
	c.mu.Unlock()
	for _, m := range buf {
		c.mu.Lock()
		c.deliverLocked(m, false, moved)
	}
}

// deliverLocked is deliver with c.mu held; it unlocks it.
func (c *Client) deliverLocked(m Message, fromArchive, move bool) {
	if m.ArchiveID != "" && move && (fromArchive || !c.posFrozen) {
		c.archivePos = m.ArchiveID
	}
	dupKeys := make([]string, 0, 2)
	if m.ArchiveID != "" {
		dupKeys = append(dupKeys, "a:"+m.ArchiveID)
	}
	if m.ID != "" {
		dupKeys = append(dupKeys, "m:"+m.From.Bare().String()+"\x00"+m.ID)
	}
	dup := false
	for _, k := range dupKeys {
		if !c.seen.add(k) {
			dup = true
		}
	}
	if dup {
		c.stats.Duplicates++
		c.mu.Unlock()
		return
	}
	if m.ToDevice != 0 && c.cfg.InstanceTag != 0 && m.ToDevice != c.cfg.InstanceTag {
		c.stats.OtherDevice++
		c.mu.Unlock()
		c.log.Debug("xmppconn: message for another device dropped", "to_device", FormatTag(m.ToDevice))
		return
	}
	ev := c.ev
	c.mu.Unlock()
	m.FromArchive = fromArchive
	if ev != nil {
		ev.push(&MessageEvent{Message: m})
	}
}

func (c *Client) handleCarbon(w *wireMessage) {
	if !c.fromOwnAccount(w.From) {
		c.log.Warn("xmppconn: forged carbon dropped", "from", w.From)
		return
	}
	kind, wrap := CarbonReceived, w.Received
	if w.Sent != nil {
		kind, wrap = CarbonSent, w.Sent
	}
	if wrap == nil || wrap.Forwarded == nil || wrap.Forwarded.Message == nil {
		c.countMalformed()
		return
	}
	inner := wrap.Forwarded.Message
	m, ok := c.interpret(inner, "")
	if !ok {
		return
	}
	m.ArchiveID = c.ownStanzaID(inner.StanzaIDs)
	if m.OTR {
		// XEP-0364 "Routing": carbon copies of OTR messages are ignored.
		c.mu.Lock()
		c.stats.OTRCarbons++
		c.mu.Unlock()
		return
	}
	m.Carbon = kind
	c.deliver(m, false)
}

func (c *Client) handleArchived(w *wireMessage) {
	if !c.fromOwnAccount(w.From) {
		c.log.Warn("xmppconn: archive result from a stranger dropped", "from", w.From)
		return
	}
	r := w.Result
	c.mu.Lock()
	deliverIt, tracked := c.mamQueries[r.QueryID]
	c.mu.Unlock()
	if !tracked {
		return
	}
	if r.ID == "" || r.Forwarded == nil || r.Forwarded.Message == nil {
		c.countMalformed()
		return
	}
	if !deliverIt {
		// Learning the position only. The message is not marked as seen:
		// its live copy may be waiting in liveBuf.
		c.mu.Lock()
		c.archivePos = r.ID
		c.mu.Unlock()
		return
	}
	inner := r.Forwarded.Message
	m, ok := c.interpret(inner, r.ID)
	if !ok {
		c.mu.Lock()
		c.archivePos = r.ID
		c.mu.Unlock()
		return
	}
	if r.Forwarded.Delay != nil {
		m.Delayed = true
		m.Stamp, _ = parseStamp(r.Forwarded.Delay.Stamp)
	}
	if m.From.Bare().Equal(c.account) {
		// Our own OTR traffic is not news to this device, except what
		// another of our devices addressed to this one; nor are our own
		// plaintext messages. Other devices' plaintext is a sent carbon.
		forUs := m.OTR && c.cfg.InstanceTag != 0 && m.ToDevice == c.cfg.InstanceTag
		if m.From.Equal(c.LocalAddr()) || m.OTR && !forUs {
			c.mu.Lock()
			c.archivePos = r.ID
			c.seen.add("a:" + r.ID)
			c.mu.Unlock()
			return
		}
		if !m.OTR {
			m.Carbon = CarbonSent
		}
	}
	c.deliver(m, true)
}

func (c *Client) handlePEP(w *wireMessage) {
	from, err := c.parseFrom(w.From)
	if err != nil {
		c.countMalformed()
		return
	}
	for _, its := range w.Event.Items {
		if its.Node == "" {
			c.countMalformed()
			continue
		}
		e := &PEPEvent{From: from.Bare(), Node: its.Node}
		for _, it := range its.Items {
			e.Items = append(e.Items, PEPItem{ID: it.ID, Payload: bytes.TrimSpace(it.Inner)})
		}
		for _, r := range its.Retract {
			e.Retracted = append(e.Retracted, r.ID)
		}
		c.emit(e)
	}
	// XEP-0060 §8.4.2 and §8.5.2: the node was deleted or purged.
	for _, d := range w.Event.Delete {
		if d.Node == "" {
			c.countMalformed()
			continue
		}
		c.emit(&PEPEvent{From: from.Bare(), Node: d.Node, Deleted: true})
	}
	for _, p := range w.Event.Purge {
		if p.Node == "" {
			c.countMalformed()
			continue
		}
		c.emit(&PEPEvent{From: from.Bare(), Node: p.Node, Purged: true})
	}
}

func (c *Client) handlePresence(b []byte) {
	w, err := decodePresence(b)
	if err != nil {
		c.log.Debug("xmppconn: presence dropped", "err", err)
		c.countMalformed()
		return
	}
	from, err := c.parseFrom(w.From)
	if err != nil {
		c.countMalformed()
		return
	}
	switch w.Type {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		t := map[string]SubscriptionType{"subscribe": Subscribe, "subscribed": Subscribed,
			"unsubscribe": Unsubscribe, "unsubscribed": Unsubscribed}[w.Type]
		c.emit(&SubscriptionEvent{From: from.Bare(), Type: t})
		return
	case "", "unavailable":
	default: // probe, error
		return
	}
	show, err := parseShow(w.Type, w.Show)
	if err != nil {
		c.countMalformed()
		return
	}
	prio, err := parsePriority(w.Priority)
	if err != nil {
		c.countMalformed()
		return
	}
	tag, err := deviceTag(w.Devices)
	if err != nil {
		c.countMalformed()
		return
	}
	status := ""
	for _, s := range w.Status {
		if s.Lang == "" || status == "" {
			status = s.Text
		}
	}
	p := Presence{From: from, Show: show, Status: status, Priority: prio, Tag: tag}
	var events []Event
	c.mu.Lock()
	if show == Unavailable {
		if from.Resourcepart() == "" {
			for k, old := range c.presences {
				if old.From.Bare().Equal(from) {
					delete(c.presences, k)
					events = append(events, &PresenceEvent{Presence: Presence{From: old.From, Show: Unavailable, Tag: old.Tag}})
				}
			}
		} else {
			if old, ok := c.presences[from.String()]; ok {
				p.Tag = old.Tag
				delete(c.presences, from.String())
			}
			events = append(events, &PresenceEvent{Presence: p})
		}
	} else if from.Resourcepart() != "" {
		c.presences[from.String()] = p
		events = append(events, &PresenceEvent{Presence: p})
	}
	ev := c.ev
	c.mu.Unlock()
	if ev != nil {
		for _, e := range events {
			ev.push(e)
		}
	}
}

type iqReply struct {
	XMLName xml.Name `xml:"iq"`
	Type    string   `xml:"type,attr"`
	ID      string   `xml:"id,attr"`
	To      string   `xml:"to,attr,omitempty"`
	Payload any
}

// stanzaError is the <error/> child of an error reply (RFC 6120 §8.3).
type stanzaError struct {
	XMLName   xml.Name `xml:"error"`
	Type      string   `xml:"type,attr"`
	Condition conditionEl
}

type conditionEl struct{ XMLName xml.Name }

// nsStanzas is the namespace of stanza error conditions.
const nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"

func (c *Client) handleIQ(t xmlstream.TokenReadEncoder, b []byte) error {
	q, err := decodeIQ(b)
	if err != nil {
		c.countMalformed()
		return nil // mellium answers unanswered get/set with an error
	}
	reply := func(payload any) error {
		return t.Encode(iqReply{Type: "result", ID: q.ID, To: q.From, Payload: payload})
	}
	switch {
	case q.Type == "set" && q.Roster != nil:
		if !c.fromOwnAccount(q.From) || len(q.Roster.Items) != 1 {
			return nil
		}
		it, removed, err := rosterItem(q.Roster.Items[0])
		if err != nil {
			c.countMalformed()
			return nil
		}
		c.mu.Lock()
		if removed {
			delete(c.roster, it.JID.String())
		} else {
			c.roster[it.JID.String()] = it
		}
		c.mu.Unlock()
		c.emit(&RosterEvent{Item: it, Removed: removed})
		return reply(nil)
	case q.Type == "get" && q.DiscoInfo != nil:
		info := c.discoInfo()
		node := q.DiscoInfo.Node
		if node != "" && node != CapsNode+"#"+info.ver() {
			// XEP-0030 §3.1: a node the entity does not have (an old caps
			// hash included) is item-not-found.
			return t.Encode(iqReply{Type: "error", ID: q.ID, To: q.From,
				Payload: stanzaError{Type: "cancel", Condition: conditionEl{XMLName: xml.Name{Space: nsStanzas, Local: "item-not-found"}}}})
		}
		info.Node = node
		return reply(info)
	case q.Type == "get" && q.Ping != nil:
		return reply(nil)
	}
	return nil
}

func rosterItem(w wireRosterItem) (RosterItem, bool, error) {
	j, err := jid.Parse(w.JID)
	if err != nil {
		return RosterItem{}, false, fmt.Errorf("%w: roster jid: %v", ErrMalformed, err)
	}
	sub := w.Subscription
	switch sub {
	case "":
		sub = "none"
	case "none", "to", "from", "both", "remove":
	default:
		return RosterItem{}, false, fmt.Errorf("%w: subscription %q", ErrMalformed, truncate(sub))
	}
	if w.Ask != "" && w.Ask != "subscribe" {
		return RosterItem{}, false, fmt.Errorf("%w: ask %q", ErrMalformed, truncate(w.Ask))
	}
	return RosterItem{JID: j.Bare(), Name: w.Name, Subscription: sub, Ask: w.Ask == "subscribe", Groups: w.Groups}, sub == "remove", nil
}
