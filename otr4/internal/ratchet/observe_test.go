package ratchet

import (
	"bytes"
	"testing"
)

// TestSealObserver: the observer learns the chain key each message was
// sealed with and the ratchet's new key pairs, and observing changes
// nothing (the peer still reads every message).
func TestSealObserver(t *testing.T) {
	alice, bob := pair(t)
	var seen []SealObservation
	alice.SetObserver(func(o SealObservation) { seen = append(seen, o) })
	bob.SetObserver(func(o SealObservation) { seen = append(seen, o) })
	if err := bob.Prepare(); err != nil {
		t.Fatal(err)
	}
	next := bob.Observe()
	for i, step := range []struct {
		from, to *State
		ratchet  bool
	}{{alice, bob, false}, {alice, bob, false}, {bob, alice, true}, {bob, alice, false}, {alice, bob, true}} {
		before := step.from.Observe()
		out, err := step.from.Seal(0x100, 0x101, 0, []byte("observed"))
		if err != nil {
			t.Fatal(err)
		}
		o := seen[len(seen)-1]
		if len(seen) != i+1 || o.Ratchet != step.ratchet || o.Before.SendChain != before.SendChain {
			t.Fatalf("message %d: %d observations, ratchet %v", i, len(seen), o.Ratchet)
		}
		mkEnc, mkMAC, extra := messageKeys(o.ChainKey[:])
		if !bytes.Equal(Authenticate(mkMAC, out.Message), out.Message.MAC) || !bytes.Equal(extra, out.ExtraKey) ||
			string(XORKeyStream(mkEnc, out.Message.Ciphertext)) != "observed" {
			t.Fatalf("message %d: the observed chain key did not seal it", i)
		}
		if i == 2 && (!bytes.Equal(o.OurECDHSeed, next.NextECDHSeed) || !bytes.Equal(o.OurDHSecret, next.NextDHSecret)) {
			t.Fatal("ratchet 0 did not use the key pairs Prepare made")
		}
		if got, err := open(step.to, out.Message.Marshal()); err != nil || got != "observed" {
			t.Fatalf("message %d: %q %v", i, got, err)
		}
	}
	alice.SetObserver(nil)
	seal(t, alice, "not observed")
	if len(seen) != 5 {
		t.Fatal("SetObserver(nil) did not stop the reports")
	}
}
