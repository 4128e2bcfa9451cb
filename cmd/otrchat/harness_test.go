package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrchat/otrchat/internal/testbed"
	"github.com/otrchat/otrchat/prekeyserver"
)

// The end-to-end tests of the chat run the real otrchat binary against a
// test bed server with our prekey server, under tmux (the TUI) or with
// pipes (the line mode).

const prekeyServerName = "prekeys.localhost"

// waitLong bounds every wait for something to appear.
const waitLong = 30 * time.Second

// buildOtrchat builds the binary once per test binary run.
var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

func otrchatBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "otrchat-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "otrchat")
		out, err := exec.Command(goTool(), "build", "-o", buildPath, ".").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err, string(out)}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// chatWorld is a test bed with alice and bob, our prekey server as its
// component, and the CA file the clients trust.
type chatWorld struct {
	t   testing.TB
	bed *testbed.Server
	ca  string
	bin string
}

func newChatWorld(t testing.TB) *chatWorld {
	t.Helper()
	bed := testbed.Start(t, testbed.Options{Accounts: testbed.Users("alice", "bob"),
		Components: []testbed.Component{{Name: prekeyServerName}}})
	srv, err := prekeyserver.New(prekeyserver.Config{Name: prekeyServerName, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Run(ctx, bed.ComponentAddr, bed.Secret(prekeyServerName))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("prekey server did not stop")
		}
	})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, bed.CACertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return &chatWorld{t: t, bed: bed, ca: ca, bin: otrchatBinary(t)}
}

// setupAnswers are the lines first-run setup reads for user on this world.
func (w *chatWorld) setupAnswers(user, label string) []string {
	return []string{user + "@localhost", w.bed.C2SAddr, w.ca, w.bed.Password(user), "y", label}
}

// childEnv is a clean environment with its own HOME.
func childEnv(home string, extra ...string) []string {
	return append([]string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TERM=xterm-256color", "LC_ALL=C.UTF-8", "LANG=C.UTF-8"}, extra...)
}

// tmuxTerm is one program running in its own tmux server.
type tmuxTerm struct {
	t    testing.TB
	sock string
}

// startTmux runs argv in a new tmux session of w×h cells; when the program
// ends the pane says "EXITED <code>".
func startTmux(t testing.TB, w, h int, env []string, argv ...string) *tmuxTerm {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is not installed")
		}
		t.Skip("tmux is not installed")
	}
	dir, err := os.MkdirTemp("", "tmx")
	if err != nil {
		t.Fatal(err)
	}
	m := &tmuxTerm{t: t, sock: filepath.Join(dir, "s")}
	var q []string
	for _, a := range append(append([]string{"env", "-i"}, env...), argv...) {
		q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	script := strings.Join(q, " ") + `; echo "EXITED $?"; sleep 600`
	cmd := exec.Command("tmux", "-u", "-S", m.sock, "-f", "/dev/null", "new-session", "-d", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), "sh", "-c", script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-S", m.sock, "kill-server").Run()
		os.RemoveAll(dir)
	})
	return m
}

func (m *tmuxTerm) tmux(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", m.sock}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// typ types text literally, then presses Enter.
func (m *tmuxTerm) typ(text string) {
	m.t.Helper()
	m.tmux("send-keys", "-l", text)
	m.tmux("send-keys", "Enter")
}

// key presses keys by tmux name (Escape, M-1, C-c, ...).
func (m *tmuxTerm) key(keys ...string) {
	m.t.Helper()
	m.tmux(append([]string{"send-keys"}, keys...)...)
}

// programPIDs are the process ids of the program in the pane and of its
// descendants, outermost first (the pane's shell runs the program; otrchat
// runs its TUI in a child process).
func (m *tmuxTerm) programPIDs() []int {
	m.t.Helper()
	var pids []int
	cur := strings.TrimSpace(m.tmux("list-panes", "-F", "#{pane_pid}"))
	for {
		// A child is listed under the thread that started it.
		tasks, _ := filepath.Glob("/proc/" + cur + "/task/*/children")
		var f []string
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			if err == nil {
				f = append(f, strings.Fields(string(b))...)
			}
		}
		if len(f) == 0 {
			break
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			m.t.Fatal(err)
		}
		pids = append(pids, pid)
		cur = f[0]
	}
	if len(pids) == 0 {
		m.t.Fatal("the pane runs no program")
	}
	return pids
}

func (m *tmuxTerm) screen() string { return m.tmux("capture-pane", "-p") }

// waitFor waits until the screen shows every one of wants.
func (m *tmuxTerm) waitFor(wants ...string) string {
	m.t.Helper()
	return m.waitForWithin(waitLong, wants...)
}

func (m *tmuxTerm) waitForWithin(d time.Duration, wants ...string) string {
	m.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := m.screen()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return s
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("the screen does not show %q:\n%s", missing, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitRE waits until the screen matches re and returns the submatches.
func (m *tmuxTerm) waitRE(re *regexp.Regexp) []string {
	m.t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		s := m.screen()
		if sm := re.FindStringSubmatch(s); sm != nil {
			return sm
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("the screen does not match %v:\n%s", re, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lineProc is otrchat in line mode, fed through a pipe.
type lineProc struct {
	t     testing.TB
	cmd   *exec.Cmd
	in    io.WriteCloser
	mu    sync.Mutex
	lines []string
	next  int
	done  chan struct{} // closed when the process has exited; err is then set
	err   error
	errb  *strings.Builder
}

func startLineProc(t testing.TB, bin string, env []string, args ...string) *lineProc {
	t.Helper()
	p := &lineProc{t: t, cmd: exec.Command(bin, args...), done: make(chan struct{}), errb: &strings.Builder{}}
	p.cmd.Env = env
	var err error
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &lockedWriter{b: p.errb, mu: &p.mu}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.in.Close()
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Signal(os.Interrupt)
			p.mu.Lock()
			t.Errorf("otrchat %v did not stop after its input closed; its last lines:\n%s\nstderr:\n%s", args, strings.Join(p.lines[max(0, len(p.lines)-10):], "\n"), p.errb)
			p.mu.Unlock()
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				p.cmd.Process.Kill()
			}
		}
	})
	return p
}

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (p *lineProc) send(lines ...string) {
	p.t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(p.in, l+"\n"); err != nil {
			p.t.Fatal(err)
		}
	}
}

// mark returns the position of the next line, for rewind: lines whose
// order is not fixed are expected from the same mark.
func (p *lineProc) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

func (p *lineProc) rewind(m int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next = m
}

// wait waits for the process to exit and returns its error.
func (p *lineProc) wait() error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(waitLong):
		p.t.Fatal("otrchat did not exit")
		return nil
	}
}

// expect waits for a line (after the last one expected) matching re, and
// returns its submatches.
func (p *lineProc) expect(re string) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(waitLong)
	for {
		p.mu.Lock()
		for i := p.next; i < len(p.lines); i++ {
			if sm := rx.FindStringSubmatch(p.lines[i]); sm != nil {
				p.next = i + 1
				p.mu.Unlock()
				return sm
			}
		}
		all := strings.Join(p.lines[p.next:], "\n")
		stderr := p.errb.String()
		p.mu.Unlock()
		if time.Now().After(deadline) {
			p.t.Fatalf("no line matching %q after:\n%s\nstderr:\n%s", re, all, stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
