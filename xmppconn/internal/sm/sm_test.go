package sm

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want any
	}{
		{`<r xmlns='urn:xmpp:sm:3'/>`, Request{}},
		{`<a xmlns='urn:xmpp:sm:3' h='0'/>`, Ack{H: 0}},
		{`<a xmlns='urn:xmpp:sm:3' h='4294967295'/>`, Ack{H: 4294967295}},
		{`<enabled xmlns='urn:xmpp:sm:3' id='some-long-sm-id' resume='true'/>`, Enabled{ID: "some-long-sm-id", Resume: true}},
		{`<enabled xmlns='urn:xmpp:sm:3' id='x' resume='1' max='300' location='[::1]:5222'/>`, Enabled{ID: "x", Resume: true, Max: 300, Location: "[::1]:5222"}},
		{`<enabled xmlns='urn:xmpp:sm:3'/>`, Enabled{}},
		{`<resumed xmlns='urn:xmpp:sm:3' h='12' previd='abc'/>`, Resumed{PrevID: "abc", H: 12}},
		{`<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`, Failed{Condition: "item-not-found"}},
		{`<failed xmlns='urn:xmpp:sm:3' h='7'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>x</text></failed>`, Failed{HasH: true, H: 7, Condition: "unexpected-request"}},
	} {
		got, err := Parse([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.in, got, tc.want)
		}
		// And back.
		b, err := Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(b)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%s: re-encoded %s parses as %#v, %v", tc.in, b, again, err)
		}
	}
	for _, bad := range []string{
		``,
		`<a h='1'/>`, // no namespace
		`<a xmlns='urn:xmpp:sm:2' h='1'/>`,
		`<a xmlns='urn:xmpp:sm:3'/>`,
		`<a xmlns='urn:xmpp:sm:3' h='-1'/>`,
		`<a xmlns='urn:xmpp:sm:3' h='+1'/>`,
		`<a xmlns='urn:xmpp:sm:3' h='01'/>`,
		`<a xmlns='urn:xmpp:sm:3' h='4294967296'/>`,
		`<a xmlns='urn:xmpp:sm:3' h='1' x='y'/>`,
		`<a xmlns='urn:xmpp:sm:3' h='1'>text</a>`,
		`<a xmlns='urn:xmpp:sm:3' h='1'><b/></a>`,
		`<a xmlns='urn:xmpp:sm:3' h='1'/><r xmlns='urn:xmpp:sm:3'/>`,
		`<r xmlns='urn:xmpp:sm:3' h='1'/>`,
		`<enabled xmlns='urn:xmpp:sm:3' resume='true'/>`, // resumable without id
		`<enabled xmlns='urn:xmpp:sm:3' id='x' resume='yes'/>`,
		`<enabled xmlns='urn:xmpp:sm:3' id='` + strings.Repeat("x", 1025) + `'/>`,
		`<enabled xmlns='urn:xmpp:sm:3' id='a&#x1;b'/>`,
		`<resumed xmlns='urn:xmpp:sm:3' h='1'/>`,
		`<resume xmlns='urn:xmpp:sm:3' h='1' previd='x'/>`, // the client's element
		`<failed xmlns='urn:xmpp:sm:3' h='x'/>`,
		`<a xmlns='urn:xmpp:sm:3' h='1'`,
		"<a xmlns='urn:xmpp:sm:3' h='1'/>" + strings.Repeat(" ", maxElement),
		"\xff",
	} {
		if v, err := Parse([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: got %#v, %v; want ErrMalformed", bad, v, err)
		}
	}
}

// scan feeds the scanner in chunks of size n and returns what it reported.
func scan(s *Scanner, b []byte, n int) (starts []string, ends []Element, headers int, err error) {
	s.Start = func(name string) { starts = append(starts, name) }
	s.End = func(e Element) { ends = append(ends, e) }
	s.Header = func() { headers++ }
	for len(b) > 0 && err == nil {
		k := min(n, len(b))
		_, err = s.Write(b[:k])
		b = b[k:]
	}
	return
}

const stream = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' version='1.0'>`

