package pep

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestListRoundTrip(t *testing.T) {
	l := List{{Tag: 0x1234abcd, Label: "laptop"}, {Tag: 0x00000100}, {Tag: 0xffffffff, Label: `Gajim & "co" <é>`}}
	b, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `<devices xmlns="urn:xmpp:otr:1"><device id="1234abcd" label="laptop"></device>`
	if !strings.HasPrefix(string(b), want) {
		t.Fatalf("encoding %s", b)
	}
	got, err := ParseList(b)
	if err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("ParseList = %v, %v", got, err)
	}
	// Other spellings of the same list parse the same.
	alt := `
	<devices xmlns='urn:xmpp:otr:1'>
	  <device id='1234ABCD' label='laptop'/>
	  <!-- comment -->
	  <d:device xmlns:d='urn:xmpp:otr:1' id='00000100'/>
	  <device id='ffffffff' label='Gajim &amp; "co" &lt;é>'></device>
	</devices>
	`
	if got, err := ParseList([]byte(alt)); err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("ParseList(alt) = %v, %v", got, err)
	}
	if got, err := ParseList([]byte(`<devices xmlns='urn:xmpp:otr:1'/>`)); err != nil || len(got) != 0 {
		t.Fatalf("empty list: %v, %v", got, err)
	}
}

// TestSeedExamples: XEP-0364's own examples (Example 1, the publication;
// Example 18, a notification whose payload namespace is urn:xmpp:omemo:1)
// are read as written.
func TestSeedExamples(t *testing.T) {
	ex1 := `<devices xmlns='urn:xmpp:otr:1'>
          <device id='c45b041c' label='Beagle Client'/>
          <device id='c1bb7b7a' />
          <device id='7c91e4ce' label='ChatSecure Client' />
        </devices>`
	want := List{{Tag: 0xc45b041c, Label: "Beagle Client"}, {Tag: 0xc1bb7b7a}, {Tag: 0x7c91e4ce, Label: "ChatSecure Client"}}
	if got, err := ParseList([]byte(ex1)); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Example 1: %v, %v", got, err)
	}
	ex18 := `<devices xmlns='urn:xmpp:omemo:1'>
          <device id='7c91e4ce' />
          <device id='c8257518' label='Gajim Client' />
        </devices>`
	want = List{{Tag: 0x7c91e4ce}, {Tag: 0xc8257518, Label: "Gajim Client"}}
	if got, err := ParseList([]byte(ex18)); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Example 18: %v, %v", got, err)
	}
	// A label longer than XEP-0364's recommendation is kept, not refused.
	long := strings.Repeat("x", 100)
	if got, err := ParseList([]byte(`<devices xmlns='urn:xmpp:otr:1'><device id='c45b041c' label='` + long + `'/></devices>`)); err != nil || got[0].Label != long {
		t.Fatalf("long foreign label: %v, %v", got, err)
	}
}

// TestSalvage: what a repair keeps of damaged lists.
func TestSalvage(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     List
	}{
		{"valid", `<devices xmlns='urn:xmpp:otr:1'><device id='00001000' label='a'/></devices>`, List{{Tag: 0x1000, Label: "a"}}},
		{"duplicate", `<devices xmlns='urn:xmpp:otr:1'><device id='00001000' label='a'/><device id='00002000'/><device id='00001000' label='b'/></devices>`,
			List{{Tag: 0x1000, Label: "a"}, {Tag: 0x2000}}},
		{"bad entries", `<devices xmlns='urn:xmpp:otr:1'>junk<device id='xyz'/><device/><device id='000000ff'/><x/><device id='00001000' extra='1' label=''/><device id='00002000' label='` + strings.Repeat("x", MaxForeignLabel+1) + `'><child/></device></devices>`,
			List{{Tag: 0x1000}, {Tag: 0x2000}}},
		{"broken XML", `<devices xmlns='urn:xmpp:otr:1'><device id='00001000'/><device id='00002000'/><device id=`, List{{Tag: 0x1000}, {Tag: 0x2000}}},
		{"wrong root", `<list xmlns='urn:xmpp:otr:1'><device id='00001000'/></list>`, List{}},
		{"nested", `<devices xmlns='urn:xmpp:otr:1'><group><device id='00001000'/></group></devices>`, List{}},
		{"twenty", devicesXML(20), devicesList(20)},
		{"hundred", devicesXML(100), devicesList(maxLenient)},
	} {
		got, err := salvageList([]byte(tc.in))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: salvaged %v, want %v", tc.name, got, tc.want)
		}
		if (err == nil) != (tc.name == "valid") {
			t.Errorf("%s: err %v", tc.name, err)
		}
	}
}

