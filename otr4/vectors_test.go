package otr4

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/sha3"

	"github.com/otrchat/otrchat/internal/otrvectors"
	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/dh"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
	"github.com/otrchat/otrchat/otr4/internal/query"
	"github.com/otrchat/otrchat/otr4/internal/ratchet"
	"github.com/otrchat/otrchat/otr4/internal/ring"
)

var updateVectors = flag.Bool("update", false, "rewrite the OTRv4 vectors in ../testdata/vectors from the engine")

// vectorDir is the module's testdata/vectors, seen from this package.
var vectorDir = filepath.Join("..", otrvectors.Dir)

// The vectors' fixed clock: 2027-01-15T08:00:00Z.
var vectorTime = time.Unix(1_800_000_000, 0)

// seededRand is the vectors' deterministic randomness: the SHAKE-256 output
// stream of "otrchat test vectors: " || label.
func seededRand(label string) io.Reader {
	h := sha3.NewShake256()
	h.Write([]byte("otrchat test vectors: " + label))
	return h
}

// TestVectors regenerates every OTRv4 vector of this package from its fixed
// seeds and compares it byte for byte with testdata/vectors: a change in
// the engine's output fails here. With -update it rewrites the files
// (go generate ./internal/otrvectors). The values are checked against the
// spec's formulas by internal/otrvectors.
func TestVectors(t *testing.T) {
	files := map[string]*otrvectors.File{}
	add := func(name string, f *otrvectors.File) { files[name] = f }
	genProfiles(t, add)
	s := genInteractive(t, add)
	genDataMessages(t, s, add)
	genSMP(t, add)
	genFragments(t, add)
	genNonInteractive(t, add)
	writeOrCompare(t, vectorDir, files)
}

// writeOrCompare writes files with -update, else compares them with the
// stored ones.
func writeOrCompare(t *testing.T, dir string, files map[string]*otrvectors.File) {
	t.Helper()
	for name, f := range files {
		path := filepath.Join(dir, name)
		got := f.Marshal()
		if *updateVectors {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (regenerate with go generate ./internal/otrvectors)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
			for i := 0; i < len(gl) || i < len(wl); i++ {
				var g, w string
				if i < len(gl) {
					g = gl[i]
				}
				if i < len(wl) {
					w = wl[i]
				}
				if g != w {
					t.Errorf("%s: the engine's output changed at line %d:\n got  %.120s\n want %.120s", name, i+1, g, w)
					break
				}
			}
		}
	}
}

// tapReader copies what is read from r while on is set.
type tapReader struct {
	r   io.Reader
	on  bool
	tap []byte
}

func (t *tapReader) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	if t.on {
		t.tap = append(t.tap, b[:n]...)
	}
	return n, err
}

// record starts copying the random bytes read; taken returns them in
// 57-byte values and stops.
func (t *tapReader) record() { t.on, t.tap = true, nil }

func (t *tapReader) taken(tt *testing.T, n int) [][]byte {
	t.on = false
	if len(t.tap) != n*57 {
		tt.Fatalf("%d random bytes read, want %d values of 57", len(t.tap), n)
	}
	var out [][]byte
	for i := 0; i < n; i++ {
		out = append(out, t.tap[i*57:(i+1)*57])
	}
	return out
}

// vparty is one side of a vector conversation.
type vparty struct {
	name, jid string
	tag       InstanceTag
	rand      *tapReader
	id        *Identity
	profile   *ClientProfile
	conv      *Conversation
	sealed    []ratchet.SealObservation
}

