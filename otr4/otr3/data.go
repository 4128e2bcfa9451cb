package otr3

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/query"
	"github.com/otrchat/otrchat/otr4/otr3/internal/message"
	"github.com/otrchat/otrchat/otr4/otr3/internal/smp"
)

// session holds the keys of one (our key, their key) pair ("Computing AES
// keys, MAC keys, and the secure session id").
type session struct {
	sendAES, sendMAC, recvAES, recvMAC []byte
	extra                              []byte
	sendCtr, recvCtr                   [message.CTRSize]byte
	recvMACUsed                        bool
}

func newSession(our *dhKey, their *big.Int) *session {
	sec := our.secbytes(their)
	defer clear(sec)
	sendByte, recvByte := byte(0x02), byte(0x01)
	if our.pub.Cmp(their) > 0 {
		sendByte, recvByte = 0x01, 0x02 // we are the "high" end
	}
	h1 := func(b byte) []byte {
		h := sha1.New()
		h.Write([]byte{b})
		h.Write(sec)
		return h.Sum(nil)[:16]
	}
	s := &session{sendAES: h1(sendByte), recvAES: h1(recvByte), extra: h2(0xff, sec)}
	sm, rm := sha1.Sum(s.sendAES), sha1.Sum(s.recvAES)
	s.sendMAC, s.recvMAC = sm[:], rm[:]
	return s
}

func (s *session) wipe() {
	for _, b := range [][]byte{s.sendAES, s.sendMAC, s.recvAES, s.recvMAC, s.extra} {
		clear(b)
	}
}

// keyState is "Key Management": our two most recent D-H key pairs and the
// peer's two most recent public keys, with the sessions between them.
type keyState struct {
	ourKeyID   uint32
	ourPrev    *dhKey // our_dh[our_keyid-1]
	ourCur     *dhKey // our_dh[our_keyid]
	theirKeyID uint32
	theirPrev  *big.Int // their_y[their_keyid-1], nil if unknown
	theirCur   *big.Int // their_y[their_keyid]
	sessions   map[[2]uint32]*session
	reveal     []byte // old MAC keys for the next data message
}

func newKeyState(akeKey, next *dhKey, their *big.Int, theirKeyID uint32) *keyState {
	return &keyState{
		ourKeyID: akeKeyID + 1, ourPrev: akeKey, ourCur: next,
		theirKeyID: theirKeyID, theirCur: their,
		sessions: map[[2]uint32]*session{},
	}
}

func (k *keyState) session(ourID uint32, our *dhKey, theirID uint32, their *big.Int) *session {
	id := [2]uint32{ourID, theirID}
	s := k.sessions[id]
	if s == nil {
		s = newSession(our, their)
		k.sessions[id] = s
	}
	return s
}

// forget drops the sessions of one of our keys (side 0) or theirs (side 1)
// and queues their used receiving MAC keys for revealing.
func (k *keyState) forget(side int, id uint32) {
	for sid, s := range k.sessions {
		if sid[side] != id {
			continue
		}
		if s.recvMACUsed {
			k.reveal = append(k.reveal, s.recvMAC...)
		}
		s.wipe()
		delete(k.sessions, sid)
	}
}

func (k *keyState) wipe() {
	for _, s := range k.sessions {
		s.wipe()
	}
	k.sessions = nil
	k.ourPrev.wipe()
	k.ourCur.wipe()
}

func incCounter(c *[message.CTRSize]byte) {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]++
		if c[i] != 0 {
			return
		}
	}
}

func ctrIV(c [message.CTRSize]byte) []byte {
	iv := make([]byte, 16)
	copy(iv, c[:])
	return iv
}

func hmacSHA1(key, data []byte) []byte {
	h := hmac.New(sha1.New, key)
	h.Write(data)
	return h.Sum(nil)
}

func toMessageTLVs(tlvs []otr4.TLV) []message.TLV {
	out := make([]message.TLV, len(tlvs))
	for i, t := range tlvs {
		out[i] = message.TLV{Type: t.Type, Value: t.Value}
	}
	return out
}

// Send encrypts a message with optional TLVs. Before the AKE ends it is
// queued (and sent when it does); in MSGSTATE_FINISHED it is refused with
// otr4.ErrFinished ("Inform the user that the message cannot be sent").
func (c *Conversation) Send(text string, tlvs ...otr4.TLV) (*otr4.Message, error) {
	out := new(otr4.Message)
	switch c.msgState {
	case otr4.StateEncrypted:
		return out, c.sendData(out, text, tlvs, 0)
	case otr4.StateFinished:
		return out, otr4.ErrFinished
	}
	if len(c.queue) >= maxQueued {
		return out, otr4.ErrQueueFull
	}
	c.queue = append(c.queue, queued{text: text, tlvs: tlvs})
	out.Events = append(out.Events, otr4.Event{Kind: otr4.EventQueued})
	return out, nil
}

func (c *Conversation) sendData(out *otr4.Message, text string, tlvs []otr4.TLV, flags byte) error {
	_, err := c.sealData(out, text, tlvs, flags)
	return err
}

