// Package testbed runs throwaway XMPP servers (Prosody 0.12 and ejabberd
// 23.01 from Debian) on 127.0.0.1 for otrchat's integration tests and for
// `make demo`.
//
// Each server gets free loopback ports, its own directory (config, data,
// logs), a fresh CA and a certificate for its domain and components, the
// accounts and XEP-0114 components asked for, and the modules otrchat
// needs: roster, SASL, TLS, disco, PEP, MAM (archive everything), offline
// storage, carbons, ping and stream management. It is "ready" once a real
// login (STARTTLS verified against the test CA, SASL SCRAM, resource
// binding) succeeds; start-up is bounded (20 s by default) and a failure
// carries the end of the server's log. The machine's own configuration and
// services are never used or touched, and Launch fails if the server opens
// any listener outside 127.0.0.0/8.
//
// # In tests
//
//	srv := testbed.Start(t, testbed.Options{
//		Accounts:   testbed.Users("alice", "bob"),
//		Components: []testbed.Component{{Name: "prekeys.localhost"}},
//	})
//	alice, err := srv.Dial(ctx, "alice", "laptop") // *xmpp.Session, logged in
//	comp, err := srv.DialComponent(ctx, "prekeys.localhost")
//	cfg := srv.TLSConfig(srv.Domain) // or srv.RootCAs(), srv.C2SAddr, srv.Password("bob")
//	err = srv.Stop()                 // graceful: clients get a stream close
//	err = srv.Kill()                 // a crash: connections just drop
//	err = srv.Restart()              // same port, same data: reconnect tests
//
// Start stops the server with tb.Cleanup. It skips under go test -short;
// it skips when the server is not installed unless $CI is non-empty, in
// which case (as for any failure to start) the test fails.
//
// Options.Kind picks the server; empty means KindFromEnv, which reads
// $OTRCHAT_TEST_SERVER ("prosody", the default, or "ejabberd"). Tests that
// should cover both can range over Kinds().
//
// # Outside tests
//
// Launch(ctx, opts) returns a *Server the caller must Close; cmd/otrtestbed
// (behind `make demo`) uses it.
//
// # Environment
//
//   - OTRCHAT_TEST_SERVER: the default Kind.
//   - OTRCHAT_TESTBED_START_TIMEOUT: a Go duration overriding the 20 s
//     default start-up bound (for slow machines).
//   - OTRCHAT_TESTBED_KEEP: non-empty keeps each server's directory after
//     Close, for a post-mortem of its config and logs.
//   - CI: non-empty turns "server not installed" from a skip into a failure.
//
// # Requirements
//
// Prosody runs as any user (as root via run_as_root). ejabberd's
// ejabberdctl runs only as root or as the ejabberd user; as root the node
// is started as the ejabberd user, which then owns the server directory.
// Its Erlang distribution uses a fixed loopback port and no epmd.
//
// Servers a killed test binary left behind are reaped by the next Launch.
// A first start that crashes (the server exits, or ejabberd logs an Erlang
// FATAL report) is retried once from empty data.
package testbed
