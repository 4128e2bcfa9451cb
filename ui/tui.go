package ui

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/session"
)

// Options configure the TUI and the line mode.
type Options struct {
	Backend Backend
	// Log is the message log (off until /log on); nil: none configured.
	Log *MessageLog
	// Screen is the terminal; nil opens the process's terminal. Tests pass
	// a tcell.SimulationScreen.
	Screen tcell.Screen
	// TimestampFormat is a Go time layout for message times; "" hides them.
	TimestampFormat string
	// Bell rings the terminal bell on warnings and on messages in other windows.
	Bell bool
	// HistoryLines is how many lines each window keeps (0: 1000).
	HistoryLines int
	// EndTimeout bounds ending the OTR conversations on exit (0: 5 s).
	EndTimeout time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Ready, when set, is called once the interface has subscribed to the
	// backend's events: the time to start the session.
	Ready func()
	// Drawn, when set, is called on the TUI's goroutine after each time the
	// screen is drawn (benchmarks measure start-up with it).
	Drawn func(tcell.Screen)
}

func (o *Options) defaults() {
	if o.HistoryLines <= 0 {
		o.HistoryLines = 1000
	}
	if o.EndTimeout <= 0 {
		o.EndTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// rosterWidth is the roster's width; it is hidden on narrow terminals.
const (
	rosterWidth   = 30
	narrowColumns = 60
	pasteNewline  = '␤' // a pasted line break, shown in the input line
)

// window is the console (zero contact) or one conversation.
type window struct {
	contact jid.JID
	entries []*entry
	unread  int
	alert   bool
	back    bool // scrolled back: new lines do not move the view
	offset  int  // the first line shown when back
}

type entry struct {
	text string   // tagged text
	sent *sentMsg // a message we sent, whose delivery marks change
}

type sentMsg struct {
	stamp  string   // tagged time
	body   string   // tagged text after the encryption mark, before the delivery marks
	how    SendMode // updated when a held message leaves encrypted
	status map[uint32]session.DeliveryStatus
	order  []uint32
}

func (s *sentMsg) prefix() string {
	tag := "[white:red:b]" + tview.Escape("[PLAINTEXT]") + "[-:-:-]"
	switch s.how {
	case SentEncrypted:
		tag = "[green]" + tview.Escape("[OTR]") + "[-]"
	case SentPending:
		tag = "[yellow]" + tview.Escape("[waiting for OTR]") + "[-]"
	}
	return s.stamp + tag + s.body
}

func (s *sentMsg) render() string {
	if len(s.order) == 0 {
		return s.prefix()
	}
	var sent, delivered, failed int
	for _, t := range s.order {
		switch s.status[t] {
		case session.Delivered:
			delivered++
			sent++
		case session.Sent:
			sent++
		case session.Failed:
			failed++
		}
	}
	n := len(s.order)
	var mark string
	switch {
	case failed > 0:
		mark = fmt.Sprintf(" [red::b](FAILED to %d of %d devices)[-::-]", failed, n)
	case delivered == n:
		mark = fmt.Sprintf(" [gray](delivered %d/%d)[-]", delivered, n)
	case sent > 0:
		mark = fmt.Sprintf(" [gray](sent %d/%d)[-]", sent, n)
	default:
		mark = " [gray](queued)[-]"
	}
	return s.prefix() + mark
}

func (e *entry) render() string {
	if e.sent != nil {
		return e.sent.render()
	}
	return e.text
}

// TUI is the full-screen chat.
type TUI struct {
	opts Options
	b    Backend
	core *Core

	app    *tview.Application
	layout *tview.Flex
	main   *tview.Flex
	roster *tview.TextView
	view   *tview.TextView
	status *tview.TextView
	alerts *tview.TextView
	input  *inputLine
	narrow bool
	scr    tcell.Screen

	// The fields below belong to the tview goroutine.
	windows  []*window
	cur      int
	history  []string
	histPos  int
	draft    string
	compl    []string
	complIdx int
	alertTxt []string
	online   bool
	addr     jid.JID
	sent     map[string]*sentMsg
	quitting bool

	cmds chan string // typed lines, run in order by one goroutine

	evMu  sync.Mutex
	evs   []session.Event
	evSig chan struct{}

	crashMu  sync.Mutex
	crash    error
	finished bool // app.Run has returned: Stop must not be called again
	done     chan struct{}
}

// inputLine is the input field; a paste keeps its line breaks (shown as ␤
// and sent as new lines).
type inputLine struct{ *tview.InputField }

func (i *inputLine) PasteHandler() func(string, func(tview.Primitive)) {
	inner := i.InputField.PasteHandler()
	return func(text string, setFocus func(tview.Primitive)) {
		text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
		text = strings.TrimRight(text, "\n")
		inner(strings.ReplaceAll(text, "\n", string(pasteNewline)), setFocus)
	}
}

// NewTUI builds the TUI; Run shows it.
func NewTUI(opts Options) *TUI {
	opts.defaults()
	t := &TUI{opts: opts, b: opts.Backend, sent: map[string]*sentMsg{}, cmds: make(chan string, 64),
		evSig: make(chan struct{}, 1), done: make(chan struct{})}
	t.core = NewCore(t.b, t, opts.Log)
	t.windows = []*window{{}}
	t.app = tview.NewApplication().EnablePaste(true)
	if opts.Screen != nil {
		t.app.SetScreen(opts.Screen)
	}
	t.roster = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	t.roster.SetBorder(true).SetTitle(" Contacts ")
	t.view = tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true).SetScrollable(true)
	t.view.SetBorder(true)
	t.view.SetMaxLines(opts.HistoryLines)
	t.status = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	t.status.SetBackgroundColor(tcell.ColorNavy)
	t.alerts = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	t.alerts.SetBackgroundColor(tcell.ColorMaroon)
	t.input = &inputLine{tview.NewInputField().SetLabel("> ")}
	t.input.SetFieldBackgroundColor(tcell.ColorDefault)
	t.input.SetDoneFunc(t.onDone)
	t.input.SetInputCapture(t.onInputKey)
	t.main = tview.NewFlex().AddItem(t.roster, rosterWidth, 0, false).AddItem(t.view, 0, 1, false)
	t.layout = tview.NewFlex().SetDirection(tview.FlexRow)
	t.relayout()
	t.app.SetRoot(t.layout, true).SetFocus(t.input)
	t.app.SetInputCapture(t.onKey)
	t.app.SetBeforeDrawFunc(t.beforeDraw)
	if opts.Drawn != nil {
		t.app.SetAfterDrawFunc(opts.Drawn)
	}
	return t
}

// relayout puts the alert bar in only while there are alerts.
func (t *TUI) relayout() {
	t.layout.Clear()
	t.layout.AddItem(t.main, 0, 1, false)
	if len(t.alertTxt) > 0 {
		t.layout.AddItem(t.alerts, min(len(t.alertTxt), 3), 0, false)
	}
	t.layout.AddItem(t.status, 1, 0, false).AddItem(t.input, 1, 0, true)
}

// RunTUI runs the full-screen chat until /quit or Ctrl-C, then ends every
// OTR conversation. A panic anywhere in the interface restores the terminal
// first and comes back as an error.
func RunTUI(ctx context.Context, opts Options) error {
	return NewTUI(opts).Run(ctx)
}

// Run shows the TUI until the user quits or ctx ends.
func (t *TUI) Run(ctx context.Context) (err error) {
	defer func() {
		// tview has restored the terminal (Fini) before passing the panic on.
		if r := recover(); r != nil {
			err = fmt.Errorf("ui: crashed: %v\n%s", r, debug.Stack())
		}
	}()
	t.b.Subscribe(t.enqueue)
	if t.opts.Ready != nil {
		t.opts.Ready()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go t.guard(func() { t.pump(ctx) })
	go t.guard(func() { t.runCommands(ctx) })
	go func() {
		select {
		case <-ctx.Done():
			t.stopApp()
		case <-t.done:
		}
	}()
	defer t.finish()
	t.start()
	runErr := t.app.Run()
	t.finish()
	cancel()
	t.crashMu.Lock()
	crash := t.crash
	t.crashMu.Unlock()
	t.endAll()
	if crash != nil {
		return crash
	}
	return runErr
}

// guard runs fn; a panic stops the application (which restores the
// terminal) and is reported by Run.
func (t *TUI) guard(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			t.crashMu.Lock()
			if t.crash == nil {
				t.crash = fmt.Errorf("ui: crashed: %v\n%s", r, debug.Stack())
			}
			t.crashMu.Unlock()
			t.stopApp()
		}
	}()
	fn()
}

