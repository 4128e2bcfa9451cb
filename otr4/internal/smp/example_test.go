package smp_test

import (
	"crypto/rand"
	"fmt"

	"github.com/otrchat/otrchat/otr4/internal/smp"
)

// Example runs SMP between two conversations in one process. In otrchat the
// TLVs travel inside encrypted data messages.
func Example() {
	var fpAlice, fpBob [56]byte
	fpAlice[0], fpBob[0] = 'A', 'B'
	ssid := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	alice, bob := smp.New(rand.Reader), smp.New(rand.Reader)
	atAlice := smp.Binding{OurFingerprint: fpAlice, TheirFingerprint: fpBob, SSID: ssid}
	atBob := smp.Binding{OurFingerprint: fpBob, TheirFingerprint: fpAlice, SSID: ssid}

	toBob, _ := alice.Start(atAlice, "Where did we meet?", []byte("Lisbon"))
	out, _ := bob.Receive(toBob[0])
	fmt.Println("Bob is asked:", out.Question)

	toAlice, _ := bob.Respond(atBob, []byte("Lisbon"))
	out, _ = alice.Receive(toAlice[0])
	out, _ = bob.Receive(out.Reply[0])
	fmt.Println("Bob:", out.Result)
	out, _ = alice.Receive(out.Reply[0])
	fmt.Println("Alice:", out.Result)
	// Output:
	// Bob is asked: Where did we meet?
	// Bob: succeeded
	// Alice: succeeded
}
