package otr4

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
	"github.com/otrchat/otrchat/otr4/internal/ratchet"
	"github.com/otrchat/otrchat/otr4/internal/ring"
	"github.com/otrchat/otrchat/otr4/internal/wire"
)

// Errors of the non-interactive DAKE.
var (
	ErrAuthMAC          = errors.New("otr4: invalid Non-Interactive-Auth MAC")
	ErrNoPrekeyProfile  = errors.New("otr4: no prekey profile to receive offline conversations")
	ErrOfflineNotInMode = errors.New("otr4: offline conversations are not available in this mode")
)

// nonInteractiveAuth is the Non-Interactive-Auth message (otrv4.md,
// "Non-Interactive-Auth Message").
type nonInteractiveAuth struct {
	authBody
	prekeyID uint32
	authMAC  []byte
}

func (m *nonInteractiveAuth) marshal() []byte {
	return m.authBody.marshal(msgTypeNonInteractiveAuth, func(b []byte) []byte {
		b = wire.AppendInt(b, m.prekeyID)
		return append(b, m.authMAC...)
	})
}

func parseNonInteractiveAuth(b []byte) (*nonInteractiveAuth, error) {
	var m nonInteractiveAuth
	err := m.authBody.parse(b, msgTypeNonInteractiveAuth, "Non-Interactive-Auth", func(r *wire.Reader) {
		m.prekeyID = r.Int()
		m.authMAC = r.Bytes(wire.MACSize)
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func ecdhBytes(s *curve.Scalar, p *curve.Point) ([]byte, error) {
	q := curve.NewIdentityPoint().ScalarMult(s, p)
	if q.IsIdentity() {
		return nil, errors.New("otr4: ECDH result is the identity")
	}
	return q.Bytes(), nil
}

// nonIntTranscript is t of the Non-Interactive-Auth message; Bob owns the
// prekey ensemble, Alice sends the message.
func nonIntTranscript(bob, alice *ClientProfile, y, x *curve.Point, b, a *big.Int, d *curve.Point, ph []byte) []byte {
	t := kdf.KDF(kdf.UsageNonIntAuthBobClientProfile, 64, bob.Marshal())
	t = append(t, kdf.KDF(kdf.UsageNonIntAuthAliceClientProfile, 64, alice.Marshal())...)
	t = wire.AppendPoint(t, y)
	t = wire.AppendPoint(t, x)
	t = wire.AppendMPI(t, b)
	t = wire.AppendMPI(t, a)
	t = wire.AppendPoint(t, d)
	return append(t, kdf.KDF(kdf.UsageNonIntAuthPhi, 64, ph)...)
}

// tmpKey computes tmp_k = KDF(usage_tmp_key || K_ecdh || ECDH(.., D) ||
// ECDH(.., H) || brace_key, 64) and from it the auth MAC key.
func tmpKey(kECDH, kShared, kLongTerm, brace []byte) (tmpK, authMACKey []byte) {
	tmpK = kdf.KDF(kdf.UsageTmpKey, 64, kECDH, kShared, kLongTerm, brace)
	authMACKey = kdf.KDF(kdf.UsageAuthMACKey, 64, tmpK)
	return
}

// StartOffline starts a conversation with an offline device from its
// prekey ensemble ("Sending a Data Message to an offline participant"): it
// validates the ensemble, produces the Non-Interactive-Auth message and
// encrypts text (if not empty) and anything queued after it. In
// ENCRYPTED_MESSAGES the current conversation is ended first with a TLV 1
// ("Starting an offline conversation after an online one").
func (c *Conversation) StartOffline(e *PrekeyEnsemble, text string, tlvs ...TLV) (*Message, error) {
	out := new(Message)
	if c.cfg.Mode == ModeInteractiveOnly {
		return out, ErrOfflineNotInMode
	}
	if err := e.Validate(c.now()); err != nil {
		return out, err
	}
	owner := e.Client.InstanceTag
	if c.theirTag != 0 && owner != c.theirTag {
		return out, fmt.Errorf("%w: ensemble of %v, conversation with %v", ErrWrongInstance, owner, c.theirTag)
	}
	if c.state == StateEncrypted {
		end, err := c.End()
		out.ToSend = append(out.ToSend, end.ToSend...)
		out.Events = append(out.Events, end.Events...)
		if err != nil {
			return out, err
		}
	}
	if err := c.newEphemeral(); err != nil {
		return out, err
	}
	defer c.wipeDAKE()
	y, bobB, d, hb := e.Message.y, e.Message.b, e.Prekey.sharedPrekey, e.Client.publicKey
	x := c.ourECDH
	kECDH, err := ecdhBytes(x.Scalar(), y)
	if err != nil {
		return out, err
	}
	kShared, err := ecdhBytes(x.Scalar(), d)
	if err != nil {
		return out, err
	}
	kLong, err := ecdhBytes(x.Scalar(), hb)
	if err != nil {
		return out, err
	}
	kDH, err := c.ourDH.SharedSecret(bobB)
	if err != nil {
		return out, err
	}
	brace := kdf.KDF(kdf.UsageThirdBraceKey, 32, kDH)
	tmpK, macKey := tmpKey(kECDH, kShared, kLong, brace)
	m := &nonInteractiveAuth{authBody: authBody{
		sender: c.cfg.InstanceTag, receiver: owner, profile: c.profile,
		x: x.Public(), a: c.ourDH.Public(),
		ecdhFirst: c.ourECDHFirst.Public(), dhFirst: c.ourDHFirst.Public(),
	}, prekeyID: e.Message.ID}
	ph := phi(owner, c.cfg.InstanceTag, y, bobB, m.ecdhFirst, m.dhFirst, c.cfg.OurAccount, c.cfg.TheirAccount)
	t := nonIntTranscript(e.Client, c.profile, y, m.x, bobB, m.a, d, ph)
	id := c.cfg.Identity
	if m.sigma, err = ring.Sign(c.rand, id.key.Scalar(), e.Client.forgingKey, id.key.Public(), y, t); err != nil {
		return out, err
	}
	m.authMAC = kdf.KDF(kdf.UsageAuthMAC, 64, macKey, t)
	k := kdf.KDF(kdf.UsageSharedSecret, 64, tmpK)
	var ssid [ssidSize]byte
	copy(ssid[:], kdf.KDF(kdf.UsageSSID, ssidSize, k))
	rat, err := ratchet.NewOfflineSender(c.rand, c.ratchetConfig(), ratchet.Init{
		K: k, OurECDH: c.ourECDHFirst, OurDH: c.ourDHFirst, TheirECDH: y, TheirDH: bobB,
	})
	for _, s := range [][]byte{kECDH, kShared, kLong, kDH, brace, tmpK, macKey, k} {
		clear(s)
	}
	if err != nil {
		return out, err
	}
	if err := c.send(out, m.marshal()); err != nil {
		return out, err
	}
	c.ourECDHFirst, c.ourDHFirst = nil, nil
	c.theirTag = owner
	c.theirProfile = e.Client
	c.ssid, c.ssidBoldHigh = ssid, true
	c.keepOldRatchet()
	if text != "" || len(tlvs) > 0 {
		c.queue = append([]queuedSend{{text: text, tlvs: tlvs}}, c.queue...)
	}
	return out, c.enterEncrypted(out, rat)
}

// receiveNonInteractiveAuth follows "Receiving a Non-Interactive-Auth
// Message", except that it is accepted in FINISHED too: "Starting an
// offline conversation after an online one" sends a TLV 1, which moves the
// receiver to FINISHED, right before the Non-Interactive-Auth message
// (docs/spec-notes.md). The prekey secret named by the message is taken from the store
// (and so deleted) before verification: a prekey message is used at most
// once, even by a forged message (docs/spec-notes.md).
func (c *Conversation) receiveNonInteractiveAuth(out *Message, b []byte) error {
	if c.cfg.Mode == ModeInteractiveOnly {
		return ErrOfflineNotInMode
	}
	m, err := parseNonInteractiveAuth(b)
	if err != nil {
		return err
	}
	if m.receiver != c.cfg.InstanceTag {
		return fmt.Errorf("%w: Non-Interactive-Auth for %v", ErrInstanceTag, m.receiver)
	}
	if err := m.profile.Validate(m.sender, c.now()); err != nil {
		return err
	}
	if c.cfg.PrekeyProfile == nil || c.cfg.SharedPrekeySecret == nil || c.cfg.PrekeySecrets == nil {
		return ErrNoPrekeyProfile
	}
	sec, err := c.cfg.PrekeySecrets.TakePrekeySecret(m.prekeyID)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPrekeyUnknown, err)
	}
	if sec == nil {
		return ErrPrekeyUnknown
	}
	defer sec.Wipe()
	y, bobB := sec.ecdh.Public(), sec.dh.Public()
	d := c.cfg.PrekeyProfile.sharedPrekey
	ph := phi(c.cfg.InstanceTag, m.sender, y, bobB, m.ecdhFirst, m.dhFirst, c.cfg.OurAccount, c.cfg.TheirAccount)
	t := nonIntTranscript(c.profile, m.profile, y, m.x, bobB, m.a, d, ph)
	if err := ring.Verify(c.cfg.Identity.forging, m.profile.publicKey, y, m.sigma, t); err != nil {
		return ErrInvalidRingSig
	}
	kECDH, err := ecdhBytes(sec.ecdh.Scalar(), m.x)
	if err != nil {
		return err
	}
	kShared, err := ecdhBytes(c.cfg.SharedPrekeySecret.key.Scalar(), m.x)
	if err != nil {
		return err
	}
	kLong, err := ecdhBytes(c.cfg.Identity.key.Scalar(), m.x)
	if err != nil {
		return err
	}
	kDH, err := sec.dh.SharedSecret(m.a)
	if err != nil {
		return err
	}
	brace := kdf.KDF(kdf.UsageThirdBraceKey, 32, kDH)
	tmpK, macKey := tmpKey(kECDH, kShared, kLong, brace)
	want := kdf.KDF(kdf.UsageAuthMAC, 64, macKey, t)
	k := kdf.KDF(kdf.UsageSharedSecret, 64, tmpK)
	defer func() {
		for _, s := range [][]byte{kECDH, kShared, kLong, kDH, brace, tmpK, macKey, k} {
			clear(s)
		}
	}()
	if subtle.ConstantTimeCompare(want, m.authMAC) != 1 {
		return ErrAuthMAC
	}
	var ssid [ssidSize]byte
	copy(ssid[:], kdf.KDF(kdf.UsageSSID, ssidSize, k))
	rat, err := ratchet.NewOfflineReceiver(c.rand, c.ratchetConfig(), ratchet.Init{
		K: k, TheirECDH: m.ecdhFirst, TheirDH: m.dhFirst,
	})
	if err != nil {
		return err
	}
	// "Forget any set values": a DAKE in progress is abandoned.
	c.wipeDAKE()
	c.keepOldRatchet()
	c.theirTag = m.sender
	c.theirProfile = m.profile
	c.ssid, c.ssidBoldHigh = ssid, false
	return c.enterEncrypted(out, rat)
}
