package otrvectors

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/big"
)

// The prekey server protocol (otrv4-prekey-server.md), from the spec and
// docs/spec-notes.md "Prekey server protocol" alone.

const prekeyDomain = "OTR-Prekey-Server"

// Usage IDs of otrv4-prekey-server.md, "Key Derivation Functions".
const (
	pSK             = 0x01
	pInitProfile    = 0x02
	pInitComposite  = 0x03
	pInitPhi        = 0x04
	pRecvProfile    = 0x05
	pRecvComposite  = 0x06
	pRecvPhi        = 0x07
	pPreMACKey      = 0x08
	pPreMAC         = 0x09
	pSuccessMAC     = 0x0C
	pPrekeyMessage  = 0x0E
	pClientProfile  = 0x0F
	pPrekeyProfile  = 0x10
	pAuth           = 0x11
	pProofContext   = 0x12
	pProofMsgECDH   = 0x13
	pProofMsgDH     = 0x14
	pProofShared    = 0x15
	pMACProofs      = 0x16
	pProofCLambda   = 0x17
	lambdaBytes     = 352 / 8
	typeDAKE1       = 0x35
	typeDAKE2       = 0x36
	typeDAKE3       = 0x37
	typePublication = 0x08
	typeSuccess     = 0x06
)

func pkdf(usage byte, size int, values ...[]byte) []byte {
	return kdfDomain(prekeyDomain, usage, size, values...)
}

// prekeyWire is a prekey server message as transmitted: base-64 and ".".
func prekeyWire(b []byte) string { return base64.StdEncoding.EncodeToString(b) + "." }

// cofactorECDH is the prekey server's ECDH: B is multiplied by the cofactor
// 4, then by the secret; an identity result is refused.
func cofactorECDH(secret *big.Int, pub []byte) ([]byte, error) {
	p, err := decodePoint(pub)
	if err != nil {
		return nil, err
	}
	r := curve.ScalarMult(scalar(new(big.Int).Mul(secret, big.NewInt(4))), p)
	if r.IsIdentity() {
		return nil, fmt.Errorf("ECDH result is the identity")
	}
	return encodePoint(r), nil
}

// checkPrekeyServerDAKE checks DAKE-1, DAKE-2 and DAKE-3 with the server,
// the shared secret and the MAC key, and the Success reply.
func checkPrekeyServerDAKE(v *vec) {
	t := v.t
	alice := v.checkIdentity("alice")
	name := v.text("server.name")
	srvSym := v.hex("server.sym")
	hs, err := publicKey(srvSym)
	v.ok(err, "server.H")
	v.expect("server.H", hs)
	// The server's fingerprint covers H only, with the OTRv4 KDF.
	v.expect("server.fingerprint", kdf(uFingerprint, 56, hs))
	composite := cat(data([]byte(name)), short(0x0010), hs)
	v.expect("server.composite_identity", composite)
	// phi for XMPP: the publisher's bare JID, then the server's.
	phi := cat(data([]byte(alice.jid)), data([]byte(name)))
	v.expect("phi", phi)

	i := randomScalar(v.hex("i.random"))
	iPub := encodePoint(gMul(i))
	v.expect("I", iPub)
	d1 := cat(short(protocolVersion4), []byte{typeDAKE1}, int32b(alice.tag), alice.profile, iPub)
	v.expect("dake1", d1)
	v.expectRaw("dake1.wire", prekeyWire(d1))

	s := randomScalar(v.hex("s.random"))
	sPub := encodePoint(gMul(s))
	v.expect("S", sPub)
	t2 := cat([]byte{0}, pkdf(pInitProfile, 64, alice.profile), pkdf(pInitComposite, 64, composite), iPub, sPub, pkdf(pInitPhi, 64, phi))
	v.expect("dake2.t", t2)
	sig2 := v.hex("dake2.sigma")
	// sigma = RSig(H_s, sk_hs, {H_a, H_s, I}, t).
	v.ok(ringVerify(prekeyDomain, pAuth, alice.h, hs, iPub, sig2, t2), "dake2.sigma")
	d2 := cat(short(protocolVersion4), []byte{typeDAKE2}, int32b(alice.tag), composite, sPub, sig2)
	v.expect("dake2", d2)
	v.expectRaw("dake2.wire", prekeyWire(d2))

	k1, err := cofactorECDH(i, sPub)
	v.ok(err, "SK")
	k2, err := cofactorECDH(s, iPub)
	v.ok(err, "SK")
	if !bytes.Equal(k1, k2) {
		t.Errorf("SK: the two sides disagree")
	}
	sk := pkdf(pSK, 64, k1)
	v.expect("SK", sk)
	macK := pkdf(pPreMACKey, 64, sk)
	v.expect("prekey_mac_k", macK)

	t3 := cat([]byte{1}, pkdf(pRecvProfile, 64, alice.profile), pkdf(pRecvComposite, 64, composite), iPub, sPub, pkdf(pRecvPhi, 64, phi))
	v.expect("dake3.t", t3)
	sig3 := v.hex("dake3.sigma")
	// sigma = RSig(H_a, sk_ha, {H_a, H_s, S}, t).
	v.ok(ringVerify(prekeyDomain, pAuth, alice.h, hs, sPub, sig3, t3), "dake3.sigma")
	inner := v.hex("dake3.message")
	// The publication itself, and its MAC with this DAKE's prekey_mac_k,
	// are checked with prekey-server-publication.txt.
	if len(inner) < 3 || inner[2] != typePublication {
		t.Errorf("dake3.message is not a Prekey Publication")
	}
	d3 := cat(short(protocolVersion4), []byte{typeDAKE3}, int32b(alice.tag), sig3, data(inner))
	v.expect("dake3", d3)
	v.expectRaw("dake3.wire", prekeyWire(d3))

	success := cat(short(protocolVersion4), []byte{typeSuccess}, int32b(alice.tag),
		pkdf(pSuccessMAC, 64, macK, []byte{typeSuccess}, int32b(alice.tag)))
	v.expect("success", success)
	v.expectRaw("success.wire", prekeyWire(success))

	// The publication file belongs to this DAKE.
	p := load(t, "prekey-server-publication.txt", nil)
	if !bytes.Equal(p.hex("SK"), sk) || !bytes.Equal(p.hex("publication"), inner) {
		t.Errorf("prekey-server-publication.txt is not this DAKE's publication")
	}
}

