package prekey

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
	"github.com/otrchat/otrchat/otr4/internal/ring"
)

func TestProofs(t *testing.T) {
	ys, yPub, yPts, bs, bPub := proofInputs(t, 5)
	m := kdf.PrekeyServer.Sum(usageProofContext, 64, []byte("SK"))
	pe, err := proveECDH(rand.Reader, ys, yPub, m, usageProofMessageECDH)
	if err != nil {
		t.Fatal(err)
	}
	pd, err := proveDH(rand.Reader, bs, bPub, m)
	if err != nil {
		t.Fatal(err)
	}
	if !pe.verify(yPts, m, usageProofMessageECDH) || !pd.verify(bPub, m) {
		t.Fatal("valid proofs refused")
	}
	otherM := kdf.PrekeyServer.Sum(usageProofContext, 64, []byte("other SK"))
	// Another context, another usage ID, other or reordered values, a
	// flipped bit in c or v: all refused.
	if pe.verify(yPts, otherM, usageProofMessageECDH) || pd.verify(bPub, otherM) {
		t.Fatal("proof accepted for another context")
	}
	if pe.verify(yPts, m, usageProofSharedECDH) {
		t.Fatal("ECDH proof accepted for another usage ID")
	}
	swapped := append([]*curve.Point{yPts[1], yPts[0]}, yPts[2:]...)
	if pe.verify(swapped, m, usageProofMessageECDH) {
		t.Fatal("ECDH proof accepted for reordered values")
	}
	if pd.verify(append([]*big.Int{bPub[1], bPub[0]}, bPub[2:]...), m) {
		t.Fatal("DH proof accepted for reordered values")
	}
	if pe.verify(yPts[:4], m, usageProofMessageECDH) || pd.verify(bPub[:4], m) {
		t.Fatal("proof accepted for a subset")
	}
	for bit := 0; bit < 8*proofCSize; bit += 61 {
		e, d := *pe, *pd
		e.c[bit/8] ^= 1 << (bit % 8)
		d.c[bit/8] ^= 1 << (bit % 8)
		if e.verify(yPts, m, usageProofMessageECDH) || d.verify(bPub, m) {
			t.Fatalf("proof with c bit %d flipped accepted", bit)
		}
	}
	e, d := *pe, *pd
	e.v = curve.NewScalar().Add(pe.v, curve.NewScalar().SetUint64(1))
	d.v = new(big.Int).Add(pd.v, big.NewInt(1))
	if e.verify(yPts, m, usageProofMessageECDH) || d.verify(bPub, m) {
		t.Fatal("proof with v+1 accepted")
	}
	// A proof made with a wrong secret does not verify.
	bad := append([][]byte{append([]byte(nil), bs[0]...)}, bs[1:]...)
	bad[0][79] ^= 1
	if p, _ := proveDH(rand.Reader, bad, bPub, m); p.verify(bPub, m) {
		t.Fatal("DH proof with a wrong secret accepted")
	}
	wrong := append([]*curve.Scalar{curve.NewScalar().Add(ys[0], ys[0])}, ys[1:]...)
	if p, _ := proveECDH(rand.Reader, wrong, yPub, m, usageProofMessageECDH); p.verify(yPts, m, usageProofMessageECDH) {
		t.Fatal("ECDH proof with a wrong secret accepted")
	}
}

// TestMultiExp checks the Straus multi-exponentiation against math/big.
func TestMultiExp(t *testing.T) {
	var bases []*big.Int
	var exps [][]byte
	want := big.NewInt(1)
	for i := 0; i < 20; i++ {
		b, _ := rand.Int(rand.Reader, dhP)
		e := make([]byte, 1+i%lambdaBytes)
		rand.Read(e)
		if i == 3 {
			clear(e)
		}
		bases, exps = append(bases, b), append(exps, e)
		want.Mul(want, new(big.Int).Exp(b, new(big.Int).SetBytes(e), dhP)).Mod(want, dhP)
	}
	if got := multiExp(bases, exps); got.Cmp(want) != 0 {
		t.Fatal("multiExp disagrees with math/big")
	}
}

