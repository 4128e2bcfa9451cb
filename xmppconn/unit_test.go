package xmppconn

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// constReader yields one byte forever.
type constReader byte

func (r constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestBackoff(t *testing.T) {
	min, max := 100*time.Millisecond, 1600*time.Millisecond
	lo := newBackoff(min, max, constReader(0))    // jitter 0: half the delay
	hi := newBackoff(min, max, constReader(0xff)) // jitter close to the full delay
	wantCeil := []time.Duration{100, 200, 400, 800, 1600, 1600, 1600}
	for i, c := range wantCeil {
		c *= time.Millisecond
		l, h := lo.next(), hi.next()
		if l != c/2 {
			t.Errorf("attempt %d: low jitter %v, want %v", i, l, c/2)
		}
		if h < c/2 || h > c {
			t.Errorf("attempt %d: high jitter %v outside [%v, %v]", i, h, c/2, c)
		}
	}
	lo.reset()
	if d := lo.next(); d != min/2 {
		t.Errorf("after reset: %v, want %v", d, min/2)
	}
	// Real randomness stays within bounds.
	b := newBackoff(min, max, nil)
	for i := 0; i < 100; i++ {
		if d := b.next(); d < min/2 || d > max {
			t.Fatalf("delay %v outside [%v, %v]", d, min/2, max)
		}
	}
}

func TestQueue(t *testing.T) {
	q := newOutQueue(3)
	select {
	case <-q.empty():
	default:
		t.Fatal("new queue not empty")
	}
	var ms []*outMessage
	for i := 0; i < 3; i++ {
		m := &outMessage{ID: fmt.Sprint(i)}
		ms = append(ms, m)
		if err := q.push(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.push(&outMessage{ID: "x"}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("push to a full queue: %v", err)
	}
	empty := q.empty()
	select {
	case <-empty:
		t.Fatal("queue with items reports empty")
	default:
	}
	// A failed write leaves the front in place; pop of another is a no-op.
	q.pop(ms[1])
	if f, _ := q.front(); f != ms[0] || q.len() != 3 {
		t.Fatalf("front %v, len %d", f.ID, q.len())
	}
	for i := 0; i < 3; i++ {
		f, ok := q.front()
		if !ok || f != ms[i] {
			t.Fatalf("front %d: %v", i, f)
		}
		q.pop(f)
	}
	select {
	case <-empty:
	default:
		t.Fatal("drained queue not signalled empty")
	}
}

func TestTags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"0x00000100", 0x100, true},
		{"0x1234abcd", 0x1234abcd, true},
		{"0xffffffff", 0xffffffff, true},
		{"0x000000ff", 0, false}, // reserved
		{"0x1234ABCD", 0, false}, // not canonical
		{"1234abcd", 0, false},
		{"0x1234abc", 0, false},
		{"0x1234abcde", 0, false},
		{"0x+234abcd", 0, false},
		{"", 0, false},
	} {
		got, err := ParseTag(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseTag(%q) = %#x, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrBadTag) {
			t.Errorf("ParseTag(%q): error %v is not ErrBadTag", tc.in, err)
		}
		if err == nil && FormatTag(got) != tc.in {
			t.Errorf("FormatTag(%#x) = %q", got, FormatTag(got))
		}
	}
}

func TestCapsVer(t *testing.T) {
	// XEP-0115 §5.2 simple generation example.
	q := discoInfoQuery{Identity: discoIdentity{Category: "client", Type: "pc", Name: "Exodus 0.9.1"}}
	for _, v := range []string{"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items",
		"http://jabber.org/protocol/muc", "http://jabber.org/protocol/caps"} {
		q.Features = append(q.Features, discoFeature{Var: v})
	}
	if got := q.ver(); got != "QgayPKawpkPSDYmwT/WM94uAlu0=" {
		t.Fatalf("ver = %q", got)
	}
}

