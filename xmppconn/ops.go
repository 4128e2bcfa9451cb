package xmppconn

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/history"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// capsEl is the XEP-0115 <c/> element.
type capsEl struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/caps c"`
	Hash    string   `xml:"hash,attr"`
	Node    string   `xml:"node,attr"`
	Ver     string   `xml:"ver,attr"`
}

type outPresence struct {
	XMLName  xml.Name  `xml:"presence"`
	ID       string    `xml:"id,attr,omitempty"`
	To       string    `xml:"to,attr,omitempty"`
	Type     string    `xml:"type,attr,omitempty"`
	Show     string    `xml:"show,omitempty"`
	Status   string    `xml:"status,omitempty"`
	Priority *int8     `xml:"priority,omitempty"`
	Caps     *capsEl   `xml:",omitempty"`
	Device   *deviceEl `xml:",omitempty"`
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

type discoInfoQuery struct {
	XMLName  xml.Name `xml:"http://jabber.org/protocol/disco#info query"`
	Node     string   `xml:"node,attr,omitempty"`
	Identity discoIdentity
	Features []discoFeature
}

// ver is the XEP-0115 §5.1 verification string (one identity, no forms).
func (q discoInfoQuery) ver() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s/%s//%s<", q.Identity.Category, q.Identity.Type, q.Identity.Name)
	vars := make([]string, 0, len(q.Features))
	for _, f := range q.Features {
		vars = append(vars, f.Var)
	}
	slices.Sort(vars)
	for _, v := range vars {
		s.WriteString(v)
		s.WriteByte('<')
	}
	sum := sha1.Sum([]byte(s.String()))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func (c *Client) discoInfo() discoInfoQuery {
	c.mu.Lock()
	extra := slices.Clone(c.features)
	c.mu.Unlock()
	vars := []string{nsDiscoInf, nsCaps, nsPing, nsCarbons, NS}
	for _, f := range extra {
		if !slices.Contains(vars, f) {
			vars = append(vars, f)
		}
	}
	slices.Sort(vars)
	q := discoInfoQuery{Identity: discoIdentity{Category: "client", Type: "pc", Name: "otrchat"}}
	for _, v := range vars {
		q.Features = append(q.Features, discoFeature{Var: v})
	}
	return q
}

func showString(s Show) string {
	switch s {
	case Chat:
		return "chat"
	case Away:
		return "away"
	case XA:
		return "xa"
	case DND:
		return "dnd"
	}
	return ""
}

func (c *Client) sendPresence(ctx context.Context, sess *xmpp.Session) error {
	c.mu.Lock()
	show, status := c.show, c.status
	c.mu.Unlock()
	prio := c.cfg.Priority
	p := outPresence{
		Show: showString(show), Status: status, Priority: &prio,
		Caps: &capsEl{Hash: "sha-1", Node: CapsNode, Ver: c.discoInfo().ver()},
	}
	if c.cfg.InstanceTag != 0 {
		p.Device = &deviceEl{Tag: FormatTag(c.cfg.InstanceTag)}
	}
	return sess.Encode(writeCtx(ctx, c.cfg.RequestTimeout), p)
}

func (c *Client) sendUnavailable(ctx context.Context, sess *xmpp.Session) error {
	return sess.Encode(writeCtx(ctx, c.cfg.RequestTimeout), outPresence{Type: "unavailable"})
}

// SetPresence changes the device's availability (Available, Chat, Away, XA
// or DND) and status text; it is kept across reconnections.
func (c *Client) SetPresence(ctx context.Context, show Show, status string) error {
	if show == Unavailable || show > DND {
		return fmt.Errorf("%w: show %v (stop Run to go offline)", ErrBadArgument, show)
	}
	c.mu.Lock()
	c.show, c.status = show, status
	c.mu.Unlock()
	sess, err := c.Session()
	if err != nil {
		return nil // sent on the next connection
	}
	ctx, cancel := c.reqCtx(ctx)
	defer cancel()
	return c.sendPresence(ctx, sess)
}

// reqCtx bounds ctx by Config.RequestTimeout when it has no deadline, so
// that every network wait has one.
func (c *Client) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.cfg.RequestTimeout)
}

