package otr3

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/fragment"
	"github.com/otrchat/otrchat/otr4/internal/query"
	"github.com/otrchat/otrchat/otr4/otr3/internal/message"
	"github.com/otrchat/otrchat/otr4/otr3/internal/smp"
)

// AuthState is the AKE state (authstate).
type AuthState int

// The authentication states.
const (
	AuthNone AuthState = iota
	AuthAwaitingDHKey
	AuthAwaitingRevealSig
	AuthAwaitingSig
)

func (a AuthState) String() string {
	switch a {
	case AuthNone:
		return "AUTHSTATE_NONE"
	case AuthAwaitingDHKey:
		return "AUTHSTATE_AWAITING_DHKEY"
	case AuthAwaitingRevealSig:
		return "AUTHSTATE_AWAITING_REVEALSIG"
	case AuthAwaitingSig:
		return "AUTHSTATE_AWAITING_SIG"
	}
	return fmt.Sprintf("AuthState(%d)", int(a))
}

// TLV types of OTR version 3, as they appear in otr4.Message.TLVs.
const (
	TLVPadding      = message.TLVPadding
	TLVDisconnected = message.TLVDisconnected
	TLVSMP1         = message.TLVSMP1
	TLVSMP2         = message.TLVSMP2
	TLVSMP3         = message.TLVSMP3
	TLVSMP4         = message.TLVSMP4
	TLVSMPAbort     = message.TLVSMPAbort
	TLVSMP1Q        = message.TLVSMP1Q
	TLVExtraKey     = message.TLVExtraKey
)

// Errors of the conversation. The otr4 sentinels (otr4.ErrNotEncrypted,
// otr4.ErrFinished, otr4.ErrWrongInstance, otr4.ErrUnexpected,
// otr4.ErrQueueFull) are used where they mean the same.
var (
	// ErrMalformed wraps every error about a malformed message.
	ErrMalformed = message.ErrMalformed
	// ErrAuth: an AKE message failed a check (hash, MAC or signature).
	ErrAuth = errors.New("otr3: AKE verification failed")
	// ErrBadMAC: a data message's MAC did not verify.
	ErrBadMAC = errors.New("otr3: data message MAC does not verify")
	// ErrKeyID: a data message names keys we do not have.
	ErrKeyID = errors.New("otr3: data message for unknown keys")
	// ErrCounter: a data message's counter did not increase (a replay).
	ErrCounter = errors.New("otr3: data message counter did not increase")
	// ErrGroupElement: a D-H value outside 2..p-2.
	ErrGroupElement = errors.New("otr3: D-H value out of range")
)

// Config configures a Conversation.
type Config struct {
	// Key is our long-term DSA key (required).
	Key *PrivateKey
	// InstanceTag is our instance tag (required, >= 0x100).
	InstanceTag otr4.InstanceTag
	// Rand and Now default to crypto/rand and time.Now.
	Rand io.Reader
	Now  func() time.Time
	// FragmentSize is the network's maximum message size; 0 disables
	// fragmentation of what we send.
	FragmentSize int
	// HeartbeatInterval: after receiving a data message, send an empty one
	// if we sent nothing for this long (default 1 minute; negative
	// disables), so that keys keep rotating.
	HeartbeatInterval time.Duration
	// NoWhitespaceStart keeps a received whitespace tag offering version 3
	// from starting the AKE (WHITESPACE_START_AKE is on by default).
	NoWhitespaceStart bool
	// ErrorStartAKE answers an OTR Error Message with a query message
	// (the ERROR_START_AKE policy).
	ErrorStartAKE bool
}

// Conversation is one OTRv3 conversation with one remote instance. It is
// not safe for concurrent use.
type Conversation struct {
	cfg  Config
	rand io.Reader
	now  func() time.Time

	msgState  otr4.State
	authState AuthState
	theirTag  otr4.InstanceTag

	ake       *ake
	keys      *keyState
	theirKey  *PublicKey
	ssid      [8]byte
	ssidFirst bool

	queue     []queued
	smp       *smp.SMP
	assembler *fragment.Assembler
	lastSent  time.Time
}

type queued struct {
	text string
	tlvs []otr4.TLV
}

