package otrvectors

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cloudflare/circl/ecc/goldilocks"
	"github.com/cloudflare/circl/sign/ed448"
	"golang.org/x/crypto/sha3"
)

// vec is one vector file under check. Every key must be read by the
// checker, as an input or as a value it recomputes: a key nobody looks at
// fails the test, so the checks cover the whole file.
type vec struct {
	t    reporter
	f    *File
	used map[string]bool
}

func (v *vec) raw(key string) string {
	v.t.Helper()
	s, ok := v.f.Get(key)
	if !ok {
		v.t.Fatalf("missing key %s", key)
	}
	v.used[key] = true
	return s
}

func (v *vec) has(key string) bool { return v.f.Has(key) }

func (v *vec) hex(key string) []byte {
	v.t.Helper()
	b, err := hex.DecodeString(v.raw(key))
	if err != nil {
		v.t.Fatalf("%s: %v", key, err)
	}
	return b
}

func (v *vec) text(key string) string {
	v.t.Helper()
	s, err := strconv.Unquote(v.raw(key))
	if err != nil {
		v.t.Fatalf("%s: %v", key, err)
	}
	return s
}

func (v *vec) num(key string) uint64 {
	v.t.Helper()
	n, err := strconv.ParseUint(v.raw(key), 10, 64)
	if err != nil {
		v.t.Fatalf("%s: %v", key, err)
	}
	return n
}

func (v *vec) tag(key string) uint32 {
	v.t.Helper()
	s := v.raw(key)
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 32)
	if err != nil || len(s) != 10 {
		v.t.Fatalf("%s: %q is not 0x and 8 hex digits", key, s)
	}
	return uint32(n)
}

func (v *vec) big(key string) *big.Int { return new(big.Int).SetBytes(v.hex(key)) }

// expect compares the recorded value of key with the recomputed one.
func (v *vec) expect(key string, got []byte) {
	v.t.Helper()
	if want := v.hex(key); !bytes.Equal(got, want) {
		v.t.Errorf("%s: recomputed %x,\n recorded %x", key, got, want)
	}
}

func (v *vec) expectRaw(key, got string) {
	v.t.Helper()
	if want := v.raw(key); got != want {
		v.t.Errorf("%s: recomputed %.100q, recorded %.100q", key, got, want)
	}
}

func (v *vec) ok(err error, what string) {
	v.t.Helper()
	if err != nil {
		v.t.Errorf("%s: %v", what, err)
	}
}

// ecdhPair checks a recorded key pair (pre.sym, pre) and returns the
// symmetric key and the public key.
func (v *vec) ecdhPair(pre string) (sym, pub []byte) {
	v.t.Helper()
	sym = v.hex(pre + ".sym")
	p, err := publicKey(sym)
	v.ok(err, pre)
	v.expect(pre, p)
	return sym, p
}

// dhPair checks a recorded DH key pair (pre.secret, pre).
func (v *vec) dhPair(pre string) (secret []byte, pub *big.Int) {
	v.t.Helper()
	secret = v.hex(pre + ".secret")
	if len(secret) != 80 {
		v.t.Errorf("%s.secret: %d bytes, want 80", pre, len(secret))
	}
	pub = dhPublic(secret)
	v.expect(pre, pub.Bytes())
	v.ok(dhCheck(pub), pre)
	return secret, pub
}

func (v *vec) ecdhBoth(key string, symA, pubB, symB, pubA []byte) []byte {
	v.t.Helper()
	k1, err := ecdh(symA, pubB)
	v.ok(err, key)
	k2, err := ecdh(symB, pubA)
	v.ok(err, key)
	if !bytes.Equal(k1, k2) {
		v.t.Errorf("%s: the two sides disagree", key)
	}
	v.expect(key, k1)
	return k1
}

func (v *vec) dhBoth(key string, secretA []byte, pubB *big.Int, secretB []byte, pubA *big.Int) []byte {
	v.t.Helper()
	k1, err := dhShared(secretA, pubB)
	v.ok(err, key)
	k2, err := dhShared(secretB, pubA)
	v.ok(err, key)
	if !bytes.Equal(k1, k2) {
		v.t.Errorf("%s: the two sides disagree", key)
	}
	v.expect(key, k1)
	return k1
}

// person is one party's long-term keys and profile.
type person struct {
	jid     string
	tag     uint32
	symH, h []byte
	f       []byte
	profile []byte
}