func (c *Client) sendSubscription(ctx context.Context, to jid.JID, typ string) error {
	ctx, cancel := c.reqCtx(ctx)
	defer cancel()
	sess, err := c.Session()
	if err != nil {
		return err
	}
	if to.Localpart() == "" {
		return fmt.Errorf("%w: contact %q has no localpart", ErrBadArgument, to)
	}
	return sess.Encode(writeCtx(ctx, c.cfg.RequestTimeout), outPresence{To: to.Bare().String(), Type: typ, ID: c.newID()})
}

type rosterQuery struct {
	XMLName xml.Name         `xml:"jabber:iq:roster query"`
	Ver     string           `xml:"ver,attr,omitempty"`
	Items   []wireRosterItem `xml:"item"`
}

// AddContact puts a contact in the roster and asks for a presence
// subscription (RFC 6121 §3.1.1). The roster push that follows shows the
// pending request (RosterItem.Ask); the contact's approval arrives as a
// SubscriptionEvent of type Subscribed and a push with subscription "to".
func (c *Client) AddContact(ctx context.Context, contact jid.JID, name string) error {
	ctx, cancel := c.reqCtx(ctx)
	defer cancel()
	sess, err := c.Session()
	if err != nil {
		return err
	}
	if contact.Localpart() == "" {
		return fmt.Errorf("%w: contact %q has no localpart", ErrBadArgument, contact)
	}
	q := rosterQuery{Items: []wireRosterItem{{JID: contact.Bare().String(), Name: name}}}
	if err := sess.UnmarshalIQ(ctx, stanza.IQ{Type: stanza.SetIQ}.Wrap(xmlstream.MultiReader(encodeTokens(q))), nil); err != nil {
		return fmt.Errorf("xmppconn: roster set: %w", err)
	}
	return c.sendSubscription(ctx, contact, "subscribe")
}

// ApproveSubscription lets a contact see this account's presence (RFC 6121
// §3.1.4). For the mutual subscription OTRv4 needs, the contact must also be
// added with AddContact (on either side).
func (c *Client) ApproveSubscription(ctx context.Context, contact jid.JID) error {
	return c.sendSubscription(ctx, contact, "subscribed")
}

// DenySubscription refuses or cancels a contact's subscription.
func (c *Client) DenySubscription(ctx context.Context, contact jid.JID) error {
	return c.sendSubscription(ctx, contact, "unsubscribed")
}

// RemoveContact removes a contact from the roster, cancelling both
// subscriptions (RFC 6121 §2.5).
func (c *Client) RemoveContact(ctx context.Context, contact jid.JID) error {
	ctx, cancel := c.reqCtx(ctx)
	defer cancel()
	sess, err := c.Session()
	if err != nil {
		return err
	}
	q := rosterQuery{Items: []wireRosterItem{{JID: contact.Bare().String(), Subscription: "remove"}}}
	return sess.UnmarshalIQ(ctx, stanza.IQ{Type: stanza.SetIQ}.Wrap(encodeTokens(q)), nil)
}

func (c *Client) fetchRoster(ctx context.Context, sess *xmpp.Session) error {
	var resp rosterQuery
	err := sess.UnmarshalIQ(ctx, stanza.IQ{Type: stanza.GetIQ}.Wrap(encodeTokens(rosterQuery{})), &resp)
	if err != nil {
		return err
	}
	items := make(map[string]RosterItem, len(resp.Items))
	for _, w := range resp.Items {
		it, removed, err := rosterItem(w)
		if err != nil || removed {
			c.countMalformed()
			continue
		}
		items[it.JID.String()] = it
	}
	c.mu.Lock()
	c.roster = items
	ev := c.ev
	c.mu.Unlock()
	if ev != nil {
		for _, it := range items {
			ev.push(&RosterEvent{Item: it})
		}
	}
	return nil
}

type pingEl struct {
	XMLName xml.Name `xml:"urn:xmpp:ping ping"`
}

func (c *Client) ping(ctx context.Context, sess *xmpp.Session) error {
	to := jid.MustParse(c.account.Domainpart())
	return sess.UnmarshalIQ(ctx, stanza.IQ{Type: stanza.GetIQ, To: to}.Wrap(encodeTokens(pingEl{})), nil)
}