// stopApp stops the application unless it has stopped already (after a
// panic tview has restored the terminal, and a second Stop would panic).
func (t *TUI) stopApp() {
	t.crashMu.Lock()
	defer t.crashMu.Unlock()
	if !t.finished {
		t.app.Stop()
	}
}

// finish records that app.Run has returned.
func (t *TUI) finish() {
	t.crashMu.Lock()
	defer t.crashMu.Unlock()
	if !t.finished {
		t.finished = true
		close(t.done)
	}
}

// endAll ends every OTR conversation that is not plaintext.
func (t *TUI) endAll() {
	ctx, cancel := context.WithTimeout(context.Background(), t.opts.EndTimeout)
	defer cancel()
	endConversations(ctx, t.b)
}

func endConversations(ctx context.Context, b Backend) {
	for _, c := range b.Contacts() {
		if c.State != session.Plaintext {
			_ = b.EndOTR(ctx, c.JID)
		}
	}
}

func (t *TUI) start() {
	self := t.b.Self()
	t.printTo(0, KindInfo, fmt.Sprintf("otrchat: %s, this device %s, fingerprint %s", t.b.Account(), deviceName(self.Device), self.Fingerprint))
	t.printTo(0, KindInfo, "/help lists the commands; /win CONTACT or Alt-2… opens a conversation.")
	t.refresh()
}

