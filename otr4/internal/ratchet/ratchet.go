// Package ratchet implements the OTRv4 double ratchet with the 3072-bit DH
// brace key and the data message (otrv4.md, "Key Management", "Data
// Exchange", "Data Message", "Revealing MAC Keys", "Extra Symmetric Key").
//
// Ratchet numbering (docs/spec-notes.md, "Ratchet ids"): the chain that the
// DAKE leaves the party who received Auth-I (or sent the
// Non-Interactive-Auth message) with is the DAKE chain, sent with ratchet id
// 0. DH ratchets after it are numbered 0, 1, 2, ... in the order both sides
// see them (they alternate between the parties); a ratchet whose id is a
// multiple of 3 brings a new 3072-bit DH key, every other one derives the
// brace key from the previous one. A data message of a ratchet with a new DH
// key carries that key in every message of the ratchet, so losing the first
// message loses nothing else.
package ratchet

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/big"

	"golang.org/x/crypto/chacha20"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/dh"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
)

// Errors of receiving; a message that fails leaves the state unchanged.
var (
	ErrMAC          = errors.New("ratchet: message authentication failed")
	ErrDuplicate    = errors.New("ratchet: duplicate or replayed message")
	ErrTooManySkips = errors.New("ratchet: too many skipped messages")
	ErrUnknownChain = errors.New("ratchet: message from an unknown or deleted ratchet")
	ErrNoChain      = errors.New("ratchet: no chain to send or receive on")
	ErrZeroECDH     = errors.New("ratchet: ECDH result is the identity")
	ErrExpired      = errors.New("ratchet: keys have been erased")
)

// Config sets the implementer's limits the spec leaves open.
type Config struct {
	// MaxSkip is max_skip: how many message keys one chain may skip.
	MaxSkip int
	// MaxStored bounds the stored skipped message keys; the oldest are
	// deleted (and their MAC keys revealed) past it.
	MaxStored int
	// MaxStoredRatchets deletes stored keys once this many newer receiving
	// ratchets have happened ("Deletion of Stored Message Keys").
	MaxStoredRatchets uint64
}

// DefaultConfig is what otrchat uses.
var DefaultConfig = Config{MaxSkip: 1000, MaxStored: 2000, MaxStoredRatchets: 6}

type skippedID struct {
	ecdh [curve.PointSize]byte
	n    uint32
}

type skippedKeys struct {
	mkEnc [64]byte
	extra [64]byte
	gen   uint64
	seq   uint64
}

type chain struct {
	key   [64]byte
	valid bool
	n     uint32
}

// markEvery spaces the chain keys kept ahead of the receiving chain.
const markEvery = 32

// chainMark is the chain key of message n of the receiving chain, kept so
// that a later message beyond it does not derive the chain again from the
// start (see recvKeyAt).
type chainMark struct {
	n   uint32
	key [64]byte
}

// State is one side of a double ratchet.
type State struct {
	rand io.Reader
	cfg  Config

	root  [64]byte
	brace [32]byte

	ourECDH    *curve.PrivateKey
	ourECDHPub [curve.PointSize]byte
	ourDH      *dh.PrivateKey
	theirECDH  *curve.Point
	theirPub   [curve.PointSize]byte
	theirDH    *big.Int

	send   chain
	sendID uint32
	sendDH *big.Int // the DH public key attached to this ratchet's messages
	recv   chain
	// marks are chain keys of the receiving chain ahead of recv, one every
	// markEvery messages, derived for messages that asked for them
	// (authenticated or not): every multiple of markEvery in (recv.n, M]
	// for some M, ascending.
	marks []chainMark
	pn    uint32

	expectRecvID uint32
	nextSendID   uint32
	needRatchet  bool

	skipped map[skippedID]*skippedKeys
	recvGen uint64
	seq     uint64
	reveal  []byte

	nextECDH *curve.PrivateKey
	nextDH   *dh.PrivateKey

	sendSteps uint32
	erased    bool

	// unauthSteps counts the chain keys derived for messages before their
	// authenticator was checked (for tests of the work a forgery costs).
	unauthSteps uint64

	observer func(SealObservation) // tests and vector generation only
}

