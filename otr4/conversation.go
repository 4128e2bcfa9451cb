package otr4

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/dh"
	"github.com/otrchat/otrchat/otr4/internal/fragment"
	"github.com/otrchat/otrchat/otr4/internal/query"
	"github.com/otrchat/otrchat/otr4/internal/ratchet"
	"github.com/otrchat/otrchat/otr4/internal/ring"
	"github.com/otrchat/otrchat/otr4/internal/smp"
)

// State is the protocol state (otrv4.md, "Protocol States").
type State int

// The protocol states.
const (
	StateStart State = iota
	StateWaitingAuthR
	StateWaitingAuthI
	StateWaitingDAKEDataMessage
	StateEncrypted
	StateFinished
)

func (s State) String() string {
	switch s {
	case StateStart:
		return "START"
	case StateWaitingAuthR:
		return "WAITING_AUTH_R"
	case StateWaitingAuthI:
		return "WAITING_AUTH_I"
	case StateWaitingDAKEDataMessage:
		return "WAITING_DAKE_DATA_MESSAGE"
	case StateEncrypted:
		return "ENCRYPTED_MESSAGES"
	case StateFinished:
		return "FINISHED"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Mode is the OTRv4 operation mode (../spec/modes).
type Mode int

// The modes. ModeCompatible follows the whole otrv4.md state machine with
// query messages and whitespace tags; with Config.AllowV3 its offers include
// OTRv3, which the otr4/otr3 engine speaks (otr3.Policy.Choose picks the
// engine for what arrives).
const (
	ModeCompatible Mode = iota
	ModeStandalone
	ModeInteractiveOnly
)

func (m Mode) String() string {
	switch m {
	case ModeCompatible:
		return "OTRv3-compatible"
	case ModeStandalone:
		return "OTRv4-standalone"
	case ModeInteractiveOnly:
		return "OTRv4-interactive-only"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Errors of the conversation; callers branch with errors.Is.
var (
	ErrFinished       = errors.New("otr4: the peer ended the conversation; start a new one to send")
	ErrNotEncrypted   = errors.New("otr4: not in an encrypted conversation")
	ErrPlaintextMode  = errors.New("otr4: plaintext is not allowed in this mode")
	ErrWrongInstance  = errors.New("otr4: message for or from another instance")
	ErrUnexpected     = errors.New("otr4: message not expected in this state")
	ErrUnreadable     = errors.New("otr4: unreadable data message")
	ErrQueueFull      = errors.New("otr4: too many messages waiting for the DAKE")
	ErrVersion        = errors.New("otr4: unsupported protocol version")
	ErrNoConversation = errors.New("otr4: conversation has no keys")
	// ErrDAKETimeout: a DAKE did not complete within Config.DAKETimeout
	// and was abandoned (EventDAKETimedOut).
	ErrDAKETimeout = errors.New("otr4: the DAKE did not complete in time")
	// ErrEarlyDataDropped: a data message kept for a DAKE in progress was
	// dropped unread; the error wraps the reason (ErrEarlyDataFull,
	// ErrEarlyDataExpired, ErrDAKETimeout, or the conversation ended).
	ErrEarlyDataDropped = errors.New("otr4: data message kept for the DAKE dropped unread")
	// ErrEarlyDataFull: no room to keep a data message for the DAKE.
	ErrEarlyDataFull = errors.New("otr4: too many data messages waiting for the DAKE")
	// ErrEarlyDataExpired: a kept data message waited longer than
	// Config.StoreEarlyDataFor.
	ErrEarlyDataExpired = errors.New("otr4: data message waited too long for the DAKE")
)

// Config configures a Conversation with one remote instance.
type Config struct {
	// Identity is our long-term key material (required).
	Identity *Identity
	// InstanceTag is our device's instance tag (required, >= 0x100).
	InstanceTag InstanceTag
	// ClientProfile is our signed profile; if nil one is made that expires
	// after ProfileLifetime.
	ClientProfile   *ClientProfile
	ProfileLifetime time.Duration
	// OurAccount and TheirAccount are the bare JIDs bound into phi.
	OurAccount, TheirAccount string
	Mode                     Mode
	// Rand and Now default to crypto/rand and time.Now.
	Rand io.Reader
	Now  func() time.Time
	// SessionExpiry expires the session when no new ECDH key was made for
	// this long (default 2 hours; negative disables).
	SessionExpiry time.Duration
	// HeartbeatInterval: after receiving a data message, send a heartbeat if
	// we sent nothing for this long (default 1 minute; negative disables).
	HeartbeatInterval time.Duration
	// FragmentSize is the network's maximum message size; 0 disables
	// fragmentation.
	FragmentSize int
	// StoreEarlyDataFor keeps data messages that arrive before the DAKE
	// ends (default 10 minutes).
	StoreEarlyDataFor time.Duration
	// MaxEarlyDataBytes bounds the memory those messages take (default
	// DefaultMaxEarlyDataBytes); at most 100 are kept in any case.
	MaxEarlyDataBytes int
	// DAKETimeout abandons an interactive DAKE that has not completed this
	// long after it started (default 2 minutes; negative disables): a
	// conversation that was ENCRYPTED_MESSAGES returns to it with its
	// session, any other to START (EventDAKETimedOut). It is checked by
	// Tick and Send.
	DAKETimeout time.Duration
	// MaxSkip and MaxStoredKeys bound skipped message keys (defaults 1000, 2000).
	MaxSkip, MaxStoredKeys int
	// WhitespaceStartDAKE answers a whitespace tag with an Identity message
	// (default true in ModeCompatible).
	NoWhitespaceStart bool
	// AllowV3 (ModeCompatible): QueryMessage and TagPlaintext also offer
	// OTRv3 ("?OTRv43?"), for a peer that has only OTRv3; the session
	// layer runs such a conversation with otr4/otr3.
	AllowV3 bool

	// Offline conversations (ModeCompatible and ModeStandalone): our prekey
	// profile and its secret, and the store of our prekey secrets.
	PrekeyProfile      *PrekeyProfile
	SharedPrekeySecret *SharedPrekeySecret
	PrekeySecrets      PrekeySecretStore
}

// TLV is a type/length/value record of a data message.
type TLV struct {
	Type  uint16
	Value []byte
}

// EventKind says what an Event reports.
type EventKind int

// The events.
const (
	EventStateChanged EventKind = iota + 1
	// EventUnencrypted: a plaintext message arrived while encryption was
	// expected; the user should be warned.
	EventUnencrypted
	// EventErrorMessage: the peer sent an OTR error message (Code, Text).
	EventErrorMessage
	// EventUnreadable: a data message could not be read (Err), or one
	// kept for a DAKE was dropped unread (Err wraps ErrEarlyDataDropped).
	// IgnoreUnreadable tells whether the sender flagged it so.
	EventUnreadable
	// EventRejected: an invalid OTR message was ignored (Err).
	EventRejected
	// EventPeerEnded: the peer ended the conversation (TLV 1).
	EventPeerEnded
	// EventSessionExpired: our session keys expired and were erased.
	EventSessionExpired
	// SMP events (Question is set with EventSMPSecretNeeded).
	EventSMPSecretNeeded
	EventSMPInProgress
	EventSMPSucceeded
	EventSMPFailed
	EventSMPAborted
	EventSMPCheated
	EventSMPError
	// EventExtraKey: the peer wants to use the extra symmetric key (Key,
	// Usage, UseData).
	EventExtraKey
	// EventQueued: a message waits for the DAKE to finish.
	EventQueued
	// EventDAKETimedOut: a DAKE was abandoned after Config.DAKETimeout
	// (Err is ErrDAKETimeout); State says where the conversation went.
	EventDAKETimedOut
)

var eventNames = map[EventKind]string{
	EventStateChanged: "state changed", EventUnencrypted: "unencrypted message",
	EventErrorMessage: "OTR error message", EventUnreadable: "unreadable message",
	EventRejected: "rejected message", EventPeerEnded: "peer ended the conversation",
	EventSessionExpired: "session expired", EventSMPSecretNeeded: "SMP secret needed",
	EventSMPInProgress: "SMP in progress", EventSMPSucceeded: "SMP succeeded",
	EventSMPFailed: "SMP failed", EventSMPAborted: "SMP aborted", EventSMPCheated: "SMP cheating detected",
	EventSMPError: "SMP error", EventExtraKey: "extra symmetric key", EventQueued: "message queued",
	EventDAKETimedOut: "DAKE timed out",
}

func (k EventKind) String() string {
	if s, ok := eventNames[k]; ok {
		return s
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports something the user or the application should know.
type Event struct {
	Kind        EventKind
	State, Prev State
	Err         error
	Code        int
	Text        string
	Question    string
	Key         []byte
	Usage       uint32
	UseData     []byte
	// IgnoreUnreadable is set on EventUnreadable when the sender flagged
	// the message IGNORE_UNREADABLE (a heartbeat, SMP, TLV 1...): the spec
	// says not to notify the user of it; it is reported all the same.
	IgnoreUnreadable bool
}

// Message is what Receive (and the user actions) produce: text to show,
// wire messages to send to the peer and events.
type Message struct {
	// Text is the human-readable part to display ("" for none).
	Text string
	// Encrypted tells whether Text arrived encrypted.
	Encrypted bool
	TLVs      []TLV
	// ToSend holds wire strings to send to the peer, in order.
	ToSend []string
	Events []Event
}

type queuedSend struct {
	text  string
	tlvs  []TLV
	flags byte
}

type storedData struct {
	msg  *ratchet.DataMessage
	at   time.Time
	size int
}

const (
	maxQueued      = 100
	maxStoredEarly = 100
	maxPlaintext   = ratchet.MaxCiphertext
)

// DefaultMaxEarlyDataBytes is the default of Config.MaxEarlyDataBytes:
// room for one data message of the largest size (1 MiB of ciphertext) and
// more of the usual sizes.
const DefaultMaxEarlyDataBytes = 3 << 19

// Conversation is one OTRv4 conversation with one remote instance. It does
// no I/O and starts no goroutines: feed it received wire strings with
// Receive, and send what it returns. It is not safe for concurrent use.
type Conversation struct {
	cfg     Config
	rand    io.Reader
	now     func() time.Time
	profile *ClientProfile

	state    State
	theirTag InstanceTag

	// DAKE in progress.
	ourECDH, ourECDHFirst *curve.PrivateKey
	ourDH, ourDHFirst     *dh.PrivateKey
	ourIdentity           *identityMessage
	theirIdentity         *identityMessage
	ourAuthR              *authRMessage

	spare        *ephemeral
	theirProfile *ClientProfile
	rat          *ratchet.State
	oldRat       *ratchet.State
	// oldLive: oldRat is the session we were in when this DAKE started,
	// still valid (restored if the DAKE times out).
	oldLive      bool
	ssid         [ssidSize]byte
	ssidBoldHigh bool

	queue      []queuedSend
	early      []storedData
	earlyBytes int
	smp        *smp.SMP
	assembler  *fragment.Assembler

	lastSent    time.Time
	lastKeyTime time.Time
	steps       uint64
	dakeStarted time.Time
}

// NewConversation creates a conversation in state START.
func NewConversation(cfg Config) (*Conversation, error) {
	if cfg.Identity == nil {
		return nil, errors.New("otr4: Config.Identity is required")
	}
	if !cfg.InstanceTag.Valid() {
		return nil, fmt.Errorf("otr4: instance tag %v is below 0x100", cfg.InstanceTag)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionExpiry == 0 {
		cfg.SessionExpiry = 2 * time.Hour
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = time.Minute
	}
	if cfg.StoreEarlyDataFor == 0 {
		cfg.StoreEarlyDataFor = 10 * time.Minute
	}
	if cfg.MaxEarlyDataBytes == 0 {
		cfg.MaxEarlyDataBytes = DefaultMaxEarlyDataBytes
	}
	if cfg.DAKETimeout == 0 {
		cfg.DAKETimeout = 2 * time.Minute
	}
	if cfg.ProfileLifetime == 0 {
		cfg.ProfileLifetime = 7 * 24 * time.Hour
	}
	if cfg.MaxSkip == 0 {
		cfg.MaxSkip = ratchet.DefaultConfig.MaxSkip
	}
	if cfg.MaxStoredKeys == 0 {
		cfg.MaxStoredKeys = ratchet.DefaultConfig.MaxStored
	}
	c := &Conversation{cfg: cfg, rand: cfg.Rand, now: cfg.Now, profile: cfg.ClientProfile}
	if c.profile == nil {
		p, err := NewClientProfile(cfg.Identity, cfg.InstanceTag, "4", c.now().Add(cfg.ProfileLifetime))
		if err != nil {
			return nil, err
		}
		c.profile = p
	}
	if c.profile.InstanceTag != cfg.InstanceTag {
		return nil, errors.New("otr4: client profile belongs to another instance tag")
	}
	c.smp = smp.New(c.rand)
	c.assembler = fragment.NewAssembler(uint32(cfg.InstanceTag), fragment.DefaultLimits())
	return c, nil
}

// State returns the protocol state.
func (c *Conversation) State() State { return c.state }

// TheirInstanceTag returns the remote instance's tag (0 until known).
func (c *Conversation) TheirInstanceTag() InstanceTag { return c.theirTag }

// TheirFingerprint returns the peer's fingerprint once the DAKE is done.
func (c *Conversation) TheirFingerprint() (Fingerprint, bool) {
	if c.theirProfile == nil || c.state != StateEncrypted {
		return Fingerprint{}, false
	}
	return c.theirProfile.Fingerprint(), true
}

// OurFingerprint returns our own fingerprint, for comparing out of band.
func (c *Conversation) OurFingerprint() Fingerprint { return c.cfg.Identity.Fingerprint() }

// SSID returns the secure session ID and which half the user should read
// out in bold: the first 4 bytes when firstBold is true.
func (c *Conversation) SSID() (ssid [8]byte, firstBold bool, ok bool) {
	return c.ssid, c.ssidBoldHigh, c.state == StateEncrypted
}

// Prepare generates key pairs ahead of need, so that the next DAKE message
// or sending ratchet does not wait for them: the four ephemeral key pairs
// of a DAKE message when none are waiting, and the ratchet's next ECDH and
// DH key pairs. Call it when idle; it is optional.
func (c *Conversation) Prepare() error {
	if c.spare == nil {
		s := new(ephemeral)
		if err := s.generate(c.rand); err != nil {
			return err
		}
		c.spare = s
	}
	if c.rat == nil {
		return nil
	}
	return c.rat.Prepare()
}

// ephemeral holds the four key pairs of one DAKE message: our_ecdh,
// our_ecdh_first, our_dh and our_dh_first.
type ephemeral struct {
	ecdh, ecdhFirst *curve.PrivateKey
	dh, dhFirst     *dh.PrivateKey
}

func (e *ephemeral) generate(r io.Reader) error {
	var err error
	if e.ecdh, err = curve.GenerateKey(r); err != nil {
		return err
	}
	if e.ecdhFirst, err = curve.GenerateKey(r); err != nil {
		return err
	}
	if e.dh, err = dh.GenerateKey(r); err != nil {
		return err
	}
	e.dhFirst, err = dh.GenerateKey(r)
	return err
}

func inDAKE(s State) bool { return s == StateWaitingAuthR || s == StateWaitingAuthI }

func (c *Conversation) setState(out *Message, s State) {
	if s == c.state {
		return
	}
	if inDAKE(s) && !inDAKE(c.state) {
		// The DAKE's clock starts once; more DAKE messages do not extend it.
		c.dakeStarted = c.now()
	}
	out.Events = append(out.Events, Event{Kind: EventStateChanged, State: s, Prev: c.state})
	c.state = s
}

// encode frames a binary message as "?OTR:...." and fragments it.
func (c *Conversation) encode(b []byte) ([]string, error) {
	s := query.Encode(b)
	if c.cfg.FragmentSize <= 0 || len(s) <= c.cfg.FragmentSize {
		return []string{s}, nil
	}
	var idb [4]byte
	if _, err := io.ReadFull(c.rand, idb[:]); err != nil {
		return nil, err
	}
	return fragment.Split(s, c.cfg.FragmentSize, binary.BigEndian.Uint32(idb[:]), uint32(c.cfg.InstanceTag), uint32(c.theirTag))
}

func (c *Conversation) send(out *Message, b []byte) error {
	parts, err := c.encode(b)
	if err != nil {
		return err
	}
	out.ToSend = append(out.ToSend, parts...)
	return nil
}

// QueryMessage returns the query message to start a conversation
// (ModeCompatible), "?OTRv4?", or "?OTRv43?" with Config.AllowV3.
func (c *Conversation) QueryMessage() (string, error) {
	if c.cfg.Mode != ModeCompatible {
		return "", fmt.Errorf("otr4: no query messages in %v mode", c.cfg.Mode)
	}
	if c.state == StateEncrypted {
		return "", errors.New("otr4: query messages are not sent in ENCRYPTED_MESSAGES")
	}
	return query.QueryMessage(c.offered()), nil
}

// offered is the set of versions our query messages and tags offer.
func (c *Conversation) offered() query.Versions {
	if c.cfg.AllowV3 && c.cfg.Mode == ModeCompatible {
		return query.NewVersions(3, 4)
	}
	return query.NewVersions(4)
}

// TagPlaintext returns text with the whitespace tag offering version 4
// (and 3 with Config.AllowV3).
func (c *Conversation) TagPlaintext(text string) (string, error) {
	if c.cfg.Mode != ModeCompatible {
		return "", ErrPlaintextMode
	}
	return query.AppendWhitespaceTag(text, c.offered()), nil
}

// StartInteractive starts a conversation by sending an Identity message
// ("Starting a conversation interactively").
func (c *Conversation) StartInteractive() (*Message, error) {
	out := new(Message)
	if err := c.sendIdentity(out); err != nil {
		return out, err
	}
	c.dakeStarted = c.now() // the user's (re)start gives the DAKE its full time
	return out, nil
}

func (c *Conversation) wipeDAKE() {
	for _, k := range []*curve.PrivateKey{c.ourECDH, c.ourECDHFirst} {
		if k != nil {
			k.Wipe()
		}
	}
	for _, k := range []*dh.PrivateKey{c.ourDH, c.ourDHFirst} {
		if k != nil {
			k.Wipe()
		}
	}
	c.ourECDH, c.ourECDHFirst, c.ourDH, c.ourDHFirst = nil, nil, nil, nil
	c.ourIdentity, c.theirIdentity, c.ourAuthR = nil, nil, nil
}

// newEphemeral sets the four DAKE key pairs: those Prepare made, if any
// (each set is used once), or new ones.
func (c *Conversation) newEphemeral() error {
	e := c.spare
	c.spare = nil
	if e == nil {
		e = new(ephemeral)
		if err := e.generate(c.rand); err != nil {
			return err
		}
	}
	c.ourECDH, c.ourECDHFirst, c.ourDH, c.ourDHFirst = e.ecdh, e.ecdhFirst, e.dh, e.dhFirst
	return nil
}

func (c *Conversation) keepOldRatchet() {
	if c.rat != nil {
		if c.oldRat != nil {
			c.oldRat.Erase()
		}
		c.oldRat = c.rat
		c.rat = nil
		c.oldLive = true
	}
}

// dropOldRatchet erases the previous session's ratchet.
func (c *Conversation) dropOldRatchet() {
	if c.oldRat != nil {
		c.oldRat.Erase()
		c.oldRat = nil
	}
	c.oldLive = false
}

func (c *Conversation) sendIdentity(out *Message) error {
	c.wipeDAKE()
	if err := c.newEphemeral(); err != nil {
		return err
	}
	c.ourIdentity = &identityMessage{
		sender: c.cfg.InstanceTag, receiver: c.theirTag, profile: c.profile,
		y: c.ourECDH.Public(), b: c.ourDH.Public(),
		ecdhFirst: c.ourECDHFirst.Public(), dhFirst: c.ourDHFirst.Public(),
	}
	if err := c.send(out, c.ourIdentity.marshal()); err != nil {
		return err
	}
	c.keepOldRatchet()
	c.setState(out, StateWaitingAuthR)
	return nil
}

// Receive processes one received wire string.
func (c *Conversation) Receive(msg string) (*Message, error) {
	out := new(Message)
	err := c.receive(out, msg)
	if err != nil && !errors.Is(err, errSilent) {
		out.Events = append(out.Events, Event{Kind: EventRejected, Err: err})
	}
	if errors.Is(err, errSilent) {
		err = nil
	}
	return out, err
}

// errSilent marks a handled condition that is not an error for the caller.
var errSilent = errors.New("otr4: handled")

func (c *Conversation) receive(out *Message, msg string) error {
	switch query.Classify(msg) {
	case query.KindFragment:
		if f, err := fragment.Parse(msg); err == nil && f.Format != fragment.FormatV4 {
			// OTRv3 fragments are for the OTRv3 engine; the OTRv4 modes
			// allow only OTRv4 fragmentation.
			return fmt.Errorf("%w: %v fragment", ErrVersion, f.Format)
		}
		whole, done, err := c.assembler.Add(msg, c.now())
		if err != nil {
			if errors.Is(err, fragment.ErrNotForUs) {
				return fmt.Errorf("%w: %v", ErrWrongInstance, err)
			}
			return err
		}
		if !done {
			return nil
		}
		if query.Classify(whole) != query.KindEncoded {
			return fmt.Errorf("%w: reassembled fragments are not an encoded message", ErrMalformedMessage)
		}
		return c.receiveEncoded(out, whole)
	case query.KindError:
		code, text, _ := query.ParseError(msg)
		if code == query.ErrorUnknown {
			return nil // "Otherwise: Ignore the message."
		}
		out.Events = append(out.Events, Event{Kind: EventErrorMessage, Code: int(code), Text: text})
		return nil
	case query.KindEncoded:
		c.assembler.NoteUnfragmented()
		return c.receiveEncoded(out, msg)
	case query.KindQuery:
		v, _ := query.ParseQuery(msg)
		if c.cfg.Mode != ModeCompatible {
			return c.receivePlaintext(out, msg)
		}
		if v.Has(4) {
			return c.sendIdentity(out)
		}
		return nil
	case query.KindPlaintextWithTag:
		plain, v, _ := query.StripWhitespaceTag(msg)
		if c.cfg.Mode != ModeCompatible {
			return c.receivePlaintext(out, msg)
		}
		if err := c.receivePlaintext(out, plain); err != nil {
			return err
		}
		if (c.state == StateStart || c.state == StateWaitingAuthR || c.state == StateWaitingAuthI) && v.Has(4) && !c.cfg.NoWhitespaceStart {
			return c.sendIdentity(out)
		}
		return nil
	default:
		return c.receivePlaintext(out, msg)
	}
}

func (c *Conversation) receivePlaintext(out *Message, text string) error {
	out.Text = text
	if c.state == StateEncrypted || c.state == StateFinished || c.cfg.Mode != ModeCompatible {
		out.Events = append(out.Events, Event{Kind: EventUnencrypted})
	}
	return nil
}

func (c *Conversation) receiveEncoded(out *Message, msg string) error {
	b, err := query.DecodeEncoded(msg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedMessage, err)
	}
	v, err := query.ProtocolVersion(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedMessage, err)
	}
	if v != 4 {
		return fmt.Errorf("%w: version %d", ErrVersion, v)
	}
	if len(b) < 11 {
		return fmt.Errorf("%w: too short", ErrMalformedMessage)
	}
	typ := b[2]
	sender := InstanceTag(binary.BigEndian.Uint32(b[3:7]))
	receiver := InstanceTag(binary.BigEndian.Uint32(b[7:11]))
	if !sender.Valid() {
		return fmt.Errorf("%w: sender instance tag %v", ErrInstanceTag, sender)
	}
	if receiver != 0 && receiver != c.cfg.InstanceTag {
		return fmt.Errorf("%w: receiver %v is not us (%v)", ErrWrongInstance, receiver, c.cfg.InstanceTag)
	}
	if receiver == 0 && typ != msgTypeIdentity {
		return fmt.Errorf("%w: receiver instance tag 0", ErrInstanceTag)
	}
	if c.theirTag != 0 && sender != c.theirTag {
		return fmt.Errorf("%w: sender %v, conversation is with %v", ErrWrongInstance, sender, c.theirTag)
	}
	switch typ {
	case msgTypeIdentity:
		return c.receiveIdentity(out, b)
	case msgTypeAuthR:
		return c.receiveAuthR(out, b)
	case msgTypeAuthI:
		return c.receiveAuthI(out, b)
	case msgTypeNonInteractiveAuth:
		return c.receiveNonInteractiveAuth(out, b)
	case msgTypeData:
		return c.receiveData(out, b)
	}
	return fmt.Errorf("%w: message type %#x", ErrMalformedMessage, typ)
}

// receiveIdentity follows "Receiving an Identity Message".
func (c *Conversation) receiveIdentity(out *Message, b []byte) error {
	m, err := parseIdentity(b)
	if err != nil {
		return err
	}
	if err := m.profile.Validate(m.sender, c.now()); err != nil {
		return err
	}
	switch c.state {
	case StateWaitingAuthR:
		if higherHash(c.ourIdentity.b, m.b) {
			// Ours wins: ignore theirs and resend ours, now addressed to
			// the instance that answered.
			c.theirTag = m.sender
			c.ourIdentity.receiver = m.sender
			return c.send(out, c.ourIdentity.marshal())
		}
	case StateWaitingAuthI:
		if m.receiver != c.cfg.InstanceTag {
			return fmt.Errorf("%w: Identity message in WAITING_AUTH_I must name us", ErrInstanceTag)
		}
		if t := c.theirIdentity; t != nil && t.y.Equal(m.y) == 1 && t.b.Cmp(m.b) == 0 {
			// The same Identity message again: answer with the same Auth-R,
			// so that an Auth-I for it still completes the DAKE.
			return c.send(out, c.ourAuthR.marshal())
		}
	}
	return c.sendAuthR(out, m)
}

func (c *Conversation) sendAuthR(out *Message, m *identityMessage) error {
	c.wipeDAKE()
	if err := c.newEphemeral(); err != nil {
		return err
	}
	r := &authRMessage{authBody{
		sender: c.cfg.InstanceTag, receiver: m.sender, profile: c.profile,
		x: c.ourECDH.Public(), a: c.ourDH.Public(),
		ecdhFirst: c.ourECDHFirst.Public(), dhFirst: c.ourDHFirst.Public(),
	}}
	ph := phi(m.sender, c.cfg.InstanceTag, m.ecdhFirst, m.dhFirst, r.ecdhFirst, r.dhFirst, c.cfg.OurAccount, c.cfg.TheirAccount)
	t := authTranscript(false, m.profile, c.profile, m.y, r.x, m.b, r.a, ph)
	id := c.cfg.Identity
	sig, err := ring.Sign(c.rand, id.key.Scalar(), m.profile.forgingKey, id.key.Public(), m.y, t)
	if err != nil {
		return err
	}
	r.sigma = sig
	if err := c.send(out, r.marshal()); err != nil {
		return err
	}
	c.theirTag = m.sender
	c.theirIdentity = m
	c.ourAuthR = r
	c.keepOldRatchet()
	c.setState(out, StateWaitingAuthI)
	return nil
}

// receiveAuthR follows "Receiving an Auth-R Message".
func (c *Conversation) receiveAuthR(out *Message, b []byte) error {
	if c.state != StateWaitingAuthR {
		return fmt.Errorf("%w: Auth-R in %v", ErrUnexpected, c.state)
	}
	m, err := parseAuthR(b)
	if err != nil {
		return err
	}
	if m.receiver != c.cfg.InstanceTag {
		return fmt.Errorf("%w: Auth-R for %v", ErrInstanceTag, m.receiver)
	}
	if err := m.profile.Validate(m.sender, c.now()); err != nil {
		return err
	}
	ours := c.ourIdentity
	ph := phi(c.cfg.InstanceTag, m.sender, ours.ecdhFirst, ours.dhFirst, m.ecdhFirst, m.dhFirst, c.cfg.OurAccount, c.cfg.TheirAccount)
	t := authTranscript(false, c.profile, m.profile, ours.y, m.x, ours.b, m.a, ph)
	if err := ring.Verify(c.cfg.Identity.forging, m.profile.publicKey, ours.y, m.sigma, t); err != nil {
		return ErrInvalidRingSig
	}
	// Auth-I.
	ti := authTranscript(true, c.profile, m.profile, ours.y, m.x, ours.b, m.a, ph)
	id := c.cfg.Identity
	sig, err := ring.Sign(c.rand, id.key.Scalar(), id.key.Public(), m.profile.forgingKey, m.x, ti)
	if err != nil {
		return err
	}
	k, ssid, err := mixedSecret(c.ourECDH, m.x, c.ourDH, m.a)
	if err != nil {
		return err
	}
	rat, err := ratchet.NewFirstReceiver(c.rand, c.ratchetConfig(), ratchet.Init{
		K: k, OurECDH: c.ourECDHFirst, OurDH: c.ourDHFirst, TheirECDH: m.ecdhFirst, TheirDH: m.dhFirst,
	})
	clear(k)
	if err != nil {
		return err
	}
	ai := &authIMessage{sender: c.cfg.InstanceTag, receiver: m.sender, sigma: sig}
	if err := c.send(out, ai.marshal()); err != nil {
		return err
	}
	c.ourECDHFirst, c.ourDHFirst = nil, nil // now owned by the ratchet
	c.wipeDAKE()
	c.theirTag = m.sender
	c.theirProfile = m.profile
	c.ssid, c.ssidBoldHigh = ssid, false
	return c.enterEncrypted(out, rat)
}

// receiveAuthI follows "Receiving an Auth-I Message".
func (c *Conversation) receiveAuthI(out *Message, b []byte) error {
	if c.state != StateWaitingAuthI {
		return fmt.Errorf("%w: Auth-I in %v", ErrUnexpected, c.state)
	}
	m, err := parseAuthI(b)
	if err != nil {
		return err
	}
	if m.receiver != c.cfg.InstanceTag {
		return fmt.Errorf("%w: Auth-I for %v", ErrInstanceTag, m.receiver)
	}
	theirs, ours := c.theirIdentity, c.ourAuthR
	ph := phi(theirs.sender, c.cfg.InstanceTag, theirs.ecdhFirst, theirs.dhFirst, ours.ecdhFirst, ours.dhFirst, c.cfg.OurAccount, c.cfg.TheirAccount)
	t := authTranscript(true, theirs.profile, c.profile, theirs.y, ours.x, theirs.b, ours.a, ph)
	if err := ring.Verify(theirs.profile.publicKey, c.cfg.Identity.forging, ours.x, m.sigma, t); err != nil {
		return ErrInvalidRingSig
	}
	k, ssid, err := mixedSecret(c.ourECDH, theirs.y, c.ourDH, theirs.b)
	if err != nil {
		return err
	}
	rat, err := ratchet.NewFirstSender(c.rand, c.ratchetConfig(), ratchet.Init{
		K: k, OurECDH: c.ourECDHFirst, OurDH: c.ourDHFirst, TheirECDH: theirs.ecdhFirst, TheirDH: theirs.dhFirst,
	})
	clear(k)
	if err != nil {
		return err
	}
	c.ourECDHFirst, c.ourDHFirst = nil, nil
	c.theirProfile = theirs.profile
	c.wipeDAKE()
	c.ssid, c.ssidBoldHigh = ssid, true
	return c.enterEncrypted(out, rat)
}

func (c *Conversation) ratchetConfig() ratchet.Config {
	cfg := ratchet.DefaultConfig
	cfg.MaxSkip = c.cfg.MaxSkip
	cfg.MaxStored = c.cfg.MaxStoredKeys
	return cfg
}

// enterEncrypted installs the ratchet, moves to ENCRYPTED_MESSAGES, sends
// what was queued and reads the data messages that arrived early.
func (c *Conversation) enterEncrypted(out *Message, rat *ratchet.State) error {
	c.rat = rat
	c.oldLive = false
	c.steps = 0
	c.lastKeyTime = c.now()
	c.lastSent = c.now() // the DAKE's own messages count as sent
	c.smp.Reset()
	c.setState(out, StateEncrypted)
	queued := c.queue
	c.queue = nil
	for _, q := range queued {
		if err := c.sendData(out, q.text, q.tlvs, q.flags); err != nil {
			return err
		}
	}
	early := c.early
	c.early, c.earlyBytes = nil, 0
	for _, e := range early {
		if c.now().Sub(e.at) > c.cfg.StoreEarlyDataFor {
			reportDropped(out, e.msg, ErrEarlyDataExpired)
			continue
		}
		sub := new(Message)
		if err := c.openData(sub, e.msg); err == nil {
			out.Text += sub.Text
			out.Encrypted = true
			out.TLVs = append(out.TLVs, sub.TLVs...)
		}
		out.ToSend = append(out.ToSend, sub.ToSend...)
		out.Events = append(out.Events, sub.Events...)
	}
	return nil
}

// reportDropped reports a data message kept for the DAKE and dropped unread.
func reportDropped(out *Message, m *ratchet.DataMessage, why error) {
	out.Events = append(out.Events, Event{Kind: EventUnreadable, Err: fmt.Errorf("%w: %w", ErrEarlyDataDropped, why),
		IgnoreUnreadable: m.Flags&flagIgnoreUnreadable != 0})
}

// dropEarly reports every kept data message as dropped and forgets them.
func (c *Conversation) dropEarly(out *Message, why error) {
	for _, e := range c.early {
		reportDropped(out, e.msg, why)
	}
	c.early, c.earlyBytes = nil, 0
}

// storeEarly keeps a data message that may be the first of the DAKE in
// progress ("If this is the first DH ratchet after a DAKE, store this
// message"), within the bounds of count and bytes.
func (c *Conversation) storeEarly(out *Message, m *ratchet.DataMessage) error {
	d, size := m.Detach()
	if len(c.early) >= maxStoredEarly || c.earlyBytes+size > c.cfg.MaxEarlyDataBytes {
		reportDropped(out, m, ErrEarlyDataFull)
		return errSilent
	}
	c.early = append(c.early, storedData{msg: d, at: c.now(), size: size})
	c.earlyBytes += size
	return nil
}

// checkDAKETimeout abandons a DAKE older than Config.DAKETimeout: back to
// the session it interrupted, if that is still valid, otherwise to START
// (docs/spec-notes.md, "DAKE timeout").
func (c *Conversation) checkDAKETimeout(out *Message) error {
	if !inDAKE(c.state) || c.cfg.DAKETimeout < 0 || c.now().Sub(c.dakeStarted) < c.cfg.DAKETimeout {
		return nil
	}
	c.wipeDAKE()
	resume := c.oldLive && c.oldRat != nil
	to := StateStart
	if resume {
		to = StateEncrypted
	}
	out.Events = append(out.Events, Event{Kind: EventDAKETimedOut, Err: ErrDAKETimeout, State: to, Prev: c.state})
	c.dropEarly(out, ErrDAKETimeout)
	if !resume {
		c.setState(out, StateStart)
		return nil
	}
	c.rat, c.oldRat, c.oldLive = c.oldRat, nil, false
	c.setState(out, StateEncrypted)
	queued := c.queue
	c.queue = nil
	for _, q := range queued {
		if err := c.sendData(out, q.text, q.tlvs, q.flags); err != nil {
			return err
		}
	}
	return nil
}
