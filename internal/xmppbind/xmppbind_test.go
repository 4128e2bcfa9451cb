package xmppbind

import (
	"errors"
	"testing"
)

func TestParseResponse(t *testing.T) {
	ok := `<iq xmlns='jabber:client' type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.org/laptop</jid></bind></iq>`
	j, err := ParseResponse([]byte(ok), "b1")
	if err != nil || j.String() != "alice@example.org/laptop" {
		t.Fatal(j, err)
	}
	for name, in := range map[string]string{
		"other id":    `<iq type='result' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.org/laptop</jid></bind></iq>`,
		"no resource": `<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.org</jid></bind></iq>`,
		"get":         `<iq type='get' id='b1'/>`,
		"trailing":    ok + `<x/>`,
		"component":   `<iq xmlns='jabber:component:accept' type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>a@b/c</jid></bind></iq>`,
	} {
		if _, err := ParseResponse([]byte(in), "b1"); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	refused := `<iq xmlns='jabber:client' type='error' id='b1'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`
	if _, err := ParseResponse([]byte(refused), "b1"); err == nil || errors.Is(err, ErrMalformed) {
		t.Fatalf("refusal: %v", err)
	}
}

// FuzzParseResponse: the decoder never panics and returns a full JID only
// for a result with the request's id.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`<iq xmlns='jabber:client' type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.org/laptop</jid></bind></iq>`))
	f.Add([]byte(`<iq xmlns='jabber:client' type='error' id='b1'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := ParseResponse(b, "b1")
		if err != nil {
			return
		}
		if j.Resourcepart() == "" || j.Localpart() == "" {
			t.Fatalf("accepted %v", j)
		}
	})
}
