package otr4

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4/internal/query"
)

// Seeds for the decoders come from a real DAKE and offline exchange.
func seedMessages(f *testing.F) (identity, authR, authI, nonInt, data []byte, profile, prekeyProfile, prekeyMsg []byte) {
	clk := newClock()
	alice := newParty(f, "alice@example.org", "bob@example.org", 0x1001, clk, nil)
	bob := newParty(f, "bob@example.org", "alice@example.org", 0x2002, clk, nil)
	id, _ := bob.conv.StartInteractive()
	r, _ := alice.conv.Receive(id.ToSend[0])
	i, _ := bob.conv.Receive(r.ToSend[0])
	alice.conv.Receive(i.ToSend[0])
	d, _ := alice.conv.Send("seed")
	dec := func(s string) []byte { b, _ := query.DecodeEncoded(s); return b }
	pp, _, _ := NewPrekeyProfile(rand.Reader, bob.id, bob.tag, clk.now().Add(time.Hour))
	pm, _, _ := NewPrekeyMessage(rand.Reader, bob.tag)
	e := &PrekeyEnsemble{Client: bob.conv.profile, Prekey: pp, Message: pm}
	carol := newParty(f, "carol@example.org", "bob@example.org", 0x3003, clk, nil)
	ni, err := carol.conv.StartOffline(e, "")
	if err != nil {
		f.Fatal(err)
	}
	return dec(id.ToSend[0]), dec(r.ToSend[0]), dec(i.ToSend[0]), dec(ni.ToSend[0]), dec(d.ToSend[0]),
		bob.conv.profile.Marshal(), pp.Marshal(), pm.Marshal()
}

func FuzzParseClientProfile(f *testing.F) {
	_, _, _, _, _, p, _, _ := seedMessages(f)
	f.Add(p)
	f.Fuzz(func(t *testing.T, in []byte) {
		cp, rest, err := ParseClientProfile(in)
		if err != nil {
			return
		}
		if got := append(cp.Marshal(), rest...); !bytes.Equal(got, in) {
			t.Fatalf("re-encoding differs")
		}
		_ = cp.Validate(cp.InstanceTag, time.Unix(1_800_000_000, 0))
	})
}

func FuzzParsePrekeyProfile(f *testing.F) {
	_, _, _, _, _, _, p, _ := seedMessages(f)
	f.Add(p)
	f.Fuzz(func(t *testing.T, in []byte) {
		pp, rest, err := ParsePrekeyProfile(in)
		if err != nil {
			return
		}
		if got := append(pp.Marshal(), rest...); !bytes.Equal(got, in) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzParsePrekeyMessage(f *testing.F) {
	_, _, _, _, _, _, _, m := seedMessages(f)
	f.Add(m)
	f.Fuzz(func(t *testing.T, in []byte) {
		pm, rest, err := ParsePrekeyMessage(in)
		if err != nil {
			return
		}
		if got := append(pm.Marshal(), rest...); !bytes.Equal(got, in) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzParseDAKEMessages(f *testing.F) {
	id, r, i, ni, _, _, _, _ := seedMessages(f)
	for _, s := range [][]byte{id, r, i, ni} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if m, err := parseIdentity(in); err == nil && !bytes.Equal(m.marshal(), in) {
			t.Fatal("Identity re-encoding differs")
		}
		if m, err := parseAuthR(in); err == nil && !bytes.Equal(m.marshal(), in) {
			t.Fatal("Auth-R re-encoding differs")
		}
		if m, err := parseAuthI(in); err == nil && !bytes.Equal(m.marshal(), in) {
			t.Fatal("Auth-I re-encoding differs")
		}
		if m, err := parseNonInteractiveAuth(in); err == nil && !bytes.Equal(m.marshal(), in) {
			t.Fatal("Non-Interactive-Auth re-encoding differs")
		}
	})
}

// FuzzReceive feeds arbitrary wire strings to conversations in START, in
// ENCRYPTED_MESSAGES and in WAITING_AUTH_I with the interrupted session
// kept: no panic, and a rejected message leaves the conversation able to
// read the next genuine message of its session.
func FuzzReceive(f *testing.F) {
	id, r, i, ni, d, _, _, _ := seedMessages(f)
	for _, s := range [][]byte{id, r, i, ni, d} {
		f.Add(query.Encode(s))
	}
	f.Add("?OTRv4?")
	f.Add("?OTR Error: ERROR_1: x")
	f.Add("?OTR|00000001|00001001|00002002,00001,00002,?OTR:AAQD,")
	f.Add(query.AppendWhitespaceTag("hi", query.NewVersions(4)))
	clk := newClock()
	fresh := newParty(f, "carol@example.org", "alice@example.org", 0x3003, clk, nil)
	// bob is in ENCRYPTED_MESSAGES with alice; dave is in WAITING_AUTH_I
	// after a forged Identity message, with erin's session kept: erin's
	// messages must still be read. Each is set up again when an input
	// moved it to another state (a valid query or Identity message), and
	// every 2000 runs to bound what the sessions accumulate.
	var alice, bob, dave, erin *party
	runs := 0
	setup := func(tb testing.TB) {
		if runs%2000 == 0 || bob.conv.State() != StateEncrypted {
			alice, bob = encryptedPair(tb, clk)
		}
		if runs%2000 == 0 || dave.conv.State() != StateWaitingAuthI {
			erin, dave = encryptedPair(tb, clk)
			mallory := newParty(tb, "mallory@example.org", "alice@example.org", erin.tag, clk, nil)
			id, _ := mallory.conv.StartInteractive()
			if _, err := dave.conv.Receive(id.ToSend[0]); err != nil || dave.conv.State() != StateWaitingAuthI {
				tb.Fatal(err)
			}
		}
		runs++
	}
	setup(f)
	f.Fuzz(func(t *testing.T, msg string) {
		setup(t)
		fresh.conv.Receive(msg)
		dave.conv.Receive(msg)
		if dave.conv.State() == StateWaitingAuthI {
			out, err := erin.conv.Send("kept session")
			if err != nil {
				t.Fatal(err)
			}
			if got, err := dave.conv.Receive(out.ToSend[0]); err != nil || got.Text != "kept session" {
				t.Fatalf("kept session broken by %q: %v", msg, err)
			}
		}
		bob.conv.Receive(msg)
		if bob.conv.State() != StateEncrypted {
			return // a valid state change (e.g. a query) is fine
		}
		out, err := alice.conv.Send("still fine")
		if err != nil {
			t.Fatal(err)
		}
		got, err := bob.conv.Receive(out.ToSend[0])
		if err != nil || got.Text != "still fine" {
			t.Fatalf("conversation broken by %q: %v", msg, err)
		}
	})
}