func newVParty(t *testing.T, name, jid, peer string, tag InstanceTag, mutate func(*Config)) *vparty {
	t.Helper()
	p := &vparty{name: name, jid: jid, tag: tag, rand: &tapReader{r: seededRand(name)}}
	var err error
	if p.id, err = GenerateIdentity(p.rand, true); err != nil {
		t.Fatal(err)
	}
	if p.profile, err = NewClientProfile(p.id, tag, "4", vectorTime.Add(7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Identity: p.id, InstanceTag: tag, ClientProfile: p.profile, OurAccount: jid, TheirAccount: peer,
		Rand: p.rand, Now: func() time.Time { return vectorTime }}
	if mutate != nil {
		mutate(&cfg)
	}
	if p.conv, err = NewConversation(cfg); err != nil {
		t.Fatal(err)
	}
	return p
}

// observe records every Seal of p's current ratchet.
func (p *vparty) observe() {
	p.conv.rat.SetObserver(func(o ratchet.SealObservation) { p.sealed = append(p.sealed, o) })
}

func putIdentity(f *otrvectors.File, pre string, p *vparty) {
	if pre != "owner" { // the profile vectors bind no account
		f.Text(pre+".jid", p.jid)
	}
	f.Tag(pre+".instance_tag", uint32(p.tag))
	f.Hex(pre+".sym_h", p.id.Seed())
	f.Hex(pre+".H", p.id.PublicKey())
	f.Hex(pre+".sym_f", p.id.ForgingSeed())
	f.Hex(pre+".F", p.id.ForgingKey())
	f.Text(pre+".profile.versions", p.profile.Versions)
	f.Int(pre+".profile.expiration", uint64(p.profile.Expires.Unix()))
	f.Hex(pre+".profile", p.profile.Marshal())
}

// ephSecrets are the secrets of one DAKE message's four key pairs, copied
// before the engine uses (and wipes) them.
type ephSecrets struct{ ecdh, ecdhFirst, dh, dhFirst []byte }

func takeEphemeral(t *testing.T, c *Conversation) ephSecrets {
	t.Helper()
	if err := c.Prepare(); err != nil {
		t.Fatal(err)
	}
	s := c.spare
	return ephSecrets{s.ecdh.Seed(), s.ecdhFirst.Seed(), s.dh.Secret(), s.dhFirst.Secret()}
}

func ecdhKey(t *testing.T, seed []byte) *curve.PrivateKey {
	k, err := curve.NewKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func dhKey(t *testing.T, secret []byte) *dh.PrivateKey {
	k, err := dh.NewKeyFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// putECDH records an ECDH key pair (secret symmetric key and POINT).
func putECDH(t *testing.T, f *otrvectors.File, pre string, seed []byte) {
	f.Hex(pre+".sym", seed)
	f.Hex(pre, ecdhKey(t, seed).PublicBytes())
}

// putDH records a DH key pair (80-byte secret and public value).
func putDH(t *testing.T, f *otrvectors.File, pre string, secret []byte) {
	f.Hex(pre+".secret", secret)
	f.Big(pre, dhKey(t, secret).Public())
}

func putEphemeral(t *testing.T, f *otrvectors.File, pre, ecdhName, dhName string, e ephSecrets) {
	putECDH(t, f, pre+"."+ecdhName, e.ecdh)
	putDH(t, f, pre+"."+dhName, e.dh)
	putECDH(t, f, pre+".ecdh_first", e.ecdhFirst)
	putDH(t, f, pre+".dh_first", e.dhFirst)
}

func decodeWire(t *testing.T, s string) []byte {
	t.Helper()
	b, err := query.DecodeEncoded(s)
	if err != nil {
		t.Fatalf("%.40s: %v", s, err)
	}
	return b
}

// vt carries a test into one, which takes a call's two results.
type vt struct{ t *testing.T }

func (v vt) one(m *Message, err error) string {
	t := v.t
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ToSend) != 1 {
		t.Fatalf("%d messages to send, want 1", len(m.ToSend))
	}
	return m.ToSend[0]
}

func ecdhOf(t *testing.T, seed []byte, pub []byte) []byte {
	t.Helper()
	p, err := curve.NewIdentityPoint().SetBytes(pub)
	if err != nil {
		t.Fatal(err)
	}
	return curve.NewIdentityPoint().ScalarMult(ecdhKey(t, seed).Scalar(), p).Bytes()
}

func dhOf(t *testing.T, secret []byte, pub *big.Int) []byte {
	t.Helper()
	k, err := dhKey(t, secret).SharedSecret(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// genProfiles: a Client Profile, a Prekey Profile and a Prekey Message.
func genProfiles(t *testing.T, add func(string, *otrvectors.File)) {
	p := newVParty(t, "profile-owner", "owner@example.org", "peer@example.org", 0x4f545234, nil)
	f := new(otrvectors.File)
	f.Comment(`OTRv4 test vector: creating and signing a Client Profile (otrv4.md,
"Client Profile", "Creating a Client Profile", "Public keys, Shared Prekeys,
Forging keys and Fingerprints"). Format and use: docs/vectors.md.`)
	f.Set("case", "client-profile")
	putIdentity(f, "owner", p)
	f.Hex("owner.profile.signed", p.profile.body())
	f.Hex("owner.profile.signature", p.profile.signature)
	fp := p.profile.Fingerprint()
	f.Hex("owner.fingerprint", fp[:])
	add("client-profile.txt", f)

	f = new(otrvectors.File)
	f.Comment(`OTRv4 test vector: a Prekey Profile and a Prekey Message (otrv4.md,
"Prekey Profile", "Creating a Prekey Profile", "Prekey Message").
Format and use: docs/vectors.md.`)
	f.Set("case", "prekey-profile")
	putIdentity(f, "owner", p)
	r := seededRand("prekey-profile")
	pp, sec, err := NewPrekeyProfile(r, p.id, p.tag, vectorTime.Add(3*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	f.Int("prekey_profile.expiration", uint64(pp.Expires.Unix()))
	putECDH(t, f, "prekey_profile.D", sec.Seed())
	f.Hex("prekey_profile.signed", pp.body())
	f.Hex("prekey_profile.signature", pp.signature)
	f.Hex("prekey_profile", pp.Marshal())
	m, msec, err := NewPrekeyMessage(r, p.tag)
	if err != nil {
		t.Fatal(err)
	}
	f.Tag("prekey_message.id", m.ID)
	putECDH(t, f, "prekey_message.Y", msec.ecdh.Seed())
	putDH(t, f, "prekey_message.B", msec.dh.Secret())
	f.Hex("prekey_message", m.Marshal())
	if err := pp.Validate(p.tag, p.profile, vectorTime); err != nil {
		t.Fatal(err)
	}
	add("prekey-profile.txt", f)
}

// session is an interactive session after the DAKE, for the data message
// vectors.
type session struct {
	alice, bob *vparty
	ea, eb     ephSecrets
	root       [64]byte
	chain      [64]byte
	brace      [32]byte
}

func genInteractive(t *testing.T, add func(string, *otrvectors.File)) *session {
	// Bob sends the Identity message, Alice the Auth-R message. Bob's tag
	// is the smaller, but his JID the larger: phi sorts each on its own.
	alice := newVParty(t, "alice", "alice@example.org", "bob@example.net", 0xcafe0101, nil)
	bob := newVParty(t, "bob", "bob@example.net", "alice@example.org", 0x0000b0b0, nil)
	f := new(otrvectors.File)
	f.Comment(`OTRv4 test vector: the interactive DAKE (otrv4.md, "Interactive DAKE",
"Identity Message", "Auth-R Message", "Auth-I Message", "Ring Signature
Authentication", "Interactive DAKE Overview" for phi, K and the SSID, and
"Initializing the Double Ratchet" for the first root and chain keys).
Bob sends the Identity message, Alice answers with Auth-R, Bob ends with
Auth-I. Format and use: docs/vectors.md.`)
	f.Set("case", "dake-interactive")
	putIdentity(f, "alice", alice)
	putIdentity(f, "bob", bob)

	eb := takeEphemeral(t, bob.conv)
	identity := vt{t}.one(bob.conv.StartInteractive())
	ea := takeEphemeral(t, alice.conv)
	authR := vt{t}.one(alice.conv.Receive(identity))
	authI := vt{t}.one(bob.conv.Receive(authR))
	if out, err := alice.conv.Receive(authI); err != nil || len(out.ToSend) != 0 {
		t.Fatalf("Auth-I: %v %v", err, out.ToSend)
	}
	if alice.conv.State() != StateEncrypted || bob.conv.State() != StateEncrypted {
		t.Fatalf("states %v %v", alice.conv.State(), bob.conv.State())
	}
	putEphemeral(t, f, "bob", "Y", "B", eb)
	putEphemeral(t, f, "alice", "X", "A", ea)

	im, err := parseIdentity(decodeWire(t, identity))
	if err != nil {
		t.Fatal(err)
	}
	ar, err := parseAuthR(decodeWire(t, authR))
	if err != nil {
		t.Fatal(err)
	}
	ai, err := parseAuthI(decodeWire(t, authI))
	if err != nil {
		t.Fatal(err)
	}
	f.Hex("identity_message", decodeWire(t, identity))
	f.Set("identity_message.wire", identity)

	ph := phi(bob.tag, alice.tag, im.ecdhFirst, im.dhFirst, ar.ecdhFirst, ar.dhFirst, alice.jid, bob.jid)
	f.Hex("phi", ph)
	tR := authTranscript(false, bob.profile, alice.profile, im.y, ar.x, im.b, ar.a, ph)
	f.Hex("auth_r.t", tR)
	f.Hex("auth_r.sigma", ar.sigma.Marshal())
	if err := ring.Verify(bob.id.forging, alice.id.key.Public(), im.y, ar.sigma, tR); err != nil {
		t.Fatal("Auth-R sigma:", err)
	}
	f.Hex("auth_r", decodeWire(t, authR))
	f.Set("auth_r.wire", authR)
	tI := authTranscript(true, bob.profile, alice.profile, im.y, ar.x, im.b, ar.a, ph)
	f.Hex("auth_i.t", tI)
	f.Hex("auth_i.sigma", ai.sigma.Marshal())
	if err := ring.Verify(bob.id.key.Public(), alice.id.forging, ar.x, ai.sigma, tI); err != nil {
		t.Fatal("Auth-I sigma:", err)
	}
	f.Hex("auth_i", decodeWire(t, authI))
	f.Set("auth_i.wire", authI)

	// The mixed shared secret, as Alice computes it (Bob's side agrees:
	// both reached ENCRYPTED_MESSAGES with equal SSIDs).
	kECDH := ecdhOf(t, ea.ecdh, im.y.Bytes())
	kDH := dhOf(t, ea.dh, im.b)
	f.Hex("K_ecdh", kECDH)
	f.Hex("k_dh", kDH)
	f.Hex("brace_key", kdf.KDF(kdf.UsageThirdBraceKey, 32, kDH))
	k, ssid, err := mixedSecret(ecdhKey(t, ea.ecdh), im.y, dhKey(t, ea.dh), im.b)
	if err != nil {
		t.Fatal(err)
	}
	f.Hex("K", k)
	f.Hex("ssid", ssid[:])
	sa, boldA, _ := alice.conv.SSID()
	sb, boldB, _ := bob.conv.SSID()
	if sa != ssid || sb != ssid || boldA == boldB {
		t.Fatalf("SSIDs %x %x %x", sa, sb, ssid)
	}
	f.Set("ssid.bold_half.alice", map[bool]string{true: "first", false: "second"}[boldA])
	f.Set("ssid.bold_half.bob", map[bool]string{true: "first", false: "second"}[boldB])

	// The double ratchet's start: the first keys' chain.
	prev := kdf.KDF(kdf.UsageFirstRootKey, 64, k)
	f.Hex("first.prev_root_key", prev)
	fECDH := ecdhOf(t, ea.ecdhFirst, im.ecdhFirst.Bytes())
	fDH := dhOf(t, ea.dhFirst, im.dhFirst)
	fBrace := kdf.KDF(kdf.UsageThirdBraceKey, 32, fDH)
	fK := kdf.KDF(kdf.UsageSharedSecret, 64, fECDH, fBrace)
	f.Hex("first.K_ecdh", fECDH)
	f.Hex("first.k_dh", fDH)
	f.Hex("first.brace_key", fBrace)
	f.Hex("first.K", fK)
	root := kdf.KDF(kdf.UsageRootKey, 64, prev, fK)
	ck := kdf.KDF(kdf.UsageChainKey, 64, prev, fK)
	oa, ob := alice.conv.rat.Observe(), bob.conv.rat.Observe()
	if !bytes.Equal(oa.Root[:], root) || !bytes.Equal(ob.Root[:], root) || !bytes.Equal(oa.SendChain[:], ck) ||
		!bytes.Equal(ob.RecvChain[:], ck) || !oa.SendValid || !ob.RecvValid || ob.SendValid {
		t.Fatal("the engine's first root and chain keys differ from the generator's")
	}
	f.Hex("first.root_key", root)
	f.Hex("first.chain_key", ck)
	f.Set("first.chain_key.sender", "alice")
	add("dake-interactive.txt", f)

	s := &session{alice: alice, bob: bob, ea: ea, eb: eb}
	copy(s.root[:], root)
	copy(s.chain[:], ck)
	copy(s.brace[:], fBrace)
	return s
}

// sendRecorded makes from send one data message with action, records it
// under pre with every key it was sealed with, delivers it to to and
// returns what to displayed. A message that starts a sending ratchet
// records the ratchet's inputs and outputs.
func sendRecorded(t *testing.T, f *otrvectors.File, pre string, from, to *vparty, text string, action func() (*Message, error)) *Message {
	t.Helper()
	w := vt{t}.one(action())
	if len(from.sealed) == 0 {
		t.Fatalf("%s: no seal observed", pre)
	}
	o := from.sealed[len(from.sealed)-1]
	from.sealed = nil
	b := decodeWire(t, w)
	dm, err := ratchet.ParseDataMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	f.Set(pre+".from", from.name)
	if o.Ratchet {
		rp := pre + ".ratchet"
		f.Int(rp+".id", uint64(o.RatchetID))
		f.Hex(rp+".prev_root_key", o.Before.Root[:])
		putECDH(t, f, rp+".our_ecdh", o.OurECDHSeed)
		f.Hex(rp+".their_ecdh", o.Before.TheirECDH)
		kECDH := ecdhOf(t, o.OurECDHSeed, o.Before.TheirECDH)
		f.Hex(rp+".K_ecdh", kECDH)
		var brace []byte
		if o.OurDHSecret != nil {
			putDH(t, f, rp+".our_dh", o.OurDHSecret)
			f.Hex(rp+".their_dh", o.Before.TheirDH)
			kDH := dhOf(t, o.OurDHSecret, new(big.Int).SetBytes(o.Before.TheirDH))
			f.Hex(rp+".k_dh", kDH)
			brace = kdf.KDF(kdf.UsageThirdBraceKey, 32, kDH)
		} else {
			f.Hex(rp+".prev_brace_key", o.Before.Brace[:])
			brace = kdf.KDF(kdf.UsageBraceKey, 32, o.Before.Brace[:])
		}
		f.Hex(rp+".brace_key", brace)
		k := kdf.KDF(kdf.UsageSharedSecret, 64, kECDH, brace)
		f.Hex(rp+".K", k)
		root := kdf.KDF(kdf.UsageRootKey, 64, o.Before.Root[:], k)
		ck := kdf.KDF(kdf.UsageChainKey, 64, o.Before.Root[:], k)
		if !bytes.Equal(root, o.Root[:]) || !bytes.Equal(brace, o.Brace[:]) || (o.MessageID == 0 && !bytes.Equal(ck, o.ChainKey[:])) {
			t.Fatalf("%s: the engine's ratchet keys differ from the generator's", pre)
		}
		f.Hex(rp+".root_key", root)
		f.Hex(rp+".chain_key", ck)
	}
	f.Int(pre+".ratchet_id", uint64(dm.RatchetID))
	f.Int(pre+".message_id", uint64(dm.MessageID))
	f.Int(pre+".pn", uint64(dm.PN))
	f.Hex(pre+".chain_key", o.ChainKey[:])
	mkEnc := kdf.KDF(kdf.UsageMessageKey, 64, o.ChainKey[:])
	mkMAC := kdf.KDF(kdf.UsageMACKey, 64, mkEnc)
	f.Hex(pre+".MKenc", mkEnc)
	f.Hex(pre+".MKmac", mkMAC)
	f.Hex(pre+".extra_symm_key", kdf.KDF(kdf.UsageExtraSymmKey, 64, []byte{0xFF}, o.ChainKey[:]))
	f.Hex(pre+".next_chain_key", kdf.KDF(kdf.UsageNextChainKey, 64, o.ChainKey[:]))
	f.Text(pre+".text", text)
	pt := ratchet.XORKeyStream(mkEnc, dm.Ciphertext)
	if got, _, _ := decodePlaintext(pt); got != text {
		t.Fatalf("%s: plaintext %q, want %q", pre, got, text)
	}
	f.Hex(pre+".plaintext", pt)
	f.Hex(pre+".encrypted_message", dm.Ciphertext)
	f.Hex(pre+".authenticator", dm.MAC)
	f.Hex(pre+".revealed_mac_keys", dm.RevealedMACs)
	f.Hex(pre+".data_message", b)
	f.Set(pre+".wire", w)
	out, err := to.conv.Receive(w)
	if err != nil || out.Text != text {
		t.Fatalf("%s: %s read %q, %v", pre, to.name, out.Text, err)
	}
	return out
}

// genDataMessages: the first data messages of each side after the DAKE and
// DH ratchets 0 to 3 (0 and 3 bring new 3072-bit DH keys).
func genDataMessages(t *testing.T, s *session, add func(string, *otrvectors.File)) {
	f := new(otrvectors.File)
	f.Comment(`OTRv4 test vector: data messages after the interactive DAKE of
dake-interactive.txt (otrv4.md, "Data Exchange", "Sending a Data Message",
"Receiving a Data Message", "Rotating ECDH Keys and Brace Key as sender",
"Deriving Double Ratchet Keys", "Data Message"). Alice sends on the first
chain (ratchet id 0), Bob answers with DH ratchet 0 (new ECDH and a new
3072-bit DH key), then ratchets 1 and 2 derive the brace key and ratchet 3
brings a new DH key again (docs/spec-notes.md, "Ratchet ids and the brace
key"). Bob's last message carries a TLV 7 for the extra symmetric key
("Extra Symmetric Key"). Format and use: docs/vectors.md.`)
	f.Set("case", "data-messages")
	a, b := s.alice, s.bob
	for _, p := range []*vparty{a, b} {
		f.Tag(p.name+".instance_tag", uint32(p.tag))
	}
	putECDH(t, f, "alice.ecdh_first", s.ea.ecdhFirst)
	putDH(t, f, "alice.dh_first", s.ea.dhFirst)
	putECDH(t, f, "bob.ecdh_first", s.eb.ecdhFirst)
	putDH(t, f, "bob.dh_first", s.eb.dhFirst)
	f.Hex("root_key", s.root[:])
	f.Hex("brace_key", s.brace[:])
	f.Hex("chain_key", s.chain[:])
	a.observe()
	b.observe()
	steps := []struct {
		from, to *vparty
		text     string
	}{
		{a, b, "Hi Bob"},
		{a, b, "Are you there?"},
		{b, a, "Hello Alice, a new DH key comes with this one."},
		{b, a, "And this one carries it again."},
		{a, b, "Ratchet 1: the brace key is derived."},
		{b, a, "Ratchet 2."},
		{a, b, "Ratchet 3: a new 3072-bit DH key."},
	}
	for i, st := range steps {
		st := st
		sendRecorded(t, f, fmt.Sprintf("msg%d", i+1), st.from, st.to, st.text, func() (*Message, error) {
			return st.from.conv.Send(st.text)
		})
	}
	// A TLV 7 asking Bob to use the extra symmetric key: the key the
	// engine hands both sides must be the message's extra_symm_key.
	pre := fmt.Sprintf("msg%d", len(steps)+1)
	var key []byte
	out := sendRecorded(t, f, pre, b, a, "", func() (*Message, error) {
		m, k, err := b.conv.SendExtraKey(0x00000001, []byte("file transfer"))
		key = k
		return m, err
	})
	putTLVs(f, pre, out.TLVs)
	want, _ := f.Get(pre + ".extra_symm_key")
	if hex.EncodeToString(key) != want || len(out.Events) == 0 || out.Events[0].Kind != EventExtraKey ||
		hex.EncodeToString(out.Events[0].Key) != want {
		t.Fatalf("extra symmetric key: sender %x, receiver %+v, vector %s", key, out.Events, want)
	}
	add("data-messages.txt", f)
}

// encryptedVPair runs an interactive DAKE between two new vector parties.
func encryptedVPair(t *testing.T, prefix string, mutate func(*Config)) (alice, bob *vparty) {
	alice = newVParty(t, prefix+"alice", "alice@example.org", "bob@example.net", 0xcafe0101, mutate)
	bob = newVParty(t, prefix+"bob", "bob@example.net", "alice@example.org", 0x0000b0b0, mutate)
	id := vt{t}.one(bob.conv.StartInteractive())
	authR := vt{t}.one(alice.conv.Receive(id))
	authI := vt{t}.one(bob.conv.Receive(authR))
	if _, err := alice.conv.Receive(authI); err != nil || alice.conv.State() != StateEncrypted {
		t.Fatal(err, alice.conv.State())
	}
	alice.observe()
	bob.observe()
	return alice, bob
}

// putSession records what identifies a session the file did not see start:
// each side's instance tag and fingerprint, and the SSID.
func putSession(f *otrvectors.File, alice, bob *vparty) {
	for _, p := range []*vparty{alice, bob} {
		f.Tag(p.name+".instance_tag", uint32(p.tag))
		fp := p.id.Fingerprint()
		f.Hex(p.name+".fingerprint", fp[:])
	}
	ssid, _, _ := alice.conv.SSID()
	f.Hex("ssid", ssid[:])
}

// genSMP: SMP messages 1 to 4 inside data messages, with equal secrets.
func genSMP(t *testing.T, add func(string, *otrvectors.File)) {
	alice, bob := encryptedVPair(t, "smp-", nil)
	alice.name, bob.name = "alice", "bob"
	f := new(otrvectors.File)
	f.Comment(`OTRv4 test vector: the Socialist Millionaires Protocol (otrv4.md, "SMP
Overview", "Secret Information", "SMP Hash Function", "SMP Message 1" to "SMP
Message 4", "TLV Record Types"): Alice asks a question, Bob answers with the
same secret, both succeed. Each SMP message travels in a data message whose
keys are given as in data-messages.txt. The SMP choices are those of the smp
package documentation (go doc ./otr4/internal/smp). Format and use:
docs/vectors.md.`)
	f.Set("case", "smp")
	putSession(f, alice, bob)
	const question, secret = "Where did we first meet?", "the lighthouse café"
	f.Text("smp.question", question)
	f.Text("smp.secret.alice", secret)
	f.Text("smp.secret.bob", secret)
	f.Set("smp.initiator", "alice")
	// The SMP's random values (57 bytes each, hashed and pruned into
	// scalars by "Considerations while working with elliptic curve
	// parameters") are copied from each party's randomness as they are
	// read; Prepare first makes the keys of the ratchets to come, so that
	// nothing else is read meanwhile.
	prepare := func() {
		for _, p := range []*vparty{alice, bob} {
			if err := p.conv.Prepare(); err != nil {
				t.Fatal(err)
			}
		}
	}
	putRandom := func(pre string, names []string, vals [][]byte) {
		for i, n := range names {
			f.Hex(pre+".random."+n, vals[i])
		}
	}
	// SMP 1: Alice starts.
	prepare()
	alice.rand.record()
	out := sendRecorded(t, f, "msg1", alice, bob, "", func() (*Message, error) {
		return alice.conv.StartSMP(question, []byte(secret))
	})
	putRandom("smp.msg1", []string{"a2", "a3", "r2", "r3"}, alice.rand.taken(t, 4))
	if !hasEvent(out.Events, EventSMPSecretNeeded) {
		t.Fatalf("bob: %+v", out.Events)
	}
	// The TLVs are recorded from what the receiver decrypted.
	putTLVs(f, "msg1", out.TLVs)
	var next *Message
	// SMP 2 from Bob; Alice's SMP 3 is made while she reads it.
	prepare()
	bob.rand.record()
	alice.rand.record()
	out = sendRecorded(t, f, "msg2", bob, alice, "", func() (*Message, error) {
		return bob.conv.AnswerSMP([]byte(secret))
	})
	putRandom("smp.msg2", []string{"b2", "b3", "r2", "r3", "r4", "r5", "r6"}, bob.rand.taken(t, 7))
	putRandom("smp.msg3", []string{"r4", "r5", "r6", "r7"}, alice.rand.taken(t, 4))
	putTLVs(f, "msg2", out.TLVs)
	next = out
	prepare()
	bob.rand.record()
	out = sendRecorded(t, f, "msg3", alice, bob, "", func() (*Message, error) { return next, nil })
	putRandom("smp.msg4", []string{"r7"}, bob.rand.taken(t, 1))
	putTLVs(f, "msg3", out.TLVs)
	next = out
	out = sendRecorded(t, f, "msg4", bob, alice, "", func() (*Message, error) { return next, nil })
	putTLVs(f, "msg4", out.TLVs)
	if !hasEvent(out.Events, EventSMPSucceeded) || !hasEvent(next.Events, EventSMPSucceeded) {
		t.Fatalf("SMP: %+v / %+v", out.Events, next.Events)
	}
	f.Set("smp.result", "succeeded")
	add("smp.txt", f)
}

func putTLVs(f *otrvectors.File, pre string, tlvs []TLV) {
	for i, tl := range tlvs {
		f.Int(fmt.Sprintf("%s.tlv%d.type", pre, i+1), uint64(tl.Type))
		f.Hex(fmt.Sprintf("%s.tlv%d.value", pre, i+1), tl.Value)
	}
}

// genFragments: a data message split into fragments.
func genFragments(t *testing.T, add func(string, *otrvectors.File)) {
	alice, bob := encryptedVPair(t, "fragment-", nil)
	alice.conv.cfg.FragmentSize = 250
	f := new(otrvectors.File)
	f.Comment(`OTRv4 test vector: fragmentation (otrv4.md, "Fragmentation", "Transmitting
Fragments", "Receiving Fragments"; docs/spec-notes.md, "Fragments"): Alice's
data message, encoded as "?OTR:...", is split into pieces of at most
fragment_size bytes per fragment. Format and use: docs/vectors.md.`)
	f.Set("case", "fragmentation")
	f.Tag("alice.instance_tag", uint32(alice.tag))
	f.Tag("bob.instance_tag", uint32(bob.tag))
	f.Int("fragment_size", 250)
	text := strings.Repeat("A long message, sent in fragments. ", 8)
	alice.sealed = nil
	out, err := alice.conv.Send(text)
	if err != nil {
		t.Fatal(err)
	}
	f.Text("text", text)
	var whole string
	for _, fr := range out.ToSend {
		piece := strings.Split(fr, ",")[3]
		whole += piece
	}
	f.Set("message.wire", whole)
	if len(alice.sealed) != 1 {
		t.Fatal("no seal observed")
	}
	f.Hex("message.chain_key", alice.sealed[0].ChainKey[:])
	idHex := strings.Split(out.ToSend[0], "|")[1]
	id, _ := hex.DecodeString(idHex)
	f.Hex("identifier", id)
	f.Int("fragments", uint64(len(out.ToSend)))
	for i, fr := range out.ToSend {
		f.Set(fmt.Sprintf("fragment%d", i+1), fr)
		got, err := bob.conv.Receive(fr)
		if err != nil {
			t.Fatal(err)
		}
		if i == len(out.ToSend)-1 && got.Text != text {
			t.Fatalf("reassembled %q", got.Text)
		}
	}
	add("fragmentation.txt", f)
}

type vectorPrekeyStore map[uint32]*PrekeySecret

func (s vectorPrekeyStore) TakePrekeySecret(id uint32) (*PrekeySecret, error) {
	p, ok := s[id]
	if !ok {
		return nil, ErrPrekeyUnknown
	}
	delete(s, id)
	return p, nil
}

// genNonInteractive: Alice starts an offline conversation from Bob's prekey
// ensemble and sends a first message with it.
func genNonInteractive(t *testing.T, add func(string, *otrvectors.File)) {
	store := vectorPrekeyStore{}
	bob := newVParty(t, "offline-bob", "bob@example.net", "alice@example.org", 0x0000b0b0, nil)
	pr := seededRand("offline-bob-prekeys")
	bobPP, bobSPS, err := NewPrekeyProfile(pr, bob.id, bob.tag, vectorTime.Add(3*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pm, psec, err := NewPrekeyMessage(pr, bob.tag)
	if err != nil {
		t.Fatal(err)
	}
	store[pm.ID] = psec
	ySeed, bSecret := psec.ecdh.Seed(), psec.dh.Secret()
	bob.conv.cfg.PrekeyProfile, bob.conv.cfg.SharedPrekeySecret, bob.conv.cfg.PrekeySecrets = bobPP, bobSPS, store
	alice := newVParty(t, "offline-alice", "alice@example.org", "bob@example.net", 0xcafe0101, nil)
	alice.name, bob.name = "alice", "bob"
	f := new(otrvectors.File)
	f.Comment(`OTRv4 test vector: the non-interactive DAKE (otrv4.md, "Non-Interactive
DAKE", "Non-Interactive-Auth Message", "Prekey Ensemble", "Sending a Data
Message to an offline participant"; docs/spec-notes.md, "Shared session
state phi", "Ratchet start after the non-interactive DAKE"). Bob published
the ensemble (his Client Profile, Prekey Profile and one Prekey Message);
Alice sends the Non-Interactive-Auth message and, with it, a first data
message. Format and use: docs/vectors.md.`)
	f.Set("case", "dake-non-interactive")
	putIdentity(f, "alice", alice)
	putIdentity(f, "bob", bob)
	f.Int("bob.prekey_profile.expiration", uint64(bobPP.Expires.Unix()))
	putECDH(t, f, "bob.prekey_profile.D", bobSPS.Seed())
	f.Hex("bob.prekey_profile", bobPP.Marshal())
	f.Tag("bob.prekey_message.id", pm.ID)
	putECDH(t, f, "bob.prekey_message.Y", ySeed)
	putDH(t, f, "bob.prekey_message.B", bSecret)
	f.Hex("bob.prekey_message", pm.Marshal())

	ea := takeEphemeral(t, alice.conv)
	putEphemeral(t, f, "alice", "X", "A", ea)
	e := &PrekeyEnsemble{Client: bob.profile, Prekey: bobPP, Message: pm}
	const text = "Hi Bob, read this when you are back."
	out, err := alice.conv.StartOffline(e, text)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ToSend) != 2 {
		t.Fatalf("%d messages", len(out.ToSend))
	}
	nia, err := parseNonInteractiveAuth(decodeWire(t, out.ToSend[0]))
	if err != nil {
		t.Fatal(err)
	}
	kECDH := ecdhOf(t, ea.ecdh, pm.y.Bytes())
	kShared := ecdhOf(t, ea.ecdh, bobPP.sharedPrekey.Bytes())
	kLong := ecdhOf(t, ea.ecdh, bob.id.PublicKey())
	kDH := dhOf(t, ea.dh, pm.b)
	brace := kdf.KDF(kdf.UsageThirdBraceKey, 32, kDH)
	tmpK, macKey := tmpKey(kECDH, kShared, kLong, brace)
	f.Hex("K_ecdh", kECDH)
	f.Hex("ecdh_shared_prekey", kShared)
	f.Hex("ecdh_long_term", kLong)
	f.Hex("k_dh", kDH)
	f.Hex("brace_key", brace)
	f.Hex("tmp_k", tmpK)
	f.Hex("auth_mac_key", macKey)
	ph := phi(bob.tag, alice.tag, pm.y, pm.b, nia.ecdhFirst, nia.dhFirst, alice.jid, bob.jid)
	f.Hex("phi", ph)
	tt := nonIntTranscript(bob.profile, alice.profile, pm.y, nia.x, pm.b, nia.a, bobPP.sharedPrekey, ph)
	f.Hex("t", tt)
	f.Hex("sigma", nia.sigma.Marshal())
	if err := ring.Verify(bob.id.forging, alice.id.key.Public(), pm.y, nia.sigma, tt); err != nil {
		t.Fatal(err)
	}
	f.Hex("auth_mac", nia.authMAC)
	if !bytes.Equal(nia.authMAC, kdf.KDF(kdf.UsageAuthMAC, 64, macKey, tt)) {
		t.Fatal("auth MAC differs")
	}
	f.Hex("non_interactive_auth", decodeWire(t, out.ToSend[0]))
	f.Set("non_interactive_auth.wire", out.ToSend[0])
	k := kdf.KDF(kdf.UsageSharedSecret, 64, tmpK)
	f.Hex("K", k)
	ssid := kdf.KDF(kdf.UsageSSID, 8, k)
	f.Hex("ssid", ssid)
	root := kdf.KDF(kdf.UsageRootKey, 64, k)
	ck := kdf.KDF(kdf.UsageChainKey, 64, k)
	f.Hex("root_key", root)
	f.Hex("chain_key", ck)
	f.Set("chain_key.sender", "alice")
	oa := alice.conv.rat.Observe()
	if !bytes.Equal(oa.Root[:], root) || !bytes.Equal(oa.SendChain[:], kdf.KDF(kdf.UsageNextChainKey, 64, ck)) {
		t.Fatal("the engine's root or chain key differs from the generator's")
	}
	// The first data message, sent on chain_key with message id 0.
	dm, err := ratchet.ParseDataMessage(decodeWire(t, out.ToSend[1]))
	if err != nil {
		t.Fatal(err)
	}
	mkEnc := kdf.KDF(kdf.UsageMessageKey, 64, ck)
	f.Text("msg1.text", text)
	f.Hex("msg1.MKenc", mkEnc)
	f.Hex("msg1.MKmac", kdf.KDF(kdf.UsageMACKey, 64, mkEnc))
	f.Hex("msg1.data_message", decodeWire(t, out.ToSend[1]))
	f.Set("msg1.wire", out.ToSend[1])
	if got := ratchet.XORKeyStream(mkEnc, dm.Ciphertext); string(got) != text {
		t.Fatalf("first message %q", got)
	}
	// Bob reads both.
	if r, err := bob.conv.Receive(out.ToSend[0]); err != nil || bob.conv.State() != StateEncrypted {
		t.Fatal(r, err)
	}
	if r, err := bob.conv.Receive(out.ToSend[1]); err != nil || r.Text != text {
		t.Fatal(r.Text, err)
	}
	add("dake-non-interactive.txt", f)
}
