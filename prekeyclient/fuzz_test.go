package prekeyclient

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

func FuzzParseFingerprint(f *testing.F) {
	fp := make([]byte, FingerprintSize)
	f.Add(hexUpper(fp))
	f.Add(strings.ToLower(hexUpper(bytes.Repeat([]byte{0xab}, FingerprintSize))))
	f.Add(" " + hexUpper(fp) + "\n")
	f.Add(FormatFingerprint(fp))
	f.Add(strings.Repeat("g", 112))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseFingerprint(s)
		if err != nil {
			return
		}
		if len(b) != FingerprintSize {
			t.Fatalf("%d bytes", len(b))
		}
		if !strings.EqualFold(hex.EncodeToString(b), strings.TrimSpace(s)) {
			t.Fatalf("%q decoded to %x", s, b)
		}
	})
}

func FuzzFingerprintItems(f *testing.F) {
	fp := hexUpper(bytes.Repeat([]byte{7}, FingerprintSize))
	f.Add(FingerprintNode, fp, "", "x", FingerprintNode, fp)
	f.Add(FingerprintNode, fp, FingerprintNode, strings.ToLower(fp), "", "")
	f.Add(FingerprintNode, fp[:110]+"00", FingerprintNode, fp, "", "")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, n3, v3 string) {
		s := jid.MustParse("prekeys.example.org")
		list := []items.Item{{JID: s, Node: n1, Name: v1}, {JID: s, Node: n2, Name: v2}, {JID: s, Node: n3, Name: v3}}
		b, err := fingerprintFromItems(s, list)
		if err != nil {
			return
		}
		// The result is the decoding of one of the fingerprint items.
		ok := false
		for _, it := range list {
			if it.Node == FingerprintNode {
				d, err := ParseFingerprint(it.Name)
				if err != nil {
					t.Fatalf("accepted a list with a bad fingerprint %q", it.Name)
				}
				ok = ok || bytes.Equal(d, b)
			}
		}
		if !ok {
			t.Fatalf("fingerprint %x is none of the items", b)
		}
	})
}

// fuzzClient is one client shared by the fuzz targets (making devices is
// slow), with a silent server.
var fuzzClient = sync.OnceValue(func() *Client {
	id, err := otr4.GenerateIdentity(rand.Reader, false)
	if err != nil {
		panic(err)
	}
	tag := otr4.InstanceTag(0x12345678)
	c, err := New(Config{
		Account: jid.MustParse("alice@example.org/fuzz"), Identity: id, InstanceTag: tag,
		Device:    NewMemoryDevice(id, tag, time.Hour, rand.Reader),
		Transport: &fakeServer{jid: jid.MustParse(testServer)}, Pins: NewMemoryPinStore(),
	})
	if err != nil {
		panic(err)
	}
	if err := c.UseServer(Server{JID: jid.MustParse(testServer), Fingerprint: make([]byte, FingerprintSize)}); err != nil {
		panic(err)
	}
	return c
})

// FuzzHandleMessage feeds arbitrary bodies (whole messages and fragments)
// to the client's receive path.
func FuzzHandleMessage(f *testing.F) {
	msg := (&prekey.NoEnsembles{ReceiverTag: 0x12345678, Identity: "bob@example.org", Text: prekey.NoEnsemblesText}).Marshal()
	enc := prekey.Encode(msg)
	f.Add(enc, "")
	frags, err := prekey.Fragment(rand.Reader, enc, 80, 0, 0x12345678)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(frags[0], frags[1])
	f.Add(frags[0], frags[0])
	f.Add("?OTRP|1|0|12345678,1,2,AAQ,", "?OTRP|1|0|12345678,2,2,=.,")
	f.Add("AAQ.", "   ")
	f.Fuzz(func(t *testing.T, a, b string) {
		c := fuzzClient()
		c.drain()
		s := jid.MustParse(testServer)
		for _, body := range []string{a, b} {
			if !c.HandleMessage(s, body) {
				t.Fatal("a message from the server was not taken")
			}
		}
		for {
			select {
			case r := <-c.inbox:
				if r.err == nil && len(r.msg) == 0 {
					t.Fatal("an empty message was delivered")
				}
				if r.err == nil && !strings.HasPrefix(strings.TrimSpace(a), "?OTRP|") && bytes.Equal(r.msg, mustDecode(a)) {
					if prekey.Encode(r.msg) != strings.TrimSpace(a) {
						t.Fatalf("%q delivered as %x", a, r.msg)
					}
				}
			default:
				return
			}
		}
	})
}

