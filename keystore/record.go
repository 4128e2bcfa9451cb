package keystore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// Sizes of the key material kept in records (OTRv4 section "Data Types").
const (
	SeedSize         = 57 // an Ed448 secret key seed (the long-term key or the forging key)
	PublicKeySize    = 57 // an Ed448 point, RFC 8032 encoding
	FingerprintSize  = 56 // HWC(usage_fingerprint || H || F, 56)
	ECDHSecretSize   = 57 // an ECDH secret of a prekey message
	DHSecretSize     = 80 // a 3072-bit DH secret exponent of a prekey message
	MinInstanceTag   = 0x100
	maxBlobSize      = 1 << 20 // bound on any variable-length field
	maxJIDSize       = 3071    // RFC 7622 section 3.1
	maxKnownDevices  = 1024
	recordVersion    = 1
	recordVersionV0  = 0 // only trust records of a v0 store; see migrate.go
	recordHeaderSize = 2
)

// TrustMethod says how a fingerprint was verified.
type TrustMethod uint8

// Trust methods.
const (
	MethodSMP    TrustMethod = 1 // Socialist Millionaires' Protocol (OTRv4 section "Socialist Millionaires Protocol (SMP)")
	MethodManual TrustMethod = 2 // fingerprints compared by hand
)

func (m TrustMethod) String() string {
	switch m {
	case MethodSMP:
		return "SMP"
	case MethodManual:
		return "manual"
	}
	return fmt.Sprintf("TrustMethod(%d)", uint8(m))
}

// Identity is one own device of an account: its instance tag and long-term secrets.
type Identity struct {
	InstanceTag   uint32
	LongTermSeed  []byte // SeedSize bytes
	ForgingPublic []byte // PublicKeySize bytes
	ForgingSecret []byte // nil, or SeedSize bytes when the forging key's secret is kept
	Created       time.Time
}

// ClientProfile is the device's signed client profile, stored as encoded by otr4.
type ClientProfile struct {
	Encoded []byte
	Expires time.Time
}

// PrekeyProfile is the device's signed prekey profile and the secret of its shared prekey.
type PrekeyProfile struct {
	Encoded            []byte
	SharedPrekeySecret []byte // ECDHSecretSize bytes
	Expires            time.Time
}

// PrekeySecret holds the secrets of one published prekey message.
type PrekeySecret struct {
	ID         uint32 // the prekey message identifier
	ECDHSecret []byte // ECDHSecretSize bytes
	DHSecret   []byte // DHSecretSize bytes
	Created    time.Time
}

// PinnedServer is a prekey server's fingerprint as first seen (trust on first use).
type PinnedServer struct {
	ServerJID   string
	Fingerprint []byte // FingerprintSize bytes
	FirstSeen   time.Time
}

// TrustDecision records whether a contact's fingerprint is trusted, how and when that was decided.
type TrustDecision struct {
	Contact     string // bare JID
	Fingerprint []byte // FingerprintSize bytes
	Trusted     bool
	Method      TrustMethod
	Time        time.Time
}

// KnownDevice is one device seen for a contact.
type KnownDevice struct {
	InstanceTag uint32
	Fingerprint []byte // FingerprintSize bytes
	LastSeen    time.Time
	FullJID     string // the full JID (with resource) it was last seen at; may be empty
}

// Record types: the second byte of every plaintext record.
const (
	typeAccount       byte = 1
	typeIdentity      byte = 2
	typeClientProfile byte = 3
	typePrekeyProfile byte = 4
	typePrekeySecret  byte = 5
	typeUsedPrekey    byte = 6
	typePinnedServer  byte = 7
	typeTrust         byte = 8
	typeContact       byte = 9
	typeConversation  byte = 10
	// typeUsedPrekeyUntil is a used-prekey marker that also says until when it matters
	// (schema version 2); typeUsedPrekey markers from version 1 stay readable.
	typeUsedPrekeyUntil byte = 11
	typeSeenPrekey      byte = 12
	typePassword        byte = 13
)

