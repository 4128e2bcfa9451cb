// Command otrprekeyd runs otrchat's OTRv4 prekey server
// (otrv4-prekey-server.md) as an XEP-0114 component of an XMPP server.
//
// Usage:
//
//	otrprekeyd [-config file.toml] [-name prekeys.example.org] [-secret s |
//	    -secret-file f] [-server 127.0.0.1:5347] [-data dir] [-log-level info]
//
// Flags override the configuration file. See docs/prekey-server.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/otrchat/otrchat/otr4/prekey"
	"github.com/otrchat/otrchat/prekeyserver"
)

func main() {
	opts, err := parseArgs(os.Args[1:])
	if errors.Is(err, errHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "otrprekeyd:", err)
		os.Exit(2)
	}
	if err := run(opts); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "otrprekeyd:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: o.level}))
	srv, err := prekeyserver.New(prekeyserver.Config{Name: o.Name, DataDir: o.DataDir, Logger: log,
		Limits: o.Limits.limits(), Domains: o.Domains})
	if err != nil {
		return err
	}
	defer srv.Close()
	if o.printFingerprint {
		fmt.Println(prekey.FingerprintHex(srv.Fingerprint()))
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.RunReconnecting(ctx, o.Server, o.secret)
}
