package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// envSupervised marks the child process that runs the TUI.
const envSupervised = "OTRCHAT_SUPERVISED"

// resetTerminal leaves the alternate screen, shows the cursor, turns line
// wrapping back on, mouse reporting and bracketed paste off, and resets
// colours: what a TUI that died without cleaning up leaves behind.
const resetTerminal = "\x1b[0m\x1b[?7h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?25h\x1b[?1049l"

// supervise runs the chat's TUI in a child process of this program and
// restores the terminal however the child ends. The TUI restores the
// terminal itself on a clean exit and on a panic in its own goroutines; a
// panic in any other goroutine (or a fatal signal) ends the process at
// once, and only a parent can then put the terminal back. It returns
// false when there is nothing to supervise: not a terminal, or already the
// child.
func supervise(args []string, e env) (int, bool) {
	if e.getenv(envSupervised) != "" || e.stdin != os.Stdin {
		return 0, false
	}
	fd := int(e.stdin.Fd())
	if !term.IsTerminal(fd) {
		return 0, false
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, false
	}
	state, err := term.GetState(fd)
	if err != nil {
		return 0, false
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envSupervised+"=1")
	// Ctrl-C at a prompt reaches both processes; the child decides. Other
	// signals are passed on.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(e.stderr, "otrchat: %v\n", err)
		return 1, true
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			if s != os.Interrupt {
				_ = cmd.Process.Signal(s)
			}
			continue
		case err = <-done:
		}
		break
	}
	_ = term.Restore(fd, state)
	code := cmd.ProcessState.ExitCode()
	var ee *exec.ExitError
	// A Go program that panics exits with 2; one killed by a signal has no
	// exit code (-1).
	if errors.As(err, &ee) && (code == 2 || code < 0) {
		fmt.Fprint(os.Stdout, resetTerminal)
		fmt.Fprintf(e.stderr, "otrchat: the chat stopped abnormally (%v); the terminal has been restored\n", err)
		if code < 0 {
			code = 2
		}
	}
	return code, true
}
