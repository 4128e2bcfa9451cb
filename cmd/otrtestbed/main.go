// Command otrtestbed runs a throwaway XMPP server on 127.0.0.1 with demo
// accounts until interrupted: the server half of `make demo`.
//
// Usage:
//
//	otrtestbed [-kind prosody|ejabberd] [-accounts alice,bob] [-port 0] [-dir .demo/server]
//
// It prints the accounts, their passwords and how to connect, writes the
// test CA to <dir>/ca.pem and the same facts as shell variables to
// <dir>/testbed.env (for the scripts that start the other demo parts),
// and stops the server on Ctrl-C or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/otrchat/otrchat/internal/testbed"
)

const usage = `usage: otrtestbed [flags]

Runs a throwaway XMPP server on 127.0.0.1 with demo accounts until Ctrl-C.

flags:
`

func main() {
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	kind := flag.String("kind", string(testbed.KindFromEnv()), "server: prosody or ejabberd")
	accounts := flag.String("accounts", "alice,bob", "comma-separated accounts, each name or name:password")
	components := flag.String("components", "", "comma-separated XEP-0114 components, each name or name:secret")
	domain := flag.String("domain", "localhost", "XMPP domain")
	port := flag.Int("port", 0, "client (c2s) port on 127.0.0.1; 0 picks a free one")
	dir := flag.String("dir", filepath.Join(".demo", "server"), "directory for config, data and logs (emptied first)")
	verbose := flag.Bool("v", false, "log the test bed's progress")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*kind, *accounts, *components, *domain, *port, *dir, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "otrtestbed:", err)
		os.Exit(1)
	}
}

func run(kind, accounts, components, domain string, port int, dir string, verbose bool) error {
	opts := testbed.Options{Kind: testbed.Kind(kind), Domain: domain, C2SPort: port, Dir: dir}
	for _, a := range splitList(accounts) {
		name, pass, _ := strings.Cut(a, ":")
		opts.Accounts = append(opts.Accounts, testbed.Account{Name: name, Password: pass})
	}
	for _, c := range splitList(components) {
		name, secret, _ := strings.Cut(c, ":")
		opts.Components = append(opts.Components, testbed.Component{Name: name, Secret: secret})
	}
	if verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	// The directory is the demo's own: start from nothing each time, so
	// that no stale data (an ejabberd node name, old passwords) survives.
	if err := os.RemoveAll(dir); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := testbed.Launch(ctx, opts)
	if err != nil {
		if errors.Is(err, testbed.ErrUnavailable) {
			return fmt.Errorf("%w\n(install it with: sudo apt-get install %s)", err, kind)
		}
		return err
	}
	defer srv.Close()

	if err := writeEnv(srv); err != nil {
		return err
	}
	printInstructions(srv)
	<-ctx.Done()
	fmt.Println("\nstopping", srv.Kind)
	return srv.Close()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// writeEnv records how to reach the server as shell variables.
func writeEnv(srv *testbed.Server) error {
	var b strings.Builder
	fmt.Fprintf(&b, "OTRCHAT_SERVER_KIND=%s\n", srv.Kind)
	fmt.Fprintf(&b, "OTRCHAT_DOMAIN=%s\n", srv.Domain)
	fmt.Fprintf(&b, "OTRCHAT_C2S_ADDR=%s\n", srv.C2SAddr)
	fmt.Fprintf(&b, "OTRCHAT_COMPONENT_ADDR=%s\n", srv.ComponentAddr)
	fmt.Fprintf(&b, "OTRCHAT_CA_FILE=%s\n", filepath.Join(srv.Dir(), "ca.pem"))
	for _, a := range srv.Accounts() {
		fmt.Fprintf(&b, "OTRCHAT_PASSWORD_%s=%s\n", envName(a.Name), a.Password)
	}
	return os.WriteFile(filepath.Join(srv.Dir(), "testbed.env"), []byte(b.String()), 0o600)
}

func envName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		if r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

func printInstructions(srv *testbed.Server) {
	fmt.Printf("%s is ready on %s (domain %s) after %v; loopback only.\n\n",
		srv.Kind, srv.C2SAddr, srv.Domain, srv.ReadyTime().Round(1e6))
	fmt.Println("Accounts:")
	for _, a := range srv.Accounts() {
		fmt.Printf("  %-28s password %s\n", srv.JID(a.Name, ""), a.Password)
	}
	if srv.ComponentAddr != "" {
		fmt.Printf("\nXEP-0114 components on %s.\n", srv.ComponentAddr)
	}
	ca := filepath.Join(srv.Dir(), "ca.pem")
	fmt.Printf(`
Connect any XMPP client to %s with STARTTLS (required) and one of the
accounts above; the server's certificate is signed by the throwaway CA in
  %s
(trust it, or allow this self-signed certificate in your client).
Server log: %s
Connection details for scripts: %s

Press Ctrl-C to stop the server.
`, srv.C2SAddr, ca, srv.LogPath(), filepath.Join(srv.Dir(), "testbed.env"))
}