func TestScanner(t *testing.T) {
	in := stream +
		`<stream:features><sm xmlns='urn:xmpp:sm:3'/></stream:features>` +
		`<!-- a comment with <tags> and -- dashes --><?pi <x> ?>` +
		`<message id="m1" to='b@x'><body>a &lt; b <![CDATA[ <not a="tag"> ]]></body></message> ` +
		`<iq type='result' id='i1'/>` + "\n" +
		`<r xmlns='urn:xmpp:sm:3'/>` +
		`<presence id = 'p1' ><x a="/>"/></presence>` +
		`<enabled xmlns='urn:xmpp:sm:3' id='x' resume='true'/>` +
		// A restart after SASL.
		`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>` +
		`<message id='` + strings.Repeat("x", maxID+1) + `'/>` +
		`</stream:stream>`
	for _, n := range []int{1, 2, 3, 7, 64, len(in)} {
		var s Scanner
		s.KeepRaw = true
		starts, ends, headers, err := scan(&s, []byte(in), n)
		if err != nil {
			t.Fatalf("chunks of %d: %v", n, err)
		}
		if headers != 2 || s.Depth() != 0 {
			t.Fatalf("chunks of %d: %d headers, depth %d", n, headers, s.Depth())
		}
		if fmt.Sprint(starts) != "[features message iq r presence enabled message]" {
			t.Fatalf("chunks of %d: starts %v", n, starts)
		}
		var names, ids []string
		stanzas := 0
		for _, e := range ends {
			names = append(names, e.Name)
			ids = append(ids, e.ID)
			if e.Stanza {
				stanzas++
			}
		}
		if fmt.Sprint(names) != "[features message iq r presence enabled message]" || stanzas != 4 {
			t.Fatalf("chunks of %d: ends %v (%d stanzas)", n, names, stanzas)
		}
		if fmt.Sprint(ids) != "[ m1 i1  p1 x ]" {
			t.Fatalf("chunks of %d: ids %q", n, ids)
		}
		if want := `<message id="m1" to='b@x'><body>a &lt; b <![CDATA[ <not a="tag"> ]]></body></message>`; string(ends[1].Raw) != want {
			t.Fatalf("chunks of %d: raw %q", n, ends[1].Raw)
		}
		if want := `<iq type='result' id='i1'/>`; string(ends[2].Raw) != want {
			t.Fatalf("chunks of %d: raw %q", n, ends[2].Raw)
		}
	}
	for _, bad := range []string{
		`<message/>`, // before the stream
		stream + `</message>`,
		stream + `<message a=b/>`,
		stream + `<message a/>`,
		stream + `<!DOCTYPE x>`,
		stream + `<message><![CDAT[x]]></message>`,
		stream + `<message a='<'/>`,
		stream + `< message/>`,
		stream + `<message/ >`,
		stream + `<![CDATA[x]]>`,
		stream + `<` + strings.Repeat("x", maxName+1) + `/>`,
		stream + strings.Repeat("<a>", maxDepth+1),
		`text`,
	} {
		var s Scanner
		if _, _, _, err := scan(&s, []byte(bad), 5); !errors.Is(err, ErrScan) {
			t.Errorf("%q: %v, want ErrScan", bad, err)
		}
		if _, err := s.Write([]byte("<x/>")); err == nil {
			t.Errorf("%q: scanner goes on after an error", bad)
		}
	}
}

func TestOutbox(t *testing.T) {
	var o Outbox
	if o.Sent(Element{Name: "message", Stanza: true}) != 0 || o.Len() != 0 {
		t.Fatal("counted while off")
	}
	o.Enable()
	for i := 1; i <= 5; i++ {
		if seq := o.Sent(Element{Name: "message", Stanza: true, ID: fmt.Sprint(i)}); seq != uint32(i) {
			t.Fatalf("seq %d, want %d", seq, i)
		}
	}
	o.Sent(Element{Name: "r"}) // not a stanza
	acked, err := o.Ack(2)
	if err != nil || len(acked) != 2 || acked[1].ID != "2" || o.Len() != 3 {
		t.Fatalf("ack 2: %v, %v, %d left", acked, err, o.Len())
	}
	if acked, err := o.Ack(2); err != nil || len(acked) != 0 {
		t.Fatalf("repeated ack: %v, %v", acked, err)
	}
	if _, err := o.Ack(9); !errors.Is(err, ErrTooManyAcked) {
		t.Fatalf("ack beyond what was sent: %v", err)
	}
	if _, err := o.Ack(1); !errors.Is(err, ErrTooManyAcked) {
		t.Fatalf("ack going back: %v", err)
	}
	acked, resend, err := o.Resumed(3)
	if err != nil || len(acked) != 1 || acked[0].ID != "3" || len(resend) != 2 || resend[0].ID != "4" || o.Len() != 0 {
		t.Fatalf("resumed: %v %v %v", acked, resend, err)
	}
	// Stanzas sent again are counted from h on.
	if seq := o.Sent(Element{Name: "message", Stanza: true, ID: "4"}); seq != 4 {
		t.Fatalf("resent stanza numbered %d, want 4", seq)
	}
	if left := o.Disable(); len(left) != 1 || o.On() {
		t.Fatalf("disable: %v", left)
	}

	// Counting wraps around 2^32 (XEP-0198 §4).
	o = Outbox{on: true, sent: 1<<32 - 2, acked: 1<<32 - 2}
	o.Sent(Element{Name: "iq", Stanza: true, ID: "a"})
	o.Sent(Element{Name: "iq", Stanza: true, ID: "b"})
	o.Sent(Element{Name: "iq", Stanza: true, ID: "c"})
	if acked, err := o.Ack(1); err != nil || len(acked) != 3 {
		t.Fatalf("ack across the wrap: %v, %v", acked, err)
	}
}

func TestMarshalClientElements(t *testing.T) {
	for v, want := range map[any]string{
		Enable{Resume: true, Max: 300}: `<enable xmlns="urn:xmpp:sm:3" resume="true" max="300"></enable>`,
		Resume{PrevID: "x", H: 3}:      `<resume xmlns="urn:xmpp:sm:3" h="3" previd="x"></resume>`,
		Request{}:                      `<r xmlns="urn:xmpp:sm:3"></r>`,
		Ack{H: 9}:                      `<a xmlns="urn:xmpp:sm:3" h="9"></a>`,
	} {
		b, err := Marshal(v)
		if err != nil || !bytes.Equal(b, []byte(want)) {
			t.Errorf("%#v: %s, %v", v, b, err)
		}
	}
	if _, err := Marshal(42); err == nil {
		t.Error("encoded an int")
	}
}