// checkIdentity checks pre's long-term keys, Client Profile (encoding,
// signature) and, when present, fingerprint (otrv4.md, "Client Profile",
// docs/spec-notes.md "What the client profile signature covers" and "Byte
// order of the public key type").
func (v *vec) checkIdentity(pre string) *person {
	v.t.Helper()
	p := &person{tag: v.tag(pre + ".instance_tag")}
	if v.has(pre + ".jid") {
		p.jid = v.text(pre + ".jid")
	}
	var err error
	p.symH = v.hex(pre + ".sym_h")
	p.h, err = publicKey(p.symH)
	v.ok(err, pre+".H")
	v.expect(pre+".H", p.h)
	p.f, err = publicKey(v.hex(pre + ".sym_f"))
	v.ok(err, pre+".F")
	v.expect(pre+".F", p.f)
	signed := cat(int32b(5),
		short(1), int32b(p.tag),
		short(2), short(0x0010), p.h,
		short(3), short(0x0012), p.f,
		short(4), data([]byte(v.text(pre+".profile.versions"))),
		short(5), long(v.num(pre+".profile.expiration")))
	sig := ed448.Sign(ed448.NewKeyFromSeed(p.symH), signed, "")
	if !ed448.Verify(ed448.PublicKey(p.h), signed, sig, "") {
		v.t.Errorf("%s: profile signature does not verify", pre)
	}
	if v.has(pre + ".profile.signed") {
		v.expect(pre+".profile.signed", signed)
		v.expect(pre+".profile.signature", sig)
	}
	p.profile = cat(signed, sig)
	v.expect(pre+".profile", p.profile)
	if v.has(pre + ".fingerprint") {
		v.expect(pre+".fingerprint", kdf(uFingerprint, 56, p.h, p.f))
	}
	return p
}

func sorted2(a, b uint32) []byte {
	if a > b {
		a, b = b, a
	}
	return cat(int32b(a), int32b(b))
}

func sortedJIDs(a, b string) []byte {
	if a > b {
		a, b = b, a
	}
	return cat(data([]byte(a)), data([]byte(b)))
}

func checkClientProfile(v *vec) {
	v.checkIdentity("owner")
	v.done()
}

func checkPrekeyProfile(v *vec) {
	o := v.checkIdentity("owner")
	v.checkPrekeys("prekey_profile", "prekey_message", o)
	v.done()
}

// checkPrekeys checks a Prekey Profile (signed by o) and a Prekey Message
// (otrv4.md, "Prekey Profile", "Prekey Message").
func (v *vec) checkPrekeys(pp, pm string, o *person) (dSym, d, ySym, y, bSecret []byte, b *big.Int) {
	dSym, d = v.ecdhPair(pp + ".D")
	signed := cat(int32b(o.tag), long(v.num(pp+".expiration")), short(0x0011), d)
	sig := ed448.Sign(ed448.NewKeyFromSeed(o.symH), signed, "")
	if v.has(pp + ".signed") {
		v.expect(pp+".signed", signed)
		v.expect(pp+".signature", sig)
	}
	v.expect(pp, cat(signed, sig))
	ySym, y = v.ecdhPair(pm + ".Y")
	bSecret, b = v.dhPair(pm + ".B")
	v.expect(pm, cat(short(protocolVersion4), []byte{prekeyMsgType}, int32b(v.tag(pm+".id")), int32b(o.tag), y, mpi(b)))
	return
}

// eph is a DAKE message's four key pairs.
type eph struct {
	sym, pub, symFirst, pubFirst []byte
	dh, dhFirst                  []byte
	dhPub, dhPubFirst            *big.Int
}

func (v *vec) ephemeral(pre, ecdhName, dhName string) *eph {
	e := new(eph)
	e.sym, e.pub = v.ecdhPair(pre + "." + ecdhName)
	e.dh, e.dhPub = v.dhPair(pre + "." + dhName)
	e.symFirst, e.pubFirst = v.ecdhPair(pre + ".ecdh_first")
	e.dhFirst, e.dhPubFirst = v.dhPair(pre + ".dh_first")
	return e
}

