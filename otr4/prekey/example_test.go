package prekey_test

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/otrchat/otrchat/otr4"
	"github.com/otrchat/otrchat/otr4/prekey"
)

// A device publishes its profiles and two prekey messages; the server side
// runs in the same process here.
func Example_publish() {
	now := time.Now()
	id, _ := otr4.GenerateIdentity(rand.Reader, false)
	tag, _ := otr4.NewInstanceTag(rand.Reader)
	profile, _ := otr4.NewClientProfile(id, tag, "4", now.Add(14*24*time.Hour))
	pp, ppSecret, _ := otr4.NewPrekeyProfile(rand.Reader, id, tag, now.Add(7*24*time.Hour))
	req := &prekey.PublishRequest{ClientProfile: profile, PrekeyProfile: pp, PrekeyProfileSecret: ppSecret}
	for i := 0; i < 2; i++ {
		m, s, _ := otr4.NewPrekeyMessage(rand.Reader, tag)
		req.PrekeyMessages = append(req.PrekeyMessages, m)
		req.PrekeySecrets = append(req.PrekeySecrets, s)
	}

	serverKey, _ := prekey.GenerateServerKey(rand.Reader)
	server := prekey.NewServerSession(prekey.ServerConfig{Key: serverKey, Name: "prekey.example.org"}, "alice@example.org")

	client, dake1, err := prekey.NewClientDAKE(prekey.ClientConfig{
		Identity: id, Profile: profile,
		Publisher: "alice@example.org", Server: "prekey.example.org",
		ServerFingerprint: serverKey.Fingerprint(),
	}, req)
	if err != nil {
		panic(err)
	}
	// The wire carries prekey.Encode(msg); the peer calls prekey.Decode.
	dake2, _ := server.HandleDAKE1(dake1)
	dake3, _, err := client.Receive(dake2)
	if err != nil {
		panic(err)
	}
	got, err := server.HandleDAKE3(dake3)
	if err != nil {
		panic(err)
	}
	fmt.Println("server verified", len(got.Publication.PrekeyMessages), "prekey messages")
	_, res, err := client.Receive(server.Success())
	fmt.Println(res.Kind, err)
	// Output:
	// server verified 2 prekey messages
	// success <nil>
}
