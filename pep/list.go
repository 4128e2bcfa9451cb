package pep

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/otrchat/otrchat/xmppconn"
)

// Wire names and limits (XEP-0364, "Adding a instance tag to the device list").
const (
	// Node is the PEP node holding an account's OTRv4 device list.
	Node = "urn:xmpp:otr:1:devices"
	// NS is the namespace of the <devices/> payload.
	NS = "urn:xmpp:otr:1"
	// ItemID is the id of the single item of Node.
	ItemID = "current"
	// LegacyNode is where otrchat kept the list before it followed
	// XEP-0364 (payload namespace "urn:otrchat:otrv4:0", <device tag='0x…'/>).
	// It is neither read nor written any more: docs/device-list.md says why.
	LegacyNode = "urn:otrchat:otrv4:devices:0"
	// MaxDevices is the most devices a list may hold (otrv4-over-xmpp.md).
	MaxDevices = 8
	// MaxLabel is the longest label this device announces for itself, in
	// Unicode code points (XEP-0364 recommends staying under 53).
	MaxLabel = 53
	// MaxForeignLabel is the longest label accepted in a list: other
	// clients only follow a recommendation, and their entries are kept.
	MaxForeignLabel = 256
	// maxListBytes bounds an encoded list; maxLenient bounds how many
	// entries a lenient read (used to repair a damaged list) collects.
	maxListBytes = 16 << 10
	maxLenient   = 64
)

// nsDraftExample is the payload namespace of XEP-0364's Example 18 (a
// notification), which contradicts its Example 1; lists in it are read as
// if they were in NS and rewritten in NS.
const nsDraftExample = "urn:xmpp:omemo:1"

// Errors callers can branch on with errors.Is.
var (
	// ErrTooManyDevices: a list read from the network holds more than
	// MaxDevices devices; it is refused.
	ErrTooManyDevices = errors.New("pep: device list holds more than 8 devices")
	// ErrListFull: announcing would make the list exceed MaxDevices; remove
	// a stale device first.
	ErrListFull = errors.New("pep: device list full (8 devices); remove a stale device first")
	// ErrMalformed is wrapped by ParseList for input it rejects.
	ErrMalformed = errors.New("pep: malformed device list")
	// ErrBadDevice: an instance tag or label that cannot go in a list.
	ErrBadDevice = errors.New("pep: bad device")
	// ErrRemoveSelf: a device cannot remove itself from the list (it would
	// re-announce itself at once).
	ErrRemoveSelf = errors.New("pep: a device cannot remove itself")
	// ErrStopped: the Manager was stopped.
	ErrStopped = errors.New("pep: manager stopped")
)

// Device is one entry of a device list.
type Device struct {
	Tag   uint32 // OTRv4 instance tag, at least 0x100
	Label string // optional, user-chosen client name
}

func (d Device) validate(maxLabel int) error {
	if d.Tag < xmppconn.MinInstanceTag {
		return fmt.Errorf("%w: instance tag %#x is reserved", ErrBadDevice, d.Tag)
	}
	return validLabel(d.Label, maxLabel)
}

func validLabel(s string, maxLabel int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: label is not UTF-8", ErrBadDevice)
	}
	if n := utf8.RuneCountInString(s); n > maxLabel {
		return fmt.Errorf("%w: label has %d code points, more than %d", ErrBadDevice, n, maxLabel)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError || !isXMLChar(r) {
			return fmt.Errorf("%w: label contains %U", ErrBadDevice, r)
		}
	}
	return nil
}

// isXMLChar reports whether r may appear in XML 1.0 text.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// FormatID writes an instance tag as XEP-0364 writes a device id: eight
// lowercase hexadecimal digits, no prefix ("c45b041c").
func FormatID(tag uint32) string { return fmt.Sprintf("%08x", tag) }

// ParseID reads a device id: exactly eight hexadecimal digits (either
// case), for a tag of at least 0x100.
func ParseID(s string) (uint32, error) {
	if len(s) != 8 {
		return 0, fmt.Errorf("%w: device id %q is not 8 hexadecimal digits", ErrBadDevice, truncate(s))
	}
	var v uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("%w: device id %q is not 8 hexadecimal digits", ErrBadDevice, truncate(s))
		}
		v = v<<4 | uint32(d)
	}
	if v < xmppconn.MinInstanceTag {
		return 0, fmt.Errorf("%w: device id %s is a reserved instance tag", ErrBadDevice, s)
	}
	return v, nil
}