// Init is what a DAKE hands to the ratchet.
type Init struct {
	// K is the mixed shared secret of the DAKE.
	K []byte
	// Our and their first ECDH and DH keys (our_ecdh_first, their_ecdh_first...).
	OurECDH   *curve.PrivateKey
	OurDH     *dh.PrivateKey
	TheirECDH *curve.Point
	TheirDH   *big.Int
}

func ecdh(a *curve.PrivateKey, b *curve.Point) ([]byte, error) {
	p := curve.NewIdentityPoint().ScalarMult(a.Scalar(), b)
	if p.IsIdentity() {
		return nil, ErrZeroECDH
	}
	return p.Bytes(), nil
}

func mixed(kECDH, brace []byte) []byte {
	return kdf.KDF(kdf.UsageSharedSecret, 64, kECDH, brace)
}

func deriveRatchetKeys(prevRoot, k []byte) (root, ck [64]byte) {
	kdf.OTRv4.SumInto(root[:], kdf.UsageRootKey, prevRoot, k)
	kdf.OTRv4.SumInto(ck[:], kdf.UsageChainKey, prevRoot, k)
	return
}

// firstChain derives the chain of the first keys: prev_root_key from the
// DAKE's K, then the mixed secret of our_ecdh_first/their_ecdh_first and
// our_dh_first/their_dh_first.
func (s *State) firstChain(in Init) ([64]byte, error) {
	var prev [64]byte
	kdf.OTRv4.SumInto(prev[:], kdf.UsageFirstRootKey, in.K)
	kECDH, err := ecdh(in.OurECDH, in.TheirECDH)
	if err != nil {
		return prev, err
	}
	kDH, err := in.OurDH.SharedSecret(in.TheirDH)
	if err != nil {
		return prev, err
	}
	kdf.OTRv4.SumInto(s.brace[:], kdf.UsageThirdBraceKey, kDH)
	clear(kDH)
	k := mixed(kECDH, s.brace[:])
	root, ck := deriveRatchetKeys(prev[:], k)
	s.root = root
	clear(k)
	clear(prev[:])
	return ck, nil
}

func newState(r io.Reader, cfg Config, in Init) *State {
	if cfg.MaxSkip == 0 {
		cfg = DefaultConfig
	}
	s := &State{
		rand: r, cfg: cfg,
		ourECDH: in.OurECDH, ourDH: in.OurDH,
		theirECDH: in.TheirECDH, theirDH: in.TheirDH,
		skipped: map[skippedID]*skippedKeys{},
	}
	copy(s.ourECDHPub[:], in.OurECDH.PublicBytes())
	copy(s.theirPub[:], in.TheirECDH.Bytes())
	return s
}

// NewFirstSender sets up the party that completes the DAKE by receiving
// Auth-I (or by sending a Non-Interactive-Auth message): it has a sending
// chain at once, and its peer's first ratchet is ratchet 0.
func NewFirstSender(r io.Reader, cfg Config, in Init) (*State, error) {
	s := newState(r, cfg, in)
	ck, err := s.firstChain(in)
	if err != nil {
		return nil, err
	}
	s.send = chain{key: ck, valid: true}
	s.sendID = 0
	s.expectRecvID = 0
	return s, nil
}

// NewFirstReceiver sets up the party that completes the DAKE by sending
// Auth-I: it receives on the DAKE chain and sends on ratchet 0, with a new
// ECDH and DH key.
func NewFirstReceiver(r io.Reader, cfg Config, in Init) (*State, error) {
	s := newState(r, cfg, in)
	ck, err := s.firstChain(in)
	if err != nil {
		return nil, err
	}
	s.recv = chain{key: ck, valid: true}
	// Ratchet 0 (new ECDH and DH keys) is derived when the first message
	// is sent, or ahead of that by Prepare: the DAKE does not wait for it.
	s.nextSendID = 0
	s.needRatchet = true
	s.expectRecvID = 1
	return s, nil
}

