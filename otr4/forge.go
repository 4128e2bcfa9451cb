package otr4

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/dh"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
	"github.com/otrchat/otrchat/otr4/internal/query"
	"github.com/otrchat/otrchat/otr4/internal/ratchet"
	"github.com/otrchat/otrchat/otr4/internal/ring"
)

// This file is the forging interface that otrv4.md, "Forging Transcripts",
// requires every implementation to expose. Each operation uses the same
// functions as honest conversations.

// ErrForge is returned when a forging operation cannot be done.
var ErrForge = errors.New("otr4: cannot forge")

// Describe parses an OTRv4 wire message (encoded, not fragmented) and
// shows the values of its fields ("Parse").
func Describe(msg string) (string, error) {
	b, err := query.DecodeEncoded(msg)
	if err != nil {
		return "", err
	}
	if len(b) < 3 {
		return "", ErrMalformedMessage
	}
	var sb strings.Builder
	switch b[2] {
	case msgTypeData:
		m, err := ratchet.ParseDataMessage(b)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "Data message\nsender: %v\nreceiver: %v\nflags: %#02x\nprevious chain message number: %d\nratchet id: %d\nmessage id: %d\npublic ECDH key: %x\n",
			InstanceTag(m.Sender), InstanceTag(m.Receiver), m.Flags, m.PN, m.RatchetID, m.MessageID, m.ECDH)
		if m.DH != nil {
			fmt.Fprintf(&sb, "public DH key: %x\n", m.DH.Bytes())
		}
		fmt.Fprintf(&sb, "encrypted message: %x\nauthenticator: %x\nrevealed MAC keys: %d\n", m.Ciphertext, m.MAC, len(m.RevealedMACs)/64)
	case msgTypeIdentity:
		m, err := parseIdentity(b)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "Identity message\nsender: %v\nreceiver: %v\nprofile fingerprint: %v\nY: %x\nB: %x\n", m.sender, m.receiver, m.profile.Fingerprint(), m.y.Bytes(), m.b.Bytes())
	case msgTypeAuthR:
		m, err := parseAuthR(b)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "Auth-R message\nsender: %v\nreceiver: %v\nprofile fingerprint: %v\nX: %x\nA: %x\nsigma: %x\n", m.sender, m.receiver, m.profile.Fingerprint(), m.x.Bytes(), m.a.Bytes(), m.sigma.Marshal())
	case msgTypeAuthI:
		m, err := parseAuthI(b)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "Auth-I message\nsender: %v\nreceiver: %v\nsigma: %x\n", m.sender, m.receiver, m.sigma.Marshal())
	case msgTypeNonInteractiveAuth:
		m, err := parseNonInteractiveAuth(b)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "Non-Interactive-Auth message\nsender: %v\nreceiver: %v\nprofile fingerprint: %v\nprekey message: %#08x\nauth MAC: %x\n", m.sender, m.receiver, m.profile.Fingerprint(), m.prekeyID, m.authMAC)
	default:
		return "", fmt.Errorf("%w: message type %#x", ErrMalformedMessage, b[2])
	}
	return sb.String(), nil
}

func parseDataWire(msg string) (*ratchet.DataMessage, error) {
	b, err := query.DecodeEncoded(msg)
	if err != nil {
		return nil, err
	}
	return ratchet.ParseDataMessage(b)
}

// ShowMACKey returns the MAC key of a message key: KDF(usage_MAC_key ||
// MKenc, 64).
func ShowMACKey(messageKey []byte) []byte { return kdf.KDF(kdf.UsageMACKey, 64, messageKey) }

// ReMAC replaces the authenticator of a data message with one made with
// macKey (for instance a revealed MAC key).
func ReMAC(msg string, macKey []byte) (string, error) {
	m, err := parseDataWire(msg)
	if err != nil {
		return "", err
	}
	m.MAC = ratchet.Authenticate(macKey, m)
	return query.Encode(m.Marshal()), nil
}

// ModifyDataMessage replaces oldText, guessed to be at offset in the
// encrypted message, with newText of the same length, and re-MACs the
// message with the (revealed) macKey ("Modify Data Message").
func ModifyDataMessage(msg string, macKey []byte, offset int, oldText, newText string) (string, error) {
	if len(oldText) != len(newText) {
		return "", fmt.Errorf("%w: old and new text differ in length", ErrForge)
	}
	m, err := parseDataWire(msg)
	if err != nil {
		return "", err
	}
	if offset < 0 || offset+len(oldText) > len(m.Ciphertext) {
		return "", fmt.Errorf("%w: offset outside the encrypted message", ErrForge)
	}
	for i := 0; i < len(oldText); i++ {
		m.Ciphertext[offset+i] ^= oldText[i] ^ newText[i]
	}
	m.MAC = ratchet.Authenticate(macKey, m)
	return query.Encode(m.Marshal()), nil
}

