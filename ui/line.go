package ui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/session"
)

// maxLineInput bounds one input line of the line mode.
const maxLineInput = 1 << 20

// Line is the line mode: commands on one stream, events as lines on
// another (docs/line-mode.md).
type Line struct {
	opts Options
	b    Backend
	core *Core

	mu   sync.Mutex // serializes writes to out
	out  io.Writer
	cur  jid.JID // the current conversation (the "window")
	quit bool
}

// RunLine runs the line mode on in and out until in ends, /quit, or ctx
// ends; then it ends every OTR conversation.
func RunLine(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	opts.defaults()
	l := &Line{opts: opts, b: opts.Backend, out: out}
	l.core = NewCore(l.b, l, opts.Log)
	return l.run(ctx, in)
}

func (l *Line) run(ctx context.Context, in io.Reader) error {
	self := l.b.Self()
	var f fields
	f.add("ready", "account", l.b.Account().String(), "device", tagString(self.Tag), "label", self.Label,
		"fingerprint", self.Fingerprint, "uri", l.b.FingerprintURI())
	l.write(f.String())
	l.b.Subscribe(func(ev session.Event) {
		l.core.Observe(ev)
		if s := lineEvent(ev); s != "" {
			l.write(s)
		}
	})
	if l.opts.Ready != nil {
		l.opts.Ready()
	}
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), maxLineInput)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-readErr:
			break loop
		case text := <-lines:
			l.exec(ctx, text)
			if l.quitting() {
				break loop
			}
		}
	}
	ectx, cancel := context.WithTimeout(context.Background(), l.opts.EndTimeout)
	defer cancel()
	endConversations(ectx, l.b)
	l.write("bye")
	if errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("ui: an input line is longer than %d bytes", maxLineInput)
	}
	return err
}

func (l *Line) quitting() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.quit
}

// exec runs one line and reports it with exactly one ok or error line.
func (l *Line) exec(ctx context.Context, text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	l.mu.Lock()
	cur := l.cur
	l.mu.Unlock()
	// In line mode a line break inside a message is written as \n.
	if !strings.HasPrefix(text, "/") {
		text = strings.ReplaceAll(text, `\n`, "\n")
	}
	name, err := l.core.Execute(ctx, cur, text)
	var f fields
	if err != nil {
		f.add("error", "command", name, "text", err.Error())
	} else {
		f.add("ok", "command", name)
	}
	l.write(f.String())
}

func (l *Line) write(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.out, s)
}

// Print implements Frontend.
func (l *Line) Print(c jid.JID, k Kind, text string) {
	word := map[Kind]string{KindInfo: "info", KindError: "error", KindWarning: "warning", KindQR: "qr"}[k]
	for _, t := range strings.Split(text, "\n") {
		var f fields
		if k == KindQR {
			// The code's lines are kept as they are, for a terminal to show.
			l.write("qr " + t)
			continue
		}
		f.add(word, "contact", jidOrDash(c), "text", t)
		l.write(f.String())
	}
}

// Sent implements Frontend.
func (l *Line) Sent(c jid.JID, id, text string, to []session.Device, how SendMode) {
	tags := make([]string, len(to))
	for i, d := range to {
		tags[i] = tagString(d.Tag)
	}
	var f fields
	f.add("sent", "contact", c.String(), "id", id, "encrypted", how.String(), "to", strings.Join(tags, ","), "text", text)
	l.write(f.String())
}

// Focus implements Frontend: it makes c the current conversation.
func (l *Line) Focus(c jid.JID) {
	l.mu.Lock()
	l.cur = c.Bare()
	l.mu.Unlock()
}

// Window implements Frontend.
func (l *Line) Window(n int) error {
	if n == 1 {
		l.Focus(jid.JID{})
		return nil
	}
	return errors.New("line mode has no numbered windows: /win CONTACT")
}

// Windows implements Frontend.
func (l *Line) Windows() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur.Equal(jid.JID{}) {
		return []string{"console"}
	}
	return []string{"console", l.cur.String()}
}

// CloseWindow implements Frontend.
func (l *Line) CloseWindow(jid.JID) { l.Focus(jid.JID{}) }

// Clear implements Frontend.
func (l *Line) Clear(jid.JID) {}

// Quit implements Frontend.
func (l *Line) Quit() {
	l.mu.Lock()
	l.quit = true
	l.mu.Unlock()
}
