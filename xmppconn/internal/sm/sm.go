// Package sm is the wire side of XEP-0198 Stream Management (version 1.6,
// namespace urn:xmpp:sm:3) for otrchat's XMPP transport: the elements
// (§3 enable/enabled, §4 r/a, §5 resume/resumed, §6 failed), a byte
// Scanner that counts the stanzas of a stream as mellium reads or writes
// them, and the Outbox of stanzas the server has not acknowledged yet.
// It does no I/O; xmppconn wires it into a mellium session.
package sm

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// NS is the XEP-0198 namespace.
const NS = "urn:xmpp:sm:3"

// nsStanzas is the namespace of the error conditions in <failed/>.
const nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"

// maxElement bounds an element handed to Parse.
const maxElement = 4096

// ErrMalformed is wrapped by Parse for input it rejects.
var ErrMalformed = errors.New("sm: malformed stream management element")

// Enable asks the server to enable stream management (§3), with
// resumption when Resume is set.
type Enable struct {
	Resume bool
	// Max is the preferred resumption time in seconds (0: not sent).
	Max uint32
}

// Enabled is the server's answer to Enable.
type Enabled struct {
	// ID identifies the stream for resumption (empty when not resumable).
	ID     string
	Resume bool
	// Location is where to reconnect for resumption ("" when not given).
	Location string
	// Max is the longest resumption time in seconds (0 when not given).
	Max uint32
}

// Request is <r/>: the peer asks how many stanzas were handled (§4).
type Request struct{}

// Ack is <a h=”/>: H stanzas were handled (§4), modulo 2^32.
type Ack struct{ H uint32 }

// Resume asks to resume the stream PrevID, H stanzas having been handled
// (§5).
type Resume struct {
	PrevID string
	H      uint32
}

// Resumed is the server's acceptance of Resume: it handled H of our
// stanzas.
type Resumed struct {
	PrevID string
	H      uint32
}

// Failed is the server's refusal of Enable or Resume (§6). HasH tells
// whether H (stanzas of the old stream it handled) was given; Condition is
// the local name of the stanza error condition, such as "item-not-found".
type Failed struct {
	HasH      bool
	H         uint32
	Condition string
}

type wireSM struct {
	XMLName  xml.Name
	ID       *string    `xml:"id,attr"`
	Resume   *string    `xml:"resume,attr"`
	Location *string    `xml:"location,attr"`
	Max      *string    `xml:"max,attr"`
	H        *string    `xml:"h,attr"`
	PrevID   *string    `xml:"previd,attr"`
	Extra    []xml.Attr `xml:",any,attr"`
	Children []struct {
		XMLName xml.Name
		Inner   []byte `xml:",innerxml"`
	} `xml:",any"`
	Text string `xml:",chardata"`
}

func parseUint32(s string) (uint32, error) {
	// Strict: decimal digits only, no sign, no leading zeros.
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%w: number %q", ErrMalformed, short(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: number %q", ErrMalformed, short(s))
		}
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: number %q out of range", ErrMalformed, short(s))
	}
	return uint32(v), nil
}

