package prekeyclient

import (
	"context"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4"
)

// BenchmarkNewPrekeys100 measures making 100 prekey messages (ECDH and
// 3072-bit DH key pairs): the part of a publication before any proof.
func BenchmarkNewPrekeys100(b *testing.B) {
	d := newDevice(b, "bob@example.org/phone")
	c := newTestClient(b, d, newHonestServer(b, testServer), time.Second)
	for b.Loop() {
		if _, _, err := c.newPrekeys(100); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublish100 measures Publish(100) against the in-process server
// double: key generation, proofs, DAKEZ on both sides, the server's
// verification of MAC and proofs, fragmenting and reassembly.
func BenchmarkPublish100(b *testing.B) {
	d := newDevice(b, "bob@example.org/phone")
	srv := newHonestServer(b, testServer)
	c := newTestClient(b, d, srv, 10*time.Second)
	for b.Loop() {
		if _, err := c.Publish(context.Background(), 100, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRetrieve3 measures a retrieval of three ensembles with their
// client-side validation.
func BenchmarkRetrieve3(b *testing.B) {
	alice := newDevice(b, "alice@example.org/laptop")
	srv := newHonestServer(b, testServer)
	c := newTestClient(b, alice, srv, 10*time.Second)
	var bobs []*device
	for i := 0; i < 3; i++ {
		bobs = append(bobs, newDevice(b, "bob@example.org/d"))
	}
	refill := func() {
		for _, bob := range bobs {
			e := bob.ensemble(b)
			acct := srv.stored["bob@example.org"]
			if acct == nil {
				acct = map[otr4.InstanceTag]*fakeDevice{}
				srv.stored["bob@example.org"] = acct
			}
			acct[bob.tag] = &fakeDevice{cp: e.Client, pp: e.Prekey, msgs: []*otr4.PrekeyMessage{e.Message}}
		}
	}
	for b.Loop() {
		b.StopTimer()
		refill()
		b.StartTimer()
		es, err := c.Retrieve(context.Background(), bobs[0].account)
		if err != nil || len(es.ByTag) != 3 {
			b.Fatal(err)
		}
	}
}