// enqueue is the backend's subscriber: it never blocks the session layer.
func (t *TUI) enqueue(ev session.Event) {
	t.evMu.Lock()
	t.evs = append(t.evs, ev)
	t.evMu.Unlock()
	select {
	case t.evSig <- struct{}{}:
	default:
	}
}

func (t *TUI) pump(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.evSig:
		}
		t.evMu.Lock()
		evs := t.evs
		t.evs = nil
		t.evMu.Unlock()
		if len(evs) == 0 {
			continue
		}
		t.do(func() {
			for _, ev := range evs {
				t.handle(ev)
			}
			t.refresh()
		})
	}
}

func (t *TUI) runCommands(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case line := <-t.cmds:
			cur, text, _ := strings.Cut(line, "\x00")
			var c jid.JID
			if cur != "" {
				c, _ = jid.Parse(cur)
			}
			name, err := t.core.Execute(ctx, c, text)
			if err != nil {
				t.Print(c, KindError, "/"+name+": "+err.Error())
				if name == "send" {
					t.Print(c, KindError, "not sent: "+text)
				}
			}
		}
	}
}

// window index of contact c, opening one if asked.
func (t *TUI) windowOf(c jid.JID, open bool) int {
	if c.Equal(jid.JID{}) {
		return 0
	}
	c = c.Bare()
	for i, w := range t.windows {
		if w.contact.Equal(c) {
			return i
		}
	}
	if !open {
		return -1
	}
	t.windows = append(t.windows, &window{contact: c})
	return len(t.windows) - 1
}

func (t *TUI) stamp(at time.Time) string {
	if t.opts.TimestampFormat == "" {
		return ""
	}
	if at.IsZero() {
		at = t.opts.Now()
	}
	return "[gray]" + at.Local().Format(t.opts.TimestampFormat) + "[-] "
}

// add appends an entry to window i and shows it.
func (t *TUI) add(i int, e *entry) {
	w := t.windows[i]
	w.entries = append(w.entries, e)
	if over := len(w.entries) - t.opts.HistoryLines; over > 0 {
		w.entries = w.entries[over:]
	}
	if i == t.cur {
		t.render()
	} else {
		w.unread++
	}
}

func styled(k Kind, text string) string {
	text = tview.Escape(text)
	switch k {
	case KindError:
		return "[red]" + text + "[-]"
	case KindWarning:
		return "[white:red:b] !! " + text + " [-:-:-]"
	case KindQR:
		return "[white:black]" + text + "[-:-]"
	}
	return "[teal]-- " + text + "[-]"
}

// printTo shows a line in window i.
func (t *TUI) printTo(i int, k Kind, text string) {
	for _, l := range strings.Split(text, "\n") {
		if k == KindQR {
			t.add(i, &entry{text: styled(k, l)})
			continue
		}
		t.add(i, &entry{text: t.stamp(time.Time{}) + styled(k, l)})
	}
	if k == KindWarning {
		t.windows[i].alert = i != t.cur
	}
}

