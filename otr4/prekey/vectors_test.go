package prekey

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/sha3"

	"github.com/otrchat/otrchat/internal/otrvectors"
	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/curve"
)

var updateVectors = flag.Bool("update", false, "rewrite the prekey server vectors in ../../testdata/vectors")

// vectorTime is the vectors' fixed clock (as in otr4's vectors).
var vectorTime = time.Unix(1_800_000_000, 0)

// tapReader is the SHAKE-256 stream of "otrchat test vectors: " || label,
// copying what is read while on is set.
type tapReader struct {
	r   io.Reader
	on  bool
	tap []byte
}

func newTap(label string) *tapReader {
	h := sha3.NewShake256()
	h.Write([]byte("otrchat test vectors: " + label))
	return &tapReader{r: h}
}

func (t *tapReader) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	if t.on {
		t.tap = append(t.tap, b[:n]...)
	}
	return n, err
}

func (t *tapReader) record() { t.on, t.tap = true, nil }

func (t *tapReader) taken() []byte { t.on = false; return t.tap }

// TestVectors regenerates the prekey server vectors (a DAKE whose DAKE-3
// carries a publication with its proofs) from fixed seeds and compares
// them with testdata/vectors; -update rewrites them. internal/otrvectors
// checks them against the spec's formulas.
func TestVectors(t *testing.T) {
	dev := newTap("prekey-alice")
	id, err := otr4.GenerateIdentity(dev, true)
	if err != nil {
		t.Fatal(err)
	}
	const tag = otr4.InstanceTag(0xcafe0101)
	profile, err := otr4.NewClientProfile(id, tag, "4", vectorTime.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pp, ppSecret, err := otr4.NewPrekeyProfile(dev, id, tag, vectorTime.Add(3*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	req := &PublishRequest{ClientProfile: profile, PrekeyProfile: pp, PrekeyProfileSecret: ppSecret}
	for i := 0; i < 2; i++ {
		m, s, err := otr4.NewPrekeyMessage(dev, tag)
		if err != nil {
			t.Fatal(err)
		}
		req.PrekeyMessages, req.PrekeySecrets = append(req.PrekeyMessages, m), append(req.PrekeySecrets, s)
	}
	srvRand := newTap("prekey-server")
	key, err := GenerateServerKey(srvRand)
	if err != nil {
		t.Fatal(err)
	}
	const publisher, server = "alice@example.org", "prekeys.example.org"
	scfg := ServerConfig{Key: key, Name: server, Rand: srvRand, Now: func() time.Time { return vectorTime }}

	dev.record()
	c, d1, err := NewClientDAKE(ClientConfig{Rand: dev, Identity: id, Profile: profile, Publisher: publisher,
		Server: server, ServerFingerprint: key.Fingerprint()}, req)
	if err != nil {
		t.Fatal(err)
	}
	iRandom := dev.taken()
	sess := NewServerSession(scfg, publisher)
	srvRand.record()
	d2, err := sess.HandleDAKE1(d1)
	if err != nil {
		t.Fatal(err)
	}
	sRandom := srvRand.taken()[:curve.ScalarSize] // then the ring signature's
	dev.record()
	d3, res, err := c.Receive(d2)
	if err != nil || res != nil {
		t.Fatal(res, err)
	}
	clientRandom := dev.taken()
	got, err := sess.HandleDAKE3(d3)
	if err != nil || got.Publication == nil {
		t.Fatal(got, err)
	}
	success := sess.Success()
	if _, res, err := c.Receive(success); err != nil || res.Kind != ResultSuccess {
		t.Fatal(res, err)
	}

	// The values the vectors name, computed with this package's own
	// functions from what was exchanged.
	iScalar, _ := curve.RandomScalar(bytes.NewReader(iRandom))
	m1, _ := ParseDAKE1(d1)
	m2, _ := ParseDAKE2(d2)
	m3, _ := ParseDAKE3(d3)
	composite := scfg.Identity().Marshal()
	phi := Phi(publisher, server)
	t2 := dakeT(false, m1.profile(), composite, m1.I, m2.S, phi)
	t3 := dakeT(true, m1.profile(), composite, m1.I, m2.S, phi)
	sk, err := sharedSecret(iScalar, mustPoint(m2.S))
	if err != nil {
		t.Fatal(err)
	}
	macK := macKey(sk)
	pub, err := ParsePublication(m3.Message)
	if err != nil {
		t.Fatal(err)
	}

	f := new(otrvectors.File)
	f.Comment(`OTRv4 test vector: the DAKE with a prekey server (otrv4-prekey-server.md,
"Key Exchange", "DAKE-1 Message", "DAKE-2 Message", "DAKE-3 Message",
"Prekey Server Composite Identity", "Shared Session State", "Key Derivation
Functions"; docs/spec-notes.md, "Prekey server protocol"). Alice's device
publishes to the server; the DAKE-3 message carries the publication of
prekey-server-publication.txt. Format and use: docs/vectors.md.`)
	f.Set("case", "prekey-server-dake")
	putIdentity(f, "alice", id, profile, publisher)
	f.Text("server.name", server)
	f.Hex("server.sym", key.Seed())
	f.Hex("server.H", key.PublicKey())
	fp := key.Fingerprint()
	f.Hex("server.fingerprint", fp[:])
	f.Hex("server.composite_identity", composite)
	f.Hex("phi", phi)
	f.Hex("i.random", iRandom)
	f.Hex("I", m1.I)
	f.Hex("dake1", d1)
	f.Set("dake1.wire", Encode(d1))
	f.Hex("s.random", sRandom)
	f.Hex("S", m2.S)
	f.Hex("dake2.t", t2)
	f.Hex("dake2.sigma", m2.Sigma)
	f.Hex("dake2", d2)
	f.Set("dake2.wire", Encode(d2))
	f.Hex("SK", sk)
	f.Hex("prekey_mac_k", macK)
	f.Hex("dake3.t", t3)
	f.Hex("dake3.sigma", m3.Sigma)
	f.Hex("dake3.message", m3.Message)
	f.Hex("dake3", d3)
	f.Set("dake3.wire", Encode(d3))
	f.Hex("success", success)
	f.Set("success.wire", Encode(success))
	files := map[string]*otrvectors.File{"prekey-server-dake.txt": f}

	f = new(otrvectors.File)
	f.Comment(`OTRv4 test vector: a Prekey Publication with its proofs (otrv4-prekey-server.md,
"Prekey Publication Message", "Proofs"; docs/spec-notes.md, "Prekey server
protocol": lambda = 352, t_i little-endian for ECDH and big-endian for DH,
a 141-byte DH nonce, one MAC formula). It is the message DAKE-3 carries in
prekey-server-dake.txt, whose SK it is bound to. Format and use:
docs/vectors.md.`)
	f.Set("case", "prekey-server-publication")
	putIdentity(f, "alice", id, profile, "")
	f.Hex("SK", sk)
	f.Hex("prekey_mac_k", macK)
	f.Hex("m", proofContext(sk))
	f.Int("prekey_profile.expiration", uint64(pp.Expires.Unix()))
	f.Hex("prekey_profile.D.sym", ppSecret.Seed())
	f.Hex("prekey_profile.D", pp.SharedPrekey())
	f.Hex("prekey_profile", pp.Marshal())
	f.Int("N", uint64(len(req.PrekeyMessages)))
	for i, m := range req.PrekeyMessages {
		pre := "prekey_message" + string(rune('1'+i))
		sec := req.PrekeySecrets[i].Marshal()
		f.Tag(pre+".id", m.ID)
		f.Hex(pre+".Y.sym", sec[4:4+curve.SeedSize])
		f.Hex(pre+".Y", m.ECDH())
		f.Hex(pre+".B.secret", sec[4+curve.SeedSize:])
		f.Big(pre+".B", m.DH())
		f.Hex(pre, m.Marshal())
	}
	// The client's randomness after DAKE-2: the ring signature's nine
	// values, then the nonces of the three proofs.
	rest := clientRandom[9*curve.ScalarSize:]
	if len(rest) != 2*curve.ScalarSize+dhNonceSize {
		t.Fatalf("%d random bytes for the proofs", len(rest))
	}
	f.Hex("proof.message_ecdh.r.random", rest[:curve.ScalarSize])
	f.Hex("proof.message_ecdh", pub.MessageECDHProof.Marshal())
	f.Hex("proof.message_dh.r", rest[curve.ScalarSize:curve.ScalarSize+dhNonceSize])
	f.Hex("proof.message_dh", pub.MessageDHProof.Marshal())
	f.Hex("proof.prekey_profile.r.random", rest[curve.ScalarSize+dhNonceSize:])
	f.Hex("proof.prekey_profile", pub.ProfileProof.Marshal())
	f.Hex("publication.mac", pub.MAC[:])
	f.Hex("publication", m3.Message)
	files["prekey-server-publication.txt"] = f

	dir := filepath.Join("..", "..", otrvectors.Dir)
	for name, f := range files {
		path := filepath.Join(dir, name)
		b := f.Marshal()
		if *updateVectors {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (regenerate with go generate ./internal/otrvectors)", name, err)
			continue
		}
		if !bytes.Equal(b, want) {
			gl, wl := strings.Split(string(b), "\n"), strings.Split(string(want), "\n")
			for i := range min(len(gl), len(wl)) {
				if gl[i] != wl[i] {
					t.Errorf("%s: the engine's output changed at line %d:\n got  %.120s\n want %.120s", name, i+1, gl[i], wl[i])
					break
				}
			}
			if len(gl) != len(wl) {
				t.Errorf("%s: %d lines, recorded %d", name, len(gl), len(wl))
			}
		}
	}
}

func putIdentity(f *otrvectors.File, pre string, id *otr4.Identity, p *otr4.ClientProfile, jid string) {
	if jid != "" {
		f.Text(pre+".jid", jid)
	}
	f.Tag(pre+".instance_tag", uint32(p.InstanceTag))
	f.Hex(pre+".sym_h", id.Seed())
	f.Hex(pre+".H", id.PublicKey())
	f.Hex(pre+".sym_f", id.ForgingSeed())
	f.Hex(pre+".F", id.ForgingKey())
	f.Text(pre+".profile.versions", p.Versions)
	f.Int(pre+".profile.expiration", uint64(p.Expires.Unix()))
	f.Hex(pre+".profile", p.Marshal())
}
