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

// Wire names and limits.
const (
	// Node is the PEP node holding an account's OTRv4 device list.
	Node = "urn:otrchat:otrv4:devices:0"
	// NS is the namespace of the <devices/> payload (shared with the
	// <device/> element of presence and messages).
	NS = xmppconn.NS
	// ItemID is the id of the single item of Node.
	ItemID = "current"
	// MaxDevices is the most devices a list may hold (otrv4-over-xmpp.md).
	MaxDevices = 8
	// MaxLabel is the longest label, in Unicode code points (XEP-0364).
	MaxLabel = 53
	// maxListBytes bounds an encoded list; maxLenient bounds how many
	// entries a lenient read (used to repair an over-full list) accepts.
	maxListBytes = 16 << 10
	maxLenient   = 64
)

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
	// ErrBadDevice: a tag or label that cannot go in a list.
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
	Label string // optional, user-chosen client name, at most MaxLabel code points
}

func (d Device) validate() error {
	if d.Tag < xmppconn.MinInstanceTag {
		return fmt.Errorf("%w: instance tag %#x is reserved", ErrBadDevice, d.Tag)
	}
	if !utf8.ValidString(d.Label) {
		return fmt.Errorf("%w: label is not UTF-8", ErrBadDevice)
	}
	if n := utf8.RuneCountInString(d.Label); n > MaxLabel {
		return fmt.Errorf("%w: label has %d code points, more than %d", ErrBadDevice, n, MaxLabel)
	}
	for _, r := range d.Label {
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
		if err := d.validate(); err != nil {
			return err
		}
		if l[:i].Contains(d.Tag) {
			return fmt.Errorf("%w: instance tag %s listed twice", ErrMalformed, xmppconn.FormatTag(d.Tag))
		}
	}
	return nil
}

type wireDevice struct {
	XMLName xml.Name `xml:"device"`
	Tag     string   `xml:"tag,attr"`
	Label   string   `xml:"label,attr,omitempty"`
}

type wireDevices struct {
	XMLName xml.Name     `xml:"urn:otrchat:otrv4:0 devices"`
	Devices []wireDevice `xml:"device"`
}

// Marshal encodes the list as a <devices/> element. It refuses lists of more
// than MaxDevices devices, duplicate tags and bad labels.
func (l List) Marshal() ([]byte, error) {
	if err := l.validate(MaxDevices); err != nil {
		return nil, err
	}
	return l.marshal()
}

func (l List) marshal() ([]byte, error) {
	w := wireDevices{Devices: make([]wireDevice, 0, len(l))}
	for _, d := range l {
		w.Devices = append(w.Devices, wireDevice{Tag: xmppconn.FormatTag(d.Tag), Label: d.Label})
	}
	return xml.Marshal(w)
}

// ParseList decodes a <devices/> element strictly: only <device/> children
// with a canonical tag and an optional label, no text, no duplicate tags, at
// most MaxDevices entries (ErrTooManyDevices beyond).
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
	if !ok || start.Name.Space != NS || start.Name.Local != "devices" {
		return nil, fmt.Errorf("%w: expected <devices xmlns='%s'>", ErrMalformed, NS)
	}
	if err := noAttrs(start, nil); err != nil {
		return nil, err
	}
	var l List
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
			if t.Name.Space != NS || t.Name.Local != "device" {
				return nil, fmt.Errorf("%w: unexpected <%s/>", ErrMalformed, t.Name.Local)
			}
			if len(l) >= limit {
				if limit == MaxDevices {
					return nil, fmt.Errorf("%w (more than %d)", ErrTooManyDevices, limit)
				}
				return nil, fmt.Errorf("%w: more than %d entries", ErrMalformed, limit)
			}
			var tag, label *string
			if err := noAttrs(t, map[string]**string{"tag": &tag, "label": &label}); err != nil {
				return nil, err
			}
			if tag == nil {
				return nil, fmt.Errorf("%w: <device/> without tag", ErrMalformed)
			}
			v, err := xmppconn.ParseTag(*tag)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			dev := Device{Tag: v}
			if label != nil {
				if *label == "" {
					return nil, fmt.Errorf("%w: empty label", ErrMalformed)
				}
				dev.Label = *label
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
