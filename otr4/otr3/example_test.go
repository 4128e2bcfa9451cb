package otr3_test

import (
	"crypto/rand"
	"fmt"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/otr3"
)

// Engine is the method set a session layer drives; both protocol engines
// have it.
type Engine interface {
	Receive(msg string) (*otr4.Message, error)
	Send(text string, tlvs ...otr4.TLV) (*otr4.Message, error)
	StartSMP(question string, secret []byte) (*otr4.Message, error)
	AnswerSMP(secret []byte) (*otr4.Message, error)
	AbortSMP() (*otr4.Message, error)
	End() (*otr4.Message, error)
	State() otr4.State
	TheirInstanceTag() otr4.InstanceTag
}

var (
	_ Engine = (*otr4.Conversation)(nil)
	_ Engine = (*otr3.Conversation)(nil)
)

// Two OTRv3 conversations talk to each other in memory.
func Example() {
	aliceKey, _ := otr3.GenerateKey(rand.Reader)
	bobKey, _ := otr3.GenerateKey(rand.Reader)
	alice, _ := otr3.NewConversation(otr3.Config{Key: aliceKey, InstanceTag: 0x100})
	bob, _ := otr3.NewConversation(otr3.Config{Key: bobKey, InstanceTag: 0x200})

	// deliver hands messages to the other side until both are quiet.
	deliver := func(from, to *otr3.Conversation, msgs []string) {
		for len(msgs) > 0 {
			var next []string
			for _, m := range msgs {
				out, err := to.Receive(m)
				if err != nil {
					fmt.Println("error:", err)
					return
				}
				if out.Text != "" {
					fmt.Printf("received %q (encrypted: %v)\n", out.Text, out.Encrypted)
				}
				next = append(next, out.ToSend...)
			}
			msgs, from, to = next, to, from
		}
	}

	// Alice asks for OTR; Bob's engine sees which version to use.
	q := alice.QueryMessage()
	fmt.Println(otr3.Policy{AllowV3: true, AllowV4: true}.Choose(q) == otr3.Version3)
	deliver(alice, bob, []string{q})
	fmt.Println(alice.State(), bob.State())

	out, _ := alice.Send("Hello Bob")
	deliver(alice, bob, out.ToSend)
	// Output:
	// true
	// ENCRYPTED_MESSAGES ENCRYPTED_MESSAGES
	// received "Hello Bob" (encrypted: true)
}
