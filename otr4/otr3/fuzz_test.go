package otr3

import (
	"errors"
	"testing"

	"github.com/otrchat/otrchat/otr4"
)

// FuzzReceive feeds arbitrary wire strings to conversations in
// MSGSTATE_PLAINTEXT and MSGSTATE_ENCRYPTED: no panics, and a rejected
// message leaves an encrypted conversation able to talk.
func FuzzReceive(f *testing.F) {
	sa, sb := newPair(f)
	out, _ := sa.StartAKE()
	f.Add(out.ToSend[0])
	exchange(f, sa, sb, out.ToSend)
	m, _ := sa.Send("hello")
	f.Add(m.ToSend[0])
	f.Add("?OTRv3?")
	f.Add("?OTR|00001000|00002000,00001,00002,?OTR:AAMD,")
	f.Add("?OTR Error: ERROR_1: x")
	// One encrypted pair serves many inputs (rejected input leaves it
	// unchanged, and the check below keeps it talking); it is made again
	// whenever an input ended it.
	var a, b *Conversation
	f.Fuzz(func(t *testing.T, msg string) {
		fresh, _ := newPair(t)
		fresh.Receive(msg)
		if b == nil || b.State() != otr4.StateEncrypted || a.State() != otr4.StateEncrypted {
			a, b = newPair(t)
			out, _ := a.StartAKE()
			exchange(t, a, b, out.ToSend)
		}
		_, err := b.Receive(msg)
		if err != nil && errors.Is(err, otr4.ErrFinished) {
			t.Fatal(err)
		}
		if b.State() == otr4.StateFinished {
			return // only a real TLV 1 from a does this
		}
		if b.State() != otr4.StateEncrypted {
			t.Fatalf("state %v after %q", b.State(), msg)
		}
		o, err := a.Send("still here")
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, w := range o.ToSend {
			r, err := b.Receive(w)
			if err != nil {
				t.Fatalf("after %q: %v", msg, err)
			}
			texts = append(texts, r.Text)
		}
		if len(texts) != 1 || texts[0] != "still here" {
			t.Fatalf("after %q: %q", msg, texts)
		}
	})
}

// FuzzImportLibotrKeys checks the key file reader: no panics, errors wrap
// ErrLibotrKeyFile, and every key it returns is consistent.
func FuzzImportLibotrKeys(f *testing.F) {
	f.Add([]byte(ExportLibotrKey("alice@example.org", "prpl-jabber", testKey(f, 0))))
	f.Add([]byte("(privkeys)"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ImportLibotrKeys(data)
		if err != nil {
			if !errors.Is(err, ErrLibotrKeyFile) {
				t.Fatal(err)
			}
			return
		}
		for _, k := range keys {
			back, err := ImportLibotrKeys([]byte(ExportLibotrKey(k.Account, k.Protocol, k.Key)))
			if err != nil || len(back) != 1 || back[0].Key.Fingerprint() != k.Key.Fingerprint() {
				t.Fatalf("re-import: %v", err)
			}
		}
	})
}
