package xmppconn

import (
	"fmt"
	"testing"
)

func archived(q, id, from, msgID, body, extra string) []byte {
	return []byte(fmt.Sprintf(`<message xmlns='jabber:client'><result xmlns='urn:xmpp:mam:2' queryid='%s' id='%s'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='%s' to='alice@example.org' type='chat' id='%s'><body>%s</body>%s</message></forwarded></result></message>`, q, id, from, msgID, body, extra))
}

func live(id, from, msgID, body string) []byte {
	return []byte(fmt.Sprintf(`<message xmlns='jabber:client' from='%s' type='chat' id='%s'><body>%s</body><stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.org' id='%s'/></message>`, from, msgID, body, id))
}

func bodiesOf(evs []Event) []string {
	var out []string
	for _, e := range evs {
		if m, ok := e.(*MessageEvent); ok {
			out = append(out, m.Body)
		}
	}
	return out
}

// Live messages during a catch-up wait for it, are reported after the
// archive's in order, once, and move the position only when it completes.
func TestCatchUpHoldsLiveBack(t *testing.T) {
	c, drain := testClient(t, laptopTag)
	c.archivePos = "A0"
	c.catchingUp = true
	c.mamQueries["q"] = true
	c.handleMessage(archived("q", "A1", "bob@example.org/x", "m1", "one", ""))
	c.handleMessage(live("A3", "bob@example.org/x", "m3", "three"))
	c.handleMessage(archived("q", "A2", "bob@example.org/x", "m2", "two", ""))
	if got := bodiesOf(drain()); fmt.Sprint(got) != "[one two]" || c.ArchivePosition() != "A2" {
		t.Fatalf("during catch-up: %v, position %q", got, c.ArchivePosition())
	}
	// The catch-up's next page has the live message too.
	c.handleMessage(archived("q", "A3", "bob@example.org/x", "m3", "three", ""))
	c.flushLive(true)
	if got := bodiesOf(drain()); fmt.Sprint(got) != "[three]" || c.ArchivePosition() != "A3" || c.Stats().Duplicates != 1 {
		t.Fatalf("after catch-up: %v, position %q, %+v", got, c.ArchivePosition(), c.Stats())
	}
	// Held back when the connection drops, delivered (without moving the
	// position) when Run stops.
	c.catchingUp = true
	c.handleMessage(live("A9", "bob@example.org/x", "m9", "nine"))
	c.flushLive(false)
	if got := bodiesOf(drain()); fmt.Sprint(got) != "[nine]" || c.ArchivePosition() != "A3" {
		t.Fatalf("stopped during catch-up: %v, position %q", got, c.ArchivePosition())
	}
	// Until a catch-up succeeds, live messages do not move the position.
	c.handleMessage(live("A10", "bob@example.org/x", "m10", "ten"))
	if got := bodiesOf(drain()); fmt.Sprint(got) != "[ten]" || c.ArchivePosition() != "A3" {
		t.Fatalf("after a failed catch-up: %v, position %q", got, c.ArchivePosition())
	}
	c.catchingUp = true
	c.mamQueries["q2"] = true
	c.handleMessage(archived("q2", "A9", "bob@example.org/x", "m9", "nine", ""))
	c.handleMessage(archived("q2", "A10", "bob@example.org/x", "m10", "ten", ""))
	c.flushLive(true)
	c.handleMessage(live("A11", "bob@example.org/x", "m11", "eleven"))
	if got := bodiesOf(drain()); fmt.Sprint(got) != "[eleven]" || c.ArchivePosition() != "A11" {
		t.Fatalf("after a catch-up succeeded again: %v, position %q", got, c.ArchivePosition())
	}
}

// Learning the position does not mark the newest message as seen: its live
// copy, held back meanwhile, is still reported.
func TestLearnPositionKeepsLiveMessage(t *testing.T) {
	c, drain := testClient(t, laptopTag)
	c.catchingUp = true
	c.mamQueries["learn"] = false
	c.handleMessage(live("A1", "bob@example.org/x", "m1", "hello"))
	c.handleMessage(archived("learn", "A1", "bob@example.org/x", "m1", "hello", ""))
	c.flushLive(true)
	if got := bodiesOf(drain()); fmt.Sprint(got) != "[hello]" || c.ArchivePosition() != "A1" {
		t.Fatalf("%v, position %q", got, c.ArchivePosition())
	}
}

// Archived OTR messages from the account's own devices: only those for
// this device are reported.
func TestOwnDeviceArchive(t *testing.T) {
	c, drain := testClient(t, laptopTag)
	c.mamQueries["q"] = true
	forMe := fmt.Sprintf(`<device xmlns='urn:otrchat:otrv4:0' tag='%s'/>`, FormatTag(laptopTag))
	forBob := `<device xmlns='urn:otrchat:otrv4:0' tag='0x2bbb0001'/>`
	c.handleMessage(archived("q", "A1", "alice@example.org/phone", "p1", "?OTR:for-laptop", forMe))
	c.handleMessage(archived("q", "A2", "alice@example.org/phone", "p2", "?OTR:for-bob", forBob))
	c.handleMessage(archived("q", "A3", "alice@example.org/laptop", "l1", "?OTR:mine", forMe))
	c.handleMessage(archived("q", "A4", "alice@example.org/phone", "p3", "plain from phone", ""))
	evs := drain()
	if got := bodiesOf(evs); fmt.Sprint(got) != "[?OTR:for-laptop plain from phone]" || c.ArchivePosition() != "A4" {
		t.Fatalf("%v, position %q", got, c.ArchivePosition())
	}
	if m := evs[0].(*MessageEvent); m.Carbon != NotCarbon || !m.FromArchive || m.ToDevice != laptopTag {
		t.Fatalf("%+v", m.Message)
	}
	if m := evs[1].(*MessageEvent); m.Carbon != CarbonSent {
		t.Fatalf("%+v", m.Message)
	}
}

func TestRequeue(t *testing.T) {
	q := newOutQueue(2)
	m := func(id string) *outMessage { return &outMessage{ID: id} }
	a, b, c, d := m("a"), m("b"), m("c"), m("d")
	if err := q.push(c); err != nil {
		t.Fatal(err)
	}
	if err := q.push(d); err != nil {
		t.Fatal(err)
	}
	// a and b were written and lost; c is also still queued (its write
	// failed): it is not added twice, and the limit does not apply.
	if n := q.requeue([]*outMessage{a, b, c}); n != 2 || q.len() != 4 {
		t.Fatalf("requeued %d, %d queued", n, q.len())
	}
	var got []string
	for q.len() > 0 {
		f, _ := q.front()
		got = append(got, f.ID)
		q.pop(f)
	}
	if fmt.Sprint(got) != "[a b c d]" {
		t.Fatalf("order %v", got)
	}
	select {
	case <-q.empty():
	default:
		t.Fatal("queue not empty")
	}
}