func TestOutMessageHints(t *testing.T) {
	const tag = 0x1234abcd
	for _, tc := range []struct {
		name string
		o    SendOptions
		want []string // elements present
		not  []string // elements absent
	}{
		{"plain", SendOptions{}, nil, []string{"private", "encryption", "no-copy", "no-permanent-store", "store", "device"}},
		{"plain stored", SendOptions{Store: true}, []string{"store"}, []string{"private", "no-permanent-store"}},
		{"otr online", SendOptions{OTR: true, ToDevice: tag},
			[]string{"private", "encryption", "no-copy", "no-permanent-store", "device"}, []string{"store"}},
		{"otr offline device", SendOptions{OTR: true, ToDevice: tag, Store: true},
			[]string{"private", "encryption", "store", "device"}, []string{"no-copy", "no-permanent-store"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := xml.Marshal(newOutMessage("id1", "bob@example.org", "?OTR:AAQD.", tc.o))
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			for _, el := range tc.want {
				if !strings.Contains(s, "<"+el+" ") && !strings.Contains(s, "<"+el+">") {
					t.Errorf("missing <%s/> in %s", el, s)
				}
			}
			for _, el := range tc.not {
				if strings.Contains(s, "<"+el+" ") || strings.Contains(s, "<"+el+">") {
					t.Errorf("unexpected <%s/> in %s", el, s)
				}
			}
			// Our own decoder reads it back.
			w, err := decodeMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := w.body()
			dt, err := deviceTag(w.Devices)
			if body != "?OTR:AAQD." || err != nil || dt != tc.o.ToDevice || w.Type != "chat" || w.ID != "id1" {
				t.Fatalf("decoded %+v (tag %#x, %v)", w, dt, err)
			}
			if isOTR(w.EME, "") != tc.o.OTR {
				t.Errorf("EME hint = %v, want %v", !tc.o.OTR, tc.o.OTR)
			}
		})
	}
}

// testClient is a Client without a network whose events are collected.
func testClient(t testing.TB, tag uint32) (*Client, func() []Event) {
	c, err := New(Config{JID: jid.MustParse("alice@example.org"), Password: "x", InstanceTag: tag})
	if err != nil {
		t.Fatal(err)
	}
	c.ev = newDispatcher(c.log)
	c.local = jid.MustParse("alice@example.org/laptop")
	return c, func() []Event {
		c.ev.mu.Lock()
		defer c.ev.mu.Unlock()
		out := c.ev.items
		c.ev.items = nil
		return out
	}
}

const (
	laptopTag = 0x1aaa0001
	phoneTag  = 0x1aaa0002
)