const maxQueued = 100

// NewConversation returns a conversation in MSGSTATE_PLAINTEXT.
func NewConversation(cfg Config) (*Conversation, error) {
	if cfg.Key == nil || cfg.Key.k == nil {
		return nil, errors.New("otr3: Config.Key is required")
	}
	if !cfg.InstanceTag.Valid() {
		return nil, fmt.Errorf("otr3: instance tag %v is below 0x100", cfg.InstanceTag)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = time.Minute
	}
	c := &Conversation{cfg: cfg, rand: cfg.Rand, now: cfg.Now, msgState: otr4.StateStart}
	c.smp = smp.New(c.rand)
	c.assembler = fragment.NewAssembler(uint32(cfg.InstanceTag), fragment.DefaultLimits())
	return c, nil
}

// State returns the message state: otr4.StateStart (MSGSTATE_PLAINTEXT),
// otr4.StateEncrypted or otr4.StateFinished.
func (c *Conversation) State() otr4.State { return c.msgState }

// AuthState returns the AKE state.
func (c *Conversation) AuthState() AuthState { return c.authState }

// TheirInstanceTag returns the remote instance's tag (0 until known).
func (c *Conversation) TheirInstanceTag() otr4.InstanceTag { return c.theirTag }

// OurFingerprint returns our key's fingerprint.
func (c *Conversation) OurFingerprint() Fingerprint { return c.cfg.Key.Fingerprint() }

// TheirFingerprint returns the peer's fingerprint once the AKE succeeded.
func (c *Conversation) TheirFingerprint() (Fingerprint, bool) {
	if c.theirKey == nil || c.msgState != otr4.StateEncrypted {
		return Fingerprint{}, false
	}
	return c.theirKey.Fingerprint(), true
}

// TheirPublicKey returns the peer's DSA key once the AKE succeeded.
func (c *Conversation) TheirPublicKey() (*PublicKey, bool) {
	if c.theirKey == nil || c.msgState != otr4.StateEncrypted {
		return nil, false
	}
	return c.theirKey, true
}

// SSID returns the secure session id and whether its first half is the
// one to show in bold (we sent the Reveal Signature message).
func (c *Conversation) SSID() (ssid [8]byte, firstBold bool, ok bool) {
	return c.ssid, c.ssidFirst, c.msgState == otr4.StateEncrypted
}

// QueryMessage returns the OTRv3 query message, "?OTRv3?".
func (c *Conversation) QueryMessage() string { return query.QueryMessage(query.NewVersions(3)) }

// TagPlaintext returns text with the whitespace tag offering version 3.
func (c *Conversation) TagPlaintext(text string) string {
	return query.AppendWhitespaceTag(text, query.NewVersions(3))
}

func (c *Conversation) setMsgState(out *otr4.Message, s otr4.State) {
	if s == c.msgState {
		return
	}
	out.Events = append(out.Events, otr4.Event{Kind: otr4.EventStateChanged, State: s, Prev: c.msgState})
	c.msgState = s
}

// send frames a binary message and fragments it if needed.
func (c *Conversation) send(out *otr4.Message, b []byte) error {
	s := query.Encode(b)
	if c.cfg.FragmentSize <= 0 || len(s) <= c.cfg.FragmentSize {
		out.ToSend = append(out.ToSend, s)
		return nil
	}
	parts, err := fragment.FormatV3.Split(s, c.cfg.FragmentSize, 0, uint32(c.cfg.InstanceTag), uint32(c.theirTag))
	if err != nil {
		return err
	}
	out.ToSend = append(out.ToSend, parts...)
	return nil
}

// Receive processes one received wire string.
func (c *Conversation) Receive(msg string) (*otr4.Message, error) {
	out := new(otr4.Message)
	err := c.receive(out, msg)
	if err != nil {
		out.Events = append(out.Events, otr4.Event{Kind: otr4.EventRejected, Err: err})
	}
	return out, err
}