// Prepare generates the next ECDH and DH key pairs ahead of need, so that
// a later sending ratchet does not wait for them. It is safe to skip.
func (s *State) Prepare() error {
	var err error
	if s.nextECDH == nil {
		if s.nextECDH, err = curve.GenerateKey(s.rand); err != nil {
			return err
		}
	}
	if s.nextDH == nil {
		if s.nextDH, err = dh.GenerateKey(s.rand); err != nil {
			return err
		}
	}
	return nil
}

// sendRatchet performs "Rotating ECDH Keys and Brace Key as sender" and
// derives a new sending chain.
func (s *State) sendRatchet() error {
	id := s.nextSendID
	e := s.nextECDH
	s.nextECDH = nil
	if e == nil {
		var err error
		if e, err = curve.GenerateKey(s.rand); err != nil {
			return err
		}
	}
	kECDH, err := ecdh(e, s.theirECDH)
	if err != nil {
		return err
	}
	var brace [32]byte
	var newDH *dh.PrivateKey
	if id%3 == 0 {
		newDH = s.nextDH
		s.nextDH = nil
		if newDH == nil {
			if newDH, err = dh.GenerateKey(s.rand); err != nil {
				return err
			}
		}
		kDH, err := newDH.SharedSecret(s.theirDH)
		if err != nil {
			return err
		}
		kdf.OTRv4.SumInto(brace[:], kdf.UsageThirdBraceKey, kDH)
		clear(kDH)
	} else {
		kdf.OTRv4.SumInto(brace[:], kdf.UsageBraceKey, s.brace[:])
	}
	k := mixed(kECDH, brace[:])
	root, ck := deriveRatchetKeys(s.root[:], k)
	clear(k)
	clear(kECDH)
	// Commit.
	if s.ourECDH != nil {
		s.ourECDH.Wipe()
	}
	s.ourECDH = e
	copy(s.ourECDHPub[:], e.PublicBytes())
	s.sendDH = nil
	if newDH != nil {
		if s.ourDH != nil {
			s.ourDH.Wipe()
		}
		s.ourDH = newDH
		s.sendDH = newDH.Public()
	}
	s.brace = brace
	s.root = root
	if s.send.valid {
		s.pn = s.send.n
	}
	s.send = chain{key: ck, valid: true}
	s.sendID = id
	s.needRatchet = false
	s.sendSteps++
	return nil
}

func messageKeys(ck []byte) (mkEnc, mkMAC, extra []byte) {
	mkEnc = kdf.KDF(kdf.UsageMessageKey, 64, ck)
	mkMAC = kdf.KDF(kdf.UsageMACKey, 64, mkEnc)
	extra = kdf.KDF(kdf.UsageExtraSymmKey, 64, []byte{0xFF}, ck)
	return
}

func nextChainKey(ck [64]byte) (out [64]byte) {
	kdf.OTRv4.SumInto(out[:], kdf.UsageNextChainKey, ck[:])
	return
}

func xorKeyStream(mkEnc, in []byte) []byte {
	var nonce [chacha20.NonceSize]byte
	c, err := chacha20.NewUnauthenticatedCipher(mkEnc[:32], nonce[:])
	if err != nil {
		panic("ratchet: chacha20: " + err.Error()) // fixed key and nonce sizes
	}
	out := make([]byte, len(in))
	c.XORKeyStream(out, in)
	return out
}

func authenticator(mkMAC, sections []byte) []byte {
	return kdf.KDF(kdf.UsageAuthenticator, 64, mkMAC, sections)
}

// Sealed is an encrypted data message and the extra symmetric key of its
// message key.
type Sealed struct {
	Message  *DataMessage
	ExtraKey []byte
}