// lambdaPieces is KDF(usage_proof_c_lambda, c, N*lambda) cut into N pieces
// of lambda bits.
func lambdaPieces(c []byte, n int) [][]byte {
	p := pkdf(pProofCLambda, n*lambdaBytes, c)
	var out [][]byte
	for i := 0; i < n; i++ {
		out = append(out, p[i*lambdaBytes:(i+1)*lambdaBytes])
	}
	return out
}

// ecdhProof computes and verifies a PROOF-ECDH for secrets xs of the
// points pubs: A = G*r, c = KDF(usage, A || X_1 || ... || X_N || m, 64),
// t_i little-endian, v = r + sum(t_i * x_i) mod q; verification recomputes
// A = G*v - sum(X_i * t_i).
func ecdhProof(usage byte, r *big.Int, xs []*big.Int, pubs [][]byte, m []byte) ([]byte, error) {
	a := encodePoint(gMul(r))
	c := pkdf(usage, 64, cat(a, cat(pubs...), m))
	vv := new(big.Int).Set(r)
	ts := lambdaPieces(c, len(xs))
	for i, x := range xs {
		vv.Add(vv, new(big.Int).Mul(le(ts[i]), x))
	}
	vv.Mod(vv, q)
	// Verify as the server does.
	acc := gMul(vv)
	for i, pub := range pubs {
		p, err := decodePoint(pub)
		if err != nil {
			return nil, err
		}
		acc = pSub(acc, pMul(le(ts[i]), p))
	}
	if !bytes.Equal(pkdf(usage, 64, cat(encodePoint(acc), cat(pubs...), m)), c) {
		return nil, fmt.Errorf("ECDH proof does not verify")
	}
	return cat(c, sc(vv)), nil
}

