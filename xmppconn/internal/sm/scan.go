package sm

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrScan is wrapped by the errors of a Scanner: the bytes are not an XML
// stream it can follow, so stanzas can no longer be counted.
var ErrScan = errors.New("sm: cannot follow the XML stream")

// Limits of the Scanner.
const (
	maxName  = 256     // element and attribute names
	maxID    = 256     // id attribute values kept
	maxRaw   = 1 << 20 // bytes of one top-level element kept with KeepRaw
	maxDepth = 1024
)

// Element is a child of <stream:stream> (a top-level element) seen by a
// Scanner.
type Element struct {
	// Name is the local name ("message", "r", …).
	Name string
	// Stanza is true for message, presence and iq: the elements that
	// stream management counts.
	Stanza bool
	// ID is the id attribute as written (entities not decoded), "" when
	// absent or longer than 256 bytes.
	ID string
	// Raw is the element's bytes when the Scanner keeps them.
	Raw []byte
}

type scanState uint8

const (
	sText scanState = iota
	sLT
	sName
	sAttrs
	sAttrName
	sAttrEq
	sAttrQuote
	sAttrVal
	sSelfClose
	sEndName
	sEndWS
	sPI
	sPIQ
	sBang
	sBangDash
	sComment
	sComDash1
	sComDash2
	sCDATAOpen
	sCDATA
	sCD1
	sCD2
)

// Scanner follows one direction of an XML stream byte by byte, without
// building tokens, and reports each top-level element: when its start tag
// is complete (Start) and when the element is complete (End). A new stream
// header (<stream:stream>, as after STARTTLS or SASL) resets it. It is
// deliberately lenient where encoding/xml (which parses the same bytes for
// mellium) is strict, and strict only where it must be to count: tags,
// quotes, comments, CDATA and processing instructions.
type Scanner struct {
	// KeepRaw makes End carry the element's bytes.
	KeepRaw bool
	// Start, End and Header, when set, are called from Write.
	Start  func(name string)
	End    func(e Element)
	Header func()

	st       scanState
	depth    int
	name     []byte
	attr     []byte
	val      []byte
	quote    byte
	idVal    string
	idOver   bool
	cdata    int
	topName  string
	topID    string
	raw      []byte
	capture  bool
	isEnd    bool
	err      error
	consumed int64
}

// Depth returns the current element depth (1 inside the stream).
func (s *Scanner) Depth() int { return s.depth }

// Err returns the error that stopped the scanner, if any.
func (s *Scanner) Err() error { return s.err }

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

func isNameByte(b byte) bool {
	return b == ':' || b == '_' || b == '-' || b == '.' || b >= '0' && b <= '9' ||
		b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
}

func localName(qname []byte) string {
	if i := bytes.LastIndexByte(qname, ':'); i >= 0 {
		return string(qname[i+1:])
	}
	return string(qname)
}

func (s *Scanner) fail(format string, args ...any) error {
	s.err = fmt.Errorf("%w: "+format+" (at byte %d)", append([]any{ErrScan}, append(args, s.consumed)...)...)
	return s.err
}

// Write scans p. It returns an error (wrapping ErrScan) once the bytes
// cannot be followed; the Scanner then refuses everything after.
func (s *Scanner) Write(p []byte) (int, error) {
	for i, b := range p {
		if s.err != nil {
			return i, s.err
		}
		if err := s.step(b); err != nil {
			return i, err
		}
		s.consumed++
	}
	return len(p), s.err
}

// WriteByte scans one byte.
func (s *Scanner) WriteByte(b byte) error {
	if s.err != nil {
		return s.err
	}
	if err := s.step(b); err != nil {
		return err
	}
	s.consumed++
	return nil
}