func checkInteractiveDAKE(v *vec) {
	alice, bob := v.checkIdentity("alice"), v.checkIdentity("bob")
	eb := v.ephemeral("bob", "Y", "B")
	ea := v.ephemeral("alice", "X", "A")

	// Identity message (Bob), receiver tag 0.
	id := cat(short(protocolVersion4), []byte{identityType}, int32b(bob.tag), int32b(0), bob.profile,
		eb.pub, mpi(eb.dhPub), eb.pubFirst, mpi(eb.dhPubFirst))
	v.expect("identity_message", id)
	v.expectRaw("identity_message.wire", encodeWire(id))

	// phi (docs/spec-notes.md, "Shared session state phi").
	phi := cat(sorted2(alice.tag, bob.tag), eb.pubFirst, mpi(eb.dhPubFirst), ea.pubFirst, mpi(ea.dhPubFirst),
		sortedJIDs(alice.jid, bob.jid))
	v.expect("phi", phi)

	// Auth-R (Alice): t = 0x00 || HWC(usage_auth_r_bob_client_profile ||
	// Bob's profile, 64) || HWC(usage_auth_r_alice_client_profile ||
	// Alice's profile, 64) || Y || X || B || A || HWC(usage_auth_r_phi ||
	// phi, 64); sigma = RSig(H_a, sk_ha, {F_b, H_a, Y}, t).
	tR := cat([]byte{0}, kdf(uAuthRBobProf, 64, bob.profile), kdf(uAuthRAliceProf, 64, alice.profile),
		eb.pub, ea.pub, mpi(eb.dhPub), mpi(ea.dhPub), kdf(uAuthRPhi, 64, phi))
	v.expect("auth_r.t", tR)
	sigR := v.hex("auth_r.sigma")
	v.ok(ringVerify("OTRv4", uAuth, bob.f, alice.h, eb.pub, sigR, tR), "auth_r.sigma")
	authR := cat(short(protocolVersion4), []byte{authRType}, int32b(alice.tag), int32b(bob.tag), alice.profile,
		ea.pub, mpi(ea.dhPub), sigR, ea.pubFirst, mpi(ea.dhPubFirst))
	v.expect("auth_r", authR)
	v.expectRaw("auth_r.wire", encodeWire(authR))

	// Auth-I (Bob): t with 0x01 and the Auth-I usage IDs; sigma =
	// RSig(H_b, sk_hb, {H_b, F_a, X}, t).
	tI := cat([]byte{1}, kdf(uAuthIBobProf, 64, bob.profile), kdf(uAuthIAliceProf, 64, alice.profile),
		eb.pub, ea.pub, mpi(eb.dhPub), mpi(ea.dhPub), kdf(uAuthIPhi, 64, phi))
	v.expect("auth_i.t", tI)
	sigI := v.hex("auth_i.sigma")
	v.ok(ringVerify("OTRv4", uAuth, bob.h, alice.f, ea.pub, sigI, tI), "auth_i.sigma")
	authI := cat(short(protocolVersion4), []byte{authIType}, int32b(bob.tag), int32b(alice.tag), sigI)
	v.expect("auth_i", authI)
	v.expectRaw("auth_i.wire", encodeWire(authI))

	// The mixed shared secret and the SSID.
	kECDH := v.ecdhBoth("K_ecdh", ea.sym, eb.pub, eb.sym, ea.pub)
	kDH := v.dhBoth("k_dh", ea.dh, eb.dhPub, eb.dh, ea.dhPub)
	brace := kdf(uThirdBraceKey, 32, kDH)
	v.expect("brace_key", brace)
	k := kdf(uSharedSecret, 64, kECDH, brace)
	v.expect("K", k)
	v.expect("ssid", kdf(uSSID, 8, k))
	// "If the party transmitted the Auth-R message during the DAKE, then
	// display the first 4 bytes in bold" (otrv4.md, "Secure Session ID").
	v.expectRaw("ssid.bold_half.alice", "first")
	v.expectRaw("ssid.bold_half.bob", "second")

	// Initializing the double ratchet: prev_root_key = KDF(usage_first_root_key
	// || K, 64), then the first keys' mixed secret and derive_ratchet_keys.
	prev := kdf(uFirstRootKey, 64, k)
	v.expect("first.prev_root_key", prev)
	fECDH := v.ecdhBoth("first.K_ecdh", ea.symFirst, eb.pubFirst, eb.symFirst, ea.pubFirst)
	fDH := v.dhBoth("first.k_dh", ea.dhFirst, eb.dhPubFirst, eb.dhFirst, ea.dhPubFirst)
	fBrace := kdf(uThirdBraceKey, 32, fDH)
	v.expect("first.brace_key", fBrace)
	fK := kdf(uSharedSecret, 64, fECDH, fBrace)
	v.expect("first.K", fK)
	v.expect("first.root_key", kdf(uRootKey, 64, prev, fK))
	v.expect("first.chain_key", kdf(uChainKey, 64, prev, fK))
	// Alice, who receives Auth-I, sends first on this chain.
	v.expectRaw("first.chain_key.sender", "alice")
	v.done()
}

