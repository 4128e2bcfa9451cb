package otr3

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"math/big"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/ctmod"
	"github.com/otrchat/otrchat/otr4/internal/wire"
	"github.com/otrchat/otrchat/otr4/otr3/internal/message"
	"github.com/otrchat/otrchat/otr4/otr3/internal/smp"
)

// The D-H group is the 1536-bit MODP group of RFC 3526 with g = 2, the same
// as the SMP's.
var (
	pMod    = ctmod.New(smp.P)
	pMinus2 = new(big.Int).Sub(smp.P, big.NewInt(2))
)

const (
	// dhSecretSize is the size of D-H private exponents: 320 bits, as
	// libotr uses ("at least 320 bits").
	dhSecretSize = 40
	akeKeyID     = 1
)

// dhKey is a D-H key pair.
type dhKey struct {
	priv []byte
	pub  *big.Int
}

func newDHKey(rand io.Reader) (*dhKey, error) {
	priv := make([]byte, dhSecretSize)
	if _, err := io.ReadFull(rand, priv); err != nil {
		return nil, err
	}
	return &dhKey{priv: priv, pub: pMod.Public(pMod.ExpInt(smp.G, priv))}, nil
}

// secbytes returns the shared secret s = their^priv as a minimal MPI.
func (k *dhKey) secbytes(their *big.Int) []byte {
	s := pMod.Public(pMod.ExpInt(their, k.priv))
	b := wire.AppendMPI(nil, s)
	clear(s.Bits())
	return b
}

func (k *dhKey) wipe() {
	if k != nil {
		clear(k.priv)
	}
}

// akeKeys are the values computed from the AKE's shared secret.
type akeKeys struct {
	ssid             [8]byte
	c, cp            []byte
	m1, m2, m1p, m2p []byte
}

func h2(b byte, secbytes []byte) []byte {
	h := sha256.New()
	h.Write([]byte{b})
	h.Write(secbytes)
	return h.Sum(nil)
}

func deriveAKEKeys(secbytes []byte) *akeKeys {
	k := new(akeKeys)
	copy(k.ssid[:], h2(0x00, secbytes))
	c := h2(0x01, secbytes)
	k.c, k.cp = c[:16], c[16:]
	k.m1, k.m2, k.m1p, k.m2p = h2(0x02, secbytes), h2(0x03, secbytes), h2(0x04, secbytes), h2(0x05, secbytes)
	return k
}

func (k *akeKeys) wipe() {
	if k == nil {
		return
	}
	for _, b := range [][]byte{k.c, k.cp, k.m1, k.m2, k.m1p, k.m2p} {
		clear(b)
	}
}

func aesCTR(key, iv, data []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("otr3: " + err.Error())
	}
	out := make([]byte, len(data))
	cipher.NewCTR(block, iv).XORKeyStream(out, data)
	return out
}

var zeroIV = make([]byte, aes.BlockSize)

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// ake is the state of an AKE in progress.
type ake struct {
	our *dhKey
	// Initiator (Bob): r, our commit and, after the D-H Key, Alice's gy and
	// our Reveal Signature message.
	r         []byte
	commit    []byte
	hashedGx  []byte
	theirGy   *big.Int
	revealSig []byte
	keys      *akeKeys
	// Responder (Alice): Bob's commit and our D-H Key message.
	theirEncGx, theirHashedGx []byte
	dhKeyMsg                  []byte
}

func (a *ake) wipe() {
	if a == nil {
		return
	}
	a.our.wipe()
	clear(a.r)
	a.keys.wipe()
}

func (c *Conversation) resetAKE() {
	c.ake.wipe()
	c.ake = nil
	c.authState = AuthNone
}

// StartAKE sends a D-H Commit Message ("If the query message offers OTR
// version 3 ... Send a version 3 D-H Commit Message").
func (c *Conversation) StartAKE() (*otr4.Message, error) {
	out := new(otr4.Message)
	return out, c.sendCommit(out)
}

func (c *Conversation) sendCommit(out *otr4.Message) error {
	our, err := newDHKey(c.rand)
	if err != nil {
		return err
	}
	r := make([]byte, message.RevealSize)
	if _, err := io.ReadFull(c.rand, r); err != nil {
		return err
	}
	gxmpi := wire.AppendMPI(nil, our.pub)
	hashed := sha256.Sum256(gxmpi)
	m := &message.DHCommit{
		Header:      message.Header{Sender: uint32(c.cfg.InstanceTag), Receiver: uint32(c.theirTag)},
		EncryptedGx: aesCTR(r, zeroIV, gxmpi),
		HashedGx:    hashed[:],
	}
	b := m.Marshal()
	if err := c.send(out, b); err != nil {
		return err
	}
	c.resetAKE()
	c.ake = &ake{our: our, r: r, commit: b, hashedGx: hashed[:]}
	c.authState = AuthAwaitingDHKey
	return nil
}