// Seal encrypts plaintext (the human-readable part, NUL and TLVs already
// assembled) as a data message from sender to receiver.
func (s *State) Seal(sender, receiver uint32, flags byte, plaintext []byte) (*Sealed, error) {
	if s.erased {
		return nil, ErrExpired
	}
	var before Observation
	if s.observer != nil {
		before = s.Observe()
	}
	if s.needRatchet {
		if err := s.sendRatchet(); err != nil {
			return nil, err
		}
	}
	if !s.send.valid {
		return nil, ErrNoChain
	}
	if s.observer != nil {
		s.observeSeal(before)
	}
	mkEnc, mkMAC, extra := messageKeys(s.send.key[:])
	m := &DataMessage{
		Sender: sender, Receiver: receiver, Flags: flags,
		PN: s.pn, RatchetID: s.sendID, MessageID: s.send.n,
		ECDH: s.ourECDHPub, DH: s.sendDH,
	}
	m.Ciphertext = xorKeyStream(mkEnc, plaintext)
	m.MAC = authenticator(mkMAC, m.sections())
	m.RevealedMACs = s.takeReveal()
	s.send.key = nextChainKey(s.send.key)
	s.send.n++
	clear(mkEnc)
	clear(mkMAC)
	return &Sealed{Message: m, ExtraKey: extra}, nil
}

// Opened is a decrypted data message.
type Opened struct {
	Plaintext []byte
	ExtraKey  []byte
}

type pendingSkip struct {
	id   skippedID
	keys skippedKeys
}

// takeReveal removes up to RevealBatch MAC keys from the keys waiting to
// be revealed and returns them, so that no message reveals more than a
// receiver accepts (docs/spec-notes.md, "Revealing MAC keys").
func (s *State) takeReveal() []byte {
	if len(s.reveal) == 0 {
		return nil
	}
	n := min(len(s.reveal), RevealBatch*macSize)
	out := append([]byte(nil), s.reveal[:n]...)
	if n == len(s.reveal) {
		s.reveal = nil
	} else {
		s.reveal = append([]byte(nil), s.reveal[n:]...)
	}
	return out
}

// skipKeys derives the message keys of messages from..to-1 of the chain
// whose message from has chain key ck, for storing once the message that
// skipped them is authenticated.
func skipKeys(ck [64]byte, pub [curve.PointSize]byte, from, to uint32, out []pendingSkip) []pendingSkip {
	for k := from; k < to; k++ {
		var p pendingSkip
		p.id = skippedID{pub, k}
		kdf.OTRv4.SumInto(p.keys.mkEnc[:], kdf.UsageMessageKey, ck[:])
		kdf.OTRv4.SumInto(p.keys.extra[:], kdf.UsageExtraSymmKey, []byte{0xFF}, ck[:])
		out = append(out, p)
		ck = nextChainKey(ck)
	}
	clear(ck[:])
	return out
}

// walkChain returns the chain key of message n of a chain whose message
// from has chain key ck: one KDF per message, nothing else, because the
// message asking for it is not authenticated yet.
func (s *State) walkChain(ck [64]byte, from, n uint32) [64]byte {
	for k := from; k < n; k++ {
		ck = nextChainKey(ck)
		s.unauthSteps++
	}
	return ck
}

// recvKeyAt returns the chain key of message n (recv.n <= n <= recv.n +
// MaxSkip) of the receiving chain. It starts from the nearest mark and
// leaves a mark every markEvery messages, so that forged messages asking
// for far messages of the chain cost the derivations once, not once each.
func (s *State) recvKeyAt(n uint32) [64]byte {
	from, ck := s.recv.n, s.recv.key
	for _, mk := range s.marks {
		if mk.n > n {
			break
		}
		from, ck = mk.n, mk.key
	}
	for k := from; k < n; k++ {
		ck = nextChainKey(ck)
		s.unauthSteps++
		if (k+1)%markEvery == 0 && (len(s.marks) == 0 || s.marks[len(s.marks)-1].n < k+1) {
			s.marks = append(s.marks, chainMark{n: k + 1, key: ck})
		}
	}
	return ck
}

// dropMarks wipes the marks up to message n (all of them for n = max).
func (s *State) dropMarks(n uint32) {
	i := 0
	for i < len(s.marks) && s.marks[i].n <= n {
		clear(s.marks[i].key[:])
		i++
	}
	if i == len(s.marks) {
		s.marks = nil
		return
	}
	s.marks = append([]chainMark(nil), s.marks[i:]...)
}