func mustDecode(s string) []byte {
	b, _ := prekey.Decode(strings.TrimSpace(s))
	return b
}

// FuzzRetrievalAnswer feeds arbitrary answers to a retrieval through the
// decoding and the client-side validation of ensembles.
func FuzzRetrievalAnswer(f *testing.F) {
	d := newDevice(f, "bob@example.org/phone")
	d2 := newDevice(f, "bob@example.org/tablet")
	r := &prekey.EnsembleRetrieval{ReceiverTag: 0x12345678, Identity: "bob@example.org",
		Ensembles: []*otr4.PrekeyEnsemble{d.ensemble(f), d2.ensemble(f), d.ensemble(f)}}
	f.Add(r.Marshal())
	f.Add((&prekey.NoEnsembles{ReceiverTag: 0x12345678, Identity: "bob@example.org", Text: "none"}).Marshal())
	f.Add((&prekey.Success{ReceiverTag: 0x12345678}).Marshal())
	f.Add([]byte{0, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := fuzzClient()
		s, _ := c.Server()
		m, err := c.retrievalAnswer(s, "bob@example.org", b)
		if err != nil {
			return
		}
		if m == nil || len(m.Ensembles) == 0 {
			t.Fatal("accepted a retrieval without ensembles")
		}
		es, err := c.validate(s, "bob@example.org", m.Ensembles)
		if err != nil {
			return
		}
		for tag, e := range es.ByTag {
			if e.Client.InstanceTag != tag || e.Validate(time.Now()) != nil {
				t.Fatalf("an invalid ensemble for %v was kept", tag)
			}
		}
	})
}

// discardEncoder is an xmlstream.Encoder that writes nowhere.
type discardEncoder struct{}

func (discardEncoder) EncodeToken(xml.Token) error                       { return nil }
func (discardEncoder) Encode(interface{}) error                          { return nil }
func (discardEncoder) EncodeElement(interface{}, xml.StartElement) error { return nil }

// FuzzMessageHandler feeds arbitrary message stanzas to the mux handler.
func FuzzMessageHandler(f *testing.F) {
	body := prekey.Encode((&prekey.Success{ReceiverTag: 1}).Marshal())
	f.Add(`<message xmlns='jabber:client' from='prekeys.example.org' type='chat'><body>` + body + `</body></message>`)
	f.Add(`<message xmlns='jabber:client' from='prekeys.example.org' type='error'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`)
	f.Add(`<message xmlns='jabber:client' from='bob@example.org/x'><body>hi</body></message>`)
	f.Add(`<message xmlns='jabber:client' from='prekeys.example.org'><body>a</body><body>b</body></message>`)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1<<16 {
			return
		}
		c := fuzzClient()
		defer c.drain()
		var next int
		h := &messageHandler{c: c, next: messageHandlerFunc(func() { next++ })}
		d := xml.NewDecoder(strings.NewReader(s))
		for {
			tok, err := d.Token()
			if err != nil {
				return
			}
			start, ok := tok.(xml.StartElement)
			if !ok {
				continue
			}
			msg, err := stanza.NewMessage(start)
			if err != nil {
				return
			}
			r := struct {
				xml.TokenReader
				xmlstream.Encoder
			}{xmlstream.MultiReader(xmlstream.Token(start), xmlstream.Inner(d)), discardEncoder{}}
			_ = h.HandleMessage(msg, r)
			return
		}
	})
}

type messageHandlerFunc func()

func (f messageHandlerFunc) HandleMessage(stanza.Message, xmlstream.TokenReadEncoder) error {
	f()
	return nil
}
