package sm

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics, rejects with ErrMalformed, and what it
// accepts encodes to bytes that parse to the same value, with a stable
// encoding.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`<r xmlns='urn:xmpp:sm:3'/>`,
		`<a xmlns='urn:xmpp:sm:3' h='42'/>`,
		`<enabled xmlns='urn:xmpp:sm:3' id='abc' resume='true' max='600' location='127.0.0.1:5222'/>`,
		`<resumed xmlns='urn:xmpp:sm:3' h='4294967295' previd='abc'/>`,
		`<failed xmlns='urn:xmpp:sm:3' h='3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`,
		`<a xmlns='urn:xmpp:sm:3' h='01'/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		enc, err := Marshal(v)
		if err != nil {
			t.Fatalf("cannot encode %#v: %v", v, err)
		}
		again, err := Parse(enc)
		if err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("%#v encoded as %s parses as %#v, %v", v, enc, again, err)
		}
		enc2, _ := Marshal(again)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable encoding: %s then %s", enc, enc2)
		}
	})
}

type scanned struct {
	starts  []string
	ends    []Element
	headers int
	failed  bool
}

func scanAll(b []byte, chunk int) scanned {
	var r scanned
	s := Scanner{KeepRaw: true}
	s.Start = func(n string) { r.starts = append(r.starts, n) }
	s.End = func(e Element) { r.ends = append(r.ends, e) }
	s.Header = func() { r.headers++ }
	for len(b) > 0 {
		k := min(chunk, len(b))
		if _, err := s.Write(b[:k]); err != nil {
			r.failed = true
			break
		}
		b = b[k:]
	}
	return r
}

// FuzzScanner: the Scanner never panics, reports the same elements however
// the bytes are split, and each element it keeps scans again, alone in a
// stream, as the same element.
func FuzzScanner(f *testing.F) {
	f.Add([]byte(stream+`<message id='a'><body>x</body></message><r xmlns='urn:xmpp:sm:3'/><iq id="i" type='get'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>`), uint8(3))
	f.Add([]byte(stream+`<!-- c --><?p?><presence><x a='>'/><![CDATA[<]]></presence>`), uint8(1))
	f.Add([]byte(stream+`<stream:features/>`+stream+`<a xmlns='urn:xmpp:sm:3' h='1'/>`), uint8(7))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		whole := scanAll(b, len(b)+1)
		split := scanAll(b, int(chunk%16)+1)
		if !reflect.DeepEqual(whole, split) {
			t.Fatalf("split in chunks of %d: %+v, whole: %+v", chunk%16+1, split, whole)
		}
		for _, e := range whole.ends {
			again := scanAll(append([]byte(stream), e.Raw...), 64)
			if again.failed || len(again.ends) != 1 {
				t.Fatalf("kept element %q scans as %+v", e.Raw, again)
			}
			got := again.ends[0]
			if got.Name != e.Name || got.ID != e.ID || got.Stanza != e.Stanza || !bytes.Equal(got.Raw, e.Raw) {
				t.Fatalf("kept element %q scans as %+v, was %+v", e.Raw, got, e)
			}
		}
	})
}