// Open authenticates and decrypts a data message addressed to us. On any
// error the state is unchanged (except for the marks of the receiving
// chain, which only save work). Until the message is authenticated only
// what its authenticator needs is derived: the chain keys up to its own
// (one KDF each, from the nearest mark on the receiving chain) and, for a
// new ratchet, the ECDH and DH secrets; the message keys of skipped
// messages, and the skipped part of the previous chain, are derived only
// once it is authenticated.
func (s *State) Open(m *DataMessage) (*Opened, error) {
	if s.erased {
		return nil, ErrExpired
	}
	if m.authenticated == nil {
		m.authenticated = m.sections()
	}
	pub := m.ECDH

	// A stored skipped message key.
	if sk, ok := s.skipped[skippedID{pub, m.MessageID}]; ok {
		mkMAC := kdf.KDF(kdf.UsageMACKey, 64, sk.mkEnc[:])
		if subtle.ConstantTimeCompare(authenticator(mkMAC, m.authenticated), m.MAC) != 1 {
			return nil, ErrMAC
		}
		pt := xorKeyStream(sk.mkEnc[:], m.Ciphertext)
		extra := append([]byte(nil), sk.extra[:]...)
		clear(sk.mkEnc[:])
		clear(sk.extra[:])
		delete(s.skipped, skippedID{pub, m.MessageID})
		s.reveal = append(s.reveal, mkMAC...)
		return &Opened{Plaintext: pt, ExtraKey: extra}, nil
	}

	if s.theirECDH != nil && pub == s.theirPub && s.recv.valid {
		// The current receiving ratchet.
		if m.MessageID < s.recv.n {
			return nil, ErrDuplicate
		}
		if uint64(m.MessageID) > uint64(s.recv.n)+uint64(s.cfg.MaxSkip) {
			return nil, ErrTooManySkips
		}
		ck := s.recvKeyAt(m.MessageID)
		out, err := s.decrypt(ck, m)
		if err != nil {
			return nil, err
		}
		s.storeSkipped(skipKeys(s.recv.key, pub, s.recv.n, m.MessageID, nil))
		s.recv.key = nextChainKey(ck)
		s.recv.n = m.MessageID + 1
		clear(ck[:])
		s.dropMarks(s.recv.n)
		return out, nil
	}

	// A new ratchet: only the one we expect next can be derived.
	if m.RatchetID != s.expectRecvID {
		return nil, ErrUnknownChain
	}
	newDH := m.RatchetID%3 == 0
	if newDH != (m.DH != nil) {
		return nil, fmt.Errorf("%w: ratchet %d must %s a DH key", ErrMalformed, m.RatchetID, map[bool]string{true: "carry", false: "not carry"}[newDH])
	}
	if s.ourECDH == nil || (newDH && s.ourDH == nil) {
		return nil, ErrUnknownChain
	}
	skipPrev := s.recv.valid && s.theirECDH != nil
	if (skipPrev && uint64(m.PN) > uint64(s.recv.n)+uint64(s.cfg.MaxSkip)) || uint64(m.MessageID) > uint64(s.cfg.MaxSkip) {
		return nil, ErrTooManySkips
	}
	their, err := curve.NewIdentityPoint().SetBytes(pub[:])
	if err != nil {
		return nil, fmt.Errorf("%w: public ECDH key: %v", ErrMalformed, err)
	}
	kECDH, err := ecdh(s.ourECDH, their)
	if err != nil {
		return nil, err
	}
	var brace [32]byte
	if newDH {
		kDH, err := s.ourDH.SharedSecret(m.DH)
		if err != nil {
			return nil, err
		}
		kdf.OTRv4.SumInto(brace[:], kdf.UsageThirdBraceKey, kDH)
		clear(kDH)
	} else {
		kdf.OTRv4.SumInto(brace[:], kdf.UsageBraceKey, s.brace[:])
	}
	k := mixed(kECDH, brace[:])
	clear(kECDH)
	root, ck0 := deriveRatchetKeys(s.root[:], k)
	clear(k)
	ck := s.walkChain(ck0, 0, m.MessageID)
	out, err := s.decrypt(ck, m)
	if err != nil {
		clear(root[:])
		clear(ck0[:])
		clear(ck[:])
		clear(brace[:])
		return nil, err
	}
	// Commit the new receiving ratchet, storing the skipped keys of the
	// previous chain and of this one.
	var pend []pendingSkip
	if skipPrev {
		pend = skipKeys(s.recv.key, s.theirPub, s.recv.n, m.PN, nil)
	}
	pend = skipKeys(ck0, pub, 0, m.MessageID, pend)
	clear(ck0[:])
	s.storeSkipped(pend)
	s.dropMarks(^uint32(0))
	s.root = root
	s.brace = brace
	s.theirECDH = their
	s.theirPub = pub
	if newDH {
		s.theirDH = m.DH
		s.ourDH.Wipe()
		s.ourDH = nil
	}
	s.ourECDH.Wipe()
	s.ourECDH = nil
	s.recv = chain{key: nextChainKey(ck), valid: true, n: m.MessageID + 1}
	clear(ck[:])
	s.nextSendID = m.RatchetID + 1
	s.expectRecvID = m.RatchetID + 2
	s.needRatchet = true
	s.recvGen++
	s.expireSkipped()
	return out, nil
}