// TestLambdaInterpretation pins the choices of docs/spec-notes.md: t_i are
// 44-byte pieces of KDF(usage_proof_c_lambda, c, N*44), read little-endian
// for ECDH and big-endian for DH. A proof is rebuilt by hand from those
// definitions and must verify.
func TestLambdaInterpretation(t *testing.T) {
	ys, _, yPts, bs, bPub := proofInputs(t, 2)
	m := make([]byte, 64)
	r := curve.NewScalar().SetUint64(12345)
	a := curve.NewIdentityPoint().ScalarBaseMult(r).Bytes()
	c := kdf.PrekeyServer.Sum(0x13, 64, a, yPts[0].Bytes(), yPts[1].Bytes(), m)
	p := kdf.PrekeyServer.Sum(0x17, 88, c)
	v := curve.NewScalar().Set(r)
	for i := 0; i < 2; i++ {
		le := p[44*i : 44*i+44]
		padded := append(append([]byte(nil), le...), make([]byte, 57-44)...)
		ti, err := curve.NewScalar().SetCanonicalBytes(padded)
		if err != nil {
			t.Fatal(err)
		}
		v.Add(v, curve.NewScalar().Multiply(ti, ys[i]))
	}
	pe := &ECDHProof{v: v}
	copy(pe.c[:], c)
	if !pe.verify(yPts, m, usageProofMessageECDH) {
		t.Fatal("hand-made ECDH proof refused")
	}

	rd := big.NewInt(987654321)
	ad := new(big.Int).Exp(dhG, rd, dhP)
	mpi := func(x *big.Int) []byte {
		b := x.Bytes()
		return append([]byte{byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
	}
	cd := kdf.PrekeyServer.Sum(0x14, 64, mpi(ad), mpi(bPub[0]), mpi(bPub[1]), m)
	pdk := kdf.PrekeyServer.Sum(0x17, 88, cd)
	vd := new(big.Int).Set(rd)
	for i := 0; i < 2; i++ {
		ti := new(big.Int).SetBytes(pdk[44*i : 44*i+44])
		vd.Add(vd, ti.Mul(ti, new(big.Int).SetBytes(bs[i])))
	}
	vd.Mod(vd, dhQ)
	pd := &DHProof{v: vd}
	copy(pd.c[:], cd)
	if !pd.verify(bPub, m) {
		t.Fatal("hand-made DH proof refused")
	}
}

// TestPublicationMACFormula pins the MAC formula, including the "only
// prekey messages" case, whose parenthesis the spec misplaces once
// (docs/spec-notes.md).
func TestPublicationMACFormula(t *testing.T) {
	d := newDevice(t)
	ms, _ := prekeyMessages(t, d.tag, 2)
	key := bytes.Repeat([]byte{7}, 64)
	p := &Publication{PrekeyMessages: ms}
	var all []byte
	for _, m := range ms {
		all = append(all, m.Marshal()...)
	}
	want := kdf.PrekeyServer.Sum(0x09, 64, key, []byte{0x08, 2},
		kdf.PrekeyServer.Sum(0x0E, 64, all), []byte{0, 0}, kdf.PrekeyServer.Sum(0x16, 64, nil))
	if got := p.computeMAC(key); !bytes.Equal(got[:], want) {
		t.Fatal("only-prekey-messages MAC differs from the formula")
	}
	q := &Publication{ClientProfile: d.profile}
	want = kdf.PrekeyServer.Sum(0x09, 64, key, []byte{0x08, 0},
		kdf.PrekeyServer.Sum(0x0E, 64, nil), []byte{1}, kdf.PrekeyServer.Sum(0x0F, 64, d.profile.Marshal()),
		[]byte{0}, kdf.PrekeyServer.Sum(0x16, 64, nil))
	if got := q.computeMAC(key); !bytes.Equal(got[:], want) {
		t.Fatal("client-profile-only MAC differs from the formula")
	}
}

// publishWith runs a publication DAKE with req, letting mutate change the
// DAKE-3 bytes, and returns the server's verdict.
func publishWith(t *testing.T, d *device, req Request, mutate func(pub *Publication, sess *ServerSession) []byte) error {
	t.Helper()
	s := newTestServer(t)
	_, sess, d3 := runDAKE(t, d, s, req)
	if mutate != nil {
		m, _ := ParseDAKE3(d3)
		pub, err := ParsePublication(m.Message)
		if err != nil {
			t.Fatal(err)
		}
		m.Message = mutate(pub, sess)
		d3 = m.Marshal()
	}
	_, err := sess.HandleDAKE3(d3)
	return err
}

func TestServerRefuses(t *testing.T) {
	d := newDevice(t)
	t.Run("tampered MAC", func(t *testing.T) {
		err := publishWith(t, d, d.publishRequest(t, 2), func(p *Publication, _ *ServerSession) []byte {
			p.MAC[10] ^= 1
			return p.Marshal()
		})
		if !errors.Is(err, ErrBadMAC) {
			t.Fatal(err)
		}
	})
	t.Run("tampered ECDH proof", func(t *testing.T) {
		err := publishWith(t, d, d.publishRequest(t, 2), func(p *Publication, sess *ServerSession) []byte {
			p.raw = pubRaw{}
			p.MessageECDHProof.c[0] ^= 1
			p.MAC = p.computeMAC(sess.key) // a valid MAC over the bad proof
			return p.Marshal()
		})
		if !errors.Is(err, ErrBadProof) {
			t.Fatal(err)
		}
	})
	t.Run("tampered DH proof", func(t *testing.T) {
		err := publishWith(t, d, d.publishRequest(t, 2), func(p *Publication, sess *ServerSession) []byte {
			p.raw = pubRaw{}
			p.MessageDHProof.v = new(big.Int).Add(p.MessageDHProof.v, big.NewInt(2))
			p.MAC = p.computeMAC(sess.key)
			return p.Marshal()
		})
		if !errors.Is(err, ErrBadProof) {
			t.Fatal(err)
		}
	})
	t.Run("tampered profile proof", func(t *testing.T) {
		err := publishWith(t, d, d.publishRequest(t, 0), func(p *Publication, sess *ServerSession) []byte {
			p.raw = pubRaw{}
			p.ProfileProof.v = curve.NewScalar().Add(p.ProfileProof.v, p.ProfileProof.v)
			p.MAC = p.computeMAC(sess.key)
			return p.Marshal()
		})
		if !errors.Is(err, ErrBadProof) {
			t.Fatal(err)
		}
	})
	t.Run("client profile of another key", func(t *testing.T) {
		other := newDevice(t)
		otherProfile, _ := otr4.NewClientProfile(other.id, d.tag, "4", testNow.Add(time.Hour))
		req := d.publishRequest(t, 1)
		req.ClientProfile = otherProfile
		if err := publishWith(t, d, req, nil); !errors.Is(err, ErrInvalidProfile) {
			t.Fatal(err)
		}
	})
	t.Run("prekey profile signed by another key", func(t *testing.T) {
		other := newDevice(t)
		pp, ps, _ := otr4.NewPrekeyProfile(rand.Reader, other.id, d.tag, testNow.Add(time.Hour))
		req := d.publishRequest(t, 1)
		req.PrekeyProfile, req.PrekeyProfileSecret = pp, ps
		if err := publishWith(t, d, req, nil); !errors.Is(err, ErrInvalidProfile) {
			t.Fatal(err)
		}
	})
	t.Run("prekey message with another instance tag", func(t *testing.T) {
		req := d.publishRequest(t, 2)
		ms, ss := prekeyMessages(t, d.tag+1, 1)
		err := publishWith(t, d, req, func(p *Publication, sess *ServerSession) []byte {
			// Rebuild the publication with the foreign message and valid
			// proofs, as a malicious client would.
			r := &PublishRequest{PrekeyMessages: append(req.PrekeyMessages[:1], ms[0]),
				PrekeySecrets: append(req.PrekeySecrets[:1], ss[0])}
			np, err := r.build(rand.Reader, sess.sk, sess.key)
			if err != nil {
				t.Fatal(err)
			}
			return np.Marshal()
		})
		if !errors.Is(err, ErrInvalidPrekeyMessage) {
			t.Fatal(err)
		}
	})
	t.Run("expired profile", func(t *testing.T) {
		req := d.publishRequest(t, 1)
		old, _ := otr4.NewClientProfile(d.id, d.tag, "4", testNow.Add(-time.Hour))
		req.ClientProfile = old
		if err := publishWith(t, d, req, nil); !errors.Is(err, ErrInvalidProfile) {
			t.Fatal(err)
		}
	})
}

func TestDAKE3Tampered(t *testing.T) {
	d, s := newDevice(t), newTestServer(t)
	_, sess, d3 := runDAKE(t, d, s, StorageRequest{})
	m, _ := ParseDAKE3(d3)
	m.Sigma[0] ^= 1 // still canonical: the low byte of c1
	if _, err := sess.HandleDAKE3(m.Marshal()); !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	// After the failed DAKE-3 the session is NOT_IN_DAKE: a replay is
	// unexpected, and the Failure it can send is MAC'd with the DAKE's key.
	if _, err := sess.HandleDAKE3(d3); !errors.Is(err, ErrUnexpected) {
		t.Fatal(err)
	}
	f, _ := ParseFailure(sess.Failure())
	want := f.computeMAC(sess.key)
	if !macEqual(&want, &f.MAC) || f.ReceiverTag != d.tag {
		t.Fatal("failure not MAC'd for the DAKE")
	}
}

func TestStorageInfoMAC(t *testing.T) {
	d, s := newDevice(t), newTestServer(t)
	_, sess, d3 := runDAKE(t, d, s, StorageRequest{})
	m, _ := ParseDAKE3(d3)
	m.Message[10] ^= 1
	if _, err := sess.HandleDAKE3(m.Marshal()); !errors.Is(err, ErrBadMAC) {
		t.Fatal(err)
	}
}

func TestClientChecks(t *testing.T) {
	d, s := newDevice(t), newTestServer(t)
	t.Run("reply MACs", func(t *testing.T) {
		c, sess, d3 := runDAKE(t, d, s, StorageRequest{})
		if _, err := sess.HandleDAKE3(d3); err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{sess.Success(), sess.Failure(), sess.StorageStatus(3)} {
			b[len(b)-1] ^= 1
			if _, _, err := c.Receive(b); !errors.Is(err, ErrBadMAC) || c.Done() {
				t.Fatalf("tampered reply: %v", err)
			}
		}
		// A forged status count breaks the MAC too.
		st, _ := ParseStorageStatus(sess.StorageStatus(3))
		st.Stored = 300
		if _, _, err := c.Receive(st.Marshal()); !errors.Is(err, ErrBadMAC) {
			t.Fatal(err)
		}
		if _, res, err := c.Receive(sess.StorageStatus(3)); err != nil || res.Stored != 3 {
			t.Fatal(res, err)
		}
	})
	t.Run("server fingerprint", func(t *testing.T) {
		cfg := d.clientConfig(s)
		cfg.ServerFingerprint[0] ^= 1
		c, d1, err := NewClientDAKE(cfg, StorageRequest{})
		if err != nil {
			t.Fatal(err)
		}
		d2, _ := NewServerSession(s.cfg, "alice@example.org").HandleDAKE1(d1)
		if _, _, err := c.Receive(d2); !errors.Is(err, ErrServerIdentity) || !c.Done() {
			t.Fatal(err)
		}
	})
	t.Run("DAKE-2 signature", func(t *testing.T) {
		c, d1, _ := NewClientDAKE(d.clientConfig(s), StorageRequest{})
		// phi differs: the server thinks the publisher is someone else.
		d2, _ := NewServerSession(s.cfg, "mallory@example.org").HandleDAKE1(d1)
		if _, _, err := c.Receive(d2); !errors.Is(err, ErrBadSignature) {
			t.Fatal(err)
		}
	})
	t.Run("DAKE-2 for another instance", func(t *testing.T) {
		c, d1, _ := NewClientDAKE(d.clientConfig(s), StorageRequest{})
		d2b, _ := NewServerSession(s.cfg, "alice@example.org").HandleDAKE1(d1)
		m, _ := ParseDAKE2(d2b)
		m.ReceiverTag++
		if _, _, err := c.Receive(m.Marshal()); !errors.Is(err, ErrInstanceTag) || c.Done() {
			t.Fatal(err)
		}
	})
	t.Run("unexpected", func(t *testing.T) {
		c, _, _ := NewClientDAKE(d.clientConfig(s), StorageRequest{})
		if _, _, err := c.Receive((&Success{ReceiverTag: d.tag}).Marshal()); !errors.Is(err, ErrUnexpected) {
			t.Fatal(err)
		}
		if _, res, err := c.Receive(UnauthenticatedFailure(d.tag)); !errors.Is(err, ErrUnauthenticatedFailure) || res.Kind != ResultFailure {
			t.Fatal(err)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		req := d.publishRequest(t, 2)
		req.PrekeySecrets = req.PrekeySecrets[:1]
		if _, _, err := NewClientDAKE(d.clientConfig(s), req); !errors.Is(err, ErrBadRequest) {
			t.Fatal(err)
		}
		req = d.publishRequest(t, 1)
		req.PrekeySecrets[0], _ = func() (*otr4.PrekeySecret, error) { _, s2 := prekeyMessages(t, d.tag, 1); return s2[0], nil }()
		if _, _, err := NewClientDAKE(d.clientConfig(s), req); !errors.Is(err, ErrBadRequest) {
			t.Fatal(err)
		}
		if _, _, err := NewClientDAKE(d.clientConfig(s), &PublishRequest{}); !errors.Is(err, ErrBadRequest) {
			t.Fatal(err)
		}
	})
}

func TestServerDAKE1Checks(t *testing.T) {
	d, s := newDevice(t), newTestServer(t)
	_, d1, _ := NewClientDAKE(d.clientConfig(s), StorageRequest{})
	m, _ := ParseDAKE1(d1)
	m.SenderTag++
	if _, err := NewServerSession(s.cfg, "alice@example.org").HandleDAKE1(m.Marshal()); !errors.Is(err, ErrInvalidProfile) {
		t.Fatal(err)
	}
	late := s.cfg
	late.Now = func() time.Time { return testNow.Add(30 * 24 * time.Hour) }
	if _, err := NewServerSession(late, "alice@example.org").HandleDAKE1(d1); !errors.Is(err, ErrInvalidProfile) {
		t.Fatal(err)
	}
}

// TestRingDomain pins that the DAKE's ring signatures use the prekey
// server's KDF and usage_auth, not OTRv4's.
func TestRingDomain(t *testing.T) {
	k1, _ := curve.GenerateKey(rand.Reader)
	k2, _ := curve.GenerateKey(rand.Reader)
	k3, _ := curve.GenerateKey(rand.Reader)
	m := []byte("t")
	otrv4, err := ring.OTRv4.Sign(rand.Reader, k1.Scalar(), k1.Public(), k2.Public(), k3.Public(), m)
	if err != nil {
		t.Fatal(err)
	}
	if ringVerify(k1.Public(), k2.Public(), k3.Public(), otrv4, m) {
		t.Fatal("an OTRv4-domain ring signature verified in the prekey DAKE")
	}
	ours, _ := ringSign(rand.Reader, k1.Scalar(), k1.Public(), k2.Public(), k3.Public(), m)
	if !ringVerify(k1.Public(), k2.Public(), k3.Public(), ours, m) {
		t.Fatal("own signature refused")
	}
}

// TestDAKETranscript pins t of DAKE-2 and DAKE-3 and the composite
// identity: rebuilt by hand from the spec's formulas (literal usage IDs,
// DATA(name) || SHORT(0x0010) || POINT(H_s), phi = DATA(publisher) ||
// DATA(server)), the real signatures verify.
func TestDAKETranscript(t *testing.T) {
	d, s := newDevice(t), newTestServer(t)
	_, sess, d3b := runDAKE(t, d, s, StorageRequest{})
	d1 := sess.dake1
	d3, _ := ParseDAKE3(d3b)
	name := []byte(s.cfg.Name)
	comp := append([]byte{0, 0, 0, byte(len(name))}, name...)
	comp = append(append(comp, 0x00, 0x10), s.key.PublicKey()...)
	pub, srv := []byte("alice@example.org"), name
	phi := append(append([]byte{0, 0, 0, byte(len(pub))}, pub...), append([]byte{0, 0, 0, byte(len(srv))}, srv...)...)
	prof := d.profile.Marshal()
	build := func(first, u1, u2, u3 byte) []byte {
		t := []byte{first}
		t = append(t, kdf.PrekeyServer.Sum(u1, 64, prof)...)
		t = append(t, kdf.PrekeyServer.Sum(u2, 64, comp)...)
		t = append(t, d1.I...)
		t = append(t, sess.sPub...)
		return append(t, kdf.PrekeyServer.Sum(u3, 64, phi)...)
	}
	ha, _ := curve.NewIdentityPoint().SetBytes(d.profile.PublicKey())
	hs, _ := curve.NewIdentityPoint().SetBytes(s.key.PublicKey())
	i, _ := curve.NewIdentityPoint().SetBytes(d1.I)
	sp, _ := curve.NewIdentityPoint().SetBytes(sess.sPub)
	sig3, _ := ring.Parse(d3.Sigma)
	if !ringVerify(ha, hs, sp, sig3, build(0x01, 0x05, 0x06, 0x07)) {
		t.Fatal("DAKE-3 sigma does not verify over the spec's t")
	}
	// DAKE-2: sign again as the server would and compare t by verifying a
	// signature made over our t with the server's key.
	sig2, err := ringSign(rand.Reader, s.key.key.Scalar(), ha, hs, i, build(0x00, 0x02, 0x03, 0x04))
	if err != nil {
		t.Fatal(err)
	}
	want := dakeT(false, prof, (&ServerConfig{Key: s.key, Name: s.cfg.Name}).Identity().Marshal(), d1.I, sess.sPub, Phi("alice@example.org", s.cfg.Name))
	if !ringVerify(ha, hs, i, sig2, want) {
		t.Fatal("DAKE-2 t differs from the spec's")
	}
}