func TestHandleMessage(t *testing.T) {
	type check func(t *testing.T, evs []Event, st Stats)
	oneMessage := func(pred func(Message) bool) check {
		return func(t *testing.T, evs []Event, st Stats) {
			if len(evs) != 1 {
				t.Fatalf("%d events: %v", len(evs), evs)
			}
			m, ok := evs[0].(*MessageEvent)
			if !ok || !pred(m.Message) {
				t.Fatalf("event %#v", evs[0])
			}
		}
	}
	nothing := func(stat func(Stats) uint64) check {
		return func(t *testing.T, evs []Event, st Stats) {
			if len(evs) != 0 {
				t.Fatalf("unexpected events %v", evs)
			}
			if stat != nil && stat(st) != 1 {
				t.Fatalf("stats %+v", st)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		xml   string
		track map[string]bool
		check check
	}{
		{"plain chat", `<message xmlns='jabber:client' from='bob@example.org/x' to='alice@example.org/laptop' type='chat' id='m1'><body>hi</body></message>`,
			nil, oneMessage(func(m Message) bool {
				return m.Body == "hi" && !m.OTR && m.From.String() == "bob@example.org/x" && m.Carbon == NotCarbon
			})},
		{"no body", `<message xmlns='jabber:client' from='bob@example.org/x' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`,
			nil, nothing(nil)},
		{"otr for me", `<message xmlns='jabber:client' from='bob@example.org/x' type='chat' id='m2'><body>?OTR:AAQD.</body><device xmlns='urn:otrchat:otrv4:0' tag='0x1aaa0001'/></message>`,
			nil, oneMessage(func(m Message) bool { return m.OTR && m.ToDevice == laptopTag })},
		{"otr for the phone", `<message xmlns='jabber:client' from='bob@example.org/x' type='chat' id='m3'><body>?OTR:AAQD.</body><device xmlns='urn:otrchat:otrv4:0' tag='0x1aaa0002'/></message>`,
			nil, nothing(func(s Stats) uint64 { return s.OtherDevice })},
		{"two device elements", `<message xmlns='jabber:client' from='bob@example.org/x' type='chat'><body>?OTR:x</body><device xmlns='urn:otrchat:otrv4:0' tag='0x1aaa0001'/><device xmlns='urn:otrchat:otrv4:0' tag='0x1aaa0002'/></message>`,
			nil, nothing(func(s Stats) uint64 { return s.Malformed })},
		{"otr carbon", `<message xmlns='jabber:client' to='alice@example.org/laptop'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='bob@example.org/x' to='alice@example.org/phone' type='chat'><body>?OTR:AAQD.</body></message></forwarded></received></message>`,
			nil, nothing(func(s Stats) uint64 { return s.OTRCarbons })},
		{"otr carbon by hint only", `<message xmlns='jabber:client' to='alice@example.org/laptop'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' to='bob@example.org/x' type='chat'><body>[encrypted]</body><encryption xmlns='urn:xmpp:eme:0' namespace='urn:xmpp:otr:0'/></message></forwarded></sent></message>`,
			nil, nothing(func(s Stats) uint64 { return s.OTRCarbons })},
		{"plain carbon sent", `<message xmlns='jabber:client' to='alice@example.org/laptop'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@example.org/phone' to='bob@example.org' type='chat' id='c1'><body>lunch?</body></message></forwarded></sent></message>`,
			nil, oneMessage(func(m Message) bool { return m.Carbon == CarbonSent && m.Body == "lunch?" })},
		{"forged carbon", `<message xmlns='jabber:client' from='mallory@example.org/x' to='alice@example.org/laptop'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='bob@example.org/x' type='chat'><body>fake</body></message></forwarded></received></message>`,
			nil, nothing(nil)},
		{"archive result untracked", `<message xmlns='jabber:client'><result xmlns='urn:xmpp:mam:2' queryid='q0' id='A1'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2026-11-23T10:00:00Z'/><message xmlns='jabber:client' from='bob@example.org/x' type='chat'><body>old</body></message></forwarded></result></message>`,
			nil, nothing(nil)},
		{"archive result", `<message xmlns='jabber:client'><result xmlns='urn:xmpp:mam:2' queryid='q1' id='A1'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2026-11-23T10:00:00Z'/><message xmlns='jabber:client' from='bob@example.org/x' type='chat'><body>old</body></message></forwarded></result></message>`,
			map[string]bool{"q1": true}, oneMessage(func(m Message) bool {
				return m.FromArchive && m.ArchiveID == "A1" && m.Delayed && m.Stamp.Equal(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
			})},
		{"archive result from a stranger", `<message xmlns='jabber:client' from='mallory@example.org'><result xmlns='urn:xmpp:mam:2' queryid='q1' id='A1'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='bob@example.org/x' type='chat'><body>old</body></message></forwarded></result></message>`,
			map[string]bool{"q1": true}, nothing(nil)},
		{"pep", `<message xmlns='jabber:client' from='bob@example.org' type='headline'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:otrchat:otrv4:devices:0'><item id='current'><devices xmlns='urn:otrchat:otrv4:0'><device tag='0x2bbb0001'/></devices></item></items></event></message>`,
			nil, func(t *testing.T, evs []Event, st Stats) {
				if len(evs) != 1 {
					t.Fatalf("%d events", len(evs))
				}
				e, ok := evs[0].(*PEPEvent)
				if !ok || e.From.String() != "bob@example.org" || e.Node != "urn:otrchat:otrv4:devices:0" || len(e.Items) != 1 ||
					e.Items[0].ID != "current" || !bytes.Contains(e.Items[0].Payload, []byte("0x2bbb0001")) {
					t.Fatalf("event %#v", evs[0])
				}
			}},
		{"pep delete and purge", `<message xmlns='jabber:client' from='alice@example.org' type='headline'><event xmlns='http://jabber.org/protocol/pubsub#event'><delete node='urn:xmpp:otr:1:devices'/><purge node='urn:xmpp:otr:1:devices'/><purge/></event></message>`,
			nil, func(t *testing.T, evs []Event, st Stats) {
				if len(evs) != 2 || st.Malformed != 1 {
					t.Fatalf("%d events, %d malformed", len(evs), st.Malformed)
				}
				d, ok1 := evs[0].(*PEPEvent)
				p, ok2 := evs[1].(*PEPEvent)
				if !ok1 || !ok2 || !d.Deleted || d.Purged || p.Deleted || !p.Purged || d.Node != "urn:xmpp:otr:1:devices" ||
					p.Node != d.Node || d.From.String() != "alice@example.org" || len(d.Items)+len(p.Items) != 0 {
					t.Fatalf("events %#v %#v", evs[0], evs[1])
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, drain := testClient(t, laptopTag)
			for q, d := range tc.track {
				c.mamQueries[q] = d
			}
			c.handleMessage([]byte(tc.xml))
			tc.check(t, drain(), c.Stats())
		})
	}
}

func TestDuplicateArchiveAndLive(t *testing.T) {
	c, drain := testClient(t, laptopTag)
	live := `<message xmlns='jabber:client' from='bob@example.org/x' type='chat' id='m9'><body>?OTR:x</body><stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.org' id='A9'/><delay xmlns='urn:xmpp:delay' stamp='2026-11-23T10:00:00Z'/></message>`
	c.handleMessage([]byte(live))
	c.mamQueries["q"] = true
	c.handleMessage([]byte(`<message xmlns='jabber:client'><result xmlns='urn:xmpp:mam:2' queryid='q' id='A9'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='bob@example.org/x' type='chat' id='m9'><body>?OTR:x</body></message></forwarded></result></message>`))
	evs := drain()
	if len(evs) != 1 || c.Stats().Duplicates != 1 || c.ArchivePosition() != "A9" {
		t.Fatalf("events %v, stats %+v, position %q", evs, c.Stats(), c.ArchivePosition())
	}
	if m := evs[0].(*MessageEvent); !m.Delayed || m.ArchiveID != "A9" {
		t.Fatalf("%+v", m)
	}
	// A stanza-id claimed by someone else is not an archive id.
	c.handleMessage([]byte(`<message xmlns='jabber:client' from='bob@example.org/x' type='chat' id='m10'><body>x</body><stanza-id xmlns='urn:xmpp:sid:0' by='bob@example.org' id='B1'/></message>`))
	if evs := drain(); len(evs) != 1 || evs[0].(*MessageEvent).ArchiveID != "" {
		t.Fatalf("foreign stanza-id accepted: %v", evs)
	}
}

func TestHandlePresence(t *testing.T) {
	c, drain := testClient(t, laptopTag)
	c.handlePresence([]byte(`<presence xmlns='jabber:client' from='bob@example.org/p'><show>dnd</show><status>busy</status><priority>5</priority><device xmlns='urn:otrchat:otrv4:0' tag='0x2bbb0001'/></presence>`))
	c.handlePresence([]byte(`<presence xmlns='jabber:client' from='bob@example.org/q'/>`))
	ps := c.Presences(jid.MustParse("bob@example.org"))
	if len(ps) != 2 || ps[0].Show != DND || ps[0].Status != "busy" || ps[0].Priority != 5 || ps[0].Tag != 0x2bbb0001 ||
		ps[1].Show != Available || ps[1].Tag != 0 {
		t.Fatalf("presences %+v", ps)
	}
	c.handlePresence([]byte(`<presence xmlns='jabber:client' from='bob@example.org/p' type='unavailable'/>`))
	if ps := c.Presences(jid.MustParse("bob@example.org")); len(ps) != 1 {
		t.Fatalf("after unavailable: %+v", ps)
	}
	c.handlePresence([]byte(`<presence xmlns='jabber:client' from='carol@example.org' type='subscribe'/>`))
	c.handlePresence([]byte(`<presence xmlns='jabber:client' from='bob@example.org/r'><show>sleepy</show></presence>`))
	c.handlePresence([]byte(`<presence xmlns='jabber:client' from='bob@example.org/r'><priority>300</priority></presence>`))
	evs := drain()
	if len(evs) != 4 {
		t.Fatalf("events %v", evs)
	}
	if u := evs[2].(*PresenceEvent); u.Show != Unavailable || u.Tag != 0x2bbb0001 {
		t.Fatalf("unavailable event %+v", u)
	}
	if s := evs[3].(*SubscriptionEvent); s.Type != Subscribe || s.From.String() != "carol@example.org" {
		t.Fatalf("subscription event %+v", s)
	}
	if c.Stats().Malformed != 2 {
		t.Fatalf("malformed = %d, want 2", c.Stats().Malformed)
	}
}

func TestDecodeDevice(t *testing.T) {
	b, err := encodeDevice(0x1234abcd)
	if err != nil {
		t.Fatal(err)
	}
	if tag, err := DecodeDevice(b); err != nil || tag != 0x1234abcd {
		t.Fatalf("%#x, %v", tag, err)
	}
	for _, bad := range []string{
		`<device xmlns='urn:otrchat:otrv4:0'/>`,
		`<device xmlns='urn:other' tag='0x1234abcd'/>`,
		`<device xmlns='urn:otrchat:otrv4:0' tag='0x1234abcd' extra='1'/>`,
		`<device xmlns='urn:otrchat:otrv4:0' tag='0x1234abcd'>text</device>`,
		`<device xmlns='urn:otrchat:otrv4:0' tag='0x1234abcd'/><x/>`,
		`<device xmlns='urn:otrchat:otrv4:0' tag='0x00000001'/>`,
	} {
		if _, err := DecodeDevice([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	if _, err := encodeDevice(5); !errors.Is(err, ErrBadTag) {
		t.Fatalf("encodeDevice(5): %v", err)
	}
}

func TestReadElement(t *testing.T) {
	in := `<message xmlns='jabber:client' xmlns:x='urn:x' from='a@b/c' xml:lang='en'><body>a &amp; b</body><!-- c --><x:y z='1'><w/></x:y></message>`
	d := xml.NewDecoder(strings.NewReader(in))
	tok, _ := d.Token()
	start := tok.(xml.StartElement)
	out, err := readElement(d, &start)
	if err != nil {
		t.Fatal(err)
	}
	w, err := decodeMessage(out)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := w.body(); b != "a & b" || w.From != "a@b/c" {
		t.Fatalf("%s -> %+v", out, w)
	}
	if bytes.Contains(out, []byte("<!--")) {
		t.Fatalf("comment kept: %s", out)
	}
	// Size bound.
	big := "<message xmlns='jabber:client'><body>" + strings.Repeat("x", MaxStanzaSize) + "</body></message>"
	d = xml.NewDecoder(strings.NewReader(big))
	tok, _ = d.Token()
	start = tok.(xml.StartElement)
	if _, err := readElement(d, &start); !errors.Is(err, errTooLarge) {
		t.Fatalf("oversized stanza: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	good := Config{JID: jid.MustParse("alice@example.org"), Password: "x"}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no localpart":  func(c *Config) { c.JID = jid.MustParse("example.org") },
		"no password":   func(c *Config) { c.Password = "" },
		"reserved tag":  func(c *Config) { c.InstanceTag = 0xff },
		"negative size": func(c *Config) { c.QueueSize = -1 },
		"min > max":     func(c *Config) { c.MinBackoff, c.MaxBackoff = time.Second, time.Millisecond },
	} {
		c := good
		mut(&c)
		if _, err := New(c); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestSendChatQueueFull(t *testing.T) {
	c, err := New(Config{JID: jid.MustParse("alice@example.org"), Password: "x", QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	bob := jid.MustParse("bob@example.org")
	for i := 0; i < 2; i++ {
		if _, err := c.SendChat(ctx, bob, fmt.Sprint("m", i), SendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SendChat(ctx, bob, "m2", SendOptions{}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third message: %v, want ErrQueueFull", err)
	}
	if _, err := c.SendChat(ctx, bob, "", SendOptions{}); !errors.Is(err, ErrBadArgument) {
		t.Fatalf("empty body: %v", err)
	}
	if _, err := c.SendChat(ctx, bob, "x", SendOptions{ToDevice: 7}); !errors.Is(err, ErrBadTag) {
		t.Fatalf("reserved tag: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := c.Flush(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush while disconnected: %v", err)
	}
	if _, err := c.Session(); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Session while disconnected: %v", err)
	}
}