func (t *TUI) render() {
	w := t.windows[t.cur]
	var b strings.Builder
	for i, e := range w.entries {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.render())
	}
	t.view.SetText(b.String())
	if w.back {
		t.view.ScrollTo(w.offset, 0)
	} else {
		t.view.ScrollToEnd()
	}
	title := " 1: console "
	if !w.contact.Equal(jid.JID{}) {
		title = fmt.Sprintf(" %d: %s ", t.cur+1, w.contact)
	}
	t.view.SetTitle(title)
}

// switchTo shows window i.
func (t *TUI) switchTo(i int) {
	if i < 0 || i >= len(t.windows) {
		return
	}
	t.cur = i
	t.windows[i].unread = 0
	t.windows[i].alert = false
	t.render()
	t.refresh()
}

// scroll moves the current window's view a page back (dir < 0) or
// forward; back at the end it follows new lines again.
func (t *TUI) scroll(dir int) {
	w := t.windows[t.cur]
	_, _, _, h := t.view.GetInnerRect()
	page := max(1, h-1)
	end := max(0, t.view.GetWrappedLineCount()-h)
	off := end
	if w.back {
		off = w.offset
	}
	off = min(max(0, off+dir*page), end)
	w.back, w.offset = off < end, off
	t.render()
}

func (t *TUI) current() jid.JID { return t.windows[t.cur].contact }

// handle shows one event; it runs on the tview goroutine.
func (t *TUI) handle(ev session.Event) {
	t.core.Observe(ev)
	switch e := ev.(type) {
	case *session.MessageEvent:
		i := t.windowOf(e.Contact, true)
		t.add(i, &entry{text: t.messageLine(e)})
		if i != t.cur && t.opts.Bell {
			t.bell()
		}
		return
	case *session.DeliveryEvent:
		s := t.sent[e.ID]
		if s != nil {
			if _, ok := s.status[e.Device.Tag]; !ok {
				s.order = append(s.order, e.Device.Tag)
			}
			s.status[e.Device.Tag] = e.Status
			if s.how == SentPending && (e.Status == session.Sent || e.Status == session.Delivered) && t.deviceEncrypted(e.Contact, e.Device.Tag) {
				s.how = SentEncrypted
			}
			if i := t.windowOf(e.Contact, false); i == t.cur {
				t.render()
			}
		}
		if e.Status == session.Failed {
			msg := "delivery to " + e.Contact.String() + " " + deviceName(e.Device) + " FAILED"
			if e.Err != nil {
				msg += ": " + e.Err.Error()
			}
			t.note(note{contact: e.Contact, kind: KindWarning, alert: true, text: msg})
		}
		return
	case *session.ConnectionEvent:
		t.online = e.Online
		if e.Online {
			t.addr = e.Addr
		}
	}
	for _, n := range describe(ev, t.b.Account()) {
		t.note(n)
	}
}

func (t *TUI) note(n note) {
	i := t.windowOf(n.contact, true)
	t.printTo(i, n.kind, n.text)
	if n.console && i != 0 {
		t.printTo(0, n.kind, n.text)
	}
	if n.alert {
		t.alertTxt = append(t.alertTxt, n.text)
		if len(t.alertTxt) > 3 {
			t.alertTxt = t.alertTxt[len(t.alertTxt)-3:]
		}
		t.relayout()
		if t.opts.Bell {
			t.bell()
		}
	}
}

func (t *TUI) bell() {
	if t.scr != nil {
		_ = t.scr.Beep()
	}
}

// beforeDraw records the screen (for the bell) and hides the roster on
// narrow terminals.
func (t *TUI) beforeDraw(s tcell.Screen) bool {
	t.scr = s
	w, _ := s.Size()
	if narrow := w < narrowColumns; narrow != t.narrow {
		t.narrow = narrow
		width := rosterWidth
		if narrow {
			width = 0
		}
		t.main.ResizeItem(t.roster, width, 0)
	}
	return false
}