func checkNonInteractiveDAKE(v *vec) {
	t := v.t
	alice, bob := v.checkIdentity("alice"), v.checkIdentity("bob")
	dSym, d, ySym, y, bSecret, b := v.checkPrekeys("bob.prekey_profile", "bob.prekey_message", bob)
	ea := v.ephemeral("alice", "X", "A")

	kECDH := v.ecdhBoth("K_ecdh", ea.sym, y, ySym, ea.pub)
	kShared := v.ecdhBoth("ecdh_shared_prekey", ea.sym, d, dSym, ea.pub)
	kLong := v.ecdhBoth("ecdh_long_term", ea.sym, bob.h, bob.symH, ea.pub)
	kDH := v.dhBoth("k_dh", ea.dh, b, bSecret, ea.dhPub)
	brace := kdf(uThirdBraceKey, 32, kDH)
	v.expect("brace_key", brace)
	// tmp_k = KDF(usage_tmp_key || K_ecdh || ECDH(x, their_shared_prekey) ||
	// ECDH(x, H_b) || brace_key, 64).
	tmpK := kdf(uTmpKey, 64, kECDH, kShared, kLong, brace)
	v.expect("tmp_k", tmpK)
	macKey := kdf(uAuthMACKey, 64, tmpK)
	v.expect("auth_mac_key", macKey)
	// phi: the prekey owner's Y and B stand in place of the Identity
	// sender's first keys (docs/spec-notes.md).
	phi := cat(sorted2(alice.tag, bob.tag), y, mpi(b), ea.pubFirst, mpi(ea.dhPubFirst), sortedJIDs(alice.jid, bob.jid))
	v.expect("phi", phi)
	tt := cat(kdf(uNIBobProf, 64, bob.profile), kdf(uNIAliceProf, 64, alice.profile),
		y, ea.pub, mpi(b), mpi(ea.dhPub), d, kdf(uNIPhi, 64, phi))
	v.expect("t", tt)
	sigma := v.hex("sigma")
	// sigma = RSig(H_a, sk_ha, {F_b, H_a, Y}, t).
	v.ok(ringVerify("OTRv4", uAuth, bob.f, alice.h, y, sigma, tt), "sigma")
	mac := kdf(uAuthMAC, 64, macKey, tt)
	v.expect("auth_mac", mac)
	nia := cat(short(protocolVersion4), []byte{nonIntAuthType}, int32b(alice.tag), int32b(bob.tag), alice.profile,
		ea.pub, mpi(ea.dhPub), sigma, int32b(v.tag("bob.prekey_message.id")), mac, ea.pubFirst, mpi(ea.dhPubFirst))
	v.expect("non_interactive_auth", nia)
	v.expectRaw("non_interactive_auth.wire", encodeWire(nia))
	k := kdf(uSharedSecret, 64, tmpK)
	v.expect("K", k)
	v.expect("ssid", kdf(uSSID, 8, k))
	v.expect("root_key", kdf(uRootKey, 64, k))
	ck := kdf(uChainKey, 64, k)
	v.expect("chain_key", ck)
	v.expectRaw("chain_key.sender", "alice")
	// The first data message: message 0 of that chain, sent with Alice's
	// first ECDH key (no DH key: the ratchet id is 0 of the DAKE chain).
	mkEnc := kdf(uMessageKey, 64, ck)
	v.expect("msg1.MKenc", mkEnc)
	mkMAC := kdf(uMACKey, 64, mkEnc)
	v.expect("msg1.MKmac", mkMAC)
	raw := v.hex("msg1.data_message")
	v.expectRaw("msg1.wire", encodeWire(raw))
	m, err := parseDataMessage(raw)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if m.sender != alice.tag || m.receiver != bob.tag || m.i != 0 || m.j != 0 || !bytes.Equal(m.ecdh, ea.pubFirst) || len(m.dh) != 0 {
		t.Errorf("msg1 header: %+v", m)
	}
	if got := kdf(uAuthenticator, 64, mkMAC, m.sections); !bytes.Equal(got, m.authenticator) {
		t.Error("msg1: authenticator does not verify")
	}
	if got := string(chacha(mkEnc, m.ciphertext)); got != v.text("msg1.text") {
		t.Errorf("msg1 decrypts to %q", got)
	}
	v.done()
}

// ratchetParty is what the data message checker knows of one side.
type ratchetParty struct {
	name      string
	tag       uint32
	ecdhSym   []byte
	ecdhPub   []byte
	dhSecret  []byte
	dhPub     *big.Int
	chain     []byte   // the next sending chain key, when known
	received  [][]byte // MKmac of the messages it read
	revealed  map[string]bool
	sendingID int64
}

