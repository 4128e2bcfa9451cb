package otr4_test

import (
	"fmt"

	"github.com/otrchat/otrchat/otr4"
)

// Two devices start a conversation interactively and exchange a message.
func Example() {
	newDevice := func(tag otr4.InstanceTag, us, them string) *otr4.Conversation {
		id, err := otr4.GenerateIdentity(nil, false)
		if err != nil {
			panic(err)
		}
		c, err := otr4.NewConversation(otr4.Config{Identity: id, InstanceTag: tag, OurAccount: us, TheirAccount: them})
		if err != nil {
			panic(err)
		}
		return c
	}
	alice := newDevice(0x1001, "alice@example.org", "bob@example.org")
	bob := newDevice(0x2002, "bob@example.org", "alice@example.org")

	// relay delivers messages to the other side until nothing is left.
	relay := func(from, to *otr4.Conversation, msgs []string) {
		for len(msgs) > 0 {
			var replies []string
			for _, m := range msgs {
				out, _ := to.Receive(m)
				if out.Text != "" {
					fmt.Println("received:", out.Text)
				}
				replies = append(replies, out.ToSend...)
			}
			msgs = replies
			from, to = to, from
		}
	}

	start, _ := bob.StartInteractive()
	relay(bob, alice, start.ToSend)
	fmt.Println(alice.State(), bob.State())

	msg, _ := alice.Send("hello, Bob")
	relay(alice, bob, msg.ToSend)
	// Output:
	// ENCRYPTED_MESSAGES ENCRYPTED_MESSAGES
	// received: hello, Bob
}

// Fingerprints are shown as 112 hex digits in groups of eight.
func ExampleFingerprint_String() {
	var fp otr4.Fingerprint
	for i := range fp {
		fp[i] = byte(i)
	}
	fmt.Println(fp)
	// Output: 00010203 04050607 08090a0b 0c0d0e0f 10111213 14151617 18191a1b 1c1d1e1f 20212223 24252627 28292a2b 2c2d2e2f 30313233 34353637
}
