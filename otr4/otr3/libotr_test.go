package otr3

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrchat/otrchat/otr4"
)

// The interoperability tests run a small libotr 4.1 client
// (testdata/libotrpeer.c), compiled here with "cc ... -lotr", and drive it
// line by line over its stdin and stdout. Without a C compiler or libotr
// (Debian: apt-get install gcc libotr5-dev) they skip, unless CI is set:
// then they fail.

var (
	peerOnce sync.Once
	peerBin  string
	peerErr  error
	peerDir  string
)

// TestMain removes the compiled peer after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if peerDir != "" {
		os.RemoveAll(peerDir)
	}
	os.Exit(code)
}

func buildPeer(t *testing.T) string {
	t.Helper()
	peerOnce.Do(func() {
		cc, err := exec.LookPath("cc")
		if err != nil {
			peerErr = fmt.Errorf("no C compiler: %v", err)
			return
		}
		peerDir, err = os.MkdirTemp("", "libotrpeer")
		if err != nil {
			peerErr = err
			return
		}
		peerBin = filepath.Join(peerDir, "libotrpeer")
		out, err := exec.Command(cc, "-O1", "-o", peerBin, "testdata/libotrpeer.c", "-lotr").CombinedOutput()
		if err != nil {
			peerErr = fmt.Errorf("cc libotrpeer.c -lotr: %v\n%s", err, out)
		}
	})
	if peerErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("libotr peer unavailable (CI is set): %v", peerErr)
		}
		t.Skipf("libotr peer unavailable: %v", peerErr)
	}
	return peerBin
}

// peer is a running libotrpeer.
type peer struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	FP     string // its fingerprint as libotr prints it
	Tag    otr4.InstanceTag
	events []string // every "event", "smp", "msgevent", "symkey", "tlv" line seen
}

// reply is what one command produced.
type reply struct {
	wires, texts, other []string
}

const peerTimeout = 20 * time.Second

func startPeer(t *testing.T, dir, name, keyfile string) *peer {
	t.Helper()
	bin := buildPeer(t)
	cmd := exec.Command(bin, keyfile, filepath.Join(dir, name+".instag"), "bob@localhost", "alice@localhost")
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
	p := &peer{t: t, name: name, cmd: cmd, stdin: stdin, lines: make(chan string, 1024)}
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
	first := p.next()
	f := strings.Fields(first)
	if len(f) != 7 || f[0] != "ready" {
		t.Fatalf("%s: first line %q", name, first)
	}
	p.FP = strings.Join(f[1:6], " ")
	var tag uint32
	fmt.Sscanf(f[6], "%x", &tag)
	p.Tag = otr4.InstanceTag(tag)
	return p
}

func (p *peer) next() string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("%s exited", p.name)
		}
		return l
	case <-time.After(peerTimeout):
		p.t.Fatalf("%s: no answer in %v", p.name, peerTimeout)
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

// do sends one command and collects its output up to "done".
func (p *peer) do(cmd, arg string) reply {
	p.t.Helper()
	if _, err := fmt.Fprintf(p.stdin, "%s %s\n", cmd, escape(arg)); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
	var r reply
	for {
		l := p.next()
		kind, rest, _ := strings.Cut(l, " ")
		switch kind {
		case "done":
			return r
		case "wire":
			r.wires = append(r.wires, unescape(rest))
		case "text":
			r.texts = append(r.texts, unescape(rest))
		default:
			r.other = append(r.other, l)
			p.events = append(p.events, l)
		}
	}
}