// The record structs that only exist inside the store.
type accountRecord struct{ JID string }
type usedPrekeyRecord struct {
	ID    uint32
	Taken time.Time
	// Until is when the prekey profile in force when the prekey was taken expires; after it
	// (and UsedMarkerGrace) the marker can no longer matter. Zero for a version 1 marker
	// (encoded as typeUsedPrekey), which matters until Taken + legacyMarkerLife.
	Until time.Time
	v2    bool
}

// seenPrekeyRecord remembers one prekey message received from a prekey server (its SHA-256
// digest), to notice the server handing it out again.
type seenPrekeyRecord struct {
	Digest [32]byte
	Seen   time.Time
}
type contactRecord struct {
	Contact string
	Devices []KnownDevice // sorted by InstanceTag, unique
}
type conversationRecord struct {
	Contact     string
	InstanceTag uint32
	State       []byte
}

// record is a value that can be stored: each is encoded as
// version byte || type byte || fields, and decoded strictly by decodeRecord.
type record interface {
	recordType() byte
	encodeBody(w *writer)
}

func (*accountRecord) recordType() byte { return typeAccount }
func (*Identity) recordType() byte      { return typeIdentity }
func (*ClientProfile) recordType() byte { return typeClientProfile }
func (*PrekeyProfile) recordType() byte { return typePrekeyProfile }
func (*PrekeySecret) recordType() byte  { return typePrekeySecret }
func (r *usedPrekeyRecord) recordType() byte {
	if r.v2 {
		return typeUsedPrekeyUntil
	}
	return typeUsedPrekey
}
func (*seenPrekeyRecord) recordType() byte   { return typeSeenPrekey }
func (*PinnedServer) recordType() byte       { return typePinnedServer }
func (d *TrustDecision) recordType() byte    { return trustType(d.Fingerprint) }
func (*contactRecord) recordType() byte      { return typeContact }
func (*conversationRecord) recordType() byte { return typeConversation }

func encodeRecord(r record) []byte {
	w := &writer{b: []byte{recordVersion, r.recordType()}}
	r.encodeBody(w)
	return w.b
}

func (r *accountRecord) encodeBody(w *writer) { w.str(r.JID) }
func (r *Identity) encodeBody(w *writer) {
	w.u32(r.InstanceTag)
	w.fixed(r.LongTermSeed)
	w.fixed(r.ForgingPublic)
	w.optFixed(r.ForgingSecret)
	w.time(r.Created)
}
func (r *ClientProfile) encodeBody(w *writer) { w.blob(r.Encoded); w.time(r.Expires) }
func (r *PrekeyProfile) encodeBody(w *writer) {
	w.blob(r.Encoded)
	w.fixed(r.SharedPrekeySecret)
	w.time(r.Expires)
}
func (r *PrekeySecret) encodeBody(w *writer) {
	w.u32(r.ID)
	w.fixed(r.ECDHSecret)
	w.fixed(r.DHSecret)
	w.time(r.Created)
}
func (r *usedPrekeyRecord) encodeBody(w *writer) {
	w.u32(r.ID)
	w.time(r.Taken)
	if r.v2 {
		w.time(r.Until)
	}
}
func (r *seenPrekeyRecord) encodeBody(w *writer) { w.fixed(r.Digest[:]); w.time(r.Seen) }
func (r *PinnedServer) encodeBody(w *writer) {
	w.str(r.ServerJID)
	w.fixed(r.Fingerprint)
	w.time(r.FirstSeen)
}
func (r *TrustDecision) encodeBody(w *writer) {
	w.str(r.Contact)
	w.fixed(r.Fingerprint)
	w.bool(r.Trusted)
	w.u8(uint8(r.Method))
	w.time(r.Time)
}
func (r *contactRecord) encodeBody(w *writer) {
	w.str(r.Contact)
	w.u32(uint32(len(r.Devices)))
	for _, d := range r.Devices {
		w.u32(d.InstanceTag)
		w.fixed(d.Fingerprint)
		w.time(d.LastSeen)
		w.str(d.FullJID)
	}
}
func (r *conversationRecord) encodeBody(w *writer) {
	w.str(r.Contact)
	w.u32(r.InstanceTag)
	w.blob(r.State)
}

