package testbed_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/otrchat/otrchat/internal/testbed"
)

// Launch outside a test, as cmd/otrtestbed does. (In a test, use Start,
// which skips, fails and cleans up as a test should.)
func ExampleLaunch() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := testbed.Launch(ctx, testbed.Options{
		Kind:       testbed.Prosody,
		Accounts:   testbed.Users("alice", "bob"),
		Components: []testbed.Component{{Name: "prekeys.localhost"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	alice, err := srv.Dial(ctx, "alice", "laptop")
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	fmt.Println("logged in as", alice.LocalAddr(), "on", srv.C2SAddr)
}
