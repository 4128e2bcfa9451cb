package otr3

import (
	"strings"
	"testing"

	"github.com/otrchat/otrchat/otr4"
)

func TestAKEAndMessages(t *testing.T) {
	a, b := newPair(t)
	out, err := a.StartAKE()
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, a, b, out.ToSend)
	if a.State() != otr4.StateEncrypted || b.State() != otr4.StateEncrypted {
		t.Fatalf("states %v %v", a.State(), b.State())
	}
	if fp, _ := a.TheirFingerprint(); fp != b.OurFingerprint() {
		t.Fatal("fingerprint")
	}
	sa, fa, _ := a.SSID()
	sb, fb, _ := b.SSID()
	if sa != sb || fa == fb {
		t.Fatalf("ssid %x %v %x %v", sa, fa, sb, fb)
	}
	// Many messages both ways, rotating keys.
	for i := 0; i < 6; i++ {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		for j := 0; j < 3; j++ {
			text := strings.Repeat("x", i*10+j+1)
			out, err := from.Send(text)
			if err != nil {
				t.Fatal(err)
			}
			_, col := exchange(t, from, to, out.ToSend)
			if len(col.texts) != 1 || col.texts[0] != text {
				t.Fatalf("round %d: got %q", i, col.texts)
			}
		}
	}
	// SMP right and wrong.
	for _, tc := range []struct {
		answer string
		want   otr4.EventKind
	}{{"secret", otr4.EventSMPSucceeded}, {"wrong", otr4.EventSMPFailed}} {
		out, err := a.StartSMP("q?", []byte("secret"))
		if err != nil {
			t.Fatal(err)
		}
		_, colB := exchange(t, a, b, out.ToSend)
		if !colB.has(otr4.EventSMPSecretNeeded) {
			t.Fatalf("no secret request: %v", colB.events)
		}
		out, err = b.AnswerSMP([]byte(tc.answer))
		if err != nil {
			t.Fatal(err)
		}
		colB2, colA := exchange(t, b, a, out.ToSend)
		if !colA.has(tc.want) || !colB2.has(tc.want) {
			t.Fatalf("%s: a %v b %v", tc.answer, colA.events, colB2.events)
		}
	}
	out, err = b.End()
	if err != nil {
		t.Fatal(err)
	}
	_, col := exchange(t, b, a, out.ToSend)
	if !col.has(otr4.EventPeerEnded) || a.State() != otr4.StateFinished {
		t.Fatalf("end: %v %v", col.events, a.State())
	}
}