// sealData follows "When you send a Data Message" and returns the extra
// symmetric key of the keys used.
func (c *Conversation) sealData(out *otr4.Message, text string, tlvs []otr4.TLV, flags byte) ([]byte, error) {
	k := c.keys
	if k == nil || c.msgState != otr4.StateEncrypted {
		return nil, otr4.ErrNotEncrypted
	}
	pt, err := message.EncodePlaintext(text, toMessageTLVs(tlvs))
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	s := k.session(k.ourKeyID-1, k.ourPrev, k.theirKeyID, k.theirCur)
	incCounter(&s.sendCtr)
	m := &message.Data{
		Header:         message.Header{Sender: uint32(c.cfg.InstanceTag), Receiver: uint32(c.theirTag)},
		Flags:          flags,
		SenderKeyID:    k.ourKeyID - 1,
		RecipientKeyID: k.theirKeyID,
		NextDH:         k.ourCur.pub,
		Counter:        s.sendCtr,
		Encrypted:      aesCTR(s.sendAES, ctrIV(s.sendCtr), pt),
		OldMACKeys:     k.reveal,
	}
	m.MAC = hmacSHA1(s.sendMAC, m.Authenticated())
	if err := c.send(out, m.Marshal()); err != nil {
		return nil, err
	}
	k.reveal = nil
	c.lastSent = c.now()
	return append([]byte(nil), s.extra...), nil
}

// receiveData follows "Receiving a Data Message".
func (c *Conversation) receiveData(out *otr4.Message, m *message.Data) error {
	if c.msgState != otr4.StateEncrypted || c.keys == nil {
		return c.unreadable(out, m, fmt.Errorf("%w: data message in %v", otr4.ErrNotEncrypted, c.msgState))
	}
	k := c.keys
	var our *dhKey
	switch m.RecipientKeyID {
	case k.ourKeyID:
		our = k.ourCur
	case k.ourKeyID - 1:
		our = k.ourPrev
	}
	var their *big.Int
	switch m.SenderKeyID {
	case k.theirKeyID:
		their = k.theirCur
	case k.theirKeyID - 1:
		their = k.theirPrev
	}
	if our == nil || their == nil {
		return c.unreadable(out, m, fmt.Errorf("%w: keyids %d/%d", ErrKeyID, m.SenderKeyID, m.RecipientKeyID))
	}
	s := k.session(m.RecipientKeyID, our, m.SenderKeyID, their)
	if !hmac.Equal(hmacSHA1(s.recvMAC, m.Authenticated()), m.MAC) {
		return c.unreadable(out, m, ErrBadMAC)
	}
	if bytes.Compare(m.Counter[:], s.recvCtr[:]) <= 0 {
		return c.unreadable(out, m, ErrCounter)
	}
	if m.SenderKeyID == k.theirKeyID && !inGroup(m.NextDH) {
		return c.unreadable(out, m, ErrGroupElement)
	}
	s.recvCtr = m.Counter
	s.recvMACUsed = true
	pt := aesCTR(s.recvAES, ctrIV(m.Counter), m.Encrypted)
	defer clear(pt)

	// "Finally, check if keys need rotation".
	if m.RecipientKeyID == k.ourKeyID {
		next, err := newDHKey(c.rand)
		if err != nil {
			return err
		}
		k.forget(0, k.ourKeyID-1)
		k.ourPrev.wipe()
		k.ourPrev, k.ourCur = k.ourCur, next
		k.ourKeyID++
	}
	if m.SenderKeyID == k.theirKeyID {
		k.forget(1, k.theirKeyID-1)
		k.theirPrev, k.theirCur = k.theirCur, m.NextDH
		k.theirKeyID++
	}

	text, tlvs, perr := message.ParsePlaintext(pt)
	out.Text, out.Encrypted = text, true
	if perr != nil {
		out.Events = append(out.Events, otr4.Event{Kind: otr4.EventRejected, Err: perr})
	}
	extra := append([]byte(nil), s.extra...)
	disconnected := false
	for _, t := range tlvs {
		out.TLVs = append(out.TLVs, otr4.TLV{Type: t.Type, Value: t.Value})
		switch {
		case t.Type == message.TLVDisconnected:
			disconnected = true
		case smp.IsSMPType(t.Type):
			c.handleSMP(out, t)
		case t.Type == message.TLVExtraKey && len(t.Value) >= 4:
			out.Events = append(out.Events, otr4.Event{Kind: otr4.EventExtraKey, Key: extra,
				Usage: binary.BigEndian.Uint32(t.Value), UseData: t.Value[4:]})
		}
	}
	if disconnected {
		// "forget all encryption keys for this correspondent, and
		// transition msgstate to MSGSTATE_FINISHED".
		out.Events = append(out.Events, otr4.Event{Kind: otr4.EventPeerEnded})
		c.keys.wipe()
		c.keys = nil
		c.smp.Reset()
		c.setMsgState(out, otr4.StateFinished)
		return nil
	}
	if c.cfg.HeartbeatInterval > 0 && c.msgState == otr4.StateEncrypted && c.now().Sub(c.lastSent) >= c.cfg.HeartbeatInterval {
		return c.sendData(out, "", nil, message.FlagIgnoreUnreadable)
	}
	return nil
}

