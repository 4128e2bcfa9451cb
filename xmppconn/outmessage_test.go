package xmppconn

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
)

// reflectOut is the chat stanza as struct fields, the way it was built
// before the extension elements were pre-rendered: the reference for
// TestOutMessageExt.
type reflectOut struct {
	XMLName          xml.Name    `xml:"message"`
	ID               string      `xml:"id,attr"`
	To               string      `xml:"to,attr"`
	Type             string      `xml:"type,attr"`
	Body             string      `xml:"body"`
	Device           *deviceEl   `xml:",omitempty"`
	EME              *emeEl      `xml:",omitempty"`
	Private          *emptyEl    `xml:"urn:xmpp:carbons:2 private,omitempty"`
	NoCopy           *emptyEl    `xml:"urn:xmpp:hints no-copy,omitempty"`
	NoPermanentStore *emptyEl    `xml:"urn:xmpp:hints no-permanent-store,omitempty"`
	Store            *emptyEl    `xml:"urn:xmpp:hints store,omitempty"`
	OriginID         *originIDEl `xml:",omitempty"`
}

func reflectOutMessage(id, to, body string, o SendOptions) *reflectOut {
	m := &reflectOut{ID: id, To: to, Type: "chat", Body: body, OriginID: &originIDEl{ID: id}}
	if o.ToDevice != 0 {
		m.Device = &deviceEl{Tag: FormatTag(o.ToDevice)}
	}
	if o.OTR {
		m.EME = &emeEl{Namespace: nsOTREME, Name: "OTR"}
		m.Private = &emptyEl{}
		if !o.Store {
			m.NoCopy = &emptyEl{}
			m.NoPermanentStore = &emptyEl{}
		}
	}
	if o.Store {
		m.Store = &emptyEl{}
	}
	return m
}

func TestOutMessageExt(t *testing.T) {
	for _, tc := range []struct {
		id, body string
		o        SendOptions
	}{
		{"a1", "hello", SendOptions{}},
		{"b2", "?OTR:AAQD<&>\"'", SendOptions{OTR: true, ToDevice: 0x12345678}},
		{"c\"<3", "stored \u00e9\U0001F600", SendOptions{OTR: true, ToDevice: 0x100, Store: true}},
		{"d4", "", SendOptions{Store: true}},
		{"e5", "x", SendOptions{OTR: true}},
		{"f6", "tab\there, new\nline, <b>bold</b> & \x7f", SendOptions{}},
		{"g7", "?OTR:AAQDAAABAAAAAQ+/=.", SendOptions{OTR: true, ToDevice: 0x1000}},
	} {
		fast, err := xml.Marshal(newOutMessage(tc.id, "bob@example.org/phone", tc.body, tc.o))
		if err != nil {
			t.Fatal(err)
		}
		slow, err := xml.Marshal(reflectOutMessage(tc.id, "bob@example.org/phone", tc.body, tc.o))
		if err != nil {
			t.Fatal(err)
		}
		if string(fast) != string(slow) {
			t.Errorf("pre-rendered stanza\n%s\ndiffers from\n%s", fast, slow)
		}
		a, err := decodeMessage(fast)
		if err != nil {
			t.Fatalf("%s: %v", fast, err)
		}
		b, err := decodeMessage(slow)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("decoded differently: %+v / %+v", a, b)
		}
	}
}

func BenchmarkOutMessage(b *testing.B) {
	o := SendOptions{OTR: true, ToDevice: 0x12345678}
	body := strings.Repeat("A", 860)
	b.Run("prerendered", func(b *testing.B) {
		for b.Loop() {
			_, _ = xml.Marshal(newOutMessage("id1", "bob@example.org/phone", body, o))
		}
	})
	b.Run("reflection", func(b *testing.B) {
		for b.Loop() {
			_, _ = xml.Marshal(reflectOutMessage("id1", "bob@example.org/phone", body, o))
		}
	})
}

// FuzzOutMessage: the pre-rendered stanza equals the one encoding/xml
// builds from struct fields, for any body and id.
func FuzzOutMessage(f *testing.F) {
	f.Add("?OTR:AAQD.", "id1", true, false, uint32(0x1234))
	f.Add("<&>\"' \t\n\x7f\u00e9", "x\"y", false, true, uint32(0))
	f.Fuzz(func(t *testing.T, body, id string, otr, store bool, tag uint32) {
		o := SendOptions{OTR: otr, Store: store, ToDevice: tag}
		fast, err1 := xml.Marshal(newOutMessage(id, "bob@example.org", body, o))
		slow, err2 := xml.Marshal(reflectOutMessage(id, "bob@example.org", body, o))
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("errors differ: %v / %v", err1, err2)
		}
		if string(fast) != string(slow) {
			t.Fatalf("pre-rendered\n%s\ndiffers from\n%s", fast, slow)
		}
	})
}