func truncate(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// List is an account's device list, in publication order.
type List []Device

// Contains reports whether tag is in the list.
func (l List) Contains(tag uint32) bool { return l.index(tag) >= 0 }

func (l List) index(tag uint32) int {
	return slices.IndexFunc(l, func(d Device) bool { return d.Tag == tag })
}

// Tags returns the instance tags of the list, in order.
func (l List) Tags() []uint32 {
	out := make([]uint32, len(l))
	for i, d := range l {
		out[i] = d.Tag
	}
	return out
}

func (l List) validate(limit int) error {
	if len(l) > limit {
		if limit == MaxDevices {
			return fmt.Errorf("%w (%d)", ErrTooManyDevices, len(l))
		}
		return fmt.Errorf("%w: %d entries", ErrMalformed, len(l))
	}
	for i, d := range l {
		if err := d.validate(MaxForeignLabel); err != nil {
			return err
		}
		if l[:i].Contains(d.Tag) {
			return fmt.Errorf("%w: device id %s listed twice", ErrMalformed, FormatID(d.Tag))
		}
	}
	return nil
}

type wireDevice struct {
	XMLName xml.Name `xml:"device"`
	ID      string   `xml:"id,attr"`
	Label   string   `xml:"label,attr,omitempty"`
}

type wireDevices struct {
	XMLName xml.Name     `xml:"urn:xmpp:otr:1 devices"`
	Devices []wireDevice `xml:"device"`
}

func (l List) wire() wireDevices {
	w := wireDevices{Devices: make([]wireDevice, 0, len(l))}
	for _, d := range l {
		w.Devices = append(w.Devices, wireDevice{ID: FormatID(d.Tag), Label: d.Label})
	}
	return w
}

// Marshal encodes the list as XEP-0364's <devices xmlns='urn:xmpp:otr:1'/>
// element. It refuses lists of more than MaxDevices devices, duplicate tags
// and bad labels.
func (l List) Marshal() ([]byte, error) {
	if err := l.validate(MaxDevices); err != nil {
		return nil, err
	}
	return xml.Marshal(l.wire())
}

// ParseList decodes a <devices/> element strictly: only <device/> children
// with an id of eight hexadecimal digits and an optional label, no text, no
// duplicate ids, at most MaxDevices entries (ErrTooManyDevices beyond).
func ParseList(b []byte) (List, error) {
	return parseBytes(b, MaxDevices)
}

func parseBytes(b []byte, limit int) (List, error) {
	if len(b) > maxListBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrMalformed)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	l, err := parseTokens(d, limit)
	if err != nil {
		return nil, err
	}
	// Only white space may follow.
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return l, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) == 0 {
			continue
		}
		if _, ok := tok.(xml.Comment); ok {
			continue
		}
		return nil, fmt.Errorf("%w: data after </devices>", ErrMalformed)
	}
}

func listNS(space string) bool { return space == NS || space == nsDraftExample }

// parseTokens reads one <devices/> element from r (leading white space
// allowed). limit is MaxDevices for normal reads.
func parseTokens(r xml.TokenReader, limit int) (List, error) {
	next := func() (xml.Token, error) {
		for {
			tok, err := r.Token()
			if err != nil {
				if err == io.EOF {
					return nil, fmt.Errorf("%w: unexpected end", ErrMalformed)
				}
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			switch t := tok.(type) {
			case xml.CharData:
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, fmt.Errorf("%w: unexpected text", ErrMalformed)
				}
				continue
			case xml.Comment:
				continue
			case xml.ProcInst, xml.Directive:
				return nil, fmt.Errorf("%w: unexpected %T", ErrMalformed, tok)
			}
			return tok, nil
		}
	}
	tok, err := next()
	if err != nil {
		return nil, err
	}
	start, ok := tok.(xml.StartElement)
	if !ok || !listNS(start.Name.Space) || start.Name.Local != "devices" {
		return nil, fmt.Errorf("%w: expected <devices xmlns='%s'>", ErrMalformed, NS)
	}
	if err := noAttrs(start, nil); err != nil {
		return nil, err
	}
	l := List{}
	for {
		tok, err := next()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if err := l.validate(limit); err != nil {
				return nil, err
			}
			return l, nil
		case xml.StartElement:
			if t.Name.Space != start.Name.Space || t.Name.Local != "device" {
				return nil, fmt.Errorf("%w: unexpected <%s/>", ErrMalformed, t.Name.Local)
			}
			if len(l) >= limit {
				if limit == MaxDevices {
					return nil, fmt.Errorf("%w (more than %d)", ErrTooManyDevices, limit)
				}
				return nil, fmt.Errorf("%w: more than %d entries", ErrMalformed, limit)
			}
			dev, err := parseDevice(t)
			if err != nil {
				return nil, err
			}
			end, err := next()
			if err != nil {
				return nil, err
			}
			if _, ok := end.(xml.EndElement); !ok {
				return nil, fmt.Errorf("%w: <device/> must be empty", ErrMalformed)
			}
			l = append(l, dev)
		}
	}
}

