package session

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4"
)

func TestTLVRoundTrip(t *testing.T) {
	at := time.UnixMilli(time.Now().UnixMilli())
	cp := sentCopy{contact: jid.MustParse("bob@example.org"), sent: at}
	got, err := parseSentCopy(cp.tlv().Value)
	if err != nil || !got.contact.Equal(cp.contact) || !got.sent.Equal(at) {
		t.Errorf("sent copy: %+v, %v", got, err)
	}
	var fp otr4.Fingerprint
	fp[3] = 7
	ts := trustSync{contact: jid.MustParse("bob@example.org"), fingerprint: fp[:], level: Verified, method: 1, at: at}
	back, err := parseTrustSync(ts.tlv().Value)
	if err != nil || !back.contact.Equal(ts.contact) || !bytes.Equal(back.fingerprint, fp[:]) || back.level != Verified || !back.at.Equal(at) {
		t.Errorf("trust: %+v, %v", back, err)
	}
	bad := [][]byte{nil, {1}, {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'x'}, append(cp.tlv().Value, 0)}
	for _, b := range bad {
		if _, err := parseSentCopy(b); !errors.Is(err, errTLV) {
			t.Errorf("parseSentCopy(%x) = %v", b, err)
		}
	}
	v := ts.tlv().Value
	v[1] = 1 // Assumed cannot be sent
	if _, err := parseTrustSync(v); !errors.Is(err, errTLV) {
		t.Errorf("trust level 1 accepted: %v", err)
	}
	full := sentCopy{contact: jid.MustParse("bob@example.org/phone"), sent: at}.tlv().Value
	if _, err := parseSentCopy(full); err != nil {
		t.Errorf("a full JID is written as its bare form: %v", err)
	}
}

func FuzzSentCopy(f *testing.F) {
	f.Add(sentCopy{contact: jid.MustParse("bob@example.org"), sent: time.Unix(1, 0)}.tlv().Value)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 'a', '@', 'b'})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseSentCopy(b)
		if err != nil {
			return
		}
		again, err := parseSentCopy(c.tlv().Value)
		if err != nil || !again.contact.Equal(c.contact) || !again.sent.Equal(c.sent) {
			t.Fatalf("round trip of %x: %+v, %v", b, again, err)
		}
	})
}

func FuzzTrustSync(f *testing.F) {
	f.Add(trustSync{contact: jid.MustParse("bob@example.org"), fingerprint: make([]byte, 56), level: Verified, method: 2, at: time.Unix(1, 0)}.tlv().Value)
	f.Add(trustSync{contact: jid.MustParse("bob@example.org"), fingerprint: make([]byte, 20), level: Untrusted, method: 1, at: time.Unix(1, 0)}.tlv().Value)
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := parseTrustSync(b)
		if err != nil {
			return
		}
		again, err := parseTrustSync(ts.tlv().Value)
		if err != nil || !bytes.Equal(again.fingerprint, ts.fingerprint) || again.level != ts.level || !again.contact.Equal(ts.contact) {
			t.Fatalf("round trip of %x: %+v, %v", b, again, err)
		}
	})
}