// receiveCommit follows "Receiving a D-H Commit Message".
func (c *Conversation) receiveCommit(out *otr4.Message, m *message.DHCommit) error {
	switch c.authState {
	case AuthAwaitingDHKey:
		// "compare the hashed gx you sent ... with the one you received,
		// considered as 32-byte unsigned big-endian values."
		if bytes.Compare(c.ake.hashedGx, m.HashedGx) > 0 {
			c.theirTag = otr4.InstanceTag(m.Sender)
			return c.resend(out, c.ake.commit, true)
		}
	case AuthAwaitingRevealSig:
		// "Retransmit your D-H Key Message ... Forget the old D-H Commit
		// message, and use this new one instead."
		if otr4.InstanceTag(m.Sender) == c.theirTag {
			c.ake.theirEncGx, c.ake.theirHashedGx = m.EncryptedGx, m.HashedGx
			return c.resend(out, c.ake.dhKeyMsg, false)
		}
	}
	our, err := newDHKey(c.rand)
	if err != nil {
		return err
	}
	c.theirTag = otr4.InstanceTag(m.Sender)
	k := &message.DHKey{Header: message.Header{Sender: uint32(c.cfg.InstanceTag), Receiver: m.Sender}, Gy: our.pub}
	b := k.Marshal()
	if err := c.send(out, b); err != nil {
		return err
	}
	c.resetAKE()
	c.ake = &ake{our: our, theirEncGx: m.EncryptedGx, theirHashedGx: m.HashedGx, dhKeyMsg: b}
	c.authState = AuthAwaitingRevealSig
	return nil
}

// resend sends one of our stored AKE messages again; a D-H Commit is
// re-addressed to the instance that answered.
func (c *Conversation) resend(out *otr4.Message, b []byte, readdress bool) error {
	if readdress {
		m, err := message.ParseDHCommit(b)
		if err == nil {
			m.Receiver = uint32(c.theirTag)
			b = m.Marshal()
			c.ake.commit = b
		}
	}
	return c.send(out, b)
}

// receiveDHKey follows "Receiving a D-H Key Message".
func (c *Conversation) receiveDHKey(out *otr4.Message, m *message.DHKey) error {
	switch c.authState {
	case AuthAwaitingDHKey:
	case AuthAwaitingSig:
		if c.ake.theirGy.Cmp(m.Gy) == 0 {
			return c.send(out, c.ake.revealSig)
		}
		return fmt.Errorf("%w: another D-H Key in %v", otr4.ErrUnexpected, c.authState)
	default:
		return fmt.Errorf("%w: D-H Key in %v", otr4.ErrUnexpected, c.authState)
	}
	if !inGroup(m.Gy) {
		return ErrGroupElement
	}
	a := c.ake
	sec := a.our.secbytes(m.Gy)
	keys := deriveAKEKeys(sec)
	clear(sec)
	x, err := c.signedX(keys.m1, a.our.pub, m.Gy)
	if err != nil {
		keys.wipe()
		return err
	}
	enc := aesCTR(keys.c, zeroIV, x)
	mac := hmacSHA256(keys.m2, message.EncryptedSigData(enc))[:message.MACSize]
	rs := &message.RevealSig{
		Header: message.Header{Sender: uint32(c.cfg.InstanceTag), Receiver: m.Sender},
		Key:    a.r, EncryptedSig: enc, MAC: mac,
	}
	b := rs.Marshal()
	if err := c.send(out, b); err != nil {
		keys.wipe()
		return err
	}
	c.theirTag = otr4.InstanceTag(m.Sender)
	a.theirGy, a.revealSig, a.keys = m.Gy, b, keys
	c.authState = AuthAwaitingSig
	return nil
}

// signedX builds X = pub, keyid, sig(M) with M = HMAC(mKey, ours, theirs,
// pub, keyid).
func (c *Conversation) signedX(mKey []byte, ours, theirs *big.Int) ([]byte, error) {
	pub := c.cfg.Key.k.Public()
	mv := hmacSHA256(mKey, wire.AppendMPI(nil, ours), wire.AppendMPI(nil, theirs), pub.Marshal(), wire.AppendInt(nil, akeKeyID))
	sig, err := c.cfg.Key.k.Sign(c.rand, mv)
	if err != nil {
		return nil, err
	}
	return (&message.X{Pub: pub, KeyID: akeKeyID, Sig: sig}).Marshal(), nil
}

