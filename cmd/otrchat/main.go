// Command otrchat is a terminal XMPP chat client speaking OTRv4 across several devices per
// person. This file dispatches the subcommands for what users do without the chat interface:
// creating an account's keys, showing fingerprints, listing and forgetting devices, changing
// the key store passphrase and checking the configuration. Each subcommand only parses flags
// and calls into config, keystore and otr4.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `usage: otrchat [chat] [-line] [-account JID] [flags]
       otrchat <command> [flags]

Commands:
  chat [-line]                 the chat (the default): the full-screen interface, or with
                               -line commands on standard input and one event a line on
                               standard output (docs/line-mode.md). Without a configuration
                               it first asks for the account, password, passphrase and
                               device label, and writes them.
  keys create -account JID     create the keys of a new device of an account
  keys show [-account JID]     show the fingerprints of all own devices
  keys import-libotr -account JID -file FILE [-name NAME] [-replace]
                               import the account's OTRv3 key from a libotr key file
                               (Pidgin: ~/.purple/otr.private_key)
  devices list [-account JID]  list own devices and contacts' known devices
  devices forget -account JID -instance TAG [-contact JID] [-yes]
                               forget an own device (with -yes) or a contact's device
  passphrase change            re-seal the key store under a new passphrase
  config check                 read and validate the configuration

Flags common to every command:
  -config FILE   configuration file (default $XDG_CONFIG_HOME/otrchat/config.toml)
  -keystore FILE, -passphrase terminal|file|env, -passphrase-file FILE, ...
                 override the file; see "otrchat <command> -h"
`

// errUsage marks errors that should print the usage and exit 2.
var errUsage = errors.New("usage")

// env is everything a command needs from the process; tests substitute it.
type env struct {
	stdin  *os.File
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

func main() {
	os.Exit(run(os.Args[1:], env{os.Stdin, os.Stdout, os.Stderr, os.Getenv}))
}

func run(args []string, e env) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" || args[0] == "chat" {
		if !wantsLineMode(args) {
			if code, ok := supervise(args, e); ok {
				return code
			}
		}
		if len(args) > 0 && args[0] == "chat" {
			args = args[1:]
		}
		return report("chat", chat(args, e), e)
	}
	cmds := map[string]func([]string, env) error{
		"keys create":       keysCreate,
		"keys show":         keysShow,
		"devices list":      devicesList,
		"devices forget":    devicesForget,
		"passphrase change": passphraseChange,
		"config check":      configCheck,
	}
	cmds["keys import-libotr"] = keysImportLibotr // keys3.go
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, usage)
		return 0
	}
	if len(args) < 2 {
		fmt.Fprintf(e.stderr, "otrchat: %q needs a subcommand\n%s", args[0], usage)
		return 2
	}
	name := args[0] + " " + args[1]
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(e.stderr, "otrchat: unknown command %q\n%s", name, usage)
		return 2
	}
	return report(name, cmd(args[2:], e), e)
}

// wantsLineMode says whether the chat's arguments ask for the line mode or
// only for help.
func wantsLineMode(args []string) bool {
	for _, a := range args {
		switch a {
		case "-line", "--line", "-line=true", "--line=true", "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// report prints a command's error and returns the exit code.
func report(name string, err error, e env) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(e.stderr, "otrchat %s: %v\n", name, err)
		return 2
	}
	fmt.Fprintf(e.stderr, "otrchat %s: %v\n", name, err)
	return 1
}
