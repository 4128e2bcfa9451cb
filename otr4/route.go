package otr4

import (
	"encoding/binary"

	"github.com/otrchat/otrchat/otr4/internal/fragment"
	"github.com/otrchat/otrchat/otr4/internal/query"
)

// RouteKind is the kind of a received wire string, as far as routing it to
// a conversation needs.
type RouteKind int

// Route kinds.
const (
	RoutePlaintext        RouteKind = iota // no OTR marker
	RoutePlaintextWithTag                  // plaintext with a whitespace tag
	RouteQuery                             // a query message
	RouteError                             // an OTR error message
	RouteEncoded                           // an encoded OTR message ("?OTR:...")
	RouteFragment                          // a fragment of an encoded message
)

// Route says where a received wire string belongs: an application with
// several conversations per correspondent (one per remote instance) reads
// the sender instance tag here to pick the conversation to feed, before
// any conversation exists for it.
type Route struct {
	Kind RouteKind
	// Version is the protocol version of an encoded message or fragment
	// (2, 3 or 4), 0 when it cannot be known.
	Version int
	// Type is the message type byte of an encoded message.
	Type byte
	// Sender and Receiver are the instance tags in the message header or
	// fragment, 0 when absent.
	Sender, Receiver InstanceTag
	// Offers lists the versions a query message or whitespace tag offers.
	Offers []int
}

// Identity reports whether the message is an OTRv4 Identity message, the
// one message that may start a conversation with a new instance.
func (r Route) Identity() bool {
	return r.Kind == RouteEncoded && r.Version == 4 && r.Type == msgTypeIdentity
}

// NonInteractiveAuth reports whether the message starts an offline
// conversation.
func (r Route) NonInteractiveAuth() bool {
	return r.Kind == RouteEncoded && r.Version == 4 && r.Type == msgTypeNonInteractiveAuth
}

// PeekRoute classifies msg without changing any state. It never fails:
// what it cannot read is reported with zero tags.
func PeekRoute(msg string) Route {
	switch query.Classify(msg) {
	case query.KindFragment:
		f, err := fragment.Parse(msg)
		if err != nil {
			return Route{Kind: RouteFragment}
		}
		r := Route{Kind: RouteFragment, Sender: InstanceTag(f.Sender), Receiver: InstanceTag(f.Receiver)}
		switch f.Format {
		case fragment.FormatV4:
			r.Version = 4
		case fragment.FormatV3:
			r.Version = 3
		case fragment.FormatV2:
			r.Version = 2
		}
		return r
	case query.KindError:
		return Route{Kind: RouteError}
	case query.KindEncoded:
		r := Route{Kind: RouteEncoded}
		b, err := query.DecodeEncoded(msg)
		if err != nil || len(b) < 3 {
			return r
		}
		v, err := query.ProtocolVersion(b)
		if err != nil {
			return r
		}
		r.Version, r.Type = int(v), b[2]
		if len(b) >= 11 && v >= 3 {
			r.Sender = InstanceTag(binary.BigEndian.Uint32(b[3:7]))
			r.Receiver = InstanceTag(binary.BigEndian.Uint32(b[7:11]))
		}
		return r
	case query.KindQuery:
		v, _ := query.ParseQuery(msg)
		return Route{Kind: RouteQuery, Offers: offers(v)}
	case query.KindPlaintextWithTag:
		_, v, _ := query.StripWhitespaceTag(msg)
		return Route{Kind: RoutePlaintextWithTag, Offers: offers(v)}
	}
	return Route{Kind: RoutePlaintext}
}

func offers(v query.Versions) []int {
	var out []int
	for _, n := range []int{2, 3, 4} {
		if v.Has(n) {
			out = append(out, n)
		}
	}
	return out
}

// StripWhitespaceTag returns plaintext without an OTR whitespace tag.
func StripWhitespaceTag(msg string) string {
	if query.Classify(msg) != query.KindPlaintextWithTag {
		return msg
	}
	plain, _, _ := query.StripWhitespaceTag(msg)
	return plain
}