// checkMessages checks msg1, msg2, ... of a file: the DH ratchets they
// start, their message keys, authenticators, encryption, header fields
// and revealed MAC keys ("Data Exchange", "Data Message", docs/spec-notes.md
// "Ratchet ids and the brace key" and "Revealing MAC keys"). root and brace
// are the state before msg1 (nil when the file does not give them: a
// ratchet then supplies its own prev_root_key, which is trusted).
func (v *vec) checkMessages(parties map[string]*ratchetParty, root, brace []byte, onMessage func(pre string, pt []byte)) {
	t := v.t
	lastRatchet := int64(-1) // DH ratchets are numbered 0, 1, 2, ... in the order both sides see them
	for n := 1; v.has(fmt.Sprintf("msg%d.from", n)); n++ {
		pre := fmt.Sprintf("msg%d", n)
		fromName := v.raw(pre + ".from")
		from := parties[fromName]
		var to *ratchetParty
		for name, p := range parties {
			if name != fromName {
				to = p
			}
		}
		var ck []byte
		newDH := false
		if v.has(pre + ".ratchet.id") {
			rp := pre + ".ratchet"
			id := v.num(rp + ".id")
			if int64(id) != lastRatchet+1 {
				t.Errorf("%s: ratchet %d follows ratchet %d", rp, id, lastRatchet)
			}
			lastRatchet = int64(id)
			prev := v.hex(rp + ".prev_root_key")
			if root != nil && !bytes.Equal(prev, root) {
				t.Errorf("%s: prev_root_key is not the current root key", rp)
			}
			sym, pub := v.ecdhPair(rp + ".our_ecdh")
			their := v.hex(rp + ".their_ecdh")
			if to.ecdhPub != nil && !bytes.Equal(their, to.ecdhPub) {
				t.Errorf("%s: their_ecdh is not %s's current ECDH key", rp, to.name)
			}
			var kECDH []byte
			if to.ecdhSym != nil {
				kECDH = v.ecdhBoth(rp+".K_ecdh", sym, their, to.ecdhSym, pub)
			} else {
				var err error
				kECDH, err = ecdh(sym, their)
				v.ok(err, rp+".K_ecdh")
				v.expect(rp+".K_ecdh", kECDH)
			}
			var b []byte
			// A ratchet whose id is a multiple of 3 brings a new DH key.
			if id%3 == 0 {
				newDH = true
				secret, dhPub := v.dhPair(rp + ".our_dh")
				theirDH := v.big(rp + ".their_dh")
				if to.dhPub != nil && theirDH.Cmp(to.dhPub) != 0 {
					t.Errorf("%s: their_dh is not %s's current DH key", rp, to.name)
				}
				var kDH []byte
				if to.dhSecret != nil {
					kDH = v.dhBoth(rp+".k_dh", secret, theirDH, to.dhSecret, dhPub)
				} else {
					var err error
					kDH, err = dhShared(secret, theirDH)
					v.ok(err, rp+".k_dh")
					v.expect(rp+".k_dh", kDH)
				}
				b = kdf(uThirdBraceKey, 32, kDH)
				from.dhSecret, from.dhPub = secret, dhPub
			} else {
				pb := v.hex(rp + ".prev_brace_key")
				if brace != nil && !bytes.Equal(pb, brace) {
					t.Errorf("%s: prev_brace_key is not the current brace key", rp)
				}
				b = kdf(uBraceKey, 32, pb)
			}
			v.expect(rp+".brace_key", b)
			k := kdf(uSharedSecret, 64, kECDH, b)
			v.expect(rp+".K", k)
			root = kdf(uRootKey, 64, prev, k)
			v.expect(rp+".root_key", root)
			ck = kdf(uChainKey, 64, prev, k)
			v.expect(rp+".chain_key", ck)
			brace = b
			from.ecdhSym, from.ecdhPub = sym, pub
			from.sendingID = int64(id)
			// The first message of a sending ratchet reveals the MAC keys
			// of the messages read since: each must be one of them, and
			// none twice.
			rev := v.hex(pre + ".revealed_mac_keys")
			if len(rev)%64 != 0 {
				t.Errorf("%s: revealed MAC keys of %d bytes", pre, len(rev))
			}
			for i := 0; i+64 <= len(rev); i += 64 {
				key := string(rev[i : i+64])
				found := false
				for _, r := range from.received {
					found = found || string(r) == key
				}
				if !found || from.revealed[key] {
					t.Errorf("%s: revealed MAC key %d is not one %s read, or was revealed before", pre, i/64, from.name)
				}
				from.revealed[key] = true
			}
		} else if !bytes.Equal(v.hex(pre+".revealed_mac_keys"), nil) {
			t.Errorf("%s: reveals MAC keys without starting a ratchet", pre)
		}
		got := v.hex(pre + ".chain_key")
		if ck == nil {
			ck = from.chain
		}
		if ck != nil && !bytes.Equal(got, ck) {
			t.Errorf("%s: chain_key is not the sender's next chain key", pre)
		}
		ck = got
		mkEnc := kdf(uMessageKey, 64, ck)
		v.expect(pre+".MKenc", mkEnc)
		mkMAC := kdf(uMACKey, 64, mkEnc)
		v.expect(pre+".MKmac", mkMAC)
		v.expect(pre+".extra_symm_key", kdf(uExtraSymmKey, 64, []byte{0xFF}, ck))
		from.chain = kdf(uNextChainKey, 64, ck)
		v.expect(pre+".next_chain_key", from.chain)

		raw := v.hex(pre + ".data_message")
		v.expectRaw(pre+".wire", encodeWire(raw))
		m, err := parseDataMessage(raw)
		if err != nil {
			t.Fatalf("%s: %v", pre, err)
		}
		if m.sender != from.tag || m.receiver != to.tag {
			t.Errorf("%s: tags %#x -> %#x", pre, m.sender, m.receiver)
		}
		if from.ecdhPub != nil && !bytes.Equal(m.ecdh, from.ecdhPub) {
			t.Errorf("%s: ECDH key is not the sender's current one", pre)
		}
		// docs/spec-notes.md: every message of a ratchet with a new DH key
		// carries it.
		if from.sendingID >= 0 && from.sendingID%3 == 0 {
			newDH = true
		}
		if newDH && from.dhPub != nil && !bytes.Equal(m.dh, from.dhPub.Bytes()) {
			t.Errorf("%s: DH key is not the sender's new one", pre)
		}
		if !newDH && len(m.dh) != 0 {
			t.Errorf("%s: carries a DH key in a ratchet without one", pre)
		}
		if wantI := max(from.sendingID, 0); int64(m.i) != wantI {
			t.Errorf("%s: ratchet id %d, want %d", pre, m.i, wantI)
		}
		if uint64(m.i) != v.num(pre+".ratchet_id") || uint64(m.j) != v.num(pre+".message_id") || uint64(m.pn) != v.num(pre+".pn") {
			t.Errorf("%s: header i=%d j=%d pn=%d", pre, m.i, m.j, m.pn)
		}
		v.expect(pre+".encrypted_message", m.ciphertext)
		v.expect(pre+".revealed_mac_keys", m.revealed)
		// Authenticator = HWMAC(usage_authenticator || MKmac ||
		// data_message_sections, 64), the sections from the protocol
		// version to the encrypted message.
		mac := kdf(uAuthenticator, 64, mkMAC, m.sections)
		v.expect(pre+".authenticator", mac)
		if !bytes.Equal(mac, m.authenticator) {
			t.Errorf("%s: the data message's authenticator does not verify", pre)
		}
		pt := chacha(mkEnc, m.ciphertext)
		v.expect(pre+".plaintext", pt)
		text := pt
		if i := bytes.IndexByte(pt, 0); i >= 0 {
			text = pt[:i]
		}
		if string(text) != v.text(pre+".text") {
			t.Errorf("%s: decrypts to %q", pre, text)
		}
		// The TLVs after the NUL ("TLV Record Types"), when the file lists
		// them.
		if i := bytes.IndexByte(pt, 0); i >= 0 && v.has(pre+".tlv1.type") {
			r := &reader{b: pt[i+1:]}
			k := 0
			for len(r.b) > 0 && r.err == nil {
				k++
				typ, val := r.u16(), r.bytes(int(r.u16()))
				tp := fmt.Sprintf("%s.tlv%d", pre, k)
				if r.err == nil && v.has(tp+".type") {
					if uint64(typ) != v.num(tp+".type") {
						t.Errorf("%s.type: %d", tp, typ)
					}
					v.expect(tp+".value", val)
				} else {
					t.Errorf("%s: TLV %d not in the file, or malformed (%v)", pre, k, r.err)
				}
			}
			if v.has(fmt.Sprintf("%s.tlv%d.type", pre, k+1)) {
				t.Errorf("%s: fewer TLVs than the file lists", pre)
			}
		}
		to.received = append(to.received, mkMAC)
		if onMessage != nil {
			onMessage(pre, pt)
		}
	}
}