func parseDevice(t xml.StartElement) (Device, error) {
	var id, label *string
	if err := noAttrs(t, map[string]**string{"id": &id, "label": &label}); err != nil {
		return Device{}, err
	}
	if id == nil {
		return Device{}, fmt.Errorf("%w: <device/> without id", ErrMalformed)
	}
	v, err := ParseID(*id)
	if err != nil {
		return Device{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	dev := Device{Tag: v}
	if label != nil {
		if *label == "" {
			return Device{}, fmt.Errorf("%w: empty label", ErrMalformed)
		}
		if err := validLabel(*label, MaxForeignLabel); err != nil {
			return Device{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		dev.Label = *label
	}
	return dev, nil
}

// noAttrs checks that start has only the attributes in want (plus namespace
// declarations), each at most once, and stores their values.
func noAttrs(start xml.StartElement, want map[string]**string) error {
	for _, a := range start.Attr {
		if a.Name.Local == "xmlns" && a.Name.Space == "" || a.Name.Space == "xmlns" {
			continue
		}
		p, ok := want[a.Name.Local]
		if !ok || a.Name.Space != "" {
			return fmt.Errorf("%w: unexpected attribute %q on <%s/>", ErrMalformed, a.Name.Local, start.Name.Local)
		}
		if *p != nil {
			return fmt.Errorf("%w: attribute %q twice", ErrMalformed, a.Name.Local)
		}
		v := a.Value
		*p = &v
	}
	return nil
}

// salvageList reads what can be used of a list that ParseList refuses, to
// repair it: every <device/> directly inside a <devices/> root (in NS) whose
// id is valid, in order, the first of each id only, a bad label dropped (the
// device kept), at most 64 entries; everything else is skipped, and reading
// stops at the first XML syntax error, keeping what came before. err is
// ParseList's verdict on b (nil when b is a valid list, which is then
// returned as is). The result may hold more than MaxDevices entries.
func salvageList(b []byte) (l List, err error) {
	if l, err := ParseList(b); err == nil {
		return l, nil
	} else {
		if len(b) > maxListBytes {
			b = b[:maxListBytes]
		}
		return salvageTokens(xml.NewDecoder(bytes.NewReader(b))), err
	}
}

func salvageTokens(r xml.TokenReader) List {
	l := List{}
	depth := 0
	rootNS := ""
	for len(l) < maxLenient {
		tok, err := r.Token()
		if err != nil {
			return l
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1:
				if t.Name.Local != "devices" || !listNS(t.Name.Space) {
					return l
				}
				rootNS = t.Name.Space
			case depth == 2 && t.Name.Local == "device" && t.Name.Space == rootNS:
				dev, ok := salvageDevice(t)
				if ok && !l.Contains(dev.Tag) {
					l = append(l, dev)
				}
			}
		case xml.EndElement:
			depth--
			if depth <= 0 {
				return l
			}
		}
	}
	return l
}

func salvageDevice(t xml.StartElement) (Device, bool) {
	var dev Device
	found := false
	for _, a := range t.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "id":
			if found {
				return Device{}, false // two ids: which one is meant?
			}
			v, err := ParseID(a.Value)
			if err != nil {
				return Device{}, false
			}
			dev.Tag, found = v, true
		case "label":
			if a.Value != "" && validLabel(a.Value, MaxForeignLabel) == nil {
				dev.Label = a.Value
			}
		}
	}
	return dev, found
}

// maxTokens bounds the tokens kept of one item read from the network.
const maxTokens = 4096

// tokens is a recorded item payload that can be read more than once.
type tokens struct {
	toks      []xml.Token
	truncated bool
}

func record(r xml.TokenReader) tokens {
	var t tokens
	for {
		tok, err := r.Token()
		if err != nil {
			if err != io.EOF {
				t.truncated = true
			}
			return t
		}
		if len(t.toks) == maxTokens {
			t.truncated = true
			return t
		}
		t.toks = append(t.toks, xml.CopyToken(tok))
	}
}

func (t tokens) reader() xml.TokenReader { return &tokenReader{toks: t.toks} }

type tokenReader struct {
	toks []xml.Token
	i    int
}

func (r *tokenReader) Token() (xml.Token, error) {
	if r.i == len(r.toks) {
		return nil, io.EOF
	}
	r.i++
	return r.toks[r.i-1], nil
}

// parse reads the recorded payload strictly, as ParseList does.
func (t tokens) parse() (List, error) {
	if t.truncated {
		return nil, fmt.Errorf("%w: item too long or not well-formed", ErrMalformed)
	}
	r := t.reader()
	l, err := parseTokens(r, MaxDevices)
	if err != nil {
		return nil, err
	}
	for {
		tok, err := r.Token()
		if err == io.EOF {
			return l, nil
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) == 0 {
			continue
		}
		if _, ok := tok.(xml.Comment); ok {
			continue
		}
		return nil, fmt.Errorf("%w: data after </devices>", ErrMalformed)
	}
}