// decrypt checks the MAC with the keys of chain key ck and decrypts.
func (s *State) decrypt(ck [64]byte, m *DataMessage) (*Opened, error) {
	mkEnc := kdf.KDF(kdf.UsageMessageKey, 64, ck[:])
	mkMAC := kdf.KDF(kdf.UsageMACKey, 64, mkEnc)
	if subtle.ConstantTimeCompare(authenticator(mkMAC, m.authenticated), m.MAC) != 1 {
		clear(mkEnc)
		clear(mkMAC)
		return nil, ErrMAC
	}
	extra := kdf.KDF(kdf.UsageExtraSymmKey, 64, []byte{0xFF}, ck[:])
	pt := xorKeyStream(mkEnc, m.Ciphertext)
	clear(mkEnc)
	s.reveal = append(s.reveal, mkMAC...)
	return &Opened{Plaintext: pt, ExtraKey: extra}, nil
}

func (s *State) storeSkipped(pend []pendingSkip) {
	for _, p := range pend {
		k := p.keys
		k.gen = s.recvGen
		k.seq = s.seq
		s.seq++
		s.skipped[p.id] = &k
	}
	for len(s.skipped) > s.cfg.MaxStored {
		var oldest skippedID
		var min uint64 = ^uint64(0)
		for id, k := range s.skipped {
			if k.seq < min {
				min, oldest = k.seq, id
			}
		}
		s.dropSkipped(oldest)
	}
}

// expireSkipped deletes stored keys older than MaxStoredRatchets receiving
// ratchets, revealing their MAC keys.
func (s *State) expireSkipped() {
	for id, k := range s.skipped {
		if s.recvGen-k.gen > s.cfg.MaxStoredRatchets {
			s.dropSkipped(id)
		}
	}
}

func (s *State) dropSkipped(id skippedID) {
	k := s.skipped[id]
	s.reveal = append(s.reveal, kdf.KDF(kdf.UsageMACKey, 64, k.mkEnc[:])...)
	clear(k.mkEnc[:])
	clear(k.extra[:])
	delete(s.skipped, id)
}

// Stored returns how many skipped message keys are stored.
func (s *State) Stored() int { return len(s.skipped) }

// Erase implements the key deletion of session expiry and of ending a
// conversation: it returns the MAC keys still to reveal (pending ones and
// those of every stored skipped message key) and erases all keys.
func (s *State) Erase() []byte {
	if s.erased {
		return nil
	}
	for id := range s.skipped {
		s.dropSkipped(id)
	}
	reveal := s.reveal
	s.reveal = nil
	clear(s.root[:])
	clear(s.brace[:])
	clear(s.send.key[:])
	clear(s.recv.key[:])
	s.dropMarks(^uint32(0))
	for _, k := range []*curve.PrivateKey{s.ourECDH, s.nextECDH} {
		if k != nil {
			k.Wipe()
		}
	}
	for _, k := range []*dh.PrivateKey{s.ourDH, s.nextDH} {
		if k != nil {
			k.Wipe()
		}
	}
	s.ourECDH, s.nextECDH, s.ourDH, s.nextDH = nil, nil, nil, nil
	s.send.valid, s.recv.valid = false, false
	s.erased = true
	return reveal
}

