package otr4

import (
	"crypto/rand"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/dh"
	"github.com/otrchat/otrchat/otr4/internal/ratchet"
)

// Every received DH value is checked for group membership once, when the
// message carrying it is parsed; dh.PrivateKey.SharedSecret relies on that
// and does not repeat the quadratic-residue test. These tests put values
// that are in range but outside the group (and values out of range) into
// each DH field of each message type and expect the parser to refuse them.

// badDHValues are values that must never reach SharedSecret: dh_p - 2 and
// the smallest non-residue above 2 are in [2, dh_p - 2] but outside the
// group (dh_p = 7 mod 8, so -2 is a non-residue), and 1 and dh_p - 1 are the
// elements of order 1 and 2.
func badDHValues() map[string]*big.Int {
	p := dh.P()
	small := big.NewInt(3)
	for big.Jacobi(small, p) != -1 {
		small.Add(small, big.NewInt(1))
	}
	return map[string]*big.Int{
		"p-2 (non-residue)": new(big.Int).Sub(p, big.NewInt(2)),
		"small non-residue": small,
		"1":                 big.NewInt(1),
		"p-1":               new(big.Int).Sub(p, big.NewInt(1)),
	}
}

func TestReceivedDHValuesChecked(t *testing.T) {
	clk := newClock()
	a, b := freshPair(t, clk)

	id, _ := b.conv.StartInteractive()
	idm, err := parseIdentity(decode(t, id.ToSend[0]))
	if err != nil {
		t.Fatal(err)
	}
	ar, err := a.conv.Receive(id.ToSend[0])
	if err != nil {
		t.Fatal(err)
	}
	arm, err := parseAuthR(decode(t, ar.ToSend[0]))
	if err != nil {
		t.Fatal(err)
	}

	// A Non-Interactive-Auth message and the Prekey Message it answers.
	ida, _ := GenerateIdentity(rand.Reader, false)
	idb, _ := GenerateIdentity(rand.Reader, false)
	pa, _ := NewClientProfile(ida, 0x1001, "4", clk.now().Add(time.Hour))
	pb, _ := NewClientProfile(idb, 0x2002, "4", clk.now().Add(time.Hour))
	pp, _, _ := NewPrekeyProfile(rand.Reader, idb, 0x2002, clk.now().Add(time.Hour))
	pm, _, _ := NewPrekeyMessage(rand.Reader, 0x2002)
	alice, _ := NewConversation(Config{Identity: ida, InstanceTag: 0x1001, ClientProfile: pa, Now: clk.now})
	out, err := alice.StartOffline(&PrekeyEnsemble{Client: pb, Prekey: pp, Message: pm}, "")
	if err != nil {
		t.Fatal(err)
	}
	nia, err := parseNonInteractiveAuth(decode(t, out.ToSend[0]))
	if err != nil {
		t.Fatal(err)
	}

	// A data message that carries a new DH key.
	x, y := encryptedPair(t, clk)
	var data *ratchet.DataMessage
	for i := 0; i < 6 && data == nil; i++ {
		m, err := x.conv.Send("ping")
		if err != nil {
			t.Fatal(err)
		}
		dm, err := parseDataForTest(decode(t, m.ToSend[0]))
		if err != nil {
			t.Fatal(err)
		}
		if dm.DH != nil {
			data = dm
		}
		recv(t, y, m.ToSend[0])
		x, y = y, x
	}
	if data == nil {
		t.Fatal("no data message carried a DH key")
	}

	type field struct {
		name  string
		set   func(*big.Int) // sets the field in the copy of its message
		parse func() error   // marshals the message and parses it
		want  error
	}
	idCopy, arCopy, niaCopy, pmCopy, dataCopy := *idm, *arm, *nia, *pm, *data
	fields := []field{
		{"Identity B", func(v *big.Int) { idCopy.b = v }, func() error { _, err := parseIdentity(idCopy.marshal()); return err }, ErrMalformedMessage},
		{"Identity first DH", func(v *big.Int) { idCopy.dhFirst = v }, func() error { _, err := parseIdentity(idCopy.marshal()); return err }, ErrMalformedMessage},
		{"Auth-R A", func(v *big.Int) { arCopy.a = v }, func() error { _, err := parseAuthR(arCopy.marshal()); return err }, ErrMalformedMessage},
		{"Auth-R first DH", func(v *big.Int) { arCopy.dhFirst = v }, func() error { _, err := parseAuthR(arCopy.marshal()); return err }, ErrMalformedMessage},
		{"Non-Interactive-Auth A", func(v *big.Int) { niaCopy.a = v }, func() error { _, err := parseNonInteractiveAuth(niaCopy.marshal()); return err }, ErrMalformedMessage},
		{"Non-Interactive-Auth first DH", func(v *big.Int) { niaCopy.dhFirst = v }, func() error { _, err := parseNonInteractiveAuth(niaCopy.marshal()); return err }, ErrMalformedMessage},
		{"Prekey Message B", func(v *big.Int) { pmCopy.b = v }, func() error { _, _, err := ParsePrekeyMessage(pmCopy.Marshal()); return err }, ErrPrekeyMalformed},
		{"Data message DH", func(v *big.Int) { dataCopy.DH = v }, func() error { _, err := parseDataForTest(dataCopy.Marshal()); return err }, ratchet.ErrMalformed},
	}
	reset := func() { idCopy, arCopy, niaCopy, pmCopy, dataCopy = *idm, *arm, *nia, *pm, *data }
	for _, f := range fields {
		reset()
		if err := f.parse(); err != nil {
			t.Fatalf("%s: the genuine message is refused: %v", f.name, err)
		}
		for name, v := range badDHValues() {
			reset()
			f.set(v)
			if err := f.parse(); !errors.Is(err, f.want) {
				t.Errorf("%s = %s: parse gives %v, want %v", f.name, name, err, f.want)
			}
		}
	}
}