// encodeTokens marshals v into a token stream.
func encodeTokens(v any) xml.TokenReader {
	b, err := xml.Marshal(v)
	if err != nil {
		return xmlstream.ReaderFunc(func() (xml.Token, error) { return nil, err })
	}
	d := xml.NewDecoder(strings.NewReader(string(b)))
	return xmlstream.ReaderFunc(func() (xml.Token, error) {
		tok, err := d.Token()
		if start, ok := tok.(xml.StartElement); ok {
			attrs := start.Attr[:0:0]
			for _, a := range start.Attr {
				if a.Name.Local == "xmlns" && a.Name.Space == "" || a.Name.Space == "xmlns" {
					continue
				}
				attrs = append(attrs, a)
			}
			start.Attr = attrs
			tok = start
		}
		return tok, err
	})
}

type mamFin struct {
	XMLName  xml.Name `xml:"urn:xmpp:mam:2 fin"`
	Complete bool     `xml:"complete,attr"`
	Set      struct {
		First string `xml:"first"`
		Last  string `xml:"last"`
		Count *int   `xml:"count"`
	} `xml:"http://jabber.org/protocol/rsm set"`
}

// catchUp fetches from the account's archive (XEP-0313) what arrived after
// the archive position, or, without one, only learns the position. It runs
// after initial presence, so nothing archived in between is missed; live
// copies of the same messages are dropped as duplicates.
//
// Live messages that arrive meanwhile are held back and delivered once the
// catch-up is complete (see deliver); if it fails, they stay held back
// until the next connection's catch-up completes (or Run returns), and the
// archive position stays at the last archived message delivered.
func (c *Client) catchUp(ctx context.Context, sess *xmpp.Session) (err error) {
	c.mu.Lock()
	if !c.posFrozen {
		c.catchingUp = true
	}
	c.mu.Unlock()
	defer func() {
		c.log.Debug("xmppconn: catch-up done", "err", err)
		if err == nil {
			c.flushLive(true)
		}
	}()
	c.mu.Lock()
	after, since := c.archivePos, c.archiveSince
	c.mu.Unlock()
	if after == "" && since.IsZero() {
		// Learn the newest archive id only. Should this fail (the
		// connection drops), the next catch-up starts from the time this
		// client first came online instead, so that nothing archived since
		// is skipped.
		c.mu.Lock()
		c.archiveSince = c.firstOnline
		c.mu.Unlock()
		_, err := c.mamPage(ctx, sess, history.Query{Last: true, Limit: 1}, false)
		if err == nil {
			c.mu.Lock()
			if c.archivePos != "" {
				c.archiveSince = time.Time{}
			}
			c.mu.Unlock()
		}
		return err
	}
	for page := 0; page < mamMaxPages; page++ {
		q := history.Query{Limit: mamPageSize, PageID: after}
		if after == "" {
			q.Start = since
		}
		fin, err := c.mamPage(ctx, sess, q, true)
		var se stanza.Error
		if errors.As(err, &se) && se.Condition == stanza.ItemNotFound && after != "" {
			// The position is no longer in the archive; start from now.
			c.log.Warn("xmppconn: archive position unknown to the server; skipping catch-up", "after", after)
			_, err = c.mamPage(ctx, sess, history.Query{Last: true, Limit: 1}, false)
			return err
		}
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.archiveSince = time.Time{}
		c.mu.Unlock()
		if fin.Complete || fin.Set.Last == "" {
			return nil
		}
		after = fin.Set.Last
	}
	return fmt.Errorf("xmppconn: archive catch-up stopped after %d pages", mamMaxPages)
}

func (c *Client) mamPage(ctx context.Context, sess *xmpp.Session, q history.Query, deliver bool) (mamFin, error) {
	q.ID = c.newID()
	c.mu.Lock()
	c.mamQueries[q.ID] = deliver
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.mamQueries, q.ID)
		c.mu.Unlock()
	}()
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var fin mamFin
	err := sess.UnmarshalIQ(rctx, stanza.IQ{Type: stanza.SetIQ}.Wrap(q.TokenReader()), &fin)
	return fin, err
}
