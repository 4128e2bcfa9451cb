package prekeyserver

import (
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/otr4/prekey"
)

// FuzzHandle feeds arbitrary message bodies to the server, from one full
// JID, after a real DAKE-1: it never panics, answers at most one message
// per body (no fragmentation configured), and every answer decodes as a
// prekey server message.
func FuzzHandle(f *testing.F) {
	s := newServer(f, f.TempDir(), Limits{MaxBodyBytes: 4096})
	d := newDevice(f, "alice@localhost", "x")
	c, d1, err := prekey.NewClientDAKE(prekey.ClientConfig{Identity: d.id, Profile: d.profile,
		Publisher: d.bare, Server: serverName, ServerFingerprint: s.Fingerprint()}, prekey.StorageRequest{})
	if err != nil {
		f.Fatal(err)
	}
	_ = c
	f.Add(prekey.Encode(d1))
	f.Add(prekey.Encode((&prekey.EnsembleQuery{SenderTag: 0x100, Identity: "alice@localhost", Versions: "4"}).Marshal()))
	f.Add("?OTRP|1|100|0,1,2,AAQ1,")
	f.Add("?OTRP|1|100|0,2,2,AAQ1,")
	f.Add("hello")
	f.Add("AAQ3AAABAA==.")
	from := jid.MustParse("mallory@localhost/fuzz")
	f.Fuzz(func(t *testing.T, body string) {
		s.Handle(from, prekey.Encode(d1))
		replies := s.Handle(from, body)
		if len(replies) > 1 {
			t.Fatalf("%d answers to one body", len(replies))
		}
		for _, r := range replies {
			b, err := prekey.Decode(r)
			if err != nil {
				t.Fatalf("answer %q does not decode: %v", r, err)
			}
			if _, err := prekey.Parse(b); err != nil {
				t.Fatalf("answer does not parse: %v", err)
			}
		}
	})
}