func parseBool(s string) (bool, error) {
	switch s {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%w: boolean %q", ErrMalformed, short(s))
}

func short(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// validID accepts what XEP-0198 allows as a stream id: 1 to 1024 bytes of
// printable UTF-8.
func validID(s string) bool {
	if s == "" || len(s) > 1024 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Parse decodes one stream management element that a server sent:
// Enabled, Request, Ack, Resumed or Failed (as values). Anything else, any
// unknown attribute, or a bad number is an error wrapping ErrMalformed.
func Parse(b []byte) (any, error) {
	if len(b) > maxElement || !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: longer than %d bytes or not UTF-8", ErrMalformed, maxElement)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	var w wireSM
	if err := d.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) == 0 {
			continue
		}
		return nil, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if w.XMLName.Space != NS {
		return nil, fmt.Errorf("%w: namespace %q", ErrMalformed, short(w.XMLName.Space))
	}
	for _, a := range w.Extra {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		return nil, fmt.Errorf("%w: unknown attribute %q", ErrMalformed, short(a.Name.Local))
	}
	if len(bytes.TrimSpace([]byte(w.Text))) != 0 {
		return nil, fmt.Errorf("%w: text in <%s/>", ErrMalformed, w.XMLName.Local)
	}
	allowed := func(attrs ...string) error {
		present := map[string]bool{"id": w.ID != nil, "resume": w.Resume != nil, "location": w.Location != nil,
			"max": w.Max != nil, "h": w.H != nil, "previd": w.PrevID != nil}
		for _, a := range attrs {
			delete(present, a)
		}
		for a, ok := range present {
			if ok {
				return fmt.Errorf("%w: attribute %q not allowed in <%s/>", ErrMalformed, a, w.XMLName.Local)
			}
		}
		if w.XMLName.Local != "failed" && len(w.Children) > 0 {
			return fmt.Errorf("%w: children in <%s/>", ErrMalformed, w.XMLName.Local)
		}
		return nil
	}
	needH := func() (uint32, error) {
		if w.H == nil {
			return 0, fmt.Errorf("%w: <%s/> without h", ErrMalformed, w.XMLName.Local)
		}
		return parseUint32(*w.H)
	}
	switch w.XMLName.Local {
	case "enabled":
		if err := allowed("id", "resume", "location", "max"); err != nil {
			return nil, err
		}
		var e Enabled
		if w.Resume != nil {
			r, err := parseBool(*w.Resume)
			if err != nil {
				return nil, err
			}
			e.Resume = r
		}
		if w.ID != nil {
			if !validID(*w.ID) {
				return nil, fmt.Errorf("%w: stream id %q", ErrMalformed, short(*w.ID))
			}
			e.ID = *w.ID
		}
		if e.Resume && e.ID == "" {
			return nil, fmt.Errorf("%w: resumable stream without id", ErrMalformed)
		}
		if w.Location != nil {
			if *w.Location == "" || len(*w.Location) > 1024 {
				return nil, fmt.Errorf("%w: location %q", ErrMalformed, short(*w.Location))
			}
			e.Location = *w.Location
		}
		if w.Max != nil {
			m, err := parseUint32(*w.Max)
			if err != nil {
				return nil, err
			}
			e.Max = m
		}
		return e, nil
	case "r":
		if err := allowed(); err != nil {
			return nil, err
		}
		return Request{}, nil
	case "a":
		if err := allowed("h"); err != nil {
			return nil, err
		}
		h, err := needH()
		if err != nil {
			return nil, err
		}
		return Ack{H: h}, nil
	case "resumed":
		if err := allowed("h", "previd"); err != nil {
			return nil, err
		}
		h, err := needH()
		if err != nil {
			return nil, err
		}
		if w.PrevID == nil || !validID(*w.PrevID) {
			return nil, fmt.Errorf("%w: <resumed/> without a valid previd", ErrMalformed)
		}
		return Resumed{PrevID: *w.PrevID, H: h}, nil
	case "failed":
		if err := allowed("h"); err != nil {
			return nil, err
		}
		var f Failed
		if w.H != nil {
			h, err := parseUint32(*w.H)
			if err != nil {
				return nil, err
			}
			f.HasH, f.H = true, h
		}
		for _, c := range w.Children {
			if c.XMLName.Space == nsStanzas && f.Condition == "" && c.XMLName.Local != "text" {
				f.Condition = c.XMLName.Local
			}
		}
		return f, nil
	}
	return nil, fmt.Errorf("%w: unknown element <%s/>", ErrMalformed, short(w.XMLName.Local))
}

func attr(name, value string) xml.Attr { return xml.Attr{Name: xml.Name{Local: name}, Value: value} }

// StartElement returns the start tag of v, one of the element types of this
// package (values); the elements have no content except Failed's condition.
func StartElement(v any) (xml.StartElement, error) {
	el := func(local string, attrs ...xml.Attr) xml.StartElement {
		return xml.StartElement{Name: xml.Name{Space: NS, Local: local}, Attr: attrs}
	}
	switch v := v.(type) {
	case Enable:
		var a []xml.Attr
		if v.Resume {
			a = append(a, attr("resume", "true"))
		}
		if v.Max != 0 {
			a = append(a, attr("max", strconv.FormatUint(uint64(v.Max), 10)))
		}
		return el("enable", a...), nil
	case Enabled:
		var a []xml.Attr
		if v.ID != "" {
			a = append(a, attr("id", v.ID))
		}
		if v.Resume {
			a = append(a, attr("resume", "true"))
		}
		if v.Location != "" {
			a = append(a, attr("location", v.Location))
		}
		if v.Max != 0 {
			a = append(a, attr("max", strconv.FormatUint(uint64(v.Max), 10)))
		}
		return el("enabled", a...), nil
	case Request:
		return el("r"), nil
	case Ack:
		return el("a", attr("h", strconv.FormatUint(uint64(v.H), 10))), nil
	case Resume:
		return el("resume", attr("h", strconv.FormatUint(uint64(v.H), 10)), attr("previd", v.PrevID)), nil
	case Resumed:
		return el("resumed", attr("h", strconv.FormatUint(uint64(v.H), 10)), attr("previd", v.PrevID)), nil
	case Failed:
		var a []xml.Attr
		if v.HasH {
			a = append(a, attr("h", strconv.FormatUint(uint64(v.H), 10)))
		}
		return el("failed", a...), nil
	}
	return xml.StartElement{}, fmt.Errorf("sm: cannot encode %T", v)
}

// Marshal encodes v (see StartElement) as bytes.
func Marshal(v any) ([]byte, error) {
	start, err := StartElement(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	e := xml.NewEncoder(&buf)
	if err := e.EncodeToken(start); err != nil {
		return nil, err
	}
	if f, ok := v.(Failed); ok && f.Condition != "" {
		c := xml.StartElement{Name: xml.Name{Space: nsStanzas, Local: f.Condition}}
		if err := e.EncodeToken(c); err != nil {
			return nil, err
		}
		if err := e.EncodeToken(c.End()); err != nil {
			return nil, err
		}
	}
	if err := e.EncodeToken(start.End()); err != nil {
		return nil, err
	}
	if err := e.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