// openX checks the MAC of an encrypted signature, decrypts it and verifies
// the signature of M = HMAC(mKey, theirs, ours, pub, keyid).
func openX(encKey, macKey, mKey, enc, mac []byte, theirs, ours *big.Int) (*message.X, error) {
	want := hmacSHA256(macKey, message.EncryptedSigData(enc))[:message.MACSize]
	if !hmac.Equal(want, mac) {
		return nil, fmt.Errorf("%w: MAC of the encrypted signature", ErrAuth)
	}
	x, err := message.ParseX(aesCTR(encKey, zeroIV, enc))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAuth, err)
	}
	mv := hmacSHA256(mKey, wire.AppendMPI(nil, theirs), wire.AppendMPI(nil, ours), x.Pub.Marshal(), wire.AppendInt(nil, x.KeyID))
	if err := x.Pub.Verify(mv, x.Sig); err != nil {
		return nil, fmt.Errorf("%w: signature", ErrAuth)
	}
	return x, nil
}

// receiveRevealSig follows "Receiving a Reveal Signature Message".
func (c *Conversation) receiveRevealSig(out *otr4.Message, m *message.RevealSig) error {
	if c.authState != AuthAwaitingRevealSig {
		return fmt.Errorf("%w: Reveal Signature in %v", otr4.ErrUnexpected, c.authState)
	}
	a := c.ake
	gxmpi := aesCTR(m.Key, zeroIV, a.theirEncGx)
	sum := sha256.Sum256(gxmpi)
	if subtle.ConstantTimeCompare(sum[:], a.theirHashedGx) != 1 {
		return fmt.Errorf("%w: gx does not match its hash", ErrAuth)
	}
	r := wire.NewReader(gxmpi)
	gx := r.MPI()
	if r.Done() != nil || !inGroup(gx) {
		return ErrGroupElement
	}
	sec := a.our.secbytes(gx)
	keys := deriveAKEKeys(sec)
	clear(sec)
	defer keys.wipe()
	x, err := openX(keys.c, keys.m2, keys.m1, m.EncryptedSig, m.MAC, gx, a.our.pub)
	if err != nil {
		return err
	}
	xa, err := c.signedX(keys.m1p, a.our.pub, gx)
	if err != nil {
		return err
	}
	enc := aesCTR(keys.cp, zeroIV, xa)
	mac := hmacSHA256(keys.m2p, message.EncryptedSigData(enc))[:message.MACSize]
	sm := &message.Signature{Header: message.Header{Sender: uint32(c.cfg.InstanceTag), Receiver: m.Sender}, EncryptedSig: enc, MAC: mac}
	if err := c.send(out, sm.Marshal()); err != nil {
		return err
	}
	our := a.our
	a.our = nil
	c.resetAKE()
	return c.goEncrypted(out, our, gx, x, keys.ssid, false)
}

// receiveSignature follows "Receiving a Signature Message".
func (c *Conversation) receiveSignature(out *otr4.Message, m *message.Signature) error {
	if c.authState != AuthAwaitingSig {
		return fmt.Errorf("%w: Signature in %v", otr4.ErrUnexpected, c.authState)
	}
	a := c.ake
	x, err := openX(a.keys.cp, a.keys.m2p, a.keys.m1p, m.EncryptedSig, m.MAC, a.theirGy, a.our.pub)
	if err != nil {
		return err
	}
	our, gy, ssid := a.our, a.theirGy, a.keys.ssid
	a.our = nil
	c.resetAKE()
	return c.goEncrypted(out, our, gy, x, ssid, true)
}

// goEncrypted installs the data keys after a successful AKE, moves to
// MSGSTATE_ENCRYPTED and sends what was queued.
func (c *Conversation) goEncrypted(out *otr4.Message, our *dhKey, their *big.Int, x *message.X, ssid [8]byte, firstBold bool) error {
	next, err := newDHKey(c.rand)
	if err != nil {
		return err
	}
	if c.keys != nil {
		c.keys.wipe()
	}
	c.keys = newKeyState(our, next, their, x.KeyID)
	c.theirKey = &PublicKey{x.Pub}
	c.ssid, c.ssidFirst = ssid, firstBold
	c.smp.Reset()
	c.lastSent = c.now()
	c.setMsgState(out, otr4.StateEncrypted)
	q := c.queue
	c.queue = nil
	for _, m := range q {
		if err := c.sendData(out, m.text, m.tlvs, 0); err != nil {
			return err
		}
	}
	return nil
}