// messageLine formats a message with its encryption, device and trust.
func (t *TUI) messageLine(e *session.MessageEvent) string {
	var tag string
	switch {
	case !e.Encrypted:
		tag = "[white:red:b]" + tview.Escape("[PLAINTEXT]") + "[-:-:-]"
	case e.Outgoing:
		tag = "[green]" + tview.Escape(fmt.Sprintf("[OTRv%d]", e.Version)) + "[-]"
	case e.Trust == session.Verified:
		tag = "[green]" + tview.Escape(fmt.Sprintf("[OTRv%d verified]", e.Version)) + "[-]"
	case e.Trust == session.Assumed:
		tag = "[yellow]" + tview.Escape(fmt.Sprintf("[OTRv%d unverified]", e.Version)) + "[-]"
	default:
		tag = "[white:red:b]" + tview.Escape(fmt.Sprintf("[OTRv%d UNTRUSTED]", e.Version)) + "[-:-:-]"
	}
	who := "[::b]" + tview.Escape(e.Contact.Localpart()) + "[::-] (" + tview.Escape(deviceName(e.From)) + ")"
	if e.Outgoing {
		who = "[::b]me[::-] (via " + tview.Escape(deviceName(e.From)) + ")"
	}
	delayed := ""
	if e.Delayed {
		delayed = "[gray](delayed)[-] "
	}
	return t.stamp(e.Time) + tag + " " + who + ": " + delayed + indent(tview.Escape(e.Text))
}

// deviceEncrypted says whether the conversation with one device of c is encrypted.
func (t *TUI) deviceEncrypted(c jid.JID, tag uint32) bool {
	ci, _ := t.b.Contact(c)
	for _, d := range ci.Devices {
		if d.Tag == tag {
			return d.State == session.Encrypted
		}
	}
	return false
}

// indent keeps a message's later lines apart from the next message.
func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

// refresh redraws the roster and the status bar.
func (t *TUI) refresh() {
	t.drawRoster()
	t.drawStatus()
	var b strings.Builder
	for i, a := range t.alertTxt {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("[white::b] !! " + tview.Escape(a) + "  (Esc: dismiss)[-::-]")
	}
	t.alerts.SetText(b.String())
}

func (t *TUI) drawRoster() {
	var b strings.Builder
	self := t.b.Self()
	fmt.Fprintf(&b, "[::b]%s[::-]\n  this: %s\n  %d other device(s)\n\n", tview.Escape(t.b.Account().Localpart()),
		tview.Escape(deviceName(self.Device)), len(t.b.OwnDevices()))
	cur := t.current()
	for _, c := range t.b.Contacts() {
		dot := "[gray]○[-]"
		if c.Online {
			dot = "[green]●[-]"
		}
		name := c.Name
		if name == "" {
			name = c.JID.String()
		}
		hl, end := "", ""
		if c.JID.Bare().Equal(cur) {
			hl, end = "[::r]", "[::-]"
		}
		fmt.Fprintf(&b, "%s %s%s%s\n", dot, hl, tview.Escape(name), end)
		var trust string
		switch {
		case c.State == session.Plaintext:
			trust = "[gray]plaintext[-]"
		case c.State == session.Starting:
			trust = "[yellow]starting OTR[-]"
		case c.State == session.Finished:
			trust = "[red]OTR finished[-]"
		case c.Trust == session.Verified:
			trust = "[green]OTR ✔ verified[-]"
		case c.Trust == session.Assumed:
			trust = "[yellow]OTR ? unverified[-]"
		default:
			trust = "[red::b]OTR ! UNTRUSTED[-::-]"
		}
		if c.Pending && c.State == session.Plaintext {
			trust = "[gray]pending[-]"
		}
		fmt.Fprintf(&b, "  %d dev, %s\n", len(c.Devices), trust)
	}
	t.roster.SetText(b.String())
}