func devicesList(n int) List {
	l := make(List, n)
	for i := range l {
		l[i] = Device{Tag: uint32(0x1000 + i)}
	}
	return l
}

func devicesXML(n int) string {
	var s strings.Builder
	s.WriteString("<devices xmlns='urn:xmpp:otr:1'>")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&s, "<device id='%08x'/>", 0x1000+i)
	}
	s.WriteString("</devices>")
	return s.String()
}

func TestListLimits(t *testing.T) {
	if l, err := ParseList([]byte(devicesXML(8))); err != nil || len(l) != 8 {
		t.Fatalf("8 devices: %d, %v", len(l), err)
	}
	if _, err := ParseList([]byte(devicesXML(9))); !errors.Is(err, ErrTooManyDevices) {
		t.Fatalf("9 devices on read: %v", err)
	}
	if l, err := salvageList([]byte(devicesXML(9))); !errors.Is(err, ErrTooManyDevices) || len(l) != 9 {
		t.Fatalf("lenient read of 9: %d, %v", len(l), err)
	}
	nine := make(List, 9)
	for i := range nine {
		nine[i] = Device{Tag: uint32(0x1000 + i)}
	}
	if _, err := nine.Marshal(); !errors.Is(err, ErrTooManyDevices) {
		t.Fatalf("9 devices on write: %v", err)
	}
	if _, err := (List{{Tag: 0x1000, Label: strings.Repeat("é", MaxForeignLabel)}}).Marshal(); err != nil {
		t.Fatalf("label of %d code points: %v", MaxForeignLabel, err)
	}
	if _, err := (List{{Tag: 0x1000, Label: strings.Repeat("é", MaxForeignLabel+1)}}).Marshal(); !errors.Is(err, ErrBadDevice) {
		t.Fatalf("long label: %v", err)
	}
}

func TestListRejects(t *testing.T) {
	for name, in := range map[string]string{
		"wrong root":       `<list xmlns='urn:xmpp:otr:1'/>`,
		"wrong namespace":  `<devices xmlns='urn:xmpp:omemo:0'/>`,
		"old namespace":    `<devices xmlns='urn:otrchat:otrv4:0'><device tag='0x00001000'/></devices>`,
		"child namespace":  `<devices xmlns='urn:xmpp:otr:1'><device xmlns='urn:x' id='00001000'/></devices>`,
		"mixed namespaces": `<devices xmlns='urn:xmpp:otr:1'><device xmlns='urn:xmpp:omemo:1' id='00001000'/></devices>`,
		"no id":            `<devices xmlns='urn:xmpp:otr:1'><device/></devices>`,
		"decimal id":       `<devices xmlns='urn:xmpp:otr:1'><device id='4096'/></devices>`,
		"prefixed id":      `<devices xmlns='urn:xmpp:otr:1'><device id='0x00001000'/></devices>`,
		"long id":          `<devices xmlns='urn:xmpp:otr:1'><device id='000001000'/></devices>`,
		"signed id":        `<devices xmlns='urn:xmpp:otr:1'><device id='+0001000'/></devices>`,
		"reserved id":      `<devices xmlns='urn:xmpp:otr:1'><device id='000000ff'/></devices>`,
		"duplicate":        `<devices xmlns='urn:xmpp:otr:1'><device id='00001000'/><device id='00001000' label='x'/></devices>`,
		"duplicate case":   `<devices xmlns='urn:xmpp:otr:1'><device id='0000abcd'/><device id='0000ABCD'/></devices>`,
		"unknown attr":     `<devices xmlns='urn:xmpp:otr:1'><device id='00001000' tag='1'/></devices>`,
		"root attr":        `<devices xmlns='urn:xmpp:otr:1' v='1'/>`,
		"text":             `<devices xmlns='urn:xmpp:otr:1'>hello</devices>`,
		"device text":      `<devices xmlns='urn:xmpp:otr:1'><device id='00001000'>x</device></devices>`,
		"device child":     `<devices xmlns='urn:xmpp:otr:1'><device id='00001000'><x/></device></devices>`,
		"empty label":      `<devices xmlns='urn:xmpp:otr:1'><device id='00001000' label=''/></devices>`,
		"control in label": `<devices xmlns='urn:xmpp:otr:1'><device id='00001000' label='a&#x1b;b'/></devices>`,
		"trailing":         `<devices xmlns='urn:xmpp:otr:1'/><devices xmlns='urn:xmpp:otr:1'/>`,
		"unclosed":         `<devices xmlns='urn:xmpp:otr:1'><device id='00001000'/>`,
		"empty":            ``,
		"doctype":          `<!DOCTYPE x><devices xmlns='urn:xmpp:otr:1'/>`,
	} {
		if l, err := ParseList([]byte(in)); err == nil {
			t.Errorf("%s: accepted as %v", name, l)
		} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadDevice) {
			t.Errorf("%s: error %v is neither ErrMalformed nor ErrBadDevice", name, err)
		}
	}
}

