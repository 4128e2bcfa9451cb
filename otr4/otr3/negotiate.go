package otr3

import (
	"encoding/binary"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/fragment"
	"github.com/otrchat/otrchat/otr4/internal/query"
)

// Version is an OTR protocol version chosen for a conversation.
type Version int

// The versions. VersionNone: the message neither offers nor carries a
// version we allow.
const (
	VersionNone Version = 0
	Version3    Version = 3
	Version4    Version = 4
)

// Policy says which protocol versions we allow with a correspondent. The
// OTRv3-compatible mode allows both; "v4 whenever both sides support it".
type Policy struct {
	AllowV3, AllowV4 bool
}

func (p Policy) versions() query.Versions {
	var v query.Versions
	if p.AllowV3 {
		v = v.With(3)
	}
	if p.AllowV4 {
		v = v.With(4)
	}
	return v
}

// QueryMessage returns the query message offering the allowed versions
// ("?OTRv34?" when both are).
func (p Policy) QueryMessage() string { return query.QueryMessage(p.versions()) }

// TagPlaintext appends the whitespace tag offering the allowed versions.
func (p Policy) TagPlaintext(text string) string {
	return query.AppendWhitespaceTag(text, p.versions())
}

// Choose tells which engine a received wire string is for:
//   - a query message or a whitespace tag: version 4 if both sides offer
//     it, otherwise version 3 if both offer that (otrv4.md, "Receiving a
//     Query Message": the OTRv4 rule first, then the OTRv3 one);
//   - an encoded message or a fragment: the version it is written in, if
//     allowed;
//   - anything else (plaintext, error messages): VersionNone; the
//     conversation already running, if any, takes it.
func (p Policy) Choose(msg string) Version {
	allowed := p.versions()
	var offered query.Versions
	switch query.Classify(msg) {
	case query.KindQuery:
		offered, _ = query.ParseQuery(msg)
	case query.KindPlaintextWithTag:
		_, offered, _ = query.StripWhitespaceTag(msg)
	case query.KindEncoded:
		b, err := query.DecodeEncoded(msg)
		if err != nil {
			return VersionNone
		}
		v, err := query.ProtocolVersion(b)
		if err != nil || (v != 3 && v != 4) || !allowed.Has(v) {
			return VersionNone
		}
		return Version(v)
	case query.KindFragment:
		f, err := fragment.Parse(msg)
		if err != nil {
			return VersionNone
		}
		switch {
		case f.Format == fragment.FormatV3 && allowed.Has(3):
			return Version3
		case f.Format == fragment.FormatV4 && allowed.Has(4):
			return Version4
		}
		return VersionNone
	default:
		return VersionNone
	}
	both := offered & allowed
	switch {
	case both.Has(4):
		return Version4
	case both.Has(3):
		return Version3
	}
	return VersionNone
}

// InstanceTags returns the sender and receiver instance tags of an OTRv3
// encoded message or fragment, so that a session layer can hand it to the
// conversation with that instance (creating one for a new sender). ok is
// false for anything else.
func InstanceTags(msg string) (sender, receiver otr4.InstanceTag, ok bool) {
	switch query.Classify(msg) {
	case query.KindFragment:
		f, err := fragment.Parse(msg)
		if err != nil || f.Format != fragment.FormatV3 {
			return 0, 0, false
		}
		return otr4.InstanceTag(f.Sender), otr4.InstanceTag(f.Receiver), true
	case query.KindEncoded:
		b, err := query.DecodeEncoded(msg)
		if err != nil || len(b) < 11 || binary.BigEndian.Uint16(b) != 3 {
			return 0, 0, false
		}
		return otr4.InstanceTag(binary.BigEndian.Uint32(b[3:])), otr4.InstanceTag(binary.BigEndian.Uint32(b[7:])), true
	}
	return 0, 0, false
}