func checkDataMessages(v *vec) {
	t := v.t
	parties := map[string]*ratchetParty{}
	for _, name := range []string{"alice", "bob"} {
		p := &ratchetParty{name: name, tag: v.tag(name + ".instance_tag"), revealed: map[string]bool{}, sendingID: -1}
		p.ecdhSym, p.ecdhPub = v.ecdhPair(name + ".ecdh_first")
		p.dhSecret, p.dhPub = v.dhPair(name + ".dh_first")
		parties[name] = p
	}
	// Alice sends first on the chain of the first keys (ratchet id 0, no
	// DH key in her messages).
	parties["alice"].chain = v.hex("chain_key")
	v.checkMessages(parties, v.hex("root_key"), v.hex("brace_key"), nil)
	// The state continues dake-interactive.txt.
	d := load(t, "dake-interactive.txt", nil)
	for k, dk := range map[string]string{"root_key": "first.root_key", "chain_key": "first.chain_key", "brace_key": "first.brace_key",
		"alice.ecdh_first": "alice.ecdh_first", "bob.dh_first": "bob.dh_first"} {
		if v.raw(k) != d.raw(dk) {
			t.Errorf("%s differs from dake-interactive.txt's %s", k, dk)
		}
	}
	v.done()
}

// smpHash is the SMP's HashToScalar(i || v): HWC(i || v, 57) read
// little-endian mod q, the proof index in place of the usage ID (the smp
// package's reading 1).
func smpHash(i byte, points ...*goldilocks.Point) *big.Int {
	var v [][]byte
	for _, p := range points {
		v = append(v, encodePoint(p))
	}
	return new(big.Int).Mod(le(kdf(i, 57, v...)), q)
}

// randomScalar is a 57-byte random value hashed and pruned ("Considerations
// while working with elliptic curve parameters"): SHAKE-256(value, 57),
// pruned, read little-endian, mod q.
func randomScalar(value []byte) *big.Int {
	h := sha3.NewShake256()
	h.Write(value)
	d := make([]byte, 57)
	h.Read(d)
	d[0] &= 0xFC
	d[56] = 0
	d[55] |= 0x80
	return new(big.Int).Mod(le(d), q)
}

func sc(x *big.Int) []byte { return leBytes(new(big.Int).Mod(x, q), scalarSize) }

// resp is r - k*c mod q.
func resp(r, k, c *big.Int) *big.Int {
	d := new(big.Int).Mul(k, c)
	d.Sub(r, d)
	return d.Mod(d, q)
}

func gMul(k *big.Int) *goldilocks.Point { return curve.ScalarBaseMult(scalar(k)) }

func pMul(k *big.Int, p *goldilocks.Point) *goldilocks.Point { return curve.ScalarMult(scalar(k), p) }

func pAdd(a, b *goldilocks.Point) *goldilocks.Point { return curve.Add(a, b) }

func pSub(a, b *goldilocks.Point) *goldilocks.Point {
	nb := *b
	nb.Neg()
	return curve.Add(a, &nb)
}

// smpSecret is x (or y) of "Secret Information": prune(HWC(usage_SMP_secret
// || 0x01 || initiator fingerprint || responder fingerprint || SSID ||
// DATA(secret), 57)) mod q (the smp package's reading 2).
func smpSecret(initiator, responder, ssid []byte, secret string) *big.Int {
	d := kdf(0x19, 57, []byte{1}, initiator, responder, ssid, data([]byte(secret)))
	d[0] &= 0xFC
	d[56] = 0
	d[55] |= 0x80
	return new(big.Int).Mod(le(d), q)
}

