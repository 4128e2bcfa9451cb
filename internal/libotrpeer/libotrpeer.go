// Package libotrpeer runs the libotr 4.1 peer of otr4/otr3's interoperability tests
// (otr4/otr3/testdata/libotrpeer.c) for tests of other packages: it compiles the program
// with "cc ... -lotr" into the test's temporary directory and drives it one command per line
// over stdin and stdout. Without a C compiler or libotr (Debian: gcc, libotr5-dev) the test
// is skipped, unless CI is set: then it fails. For tests only.
package libotrpeer

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Timeout bounds the wait for each answer of the peer.
const Timeout = 20 * time.Second

// source returns the path of libotrpeer.c in the module.
func source() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "otr4", "otr3", "testdata", "libotrpeer.c")
}

// Build compiles the peer into a temporary directory of t and returns the binary.
func Build(t testing.TB) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err == nil {
		bin := filepath.Join(t.TempDir(), "libotrpeer")
		out, cerr := exec.Command(cc, "-O1", "-o", bin, source(), "-lotr").CombinedOutput()
		if cerr == nil {
			return bin
		}
		err = fmt.Errorf("cc libotrpeer.c -lotr: %v\n%s", cerr, out)
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("libotr peer unavailable (CI is set): %v", err)
	}
	t.Skipf("libotr peer unavailable: %v", err)
	return ""
}

// Peer is a running libotr client for one account talking to one contact.
type Peer struct {
	t     testing.TB
	name  string
	stdin io.WriteCloser
	lines chan string
	// FP is its fingerprint as libotr prints it; Tag its instance tag.
	FP  string
	Tag uint32
}

// Reply is what one command produced: wire strings to send to the contact, texts shown to
// the user, and the other lines (events, SMP, message events).
type Reply struct {
	Wires, Texts, Other []string
}

// Start runs the peer for account (libotr's account name; its key is read from keyfile, or
// generated there if the file has none) talking to contact. It is stopped when t ends.
func Start(t testing.TB, bin, name, keyfile, account, contact string) *Peer {
	t.Helper()
	cmd := exec.Command(bin, keyfile, filepath.Join(filepath.Dir(keyfile), name+".instag"), account, contact)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Peer{t: t, name: name, stdin: stdin, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	f := strings.Fields(p.next())
	if len(f) != 7 || f[0] != "ready" {
		t.Fatalf("%s: first line %q", name, f)
	}
	p.FP = strings.Join(f[1:6], " ")
	fmt.Sscanf(f[6], "%x", &p.Tag)
	return p
}

func (p *Peer) next() string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("%s exited", p.name)
		}
		return l
	case <-time.After(Timeout):
		p.t.Fatalf("%s: no answer in %v", p.name, Timeout)
	}
	return ""
}

func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Do sends one command (recv MSG, send TEXT, query, policy N, smp SECRET, smpq
// QUESTION\tSECRET, smpanswer SECRET, smpabort, end; see libotrpeer.c) and collects its
// output up to "done".
func (p *Peer) Do(cmd, arg string) Reply {
	p.t.Helper()
	if _, err := fmt.Fprintf(p.stdin, "%s %s\n", cmd, escape(arg)); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
	var r Reply
	for {
		l := p.next()
		kind, rest, _ := strings.Cut(l, " ")
		switch kind {
		case "done":
			return r
		case "wire":
			r.Wires = append(r.Wires, unescape(rest))
		case "text":
			r.Texts = append(r.Texts, unescape(rest))
		default:
			r.Other = append(r.Other, l)
		}
	}
}

// State returns libotr's msgstate (0 plaintext, 1 encrypted, 2 finished) for its best
// context, that context's instance tag and the fingerprint it sees ("-" when none).
func (p *Peer) State() (st int, tag uint32, fp string) {
	p.t.Helper()
	if _, err := fmt.Fprintln(p.stdin, "state"); err != nil {
		p.t.Fatal(err)
	}
	for {
		l := p.next()
		if l == "done" {
			return st, tag, fp
		}
		if rest, ok := strings.CutPrefix(l, "state "); ok {
			f := strings.SplitN(rest, " ", 3)
			fmt.Sscanf(f[0], "%d", &st)
			fmt.Sscanf(f[1], "%x", &tag)
			if len(f) == 3 {
				fp = f[2]
			}
		}
	}
}