// ReadAndForge decrypts a data message with the chain key it was sent on
// and, if newText is not nil, replaces its plaintext and MAC ("Read and
// Forge Data Message").
func ReadAndForge(msg string, chainKey []byte, newText *string) (plaintext string, forged string, err error) {
	m, err := parseDataWire(msg)
	if err != nil {
		return "", "", err
	}
	mkEnc := kdf.KDF(kdf.UsageMessageKey, 64, chainKey)
	mkMAC := ShowMACKey(mkEnc)
	if subtle.ConstantTimeCompare(ratchet.Authenticate(mkMAC, m), m.MAC) != 1 {
		return "", "", fmt.Errorf("%w: the chain key does not match the message", ErrForge)
	}
	pt := ratchet.XORKeyStream(mkEnc, m.Ciphertext)
	text, _, _ := decodePlaintext(pt)
	if newText == nil {
		return text, msg, nil
	}
	m.Ciphertext = ratchet.XORKeyStream(mkEnc, []byte(*newText))
	m.MAC = ratchet.Authenticate(mkMAC, m)
	return text, query.Encode(m.Marshal()), nil
}

// TranscriptLine is one message of a transcript to forge.
type TranscriptLine struct {
	// FromUs tells whether the line is ours (else the other party's).
	FromUs bool
	Text   string
}

// Transcript is a forged conversation: the wire messages in order, each
// with its sender.
type Transcript struct {
	Messages []string
	FromUs   []bool
}

// ForgeTranscript forges a whole conversation, DAKE included, between the
// owner of id (with profile ours) and the owner of theirs, of whom only the
// public Client Profile is needed ("Forge DAKE and Session Keys", "Forge
// Entire Transcript", "Impersonate Initiator or Responder"). The other
// party sends the Identity message; its Auth-I is signed with our own
// ephemeral key X, a member of its ring {H_b, F_a, X}, so that nobody can
// tell which profile owner authenticated. Every message verifies for the
// forger's own conversation.
func ForgeTranscript(id *Identity, ours, theirs *ClientProfile, ourJID, theirJID string, lines []TranscriptLine, now time.Time) (*Transcript, error) {
	clock := func() time.Time { return now }
	us, err := NewConversation(Config{Identity: id, InstanceTag: ours.InstanceTag, ClientProfile: ours,
		OurAccount: ourJID, TheirAccount: theirJID, Now: clock, HeartbeatInterval: -1, SessionExpiry: -1})
	if err != nil {
		return nil, err
	}
	tr := new(Transcript)
	add := func(fromUs bool, msgs ...string) {
		for _, m := range msgs {
			tr.Messages = append(tr.Messages, m)
			tr.FromUs = append(tr.FromUs, fromUs)
		}
	}
	// Their Identity message, with ephemeral keys the forger makes.
	y, _ := curve.GenerateKey(us.rand)
	yFirst, _ := curve.GenerateKey(us.rand)
	b, _ := dh.GenerateKey(us.rand)
	bFirst, _ := dh.GenerateKey(us.rand)
	idm := &identityMessage{sender: theirs.InstanceTag, profile: theirs, y: y.Public(), b: b.Public(),
		ecdhFirst: yFirst.Public(), dhFirst: bFirst.Public()}
	add(false, query.Encode(idm.marshal()))
	out, err := us.Receive(query.Encode(idm.marshal()))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForge, err)
	}
	add(true, out.ToSend...)
	authR := us.ourAuthR
	x := us.ourECDH
	// Their Auth-I, signed with our X.
	ph := phi(theirs.InstanceTag, ours.InstanceTag, yFirst.Public(), bFirst.Public(), authR.ecdhFirst, authR.dhFirst, ourJID, theirJID)
	t := authTranscript(true, theirs, ours, idm.y, authR.x, idm.b, authR.a, ph)
	sig, err := ring.Sign(us.rand, x.Scalar(), theirs.publicKey, ours.forgingKey, authR.x, t)
	if err != nil {
		return nil, err
	}
	ai := &authIMessage{sender: theirs.InstanceTag, receiver: ours.InstanceTag, sigma: sig}
	// Their ratchet, from the secrets the forger made for them.
	k, _, err := mixedSecret(y, authR.x, b, authR.a)
	if err != nil {
		return nil, err
	}
	them, err := ratchet.NewFirstReceiver(us.rand, ratchet.DefaultConfig, ratchet.Init{
		K: k, OurECDH: yFirst, OurDH: bFirst, TheirECDH: authR.ecdhFirst, TheirDH: authR.dhFirst,
	})
	if err != nil {
		return nil, err
	}
	add(false, query.Encode(ai.marshal()))
	if _, err := us.Receive(query.Encode(ai.marshal())); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForge, err)
	}
	for _, l := range lines {
		if l.FromUs {
			out, err := us.Send(l.Text)
			if err != nil {
				return nil, err
			}
			add(true, out.ToSend...)
			// Their side reads ours, so that their next message ratchets as
			// in an honest conversation.
			for _, w := range out.ToSend {
				m, err := parseDataWire(w)
				if err != nil {
					return nil, err
				}
				if _, err := them.Open(m); err != nil {
					return nil, fmt.Errorf("%w: %v", ErrForge, err)
				}
			}
			continue
		}
		pt, err := encodePlaintext(l.Text, nil)
		if err != nil {
			return nil, err
		}
		sealed, err := them.Seal(uint32(theirs.InstanceTag), uint32(ours.InstanceTag), 0, pt)
		if err != nil {
			return nil, err
		}
		w := query.Encode(sealed.Message.Marshal())
		add(false, w)
		// Our side reads it, so that our next message ratchets as in an
		// honest conversation.
		if _, err := us.Receive(w); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrForge, err)
		}
	}
	return tr, nil
}