// checkSMP recomputes SMP messages 1 to 4 from the secrets, the bindings
// and the random values the parties drew (otrv4.md, "SMP Message 1" to "SMP
// Message 4"), checks each message's proofs as its receiver does, and
// checks that the data messages carry exactly those TLVs.
func checkSMP(v *vec) {
	t := v.t
	parties := map[string]*ratchetParty{}
	for _, name := range []string{"alice", "bob"} {
		parties[name] = &ratchetParty{name: name, tag: v.tag(name + ".instance_tag"), revealed: map[string]bool{}, sendingID: -1}
	}
	fpA, fpB, ssid := v.hex("alice.fingerprint"), v.hex("bob.fingerprint"), v.hex("ssid")
	question := v.text("smp.question")
	v.expectRaw("smp.initiator", "alice")
	x := smpSecret(fpA, fpB, ssid, v.text("smp.secret.alice"))
	y := smpSecret(fpA, fpB, ssid, v.text("smp.secret.bob"))
	rnd := func(msg, name string) *big.Int { return randomScalar(v.hex("smp." + msg + ".random." + name)) }

	// SMP message 1 (Alice).
	a2, a3, r2, r3 := rnd("msg1", "a2"), rnd("msg1", "a3"), rnd("msg1", "r2"), rnd("msg1", "r3")
	g2a, g3a := gMul(a2), gMul(a3)
	c2 := smpHash(1, gMul(r2))
	c3 := smpHash(2, gMul(r3))
	m1 := cat(data([]byte(question)), encodePoint(g2a), sc(c2), sc(resp(r2, a2, c2)), encodePoint(g3a), sc(c3), sc(resp(r3, a3, c3)))

	// SMP message 2 (Bob).
	b2, b3 := rnd("msg2", "b2"), rnd("msg2", "b3")
	r2, r3 = rnd("msg2", "r2"), rnd("msg2", "r3")
	r4, r5, r6 := rnd("msg2", "r4"), rnd("msg2", "r5"), rnd("msg2", "r6")
	g2b, g3b := gMul(b2), gMul(b3)
	c2b, c3b := smpHash(3, gMul(r2)), smpHash(4, gMul(r3))
	g2, g3 := pMul(b2, g2a), pMul(b3, g3a)
	pb := pMul(r4, g3)
	qb := pAdd(gMul(r4), pMul(y, g2))
	cpb := smpHash(5, pMul(r5, g3), pAdd(gMul(r5), pMul(r6, g2)))
	m2 := cat(encodePoint(g2b), sc(c2b), sc(resp(r2, b2, c2b)), encodePoint(g3b), sc(c3b), sc(resp(r3, b3, c3b)),
		encodePoint(pb), encodePoint(qb), sc(cpb), sc(resp(r5, r4, cpb)), sc(resp(r6, y, cpb)))

	// SMP message 3 (Alice): her G2 and G3 must be Bob's.
	if ga2, ga3 := pMul(a2, g2b), pMul(a3, g3b); !ga2.IsEqual(g2) || !ga3.IsEqual(g3) {
		t.Errorf("G2 or G3 differ between the parties")
	}
	r4, r5, r6 = rnd("msg3", "r4"), rnd("msg3", "r5"), rnd("msg3", "r6")
	r7 := rnd("msg3", "r7")
	pa := pMul(r4, g3)
	qa := pAdd(gMul(r4), pMul(x, g2))
	cpa := smpHash(6, pMul(r5, g3), pAdd(gMul(r5), pMul(r6, g2)))
	qaqb := pSub(qa, qb)
	ra := pMul(a3, qaqb)
	cra := smpHash(7, gMul(r7), pMul(r7, qaqb))
	m3 := cat(encodePoint(pa), encodePoint(qa), sc(cpa), sc(resp(r5, r4, cpa)), sc(resp(r6, x, cpa)),
		encodePoint(ra), sc(cra), sc(resp(r7, a3, cra)))

	// SMP message 4 (Bob).
	r7 = rnd("msg4", "r7")
	rb := pMul(b3, qaqb)
	crb := smpHash(8, gMul(r7), pMul(r7, qaqb))
	m4 := cat(encodePoint(rb), sc(crb), sc(resp(r7, b3, crb)))

	// Both compute Rab and compare it with Pa - Pb.
	papb := pSub(pa, pb)
	okA, okB := pMul(a3, rb).IsEqual(papb), pMul(b3, ra).IsEqual(papb)
	if okA != okB || okA != (x.Cmp(y) == 0) {
		t.Errorf("SMP outcome: alice %v, bob %v, secrets equal %v", okA, okB, x.Cmp(y) == 0)
	}
	v.expectRaw("smp.result", map[bool]string{true: "succeeded", false: "failed"}[okA])

	// The receivers' checks of the proofs, on the recomputed messages.
	for _, c := range []struct {
		i    byte
		a    *goldilocks.Point
		c, d *big.Int
	}{{1, g2a, c2, resp(rnd("msg1", "r2"), a2, c2)}, {2, g3a, c3, resp(rnd("msg1", "r3"), a3, c3)}} {
		if smpHash(c.i, pAdd(gMul(c.d), pMul(c.c, c.a))).Cmp(c.c) != 0 {
			t.Errorf("SMP proof %d does not verify", c.i)
		}
	}

	want := map[string][]byte{"msg1": m1, "msg2": m2, "msg3": m3, "msg4": m4}
	types := map[string]uint64{"msg1": 2, "msg2": 3, "msg3": 4, "msg4": 5}
	v.checkMessages(parties, nil, nil, func(pre string, pt []byte) {
		// The human-readable part is empty; one TLV follows the NUL.
		if len(pt) == 0 || pt[0] != 0 {
			t.Fatalf("%s: no TLVs", pre)
		}
		r := &reader{b: pt[1:]}
		typ, val := r.u16(), r.bytes(int(r.u16()))
		if r.err != nil || len(r.b) != 0 {
			t.Fatalf("%s: TLVs: %v, %d bytes left", pre, r.err, len(r.b))
		}
		if uint64(typ) != types[pre] || v.num(pre+".tlv1.type") != types[pre] {
			t.Errorf("%s: TLV type %d", pre, typ)
		}
		v.expect(pre+".tlv1.value", val)
		if !bytes.Equal(val, want[pre]) {
			t.Errorf("%s: the SMP message differs from the one recomputed", pre)
		}
	})
}