func (c *Conversation) receive(out *otr4.Message, msg string) error {
	switch query.Classify(msg) {
	case query.KindFragment:
		f, err := fragment.Parse(msg)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if f.Format != fragment.FormatV3 {
			return fmt.Errorf("%w: %v fragment", otr4.ErrVersion, f.Format)
		}
		whole, done, err := c.assembler.Add(msg, c.now())
		if err != nil {
			if errors.Is(err, fragment.ErrNotForUs) {
				return fmt.Errorf("%w: %v", otr4.ErrWrongInstance, err)
			}
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if !done {
			return nil
		}
		if query.Classify(whole) != query.KindEncoded {
			return fmt.Errorf("%w: reassembled fragments are not an encoded message", ErrMalformed)
		}
		return c.receiveEncoded(out, whole)
	case query.KindEncoded:
		c.assembler.NoteUnfragmented()
		return c.receiveEncoded(out, msg)
	case query.KindError:
		c.assembler.NoteUnfragmented()
		code, text, _ := query.ParseError(msg)
		out.Events = append(out.Events, otr4.Event{Kind: otr4.EventErrorMessage, Code: int(code), Text: text})
		if c.cfg.ErrorStartAKE {
			out.ToSend = append(out.ToSend, c.QueryMessage())
		}
		return nil
	case query.KindQuery:
		c.assembler.NoteUnfragmented()
		v, _ := query.ParseQuery(msg)
		if v.Has(3) {
			return c.sendCommit(out)
		}
		return nil
	case query.KindPlaintextWithTag:
		c.assembler.NoteUnfragmented()
		plain, v, _ := query.StripWhitespaceTag(msg)
		c.receivePlaintext(out, plain)
		if v.Has(3) && !c.cfg.NoWhitespaceStart {
			return c.sendCommit(out)
		}
		return nil
	default:
		c.assembler.NoteUnfragmented()
		c.receivePlaintext(out, msg)
		return nil
	}
}

func (c *Conversation) receivePlaintext(out *otr4.Message, text string) {
	out.Text = text
	if c.msgState != otr4.StateStart {
		out.Events = append(out.Events, otr4.Event{Kind: otr4.EventUnencrypted})
	}
}

func (c *Conversation) receiveEncoded(out *otr4.Message, msg string) error {
	b, err := query.DecodeEncoded(msg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if v, err := query.ProtocolVersion(b); err == nil && v != 3 {
		return fmt.Errorf("%w: version %d", otr4.ErrVersion, v)
	}
	h, err := message.ParseHeader(b)
	if err != nil {
		return err
	}
	if h.Receiver != 0 && h.Receiver != uint32(c.cfg.InstanceTag) {
		return fmt.Errorf("%w: receiver %#x is not us (%v)", otr4.ErrWrongInstance, h.Receiver, c.cfg.InstanceTag)
	}
	if h.Receiver == 0 && h.Type != message.TypeDHCommit {
		return fmt.Errorf("%w: receiver instance tag 0 on message type %#x", otr4.ErrWrongInstance, h.Type)
	}
	if c.theirTag != 0 && otr4.InstanceTag(h.Sender) != c.theirTag {
		return fmt.Errorf("%w: sender %#x, conversation is with %v", otr4.ErrWrongInstance, h.Sender, c.theirTag)
	}
	switch h.Type {
	case message.TypeDHCommit:
		m, err := message.ParseDHCommit(b)
		if err != nil {
			return err
		}
		return c.receiveCommit(out, m)
	case message.TypeDHKey:
		m, err := message.ParseDHKey(b)
		if err != nil {
			return err
		}
		return c.receiveDHKey(out, m)
	case message.TypeRevealSig:
		m, err := message.ParseRevealSig(b)
		if err != nil {
			return err
		}
		return c.receiveRevealSig(out, m)
	case message.TypeSignature:
		m, err := message.ParseSignature(b)
		if err != nil {
			return err
		}
		return c.receiveSignature(out, m)
	case message.TypeData:
		m, err := message.ParseData(b)
		if err != nil {
			return err
		}
		return c.receiveData(out, m)
	}
	return fmt.Errorf("%w: message type %#x", ErrMalformed, h.Type)
}

// inGroup reports whether 2 <= x <= p-2.
func inGroup(x *big.Int) bool {
	return x != nil && x.Cmp(big.NewInt(2)) >= 0 && x.Cmp(pMinus2) <= 0
}
