package pep

import (
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
	want := `<devices xmlns="urn:otrchat:otrv4:0"><device tag="0x1234abcd" label="laptop"></device>`
	if !strings.HasPrefix(string(b), want) {
		t.Fatalf("encoding %s", b)
	}
	got, err := ParseList(b)
	if err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("ParseList = %v, %v", got, err)
	}
	// Other spellings of the same list parse the same.
	alt := `
	<devices xmlns='urn:otrchat:otrv4:0'>
	  <device tag='0x1234abcd' label='laptop'/>
	  <!-- comment -->
	  <d:device xmlns:d='urn:otrchat:otrv4:0' tag='0x00000100'/>
	  <device tag='0xffffffff' label='Gajim &amp; "co" &lt;é>'></device>
	</devices>
	`
	if got, err := ParseList([]byte(alt)); err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("ParseList(alt) = %v, %v", got, err)
	}
	if got, err := ParseList([]byte(`<devices xmlns='urn:otrchat:otrv4:0'/>`)); err != nil || len(got) != 0 {
		t.Fatalf("empty list: %v, %v", got, err)
	}
}

func devicesXML(n int) string {
	var s strings.Builder
	s.WriteString("<devices xmlns='urn:otrchat:otrv4:0'>")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&s, "<device tag='0x%08x'/>", 0x1000+i)
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
	if l, err := parseBytes([]byte(devicesXML(9)), maxLenient); err != nil || len(l) != 9 {
		t.Fatalf("lenient read of 9: %d, %v", len(l), err)
	}
	nine := make(List, 9)
	for i := range nine {
		nine[i] = Device{Tag: uint32(0x1000 + i)}
	}
	if _, err := nine.Marshal(); !errors.Is(err, ErrTooManyDevices) {
		t.Fatalf("9 devices on write: %v", err)
	}
	if _, err := (List{{Tag: 0x1000, Label: strings.Repeat("é", MaxLabel)}}).Marshal(); err != nil {
		t.Fatalf("label of %d code points: %v", MaxLabel, err)
	}
	if _, err := (List{{Tag: 0x1000, Label: strings.Repeat("é", MaxLabel+1)}}).Marshal(); !errors.Is(err, ErrBadDevice) {
		t.Fatalf("long label: %v", err)
	}
}

func TestListRejects(t *testing.T) {
	for name, in := range map[string]string{
		"wrong root":       `<list xmlns='urn:otrchat:otrv4:0'/>`,
		"wrong namespace":  `<devices xmlns='urn:xmpp:omemo:0'/>`,
		"child namespace":  `<devices xmlns='urn:otrchat:otrv4:0'><device xmlns='urn:x' tag='0x00001000'/></devices>`,
		"no tag":           `<devices xmlns='urn:otrchat:otrv4:0'><device/></devices>`,
		"decimal tag":      `<devices xmlns='urn:otrchat:otrv4:0'><device tag='4096'/></devices>`,
		"reserved tag":     `<devices xmlns='urn:otrchat:otrv4:0'><device tag='0x000000ff'/></devices>`,
		"duplicate":        `<devices xmlns='urn:otrchat:otrv4:0'><device tag='0x00001000'/><device tag='0x00001000' label='x'/></devices>`,
		"unknown attr":     `<devices xmlns='urn:otrchat:otrv4:0'><device tag='0x00001000' id='1'/></devices>`,
		"root attr":        `<devices xmlns='urn:otrchat:otrv4:0' v='1'/>`,
		"text":             `<devices xmlns='urn:otrchat:otrv4:0'>hello</devices>`,
		"device text":      `<devices xmlns='urn:otrchat:otrv4:0'><device tag='0x00001000'>x</device></devices>`,
		"device child":     `<devices xmlns='urn:otrchat:otrv4:0'><device tag='0x00001000'><x/></device></devices>`,
		"empty label":      `<devices xmlns='urn:otrchat:otrv4:0'><device tag='0x00001000' label=''/></devices>`,
		"control in label": `<devices xmlns='urn:otrchat:otrv4:0'><device tag='0x00001000' label='a&#x1b;b'/></devices>`,
		"trailing":         `<devices xmlns='urn:otrchat:otrv4:0'/><devices xmlns='urn:otrchat:otrv4:0'/>`,
		"unclosed":         `<devices xmlns='urn:otrchat:otrv4:0'><device tag='0x00001000'/>`,
		"empty":            ``,
		"doctype":          `<!DOCTYPE x><devices xmlns='urn:otrchat:otrv4:0'/>`,
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
	f.Add([]byte(`<devices xmlns='urn:otrchat:otrv4:0'><device tag='0x1234abcd' label='laptop'/><device tag='0xc1bb7b7a'/></devices>`))
	f.Add([]byte(`<devices xmlns='urn:otrchat:otrv4:0'/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseList(b)
		if err != nil {
			if len(l) != 0 {
				t.Fatal("list returned with an error")
			}
			return
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
