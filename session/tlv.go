package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
)

// otrchat's own TLV types, sent only inside OTR conversations between the
// devices of one account (docs/session-tlvs.md). They are in a range the
// OTRv4 and OTRv3 specifications do not use.
const (
	// TLVSentCopy marks a data message as a copy, for the account's other
	// devices, of a message this device sent to a contact.
	TLVSentCopy uint16 = 0x7A01
	// TLVTrust carries a trust decision about a contact's fingerprint to
	// the account's other devices.
	TLVTrust uint16 = 0x7A02
)

const tlvVersion = 1

var errTLV = errors.New("session: malformed otrchat TLV")

// maxJID bounds the JID in our TLVs (RFC 7622: 3 parts of at most 1023
// bytes each).
const maxJID = 3071

func appendJID(b []byte, j jid.JID) []byte {
	s := j.Bare().String()
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func readJID(b []byte) (jid.JID, []byte, error) {
	if len(b) < 2 {
		return jid.JID{}, nil, fmt.Errorf("%w: short JID", errTLV)
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n == 0 || n > maxJID || len(b) < n || !utf8.Valid(b[:n]) {
		return jid.JID{}, nil, fmt.Errorf("%w: bad JID length", errTLV)
	}
	j, err := jid.Parse(string(b[:n]))
	if err != nil || j.Resourcepart() != "" || j.Localpart() == "" || j.String() != string(b[:n]) {
		return jid.JID{}, nil, fmt.Errorf("%w: not a bare JID in canonical form", errTLV)
	}
	return j, b[n:], nil
}

// sentCopy is the value of a TLVSentCopy.
type sentCopy struct {
	contact jid.JID
	sent    time.Time
}

func (s sentCopy) tlv() otr4.TLV {
	b := []byte{tlvVersion}
	b = binary.BigEndian.AppendUint64(b, uint64(s.sent.UnixMilli()))
	b = appendJID(b, s.contact)
	return otr4.TLV{Type: TLVSentCopy, Value: b}
}

func parseSentCopy(b []byte) (sentCopy, error) {
	if len(b) < 9 || b[0] != tlvVersion {
		return sentCopy{}, fmt.Errorf("%w: copy header", errTLV)
	}
	ms := int64(binary.BigEndian.Uint64(b[1:9]))
	j, rest, err := readJID(b[9:])
	if err != nil {
		return sentCopy{}, err
	}
	if len(rest) != 0 {
		return sentCopy{}, fmt.Errorf("%w: trailing bytes", errTLV)
	}
	return sentCopy{contact: j, sent: time.UnixMilli(ms)}, nil
}

// trustSync is the value of a TLVTrust. Version 1 carries a 56-byte OTRv4 fingerprint;
// version 2 (OTRv3-compatible mode) a length byte and the fingerprint, 20 bytes (OTRv3) or
// 56. A decision on an OTRv4 fingerprint is still sent as version 1, so that devices that
// know only version 1 keep applying it.
type trustSync struct {
	contact     jid.JID
	fingerprint []byte     // 56 (OTRv4) or 20 (OTRv3) bytes
	level       TrustLevel // Verified or Untrusted (revoked)
	method      uint8
	at          time.Time
}

const (
	fpV4 = len(otr4.Fingerprint{})
	fpV3 = 20 // otr3.Fingerprint
)

func (t trustSync) tlv() otr4.TLV {
	v := byte(tlvVersion)
	if len(t.fingerprint) != fpV4 {
		v = 2
	}
	b := []byte{v, byte(t.level), t.method}
	b = binary.BigEndian.AppendUint64(b, uint64(t.at.UnixMilli()))
	if v == 2 {
		b = append(b, byte(len(t.fingerprint)))
	}
	b = append(b, t.fingerprint...)
	b = appendJID(b, t.contact)
	return otr4.TLV{Type: TLVTrust, Value: b}
}

func parseTrustSync(b []byte) (trustSync, error) {
	var t trustSync
	if len(b) < 11 || (b[0] != tlvVersion && b[0] != 2) {
		return t, fmt.Errorf("%w: trust header", errTLV)
	}
	t.level = TrustLevel(b[1])
	if t.level != Verified && t.level != Untrusted {
		return t, fmt.Errorf("%w: trust level %d", errTLV, b[1])
	}
	t.method = b[2]
	t.at = time.UnixMilli(int64(binary.BigEndian.Uint64(b[3:11])))
	rest := b[11:]
	n := fpV4
	if b[0] == 2 {
		if len(rest) < 1 || (int(rest[0]) != fpV3 && int(rest[0]) != fpV4) {
			return t, fmt.Errorf("%w: fingerprint length", errTLV)
		}
		n, rest = int(rest[0]), rest[1:]
	}
	if len(rest) < n {
		return t, fmt.Errorf("%w: short fingerprint", errTLV)
	}
	t.fingerprint = append([]byte(nil), rest[:n]...)
	j, rest, err := readJID(rest[n:])
	if err != nil {
		return t, err
	}
	if len(rest) != 0 {
		return t, fmt.Errorf("%w: trailing bytes", errTLV)
	}
	t.contact = j
	return t, nil
}