// FuzzParseList: ParseList is strict and bounded, and round-trips:
// ParseList(Marshal(l)) == l for every accepted l, and the canonical encoding
// is stable.
func FuzzParseList(f *testing.F) {
	f.Add([]byte(devicesXML(1)))
	f.Add([]byte(devicesXML(8)))
	f.Add([]byte(devicesXML(9)))
	f.Add([]byte(`<devices xmlns='urn:xmpp:otr:1'><device id='1234abcd' label='laptop'/><device id='c1bb7b7a'/></devices>`))
	f.Add([]byte(`<devices xmlns='urn:xmpp:omemo:1'><device id='7c91e4ce' /><device id='c8257518' label='Gajim Client' /></devices>`))
	f.Add([]byte(`<devices xmlns='urn:xmpp:otr:1'><device id='00001000'/><device id='00001000'/><device id='C45B041C' label='&#x1b;'/><x/></devices>`))
	f.Add([]byte(`<devices xmlns='urn:xmpp:otr:1'/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseList(b)
		// The repair path: salvageList agrees with ParseList on what it
		// accepts, and otherwise keeps only entries that can be published.
		sl, serr := salvageList(b)
		if (err == nil) != (serr == nil) {
			t.Fatalf("ParseList %v, salvageList %v", err, serr)
		}
		if err == nil && !reflect.DeepEqual(l, sl) {
			t.Fatalf("salvageList of a valid list: %v, want %v", sl, l)
		}
		if len(sl) > maxLenient || sl.validate(maxLenient) != nil {
			t.Fatalf("salvaged list %v is not valid: %v", sl, sl.validate(maxLenient))
		}
		if len(sl) <= MaxDevices {
			if _, err := sl.Marshal(); err != nil {
				t.Fatalf("salvaged list %v cannot be encoded: %v", sl, err)
			}
		}
		if err != nil {
			if len(l) != 0 {
				t.Fatal("list returned with an error")
			}
			return
		}
		// The recorded-token path (items read through a fetch) agrees.
		if tl, terr := record(xml.NewDecoder(bytes.NewReader(b))).parse(); terr != nil || !reflect.DeepEqual(tl, l) {
			t.Fatalf("token parse %v, %v; want %v", tl, terr, l)
		}
		if len(l) > MaxDevices {
			t.Fatalf("%d devices accepted", len(l))
		}
		enc, err := l.Marshal()
		if err != nil {
			t.Fatalf("accepted list %v cannot be encoded: %v", l, err)
		}
		l2, err := ParseList(enc)
		if err != nil || !reflect.DeepEqual(l, l2) && !(len(l) == 0 && len(l2) == 0) {
			t.Fatalf("round trip %v -> %s -> %v, %v", l, enc, l2, err)
		}
		enc2, _ := l2.Marshal()
		if string(enc) != string(enc2) {
			t.Fatalf("encoding not stable: %s vs %s", enc, enc2)
		}
	})
}