func (p *peer) saw(prefix string) bool {
	for _, e := range p.events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

// state returns libotr's msgstate (0 plaintext, 1 encrypted, 2 finished)
// for its best context and that context's instance tag.
func (p *peer) state() (int, otr4.InstanceTag, string) {
	p.t.Helper()
	if _, err := fmt.Fprintln(p.stdin, "state"); err != nil {
		p.t.Fatal(err)
	}
	var st int
	var tag uint32
	var fp string
	for {
		l := p.next()
		if l == "done" {
			return st, otr4.InstanceTag(tag), fp
		}
		if rest, ok := strings.CutPrefix(l, "state "); ok {
			f := strings.SplitN(rest, " ", 3)
			fmt.Sscanf(f[0], "%d", &st)
			fmt.Sscanf(f[1], "%x", &tag)
			fp = f[2]
		}
	}
}

// goSide is our engine with what it reported.
type goSide struct {
	t      *testing.T
	c      *Conversation
	texts  []string
	events []otr4.Event
}

func newGoSide(t *testing.T, cfg Config) *goSide {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = testKey(t, 0)
	}
	if cfg.InstanceTag == 0 {
		cfg.InstanceTag = 0x4141
	}
	c, err := NewConversation(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &goSide{t: t, c: c}
}

func (g *goSide) take(out *otr4.Message, err error) []string {
	g.t.Helper()
	if err != nil {
		g.t.Fatalf("go side: %v", err)
	}
	if out.Text != "" {
		g.texts = append(g.texts, out.Text)
	}
	g.events = append(g.events, out.Events...)
	return out.ToSend
}

func (g *goSide) saw(k otr4.EventKind) *otr4.Event {
	for i := range g.events {
		if g.events[i].Kind == k {
			return &g.events[i]
		}
	}
	return nil
}

// pump delivers toPeer to p and everything it answers to g, back and
// forth, until both are quiet.
func pump(g *goSide, p *peer, toPeer, toGo []string) {
	g.t.Helper()
	for rounds := 0; len(toPeer)+len(toGo) > 0; rounds++ {
		if rounds > 40 {
			g.t.Fatal("conversation with libotr does not settle")
		}
		var nextGo []string
		for _, m := range toPeer {
			r := p.do("recv", m)
			nextGo = append(nextGo, r.wires...)
		}
		var nextPeer []string
		for _, m := range append(toGo, nextGo...) {
			nextPeer = append(nextPeer, g.take(g.c.Receive(m))...)
		}
		toPeer, toGo = nextPeer, nil
	}
}

func encrypted(t *testing.T, g *goSide, p *peer) {
	t.Helper()
	st, tag, fp := p.state()
	if st != 1 || g.c.State() != otr4.StateEncrypted {
		t.Fatalf("libotr msgstate %d, ours %v (auth %v)", st, g.c.State(), g.c.AuthState())
	}
	if tag != g.c.cfg.InstanceTag || g.c.TheirInstanceTag() != p.Tag {
		t.Fatalf("instance tags: libotr talks to %v, we are %v; we talk to %v, libotr is %v", tag, g.c.cfg.InstanceTag, g.c.TheirInstanceTag(), p.Tag)
	}
	if fp != g.c.OurFingerprint().String() {
		t.Fatalf("libotr sees fingerprint %s, ours is %s", fp, g.c.OurFingerprint())
	}
	if theirs, _ := g.c.TheirFingerprint(); theirs.String() != p.FP {
		t.Fatalf("we see fingerprint %s, libotr's is %s", theirs, p.FP)
	}
}

// chat sends messages both ways and checks they arrive intact.
func chat(t *testing.T, g *goSide, p *peer, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		text := fmt.Sprintf("from go %d: héllo <b>%s</b>", i, strings.Repeat("x", i))
		wires := g.take(g.c.Send(text))
		var got []string
		for _, w := range wires {
			got = append(got, p.do("recv", w).texts...)
		}
		if len(got) != 1 || got[0] != text {
			t.Fatalf("libotr read %q, want %q", got, text)
		}
		text = fmt.Sprintf("from libotr %d: %s", i, strings.Repeat("y", i))
		r := p.do("send", text)
		g.texts = nil
		pump(g, p, nil, r.wires)
		if len(g.texts) != 1 || g.texts[0] != text {
			t.Fatalf("we read %q, want %q", g.texts, text)
		}
	}
}

func newPeerDir(t *testing.T) (dir, keyfile string) {
	dir = t.TempDir()
	return dir, filepath.Join(dir, "otr.private_key")
}

func TestLibotrAKEWeStart(t *testing.T) {
	dir, kf := newPeerDir(t)
	p := startPeer(t, dir, "bob", kf)
	g := newGoSide(t, Config{})
	pump(g, p, g.take(g.c.StartAKE()), nil)
	encrypted(t, g, p)
	if _, first, _ := g.c.SSID(); !first {
		t.Error("we sent the Reveal Signature message: the first half of the SSID is ours to show in bold")
	}
	chat(t, g, p, 4)
}

func TestLibotrAKELibotrStarts(t *testing.T) {
	dir, kf := newPeerDir(t)
	p := startPeer(t, dir, "bob", kf)
	g := newGoSide(t, Config{})
	// Our query message makes libotr send the D-H Commit.
	pump(g, p, []string{g.c.QueryMessage()}, nil)
	encrypted(t, g, p)
	if _, first, _ := g.c.SSID(); first {
		t.Error("libotr sent the Reveal Signature message: the second half of the SSID is ours")
	}
	chat(t, g, p, 4)
}

func TestLibotrQueryFromLibotr(t *testing.T) {
	dir, kf := newPeerDir(t)
	p := startPeer(t, dir, "bob", kf)
	g := newGoSide(t, Config{})
	q := p.do("query", "")
	if len(q.wires) != 1 || !strings.Contains(q.wires[0], "\n") {
		t.Fatalf("libotr's query %q", q.wires)
	}
	pump(g, p, nil, q.wires)
	encrypted(t, g, p)
	chat(t, g, p, 2)
}