func (t *TUI) drawStatus() {
	var b strings.Builder
	conn := "[red::b]offline[-::-]"
	if t.online {
		conn = "[green]online[-]"
	}
	fmt.Fprintf(&b, "[white][%s %s] ", tview.Escape(t.b.Account().String()), conn)
	c := t.current()
	if c.Equal(jid.JID{}) {
		b.WriteString("[1:console]")
	} else {
		fmt.Fprintf(&b, "[%d:%s]", t.cur+1, tview.Escape(c.String()))
	}
	var act []string
	for i, w := range t.windows {
		if i != t.cur && (w.unread > 0 || w.alert) {
			a := fmt.Sprint(i + 1)
			if w.alert {
				a = "[red::b]" + a + "![white::-]"
			}
			act = append(act, a)
		}
	}
	if len(act) > 0 {
		b.WriteString(" [Act: " + strings.Join(act, ",") + "]")
	}
	if c.Equal(jid.JID{}) {
		t.status.SetText(b.String())
		return
	}
	ci, _ := t.b.Contact(c)
	ver := 0
	for _, d := range ci.Devices {
		if d.State == ci.State && d.Version > ver {
			ver = d.Version
		}
	}
	var st string
	switch ci.State {
	case session.Encrypted:
		st = fmt.Sprintf("[green]OTRv%d %s[white]", ver, trustWord(ci.Trust))
		if ci.Trust == session.Untrusted {
			st = fmt.Sprintf("[red::b]OTRv%d UNTRUSTED[white::-]", ver)
		}
	case session.Plaintext:
		st = "[red::b]PLAINTEXT[white::-]"
	case session.Starting:
		st = "[yellow]OTR starting[white]"
	default:
		st = "[red::b]OTR FINISHED[white::-]"
	}
	b.WriteString(" " + st + " | to ")
	to, err := t.b.Recipients(c)
	switch {
	case err != nil:
		b.WriteString("?")
	case len(to) == 0:
		b.WriteString("bare JID")
	default:
		names := make([]string, len(to))
		for i, d := range to {
			names[i] = deviceName(d)
		}
		b.WriteString(tview.Escape(strings.Join(names, ", ")))
	}
	fmt.Fprintf(&b, " | policy %s | %s", t.b.Policy(c).Short(), t.b.EncryptionPolicy(c))
	t.status.SetText(b.String())
}

// onDone runs a typed line.
func (t *TUI) onDone(key tcell.Key) {
	if key != tcell.KeyEnter {
		return
	}
	text := strings.ReplaceAll(t.input.GetText(), string(pasteNewline), "\n")
	t.input.SetText("")
	t.compl = nil
	if strings.TrimSpace(text) == "" {
		return
	}
	if len(t.history) == 0 || t.history[len(t.history)-1] != text {
		t.history = append(t.history, text)
	}
	t.histPos = len(t.history)
	cur := ""
	if c := t.current(); !c.Equal(jid.JID{}) {
		cur = c.String()
	}
	select {
	case t.cmds <- cur + "\x00" + text:
	default:
		t.printTo(t.cur, KindError, "busy: the previous commands are still running")
	}
}

// onInputKey handles history and completion in the input line.
func (t *TUI) onInputKey(ev *tcell.EventKey) *tcell.EventKey {
	switch ev.Key() {
	case tcell.KeyUp:
		if t.histPos == len(t.history) {
			t.draft = t.input.GetText()
		}
		if t.histPos > 0 {
			t.histPos--
			t.input.SetText(t.history[t.histPos])
		}
		return nil
	case tcell.KeyDown:
		if t.histPos < len(t.history) {
			t.histPos++
			if t.histPos == len(t.history) {
				t.input.SetText(t.draft)
			} else {
				t.input.SetText(t.history[t.histPos])
			}
		}
		return nil
	case tcell.KeyTab:
		if t.compl == nil {
			t.compl = t.core.Complete(t.input.GetText())
			t.complIdx = 0
			if len(t.compl) == 0 {
				t.compl = nil
				return nil
			}
			if len(t.compl) > 1 {
				t.printTo(t.cur, KindInfo, "completions: "+strings.Join(lastWords(t.compl), " "))
			}
		} else {
			t.complIdx = (t.complIdx + 1) % len(t.compl)
		}
		t.input.SetText(t.compl[t.complIdx])
		return nil
	}
	t.compl = nil
	return ev
}

func lastWords(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		f := strings.Fields(l)
		out[i] = f[len(f)-1]
	}
	return out
}

// onKey handles the keys that work everywhere.
func (t *TUI) onKey(ev *tcell.EventKey) *tcell.EventKey {
	if ev.Modifiers()&tcell.ModAlt != 0 {
		if ev.Key() == tcell.KeyRune && ev.Rune() >= '1' && ev.Rune() <= '9' {
			t.switchTo(int(ev.Rune() - '1'))
			return nil
		}
		switch ev.Key() {
		case tcell.KeyLeft:
			t.cycle(-1)
			return nil
		case tcell.KeyRight:
			t.cycle(1)
			return nil
		}
	}
	switch ev.Key() {
	case tcell.KeyCtrlN:
		t.cycle(1)
		return nil
	case tcell.KeyCtrlP:
		t.cycle(-1)
		return nil
	case tcell.KeyPgUp:
		t.scroll(-1)
		return nil
	case tcell.KeyPgDn:
		t.scroll(1)
		return nil
	case tcell.KeyEscape:
		if len(t.alertTxt) > 0 {
			t.alertTxt = nil
			t.relayout()
			t.refresh()
		}
		return nil
	case tcell.KeyCtrlL:
		t.app.Sync()
		return nil
	case tcell.KeyCtrlC:
		t.stop()
		return nil
	}
	return ev
}