var errDecode = errors.New("keystore: malformed record")

// decodeRecord parses a plaintext record. It is strict: a wrong version, unknown type, wrong
// length, non-canonical value or trailing byte is an error wrapping ErrCorrupt. Whenever it
// accepts b, encodeRecord of the result is exactly b.
func decodeRecord(b []byte) (record, error) {
	if len(b) < recordHeaderSize {
		return nil, corrupt("record too short")
	}
	if b[0] != recordVersion {
		return nil, corrupt(fmt.Sprintf("unknown record version %d", b[0]))
	}
	r := &reader{b: b[recordHeaderSize:]}
	var rec record
	switch b[1] {
	case typeAccount:
		x := &accountRecord{JID: r.jid()}
		rec = x
	case typeIdentity:
		x := &Identity{InstanceTag: r.tag(), LongTermSeed: r.fixed(SeedSize),
			ForgingPublic: r.fixed(PublicKeySize), ForgingSecret: r.optFixed(SeedSize), Created: r.time()}
		rec = x
	case typeClientProfile:
		rec = &ClientProfile{Encoded: r.blob(), Expires: r.time()}
	case typePrekeyProfile:
		rec = &PrekeyProfile{Encoded: r.blob(), SharedPrekeySecret: r.fixed(ECDHSecretSize), Expires: r.time()}
	case typePrekeySecret:
		rec = &PrekeySecret{ID: r.u32(), ECDHSecret: r.fixed(ECDHSecretSize), DHSecret: r.fixed(DHSecretSize), Created: r.time()}
	case typeUsedPrekey:
		rec = &usedPrekeyRecord{ID: r.u32(), Taken: r.time()}
	case typeUsedPrekeyUntil:
		rec = &usedPrekeyRecord{ID: r.u32(), Taken: r.time(), Until: r.time(), v2: true}
	case typeSeenPrekey:
		x := &seenPrekeyRecord{}
		copy(x.Digest[:], r.fixed(len(x.Digest)))
		x.Seen = r.time()
		rec = x
	case typePinnedServer:
		rec = &PinnedServer{ServerJID: r.jid(), Fingerprint: r.fixed(FingerprintSize), FirstSeen: r.time()}
	case typeTrust:
		x := &TrustDecision{Contact: r.jid(), Fingerprint: r.fixed(FingerprintSize), Trusted: r.bool(), Method: TrustMethod(r.u8()), Time: r.time()}
		if r.err == nil && x.Method != MethodSMP && x.Method != MethodManual {
			r.fail("unknown trust method")
		}
		rec = x
	case typeContact:
		x := &contactRecord{Contact: r.jid()}
		n := r.u32()
		if n > maxKnownDevices {
			r.fail("too many known devices")
		}
		for i := uint32(0); i < n && r.err == nil; i++ {
			d := KnownDevice{InstanceTag: r.tag(), Fingerprint: r.fixed(FingerprintSize), LastSeen: r.time(), FullJID: r.str()}
			if r.err == nil && i > 0 && d.InstanceTag <= x.Devices[i-1].InstanceTag {
				r.fail("known devices not sorted by instance tag")
			}
			x.Devices = append(x.Devices, d)
		}
		rec = x
	case typeConversation:
		rec = &conversationRecord{Contact: r.jid(), InstanceTag: r.tag(), State: r.blob()}
	case typePassword:
		x := &passwordRecord{Password: r.str()}
		if r.err == nil && (x.Password == "" || len(x.Password) > MaxPasswordSize) {
			r.fail("bad password length")
		}
		rec = x
	default:
		if rec = decodeOTR3Record(b[1], r); rec == nil { // otr3.go
			return nil, corrupt(fmt.Sprintf("unknown record type %d", b[1]))
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return rec, nil
}

func corrupt(msg string) error { return fmt.Errorf("%w: %s", ErrCorrupt, msg) }

// writer appends fields. Lengths were validated before encoding.
type writer struct{ b []byte }

func (w *writer) u8(v uint8)     { w.b = append(w.b, v) }
func (w *writer) u32(v uint32)   { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) fixed(p []byte) { w.b = append(w.b, p...) }
func (w *writer) blob(p []byte)  { w.u32(uint32(len(p))); w.b = append(w.b, p...) }
func (w *writer) str(s string)   { w.blob([]byte(s)) }
func (w *writer) bool(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}
func (w *writer) optFixed(p []byte) {
	if p == nil {
		w.u8(0)
		return
	}
	w.u8(1)
	w.fixed(p)
}

// time is stored as int64 Unix seconds and uint32 nanoseconds, in UTC.
func (w *writer) time(t time.Time) {
	w.b = binary.BigEndian.AppendUint64(w.b, uint64(t.Unix()))
	w.u32(uint32(t.Nanosecond()))
}

// reader consumes fields; after the first error every read returns zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w (%s)", errDecodeWrap, msg)
	}
}