// unreadable reports a data message we cannot read and answers with an
// OTR Error Message, unless the message asked to be ignored.
func (c *Conversation) unreadable(out *otr4.Message, m *message.Data, err error) error {
	if m.Flags&message.FlagIgnoreUnreadable != 0 {
		return nil
	}
	out.Events = append(out.Events, otr4.Event{Kind: otr4.EventUnreadable, Err: err})
	out.ToSend = append(out.ToSend, query.ErrorMessage(query.ErrorUnreadable))
	return err
}

// End ends the conversation ("User requests to end an OTR conversation"):
// in MSGSTATE_ENCRYPTED it sends a TLV 1 and forgets the keys.
func (c *Conversation) End() (*otr4.Message, error) {
	out := new(otr4.Message)
	var err error
	if c.msgState == otr4.StateEncrypted {
		err = c.sendData(out, "", []otr4.TLV{{Type: message.TLVDisconnected}}, message.FlagIgnoreUnreadable)
	}
	if c.keys != nil {
		c.keys.wipe()
		c.keys = nil
	}
	c.resetAKE()
	c.smp.Reset()
	c.queue = nil
	c.theirKey = nil
	c.setMsgState(out, otr4.StateStart)
	return out, err
}

// SendExtraKey sends a TLV 8 asking the peer to use the extra symmetric key
// for usage with use-specific data, and returns the key (32 bytes).
func (c *Conversation) SendExtraKey(usage uint32, data []byte) (*otr4.Message, []byte, error) {
	out := new(otr4.Message)
	v := binary.BigEndian.AppendUint32(nil, usage)
	key, err := c.sealData(out, "", []otr4.TLV{{Type: message.TLVExtraKey, Value: append(v, data...)}}, message.FlagIgnoreUnreadable)
	return out, key, err
}

func (c *Conversation) smpBinding() smp.Binding {
	var theirs Fingerprint
	if c.theirKey != nil {
		theirs = c.theirKey.Fingerprint()
	}
	return smp.Binding{OurFingerprint: c.OurFingerprint(), TheirFingerprint: theirs, SSID: c.ssid}
}

func (c *Conversation) sendSMP(out *otr4.Message, tlvs []smp.TLV) error {
	if len(tlvs) == 0 {
		return nil
	}
	ts := make([]otr4.TLV, len(tlvs))
	for i, t := range tlvs {
		ts[i] = otr4.TLV{Type: t.Type, Value: t.Value}
	}
	return c.sendData(out, "", ts, message.FlagIgnoreUnreadable)
}

// StartSMP asks the peer to prove knowledge of the same secret, with an
// optional question (TLV 7) shown to them. The result arrives as an SMP
// event.
func (c *Conversation) StartSMP(question string, secret []byte) (*otr4.Message, error) {
	out := new(otr4.Message)
	if c.msgState != otr4.StateEncrypted {
		return out, otr4.ErrNotEncrypted
	}
	tlvs, err := c.smp.Start(c.smpBinding(), question, secret)
	if err != nil {
		return out, err
	}
	return out, c.sendSMP(out, tlvs)
}

// AnswerSMP answers the peer's SMP request (after EventSMPSecretNeeded).
func (c *Conversation) AnswerSMP(secret []byte) (*otr4.Message, error) {
	out := new(otr4.Message)
	if c.msgState != otr4.StateEncrypted {
		return out, otr4.ErrNotEncrypted
	}
	tlvs, err := c.smp.Respond(c.smpBinding(), secret)
	if err != nil {
		return out, err
	}
	return out, c.sendSMP(out, tlvs)
}

// AbortSMP cancels an SMP run and tells the peer (TLV 6).
func (c *Conversation) AbortSMP() (*otr4.Message, error) {
	out := new(otr4.Message)
	if c.msgState != otr4.StateEncrypted {
		return out, otr4.ErrNotEncrypted
	}
	return out, c.sendSMP(out, []smp.TLV{c.smp.Abort()})
}

var smpEvents = map[smp.Result]otr4.EventKind{
	smp.InProgress:   otr4.EventSMPInProgress,
	smp.SecretNeeded: otr4.EventSMPSecretNeeded,
	smp.Succeeded:    otr4.EventSMPSucceeded,
	smp.Failed:       otr4.EventSMPFailed,
	smp.Aborted:      otr4.EventSMPAborted,
	smp.Cheated:      otr4.EventSMPCheated,
	smp.Error:        otr4.EventSMPError,
}

func (c *Conversation) handleSMP(out *otr4.Message, t message.TLV) {
	res, err := c.smp.Receive(smp.TLV{Type: t.Type, Value: t.Value})
	if kind, ok := smpEvents[res.Result]; ok {
		out.Events = append(out.Events, otr4.Event{Kind: kind, Question: res.Question, Err: err})
	} else if err != nil {
		out.Events = append(out.Events, otr4.Event{Kind: otr4.EventSMPError, Err: err})
	}
	if err := c.sendSMP(out, res.Reply); err != nil {
		out.Events = append(out.Events, otr4.Event{Kind: otr4.EventSMPError, Err: err})
	}
}
