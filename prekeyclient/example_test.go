package prekeyclient_test

import (
	"context"
	"fmt"
	"log"

	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/prekeyclient"
)

func ExampleFormatFingerprint() {
	fp, err := prekeyclient.ParseFingerprint("3B72D580C05DE2823A14B02B682636BF58F291A7E831D237ECE8FC14DA50A187A50ACF665442AB2D140E140B813CFCCA993BC02AA4A3D35C")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(prekeyclient.FormatFingerprint(fp))
	// Output: 3B72D580 C05DE282 3A14B02B 682636BF 58F291A7 E831D237 ECE8FC14 DA50A187 A50ACF66 5442AB2D 140E140B 813CFCCA 993BC02A A4A3D35C
}

// Example shows the wiring on a logged-in mellium session: the client
// takes the prekey server's messages, the chat handler gets the others.
func Example() {
	var (
		sess   *xmpp.Session // logged in
		id     *otr4.Identity
		tag    otr4.InstanceTag
		device prekeyclient.Device   // the key store
		pins   prekeyclient.PinStore // the key store
		chat   mux.MessageHandler    // the application's chat handler
	)
	if sess == nil {
		return // this example only compiles
	}
	c, err := prekeyclient.New(prekeyclient.Config{
		Account: sess.LocalAddr(), Identity: id, InstanceTag: tag, Device: device, Pins: pins,
		Transport:  prekeyclient.SessionTransport(sess),
		Discoverer: prekeyclient.SessionDiscoverer(sess),
	})
	if err != nil {
		log.Fatal(err)
	}
	go sess.Serve(mux.New(stanza.NSClient, prekeyclient.Handle(c, chat)))

	ctx := context.Background()
	if _, err := c.Connect(ctx); err != nil {
		log.Fatal(err) // a *FingerprintChangedError is shown to the user
	}
	if _, err := c.Maintain(ctx); err != nil {
		log.Print(err)
	}
	ens, err := c.Retrieve(ctx, jid.MustParse("bob@example.org"))
	if err != nil {
		log.Fatal(err) // *NoEnsemblesError, ErrServerUnavailable, ...
	}
	for tag := range ens.ByTag {
		fmt.Println("bob's device", tag)
	}
}