// dhProof computes and verifies a PROOF-DH: A = g3^r, c =
// KDF(usage_proof_message_dh, MPI(A) || MPI(B_1) || ... || m, 64), t_i
// big-endian, v = r + sum(t_i * b_i) mod dh_q; verification recomputes
// A = g3^v * prod(B_i^-t_i).
func dhProof(rBytes []byte, bs [][]byte, pubs []*big.Int, m []byte) ([]byte, error) {
	r := new(big.Int).SetBytes(rBytes)
	a := modExp(big.NewInt(2), r)
	var enc []byte
	for _, b := range pubs {
		enc = append(enc, mpi(b)...)
	}
	c := pkdf(pProofMsgDH, 64, cat(mpi(a), enc, m))
	ts := lambdaPieces(c, len(bs))
	vv := new(big.Int).Set(r)
	for i, b := range bs {
		vv.Add(vv, new(big.Int).Mul(new(big.Int).SetBytes(ts[i]), new(big.Int).SetBytes(b)))
	}
	vv.Mod(vv, dhQ)
	acc := modExp(big.NewInt(2), vv)
	for i, b := range pubs {
		inv := modExp(b, new(big.Int).SetBytes(ts[i]))
		inv.ModInverse(inv, dhP)
		acc.Mul(acc, inv).Mod(acc, dhP)
	}
	if !bytes.Equal(pkdf(pProofMsgDH, 64, cat(mpi(acc), enc, m)), c) {
		return nil, fmt.Errorf("DH proof does not verify")
	}
	return cat(c, mpi(vv)), nil
}

// checkPrekeyServerPublication recomputes the three proofs and the MAC of
// a publication of two prekey messages, a Client Profile and a Prekey
// Profile.
func checkPrekeyServerPublication(v *vec) {
	alice := v.checkIdentity("alice")
	sk := v.hex("SK")
	macK := pkdf(pPreMACKey, 64, sk)
	v.expect("prekey_mac_k", macK)
	m := pkdf(pProofContext, 64, sk)
	v.expect("m", m)
	dSym, d, _, _, _, _ := v.checkPrekeys("prekey_profile", "prekey_message1", alice)
	n := int(v.num("N"))
	var msgs []byte
	var ys []*big.Int
	var yPubs, bSecrets [][]byte
	var bPubs []*big.Int
	for k := 1; k <= n; k++ {
		pre := fmt.Sprintf("prekey_message%d", k)
		var ySym, y, bSecret []byte
		var b *big.Int
		if k == 1 {
			// Checked with the prekey profile above.
			ySym, y, bSecret, b = v.hex(pre+".Y.sym"), v.hex(pre+".Y"), v.hex(pre+".B.secret"), v.big(pre+".B")
		} else {
			ySym, y = v.ecdhPair(pre + ".Y")
			bSecret, b = v.dhPair(pre + ".B")
			v.expect(pre, cat(short(protocolVersion4), []byte{prekeyMsgType}, int32b(v.tag(pre+".id")), int32b(alice.tag), y, mpi(b)))
		}
		msgs = append(msgs, v.hex(pre)...)
		ys, yPubs = append(ys, secretScalar(ySym)), append(yPubs, y)
		bSecrets, bPubs = append(bSecrets, bSecret), append(bPubs, b)
	}
	pe, err := ecdhProof(pProofMsgECDH, randomScalar(v.hex("proof.message_ecdh.r.random")), ys, yPubs, m)
	v.ok(err, "proof.message_ecdh")
	v.expect("proof.message_ecdh", pe)
	pd, err := dhProof(v.hex("proof.message_dh.r"), bSecrets, bPubs, m)
	v.ok(err, "proof.message_dh")
	v.expect("proof.message_dh", pd)
	pp, err := ecdhProof(pProofShared, randomScalar(v.hex("proof.prekey_profile.r.random")), []*big.Int{secretScalar(dSym)}, [][]byte{d}, m)
	v.ok(err, "proof.prekey_profile")
	v.expect("proof.prekey_profile", pp)
	proofs := cat(pe, pd, pp)
	prekeyProfile := v.hex("prekey_profile")
	mac := pkdf(pPreMAC, 64, macK, []byte{typePublication}, []byte{byte(n)},
		pkdf(pPrekeyMessage, 64, msgs), []byte{1}, pkdf(pClientProfile, 64, alice.profile),
		[]byte{1}, pkdf(pPrekeyProfile, 64, prekeyProfile), pkdf(pMACProofs, 64, proofs))
	v.expect("publication.mac", mac)
	pub := cat(short(protocolVersion4), []byte{typePublication}, []byte{byte(n)}, msgs,
		[]byte{1}, alice.profile, []byte{1}, prekeyProfile, proofs, mac)
	v.expect("publication", pub)
}