func (s *Scanner) step(b byte) error {
	if s.capture {
		if len(s.raw) >= maxRaw {
			return s.fail("top-level element longer than %d bytes", maxRaw)
		}
		s.raw = append(s.raw, b)
	}
	switch s.st {
	case sText:
		if b == '<' {
			s.st = sLT
			if s.depth == 1 && s.KeepRaw && !s.capture {
				s.capture = true
				s.raw = append(s.raw[:0], '<')
			}
		} else if s.depth == 0 && !isSpace(b) {
			return s.fail("text outside the stream")
		}
	case sLT:
		switch {
		case b == '/':
			s.st = sEndName
			s.name = s.name[:0]
		case b == '?':
			s.st = sPI
		case b == '!':
			s.st = sBang
		case isNameByte(b):
			s.st = sName
			s.name = append(s.name[:0], b)
			s.idVal, s.idOver = "", false
		default:
			return s.fail("bad character %q after '<'", b)
		}
	case sName:
		switch {
		case isNameByte(b):
			if len(s.name) >= maxName {
				return s.fail("name too long")
			}
			s.name = append(s.name, b)
		case isSpace(b):
			s.st = sAttrs
		case b == '/':
			s.st = sSelfClose
		case b == '>':
			return s.startTag(false)
		default:
			return s.fail("bad character %q in a name", b)
		}
	case sAttrs:
		switch {
		case isSpace(b):
		case b == '/':
			s.st = sSelfClose
		case b == '>':
			return s.startTag(false)
		case isNameByte(b):
			s.st = sAttrName
			s.attr = append(s.attr[:0], b)
		default:
			return s.fail("bad character %q in a tag", b)
		}
	case sAttrName:
		switch {
		case isNameByte(b):
			if len(s.attr) >= maxName {
				return s.fail("attribute name too long")
			}
			s.attr = append(s.attr, b)
		case isSpace(b):
			s.st = sAttrEq
		case b == '=':
			s.st = sAttrQuote
		default:
			return s.fail("bad character %q in an attribute name", b)
		}
	case sAttrEq:
		switch {
		case isSpace(b):
		case b == '=':
			s.st = sAttrQuote
		default:
			return s.fail("attribute without value")
		}
	case sAttrQuote:
		switch {
		case isSpace(b):
		case b == '"' || b == '\'':
			s.quote = b
			s.st = sAttrVal
			s.val = s.val[:0]
		default:
			return s.fail("unquoted attribute value")
		}
	case sAttrVal:
		switch b {
		case s.quote:
			if s.depth == 1 && string(s.attr) == "id" {
				if len(s.val) > maxID {
					s.idVal, s.idOver = "", true
				} else {
					s.idVal = string(s.val)
				}
			}
			s.st = sAttrs
		case '<':
			return s.fail("'<' in an attribute value")
		default:
			if s.depth == 1 && string(s.attr) == "id" && len(s.val) <= maxID {
				s.val = append(s.val, b)
			}
		}
	case sSelfClose:
		if b != '>' {
			return s.fail("'/' not followed by '>' in a tag")
		}
		return s.startTag(true)
	case sEndName:
		switch {
		case isNameByte(b):
			if len(s.name) >= maxName {
				return s.fail("name too long")
			}
			s.name = append(s.name, b)
		case isSpace(b):
			s.st = sEndWS
		case b == '>':
			return s.endTag()
		default:
			return s.fail("bad character %q in an end tag", b)
		}
	case sEndWS:
		switch {
		case isSpace(b):
		case b == '>':
			return s.endTag()
		default:
			return s.fail("bad character %q in an end tag", b)
		}
	case sPI:
		if b == '?' {
			s.st = sPIQ
		}
	case sPIQ:
		switch b {
		case '>':
			s.st = sText
			s.dropCapture()
		case '?':
		default:
			s.st = sPI
		}
	case sBang:
		switch b {
		case '-':
			s.st = sBangDash
		case '[':
			s.st = sCDATAOpen
			s.cdata = 0
		default:
			return s.fail("DTDs are not allowed in XMPP")
		}
	case sBangDash:
		if b != '-' {
			return s.fail("bad comment")
		}
		s.st = sComment
	case sComment:
		if b == '-' {
			s.st = sComDash1
		}
	case sComDash1:
		if b == '-' {
			s.st = sComDash2
		} else {
			s.st = sComment
		}
	case sComDash2:
		switch b {
		case '>':
			s.st = sText
			s.dropCapture()
		case '-':
		default:
			s.st = sComment
		}
	case sCDATAOpen:
		if b != "CDATA["[s.cdata] {
			return s.fail("bad CDATA section")
		}
		s.cdata++
		if s.cdata == len("CDATA[") {
			if s.depth < 2 {
				return s.fail("CDATA outside an element")
			}
			s.st = sCDATA
		}
	case sCDATA:
		if b == ']' {
			s.st = sCD1
		}
	case sCD1:
		if b == ']' {
			s.st = sCD2
		} else {
			s.st = sCDATA
		}
	case sCD2:
		switch b {
		case '>':
			s.st = sText
		case ']':
		default:
			s.st = sCDATA
		}
	}
	return nil
}

// dropCapture forgets bytes captured for something that was not a
// top-level element (a comment or processing instruction at depth 1).
func (s *Scanner) dropCapture() {
	if s.depth == 1 {
		s.capture = false
		s.raw = s.raw[:0]
	}
}

func (s *Scanner) startTag(self bool) error {
	s.st = sText
	local := localName(s.name)
	if local == "stream" && s.depth <= 1 && !self {
		// A stream header: the first, or a restart.
		s.depth = 1
		s.capture = false
		s.raw = s.raw[:0]
		if s.Header != nil {
			s.Header()
		}
		return nil
	}
	if s.depth == 0 {
		return s.fail("element <%s> outside the stream", local)
	}
	if s.depth >= maxDepth {
		return s.fail("elements nested deeper than %d", maxDepth)
	}
	s.depth++
	if s.depth == 2 {
		s.topName = local
		s.topID = s.idVal
		if s.idOver {
			s.topID = ""
		}
		if s.Start != nil {
			s.Start(local)
		}
	}
	if self {
		return s.endTag0()
	}
	return nil
}

func (s *Scanner) endTag() error {
	s.st = sText
	if s.depth == 1 && localName(s.name) == "stream" {
		s.depth = 0
		s.capture = false
		s.raw = s.raw[:0]
		return nil
	}
	if s.depth < 2 {
		return s.fail("unexpected end tag </%s>", s.name)
	}
	return s.endTag0()
}

func (s *Scanner) endTag0() error {
	s.depth--
	if s.depth != 1 {
		return nil
	}
	e := Element{Name: s.topName, ID: s.topID, Stanza: s.topName == "message" || s.topName == "presence" || s.topName == "iq"}
	if s.KeepRaw {
		e.Raw = bytes.Clone(s.raw)
		s.capture = false
		s.raw = s.raw[:0]
	}
	if s.End != nil {
		s.End(e)
	}
	return nil
}