func checkFragmentation(v *vec) {
	t := v.t
	sender, receiver := v.tag("alice.instance_tag"), v.tag("bob.instance_tag")
	size := int(v.num("fragment_size"))
	id := v.hex("identifier")
	total := int(v.num("fragments"))
	whole := v.raw("message.wire")
	// "?OTR|identifier|sender|receiver,index,total,piece," (otrv4.md,
	// "Fragmentation"), with the spec examples' %08x and %05d.
	var joined string
	for k := 1; k <= total; k++ {
		fr := v.raw(fmt.Sprintf("fragment%d", k))
		// Every fragment but the last is filled to the maximum size.
		if len(fr) > size || (k < total && len(fr) != size) {
			t.Errorf("fragment %d of %d: %d bytes, maximum %d", k, total, len(fr), size)
		}
		head := fmt.Sprintf("?OTR|%08x|%08x|%08x,%05d,%05d,", binaryU32(id), sender, receiver, k, total)
		if !strings.HasPrefix(fr, head) || !strings.HasSuffix(fr, ",") {
			t.Errorf("fragment %d: %q does not start with %q", k, fr, head)
			continue
		}
		piece := fr[len(head) : len(fr)-1]
		if strings.Contains(piece, ",") || piece == "" {
			t.Errorf("fragment %d: piece %q", k, piece)
		}
		joined += piece
	}
	if joined != whole {
		t.Error("the pieces do not join to the message")
	}
	raw, err := decodeWire(whole)
	if err != nil {
		t.Fatalf("%v", err)
	}
	m, err := parseDataMessage(raw)
	if err != nil {
		t.Fatalf("%v", err)
	}
	mkEnc := kdf(uMessageKey, 64, v.hex("message.chain_key"))
	if !bytes.Equal(kdf(uAuthenticator, 64, kdf(uMACKey, 64, mkEnc), m.sections), m.authenticator) {
		t.Error("the reassembled message does not authenticate")
	}
	if got := string(chacha(mkEnc, m.ciphertext)); got != v.text("text") {
		t.Errorf("the reassembled message decrypts to %q", got)
	}
	v.done()
}

func binaryU32(b []byte) uint32 {
	if len(b) != 4 {
		return 0
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// reporter is what the checks need of a test: *testing.T, or a recorder
// of failures for the tamper test.
type reporter interface {
	Helper()
	Error(args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// load reads testdata/vectors/name; mutate, if not nil, changes the file's
// bytes first.
func load(t reporter, name string, mutate func([]byte) []byte) *vec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", Dir, name))
	if err != nil {
		t.Fatalf("%v", err)
	}
	if mutate != nil {
		b = mutate(b)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if c, _ := f.Get("case"); c+".txt" != name {
		t.Fatalf("%s: case %q", name, c)
	}
	return &vec{t: t, f: f, used: map[string]bool{"case": true}}
}

// done fails for every key the checks never read.
func (v *vec) done() {
	v.t.Helper()
	var unused []string
	for _, k := range v.f.Keys() {
		if !v.used[k] {
			unused = append(unused, k)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		v.t.Errorf("keys not checked: %s", strings.Join(unused, ", "))
	}
}

// TestEveryFileChecked: each file of testdata/vectors has a checker.
func TestEveryFileChecked(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", Dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if checkers[filepath.Base(f)] == nil {
			t.Errorf("%s has no checker", filepath.Base(f))
		}
	}
	if len(files) != len(checkers) {
		t.Errorf("%d vector files, %d checkers", len(files), len(checkers))
	}
}