// PendingReveal returns the MAC keys waiting to be revealed.
func (s *State) PendingReveal() int { return len(s.reveal) / 64 }

// rootInit derives the keys the Non-Interactive DAKE starts with:
// curr_root_key = KDF(usage_root_key || K, 64) and the first chain key
// KDF(usage_chain_key || K, 64).
func rootInit(k []byte) (root, ck [64]byte) {
	kdf.OTRv4.SumInto(root[:], kdf.UsageRootKey, k)
	kdf.OTRv4.SumInto(ck[:], kdf.UsageChainKey, k)
	return
}

// NewOfflineSender sets up the party that sent the Non-Interactive-Auth
// message: its sending chain comes straight from K, and our first ECDH and
// DH keys (in.OurECDH, in.OurDH) are what the peer's first ratchet uses.
// in.TheirECDH and in.TheirDH are the prekey message's Y and B, already
// consumed by the DAKE; the peer's first ratchet replaces them.
func NewOfflineSender(r io.Reader, cfg Config, in Init) (*State, error) {
	s := newState(r, cfg, in)
	root, ck := rootInit(in.K)
	s.root = root
	s.send = chain{key: ck, valid: true}
	s.expectRecvID = 0
	return s, nil
}

// NewOfflineReceiver sets up the party that received the
// Non-Interactive-Auth message: it receives on the chain from K and
// ratchets (ratchet 0, with a new DH key) when it first sends.
// in.TheirECDH and in.TheirDH are the sender's first keys; in.OurECDH and
// in.OurDH may be nil.
func NewOfflineReceiver(r io.Reader, cfg Config, in Init) (*State, error) {
	if cfg.MaxSkip == 0 {
		cfg = DefaultConfig
	}
	s := &State{
		rand: r, cfg: cfg,
		theirECDH: in.TheirECDH, theirDH: in.TheirDH,
		skipped: map[skippedID]*skippedKeys{},
	}
	copy(s.theirPub[:], in.TheirECDH.Bytes())
	root, ck := rootInit(in.K)
	s.root = root
	s.recv = chain{key: ck, valid: true}
	s.nextSendID = 0
	s.needRatchet = true
	s.expectRecvID = 1
	return s, nil
}

// Steps counts the DH ratchets performed so far, sending and receiving; a
// change means a new ECDH key was made (used for session expiry).
func (s *State) Steps() uint64 { return s.recvGen + uint64(s.sendSteps) }

// SealAndErase seals the last message of a session (the TLV 1 of ending
// it or of session expiry) so that every MAC key still unrevealed is
// revealed, including those of all stored skipped message keys, and then
// erases the state. When more keys wait than one message may reveal
// (RevealBatch), heartbeats (empty, IGNORE_UNREADABLE) carrying the rest
// come first: send every returned message, in order.
func (s *State) SealAndErase(sender, receiver uint32, flags byte, plaintext []byte) ([]*Sealed, error) {
	if s.erased {
		return nil, ErrExpired
	}
	for id := range s.skipped {
		s.dropSkipped(id)
	}
	var out []*Sealed
	for len(s.reveal) > RevealBatch*macSize {
		hb, err := s.Seal(sender, receiver, FlagIgnoreUnreadable, nil)
		if err != nil {
			s.Erase()
			return nil, err
		}
		clear(hb.ExtraKey)
		hb.ExtraKey = nil
		out = append(out, hb)
	}
	last, err := s.Seal(sender, receiver, flags, plaintext)
	s.Erase()
	if err != nil {
		return nil, err
	}
	return append(out, last), nil
}

// Authenticate computes the data message authenticator of m with macKey.
// Exported for the forging interface.
func Authenticate(macKey []byte, m *DataMessage) []byte {
	return authenticator(macKey, m.sections())
}

// XORKeyStream encrypts or decrypts with the first 32 bytes of mkEnc.
// Exported for the forging interface.
func XORKeyStream(mkEnc, in []byte) []byte { return xorKeyStream(mkEnc, in) }