func (t *TUI) cycle(d int) {
	t.switchTo((t.cur + d + len(t.windows)) % len(t.windows))
}

// The Frontend methods are called from the command goroutine.

// Print implements Frontend.
func (t *TUI) Print(c jid.JID, k Kind, text string) {
	t.do(func() { t.printTo(t.windowOf(c, true), k, text) })
}

// Sent implements Frontend.
func (t *TUI) Sent(c jid.JID, id, text string, to []session.Device, how SendMode) {
	t.do(func() {
		// Each device with its trust: ✔ verified, ? not verified, ! untrusted.
		ci, _ := t.b.Contact(c)
		names := make([]string, len(to))
		for i, d := range to {
			names[i] = deviceName(d)
			for _, di := range ci.Devices {
				if di.Tag == d.Tag {
					names[i] += " " + trustGlyph(di.Trust)
				}
			}
		}
		dest := strings.Join(names, ", ")
		if dest == "" {
			dest = "bare JID"
		}
		s := &sentMsg{stamp: t.stamp(time.Time{}), body: " [::b]me[::-] → " + tview.Escape(dest) + ": " + indent(tview.Escape(text)),
			how: how, status: map[uint32]session.DeliveryStatus{}}
		if id != "" {
			t.sent[id] = s
		}
		t.add(t.windowOf(c, true), &entry{sent: s})
		t.refresh()
	})
}

// Focus implements Frontend.
func (t *TUI) Focus(c jid.JID) {
	t.do(func() { t.switchTo(t.windowOf(c, true)) })
}

// Window implements Frontend.
func (t *TUI) Window(n int) error {
	errc := make(chan error, 1)
	t.do(func() {
		if n < 1 || n > len(t.windows) {
			errc <- fmt.Errorf("no window %d (there are %d)", n, len(t.windows))
			return
		}
		t.switchTo(n - 1)
		errc <- nil
	})
	return t.wait(errc)
}

func (t *TUI) wait(errc chan error) error {
	select {
	case err := <-errc:
		return err
	case <-t.done:
		return errors.New("ui: stopped")
	}
}

// Windows implements Frontend.
func (t *TUI) Windows() []string {
	out := make(chan []string, 1)
	t.do(func() {
		var ws []string
		for _, w := range t.windows {
			if w.contact.Equal(jid.JID{}) {
				ws = append(ws, "console")
			} else {
				ws = append(ws, w.contact.String())
			}
		}
		out <- ws
	})
	select {
	case ws := <-out:
		return ws
	case <-t.done:
		return nil
	}
}

// CloseWindow implements Frontend.
func (t *TUI) CloseWindow(c jid.JID) {
	t.do(func() {
		i := t.windowOf(c, false)
		if i <= 0 {
			return
		}
		t.windows = append(t.windows[:i], t.windows[i+1:]...)
		if t.cur >= i {
			t.cur--
		}
		t.switchTo(t.cur)
	})
}

// Clear implements Frontend.
func (t *TUI) Clear(c jid.JID) {
	t.do(func() {
		if i := t.windowOf(c, false); i >= 0 {
			t.windows[i].entries = nil
			if i == t.cur {
				t.render()
			}
		}
	})
}

// Quit implements Frontend.
func (t *TUI) Quit() { t.do(t.stop) }

func (t *TUI) stop() {
	if t.quitting {
		return
	}
	t.quitting = true
	go t.stopApp()
}

// do runs f on the tview goroutine and redraws; it returns when f has run
// or the TUI has stopped.
func (t *TUI) do(f func()) {
	ran := make(chan struct{})
	go func() {
		t.app.QueueUpdateDraw(func() {
			f()
			t.refresh()
		})
		close(ran)
	}()
	select {
	case <-ran:
	case <-t.done:
	}
}