var errDecodeWrap = fmt.Errorf("%w: %w", ErrCorrupt, errDecode)

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail("truncated")
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() uint8 {
	p := r.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (r *reader) u32() uint32 {
	p := r.take(4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

func (r *reader) tag() uint32 {
	v := r.u32()
	if r.err == nil && v < MinInstanceTag {
		r.fail("instance tag below 0x100")
	}
	return v
}

func (r *reader) fixed(n int) []byte {
	p := r.take(n)
	if p == nil {
		return nil
	}
	return append([]byte(nil), p...)
}

func (r *reader) optFixed(n int) []byte {
	switch r.u8() {
	case 0:
		return nil
	case 1:
		return r.fixed(n)
	}
	r.fail("bad presence byte")
	return nil
}

func (r *reader) bool() bool {
	switch r.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad boolean")
	return false
}

func (r *reader) blob() []byte {
	n := r.u32()
	if r.err == nil && n > maxBlobSize {
		r.fail("field too long")
	}
	p := r.take(int(n))
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}

func (r *reader) str() string {
	p := r.blob()
	if r.err == nil && !utf8.Valid(p) {
		r.fail("string is not UTF-8")
	}
	return string(p)
}

func (r *reader) jid() string {
	s := r.str()
	if r.err == nil {
		if err := checkJID(s); err != nil {
			r.fail("bad JID")
		}
	}
	return s
}

func (r *reader) time() time.Time {
	p := r.take(12)
	if p == nil {
		return time.Time{}
	}
	sec := int64(binary.BigEndian.Uint64(p))
	nsec := binary.BigEndian.Uint32(p[8:])
	if nsec >= 1e9 {
		r.fail("bad nanoseconds")
		return time.Time{}
	}
	// Keep within the range time.Time represents exactly (years 1..9999 and a margin).
	if sec < minUnix || sec > math.MaxInt64/2 {
		r.fail("time out of range")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// minUnix is the zero time.Time, 0001-01-01 UTC.
const minUnix = -62135596800

// checkJID accepts a plausible bare or full JID: non-empty, UTF-8, bounded, no control characters.
// Full JID preparation (RFC 7622) is the XMPP layer's job; the store only needs stable keys.
func checkJID(s string) error {
	if s == "" || len(s) > maxJIDSize || !utf8.ValidString(s) {
		return fmt.Errorf("%w: bad JID %q", ErrInvalid, s)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: JID contains a control character", ErrInvalid)
		}
	}
	return nil
}

func checkBareJID(s string) error {
	if err := checkJID(s); err != nil {
		return err
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return fmt.Errorf("%w: %q is not a bare JID", ErrInvalid, s)
		}
	}
	return nil
}
