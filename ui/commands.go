package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/instancetag"
	"github.com/otrchat/otrchat/session"
)

// Kind is the kind of a line a command prints.
type Kind int

// Output kinds.
const (
	KindInfo    Kind = iota // an answer to a command
	KindError               // a command failed
	KindWarning             // something the user must see
	KindQR                  // one line of a QR code, printed as is
)

// Frontend is what commands need from the interface that runs them: the
// TUI or the line mode. Its methods are called from the goroutine that runs
// the commands and must be safe for that.
type Frontend interface {
	// Print shows one line in the window of contact c (zero: the console).
	Print(c jid.JID, k Kind, text string)
	// Sent shows a message we sent: its id, text, the devices it goes to
	// and how.
	Sent(c jid.JID, id, text string, to []session.Device, how SendMode)
	// Focus opens the conversation with c, or switches to it.
	Focus(c jid.JID)
	// Window switches to window n (1 is the console).
	Window(n int) error
	// Windows lists the open windows, numbered from 1.
	Windows() []string
	// CloseWindow closes the window of c.
	CloseWindow(c jid.JID)
	// Clear empties the window of c.
	Clear(c jid.JID)
	// Quit ends the program (the caller ends OTR conversations).
	Quit()
}

// SendMode says how a message we sent leaves.
type SendMode int

// Send modes.
const (
	SentPlaintext SendMode = iota // in the clear
	SentEncrypted                 // encrypted to every device it goes to
	SentPending                   // held until OTR is up (encryption policy "always")
)

// String is the line-mode token: no, yes, pending.
func (m SendMode) String() string {
	switch m {
	case SentEncrypted:
		return "yes"
	case SentPending:
		return "pending"
	}
	return "no"
}

// ErrUsage marks a command typed wrongly; its message says how to type it.
var ErrUsage = errors.New("usage")

// CommandTimeout bounds each network operation of a command.
const CommandTimeout = 30 * time.Second

// Core runs the command language shared by the TUI and the line mode, and
// keeps what both need to know about events (the SMP question to answer,
// pending subscription requests, the message log).
type Core struct {
	b   Backend
	f   Frontend
	log *MessageLog

	mu       sync.Mutex
	smpAsker map[string]uint32 // bare JID → tag of the device that asked last
	requests map[string]bool   // pending subscription requests
}

// NewCore returns a Core for backend b and frontend f; log may be nil.
func NewCore(b Backend, f Frontend, log *MessageLog) *Core {
	if log == nil {
		log = NewMessageLog("")
	}
	return &Core{b: b, f: f, log: log, smpAsker: map[string]uint32{}, requests: map[string]bool{}}
}

// Log is the message log.
func (c *Core) Log() *MessageLog { return c.log }

// Observe updates what the commands know from one event and writes
// messages to the message log. Frontends call it before showing the event.
func (c *Core) Observe(ev session.Event) {
	switch e := ev.(type) {
	case *session.MessageEvent:
		dir := "in"
		if e.Outgoing {
			dir = "out"
		}
		_ = c.log.Write(e.Time, e.Contact, dir, e.From, e.Encrypted, e.Trust, e.Text)
	case *session.SMPEvent:
		c.mu.Lock()
		if e.Kind == session.SMPAsked {
			c.smpAsker[e.Contact.Bare().String()] = e.Device.Tag
		} else if e.Kind != session.SMPInProgress {
			delete(c.smpAsker, e.Contact.Bare().String())
		}
		c.mu.Unlock()
	case *session.SubscriptionRequestEvent:
		c.mu.Lock()
		c.requests[e.From.Bare().String()] = true
		c.mu.Unlock()
	}
}

// command is one entry of the command table.
type command struct {
	name    string
	aliases []string
	usage   string
	help    string
	// complete lists, per argument position, what Tab offers.
	complete []argKind
	run      func(x *call) error
}

type argKind int

const (
	argNone argKind = iota
	argContact
	argPolicy
	argTrustMode
	argEncryption
	argWords // the command's own sub-words
	argCommand
	argShow
	argLogMode
)

// call is one command being run.
type call struct {
	ctx  context.Context
	c    *Core
	cur  jid.JID // the conversation of the window the command was typed in
	cmd  *command
	args []string
	raw  string // the text after the command name
	offs []int  // where each arg starts in raw
}

func (x *call) say(format string, a ...any) { x.c.f.Print(x.cur, KindInfo, fmt.Sprintf(format, a...)) }

// rest is the raw text from argument i on ("" when there is none).
func (x *call) rest(i int) string {
	if i >= len(x.offs) {
		return ""
	}
	return strings.TrimSpace(x.raw[x.offs[i]:])
}

func (x *call) usage() error { return fmt.Errorf("%w: %s", ErrUsage, x.cmd.usage) }

// contactArg resolves argument i as a contact when there is one that names
// a contact; otherwise it is the current conversation. It returns the JID
// and how many arguments it used.
func (x *call) contactArg(i int) (jid.JID, int, error) {
	if i < len(x.args) {
		if j, ok := x.c.lookup(x.args[i]); ok {
			return j, 1, nil
		}
	}
	if x.cur.Equal(jid.JID{}) {
		if i < len(x.args) {
			return jid.JID{}, 0, fmt.Errorf("unknown contact %q (name a contact, a JID such as bob@example.org, or switch to a conversation window)", x.args[i])
		}
		return jid.JID{}, 0, errors.New("which contact? name one, or switch to a conversation window")
	}
	return x.cur, 0, nil
}

// lookup finds a contact by JID, by roster name, or by the local part of
// its JID when only one contact has it (names and local parts ignore case).
func (c *Core) lookup(s string) (jid.JID, bool) {
	var byName []jid.JID
	for _, ci := range c.b.Contacts() {
		if strings.EqualFold(ci.JID.Bare().String(), s) {
			return ci.JID.Bare(), true
		}
		if ci.Name != "" && strings.EqualFold(ci.Name, s) || strings.EqualFold(ci.JID.Localpart(), s) {
			byName = append(byName, ci.JID.Bare())
		}
	}
	if len(byName) == 1 {
		return byName[0], true
	}
	return jid.JID{}, false
}

// parseContact reads a contact: a roster name or JID, or any bare JID.
func (c *Core) parseContact(s string) (jid.JID, error) {
	if j, ok := c.lookup(s); ok {
		return j, nil
	}
	j, err := jid.Parse(s)
	if err != nil || j.Localpart() == "" || j.Domainpart() == "" {
		return jid.JID{}, fmt.Errorf("%q is neither a contact nor a JID such as bob@example.org", s)
	}
	return j.Bare(), nil
}

// commands is the command table; /help prints it.
var commands []*command

func init() {
	commands = []*command{
		{name: "help", usage: "/help [COMMAND]", help: "list the commands, or explain one", complete: []argKind{argCommand}, run: cmdHelp},
		{name: "msg", usage: "/msg CONTACT TEXT", help: "send TEXT to CONTACT (opens its window)", complete: []argKind{argContact}, run: cmdMsg},
		{name: "win", aliases: []string{"query", "w"}, usage: "/win N|CONTACT|list", help: "switch to window N (1 is the console) or to the conversation with CONTACT; Alt-1..9, Alt-←/→, Ctrl-N/P do the same", complete: []argKind{argContact}, run: cmdWin},
		{name: "close", usage: "/close", help: "close the current conversation window", run: cmdClose},
		{name: "clear", usage: "/clear", help: "empty the current window", run: cmdClear},
		{name: "otr", usage: "/otr [start|end] [CONTACT]", help: "start or end the OTR conversation (with every device the policy picks); without arguments, show its state per device", complete: []argKind{argWords, argContact}, run: cmdOTR},
		{name: "policy", usage: "/policy [global|CONTACT] [best|recent|recent-received|recent-sent|multicast]", help: "show or set which devices get a message: the best one, the most recently active, the most recently heard from, the most recently written to, or all of them (multicast); for the current contact, another one, or the default (global)", complete: []argKind{argContact, argPolicy}, run: cmdPolicy},
		{name: "recipients", usage: "/recipients [CONTACT]", help: "show the devices the next message goes to", complete: []argKind{argContact}, run: cmdRecipients},
		{name: "devices", usage: "/devices [own|CONTACT]", help: "list a contact's devices (label, instance tag, presence, OTR state, trust, fingerprint) or our own", complete: []argKind{argContact}, run: cmdDevices},
		{name: "fingerprint", aliases: []string{"fp"}, usage: "/fingerprint [own|CONTACT]", help: "show fingerprints in groups of 8 hex digits: ours (with our xmpp: URI) or a contact's devices", complete: []argKind{argContact}, run: cmdFingerprint},
		{name: "qr", usage: "/qr", help: "draw our xmpp:…?otr-fingerprint= URI as a QR code, to scan with another device", run: cmdQR},
		{name: "trust", usage: "/trust [CONTACT] TAG|FINGERPRINT", help: "mark a device verified after comparing its fingerprint through another channel", complete: []argKind{argContact}, run: cmdTrust},
		{name: "distrust", usage: "/distrust [CONTACT] TAG|FINGERPRINT", help: "mark a device untrusted", complete: []argKind{argContact}, run: cmdDistrust},
		{name: "smp", usage: "/smp [#TAG] SECRET | /smp ask [#TAG] QUESTION? SECRET | /smp answer [#TAG] SECRET | /smp abort [#TAG]", help: "verify a device with the Socialist Millionaires' Protocol: both sides type the same secret; with ask, the peer sees QUESTION (quote it, or end it with ?)", complete: []argKind{argWords}, run: cmdSMP},
		{name: "trustmode", usage: "/trustmode [manual|tofu|blind-before-verification|blind]", help: "how new devices are trusted: only after verification, on first use, blindly until one device is verified, or always blindly", complete: []argKind{argTrustMode}, run: cmdTrustMode},
		{name: "encryption", aliases: []string{"encrypt"}, usage: "/encryption [global|CONTACT] [manual|opportunistic|always]", help: "when OTR starts: only by /otr start, whenever the peer supports it, or always (plaintext is never sent)", complete: []argKind{argContact, argEncryption}, run: cmdEncryption},
		{name: "log", usage: "/log [on|off|redacted] [FILE]", help: "write decrypted messages to a file: with their text (on), without it (redacted), or not at all (off)", complete: []argKind{argLogMode}, run: cmdLog},
		{name: "prekeys", usage: "/prekeys [refill]", help: "show how many of our prekeys the prekey server stores, or publish more", complete: []argKind{argWords}, run: cmdPrekeys},
		{name: "contacts", aliases: []string{"roster"}, usage: "/contacts", help: "list the contacts with presence, subscription, devices and trust", run: cmdContacts},
		{name: "add", usage: "/add JID [NAME]", help: "add a contact and ask to see its presence", run: cmdAdd},
		{name: "remove", usage: "/remove CONTACT", help: "remove a contact", complete: []argKind{argContact}, run: cmdRemove},
		{name: "approve", usage: "/approve JID", help: "let JID see our presence (answer a subscription request)", complete: []argKind{argContact}, run: cmdApprove},
		{name: "deny", usage: "/deny JID", help: "refuse a subscription request", complete: []argKind{argContact}, run: cmdDeny},
		{name: "subscriptions", usage: "/subscriptions", help: "list pending subscription requests", run: cmdSubscriptions},
		{name: "presence", aliases: []string{"status"}, usage: "/presence available|chat|away|xa|dnd [MESSAGE]", help: "set our presence and status message", complete: []argKind{argShow}, run: cmdPresence},
		{name: "quit", aliases: []string{"exit"}, usage: "/quit", help: "end every OTR conversation, sign out and leave", run: cmdQuit},
	}
}

var subWords = map[string][]string{
	"otr":     {"start", "end"},
	"smp":     {"ask", "answer", "abort"},
	"prekeys": {"refill"},
}

func findCommand(name string) *command {
	name = strings.ToLower(name)
	for _, c := range commands {
		if c.name == name || slices.Contains(c.aliases, name) {
			return c
		}
	}
	return nil
}

// tokenize splits a command line into words; "double" or 'single' quotes
// group words, and a backslash escapes the next character in double quotes.
// offs are the words' starting offsets in s.
func tokenize(s string) (words []string, offs []int, err error) {
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		var b strings.Builder
		for i < len(s) && s[i] != ' ' && s[i] != '\t' {
			switch q := s[i]; q {
			case '"', '\'':
				i++
				closed := false
				for i < len(s) {
					if s[i] == q {
						closed = true
						i++
						break
					}
					if q == '"' && s[i] == '\\' && i+1 < len(s) {
						i++
					}
					b.WriteByte(s[i])
					i++
				}
				if !closed {
					return nil, nil, fmt.Errorf("%w: unclosed quote", ErrUsage)
				}
			default:
				b.WriteByte(s[i])
				i++
			}
		}
		words = append(words, b.String())
		offs = append(offs, start)
	}
	return words, offs, nil
}

// Execute runs one input line typed in the window of cur (zero: the
// console): a /command, "//text" to send text starting with "/", or text to
// send to cur. It returns the command's name ("send" for text) and its
// error; the frontend shows the error.
func (c *Core) Execute(ctx context.Context, cur jid.JID, line string) (string, error) {
	line = strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(line) == "" {
		return "", nil
	}
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		if strings.HasPrefix(line, "//") {
			line = line[1:]
		}
		if cur.Equal(jid.JID{}) {
			return "send", errors.New("this is the console: open a conversation with /win CONTACT, or use /msg CONTACT TEXT")
		}
		return "send", c.send(ctx, cur, line)
	}
	name, raw, _ := strings.Cut(line[1:], " ")
	cmd := findCommand(name)
	if cmd == nil {
		return name, fmt.Errorf("unknown command /%s; /help lists them", name)
	}
	args, offs, err := tokenize(raw)
	if err != nil {
		return cmd.name, err
	}
	x := &call{ctx: ctx, c: c, cur: cur, cmd: cmd, args: args, raw: raw, offs: offs}
	return cmd.name, cmd.run(x)
}

func (c *Core) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, CommandTimeout)
}

// send sends text to contact and shows it with the devices it goes to.
func (c *Core) send(ctx context.Context, contact jid.JID, text string) error {
	to, rerr := c.b.Recipients(contact)
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	id, err := c.b.Send(ctx, contact, text)
	if err != nil {
		return err
	}
	if rerr != nil {
		to = nil
	}
	enc := c.encryptedTo(contact, to)
	how := SentPlaintext
	switch {
	case enc:
		how = SentEncrypted
	case c.b.EncryptionPolicy(contact) == session.EncryptAlways:
		how = SentPending
	}
	c.f.Sent(contact, id, text, to, how)
	dev := session.Device{Account: c.b.Account().Bare(), Tag: c.b.Self().Tag, Label: c.b.Self().Label}
	_ = c.log.Write(time.Now(), contact, "out", dev, enc, session.Verified, text)
	return nil
}

// encryptedTo says whether every device in to has an encrypted conversation.
func (c *Core) encryptedTo(contact jid.JID, to []session.Device) bool {
	ci, ok := c.b.Contact(contact)
	if !ok || len(to) == 0 {
		return false
	}
	for _, d := range to {
		found := false
		for _, di := range ci.Devices {
			if di.Tag == d.Tag {
				found = di.State == session.Encrypted
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func cmdHelp(x *call) error {
	if len(x.args) > 0 {
		cmd := findCommand(strings.TrimPrefix(x.args[0], "/"))
		if cmd == nil {
			return fmt.Errorf("no command %q; /help lists them", x.args[0])
		}
		x.say("%s", cmd.usage)
		x.say("  %s", cmd.help)
		if len(cmd.aliases) > 0 {
			x.say("  also: /%s", strings.Join(cmd.aliases, ", /"))
		}
		return nil
	}
	x.say("Commands (/help COMMAND for more; text without / is sent to the current conversation):")
	for _, cmd := range commands {
		x.say("  %-22s %s", "/"+cmd.name, cmd.help)
	}
	x.say("Keys: Alt-1..9 window, Alt-←/→ or Ctrl-P/N previous/next window, PgUp/PgDn scroll, ↑/↓ history, Tab complete, Esc dismiss warning, Ctrl-C quit")
	return nil
}

func cmdMsg(x *call) error {
	if len(x.args) < 2 {
		return x.usage()
	}
	ct, err := x.c.parseContact(x.args[0])
	if err != nil {
		return err
	}
	x.c.f.Focus(ct)
	return x.c.send(x.ctx, ct, x.rest(1))
}

func cmdWin(x *call) error {
	if len(x.args) != 1 {
		return x.usage()
	}
	a := x.args[0]
	if a == "list" {
		for i, w := range x.c.f.Windows() {
			x.say("%d: %s", i+1, w)
		}
		return nil
	}
	if n, err := fmt.Sscanf(a, "%d", new(int)); err == nil && n == 1 && strings.Trim(a, "0123456789") == "" {
		var v int
		fmt.Sscanf(a, "%d", &v)
		return x.c.f.Window(v)
	}
	ct, err := x.c.parseContact(a)
	if err != nil {
		return err
	}
	x.c.f.Focus(ct)
	return nil
}

func cmdClose(x *call) error {
	if x.cur.Equal(jid.JID{}) {
		return errors.New("the console window cannot be closed; /quit leaves")
	}
	x.c.f.CloseWindow(x.cur)
	return nil
}

func cmdClear(x *call) error {
	x.c.f.Clear(x.cur)
	return nil
}

func cmdQuit(x *call) error {
	x.c.f.Quit()
	return nil
}

func cmdOTR(x *call) error {
	sub := ""
	i := 0
	if len(x.args) > 0 && (x.args[0] == "start" || x.args[0] == "end" || x.args[0] == "status") {
		sub, i = x.args[0], 1
	}
	ct, n, err := x.contactArg(i)
	if err != nil {
		return err
	}
	if i+n != len(x.args) {
		return x.usage()
	}
	ctx, cancel := x.c.withTimeout(x.ctx)
	defer cancel()
	switch sub {
	case "start":
		if err := x.c.b.StartOTR(ctx, ct); err != nil {
			return err
		}
		x.c.f.Print(ct, KindInfo, "starting OTR with "+ct.String()+"…")
		return nil
	case "end":
		if err := x.c.b.EndOTR(ctx, ct); err != nil {
			return err
		}
		x.c.f.Print(ct, KindInfo, "OTR ended with "+ct.String()+"; messages are now sent in plaintext")
		return nil
	}
	ci, ok := x.c.b.Contact(ct)
	if !ok {
		return fmt.Errorf("%s is not in the roster", ct)
	}
	x.say("%s: %s, policy %s, encryption %s", ct, ci.State, x.c.b.Policy(ct).Short(), x.c.b.EncryptionPolicy(ct))
	for _, d := range ci.Devices {
		x.say("  %s", deviceLine(d))
	}
	return nil
}

// deviceLine describes one device for /devices and /otr.
func deviceLine(d session.DeviceInfo) string {
	on := "offline"
	if d.Online {
		on = "online"
	}
	st := d.State.String()
	if d.Version != 0 && d.State != session.Plaintext {
		st += fmt.Sprintf(" v%d", d.Version)
	}
	fp := d.Fingerprint
	if fp == "" {
		fp = "(fingerprint not known yet)"
	}
	listed := ""
	if !d.Listed {
		listed = ", not in the device list"
	}
	return fmt.Sprintf("%s: %s, %s, %s%s\n      %s", deviceName(d.Device), on, st, trustWord(d.Trust), listed, fp)
}

func cmdPolicy(x *call) error {
	args := x.args
	var target jid.JID
	global := false
	if len(args) > 0 && args[0] == "global" {
		global, args = true, args[1:]
	} else if len(args) > 0 {
		if _, err := instancetag.Parse(args[0]); err != nil || len(args) == 2 {
			ct, err := x.c.parseContact(args[0])
			if err != nil {
				return err
			}
			target, args = ct, args[1:]
		}
	}
	if !global && target.Equal(jid.JID{}) {
		target = x.cur
		global = target.Equal(jid.JID{})
	}
	if len(args) > 1 {
		return x.usage()
	}
	who := "default"
	if !global {
		who = target.String()
	}
	if len(args) == 0 {
		x.say("instance policy for %s: %s", who, x.c.b.Policy(target).Short())
		return nil
	}
	p, err := instancetag.Parse(args[0])
	if err != nil {
		return err
	}
	if err := x.c.b.SetPolicy(target, p); err != nil {
		return err
	}
	x.say("instance policy for %s is now %s", who, p.Short())
	if !global {
		return showRecipients(x, target)
	}
	return nil
}

func showRecipients(x *call, ct jid.JID) error {
	to, err := x.c.b.Recipients(ct)
	if err != nil {
		return err
	}
	names := make([]string, len(to))
	for i, d := range to {
		names[i] = deviceName(d)
	}
	if len(names) == 0 {
		x.say("the next message to %s goes to its bare JID (no device known yet)", ct)
		return nil
	}
	x.say("the next message to %s goes to: %s", ct, strings.Join(names, ", "))
	return nil
}

func cmdRecipients(x *call) error {
	ct, n, err := x.contactArg(0)
	if err != nil {
		return err
	}
	if n != len(x.args) {
		return x.usage()
	}
	return showRecipients(x, ct)
}

func cmdDevices(x *call) error {
	if len(x.args) > 1 {
		return x.usage()
	}
	if len(x.args) == 1 && x.args[0] == "own" || len(x.args) == 0 && x.cur.Equal(jid.JID{}) {
		self := x.c.b.Self()
		x.say("this device: %s", deviceLine(self))
		for _, d := range x.c.b.OwnDevices() {
			x.say("  %s", deviceLine(d))
		}
		return nil
	}
	ct, _, err := x.contactArg(0)
	if err != nil {
		return err
	}
	ci, ok := x.c.b.Contact(ct)
	if !ok {
		return fmt.Errorf("%s is not in the roster", ct)
	}
	if len(ci.Devices) == 0 {
		x.say("no device of %s is known yet", ct)
	}
	x.say("%s has %d device(s):", ct, len(ci.Devices))
	for _, d := range ci.Devices {
		x.say("  %s", deviceLine(d))
	}
	return nil
}

func cmdFingerprint(x *call) error {
	if len(x.args) > 1 {
		return x.usage()
	}
	if len(x.args) == 1 && x.args[0] == "own" || len(x.args) == 0 && x.cur.Equal(jid.JID{}) {
		self := x.c.b.Self()
		x.say("our fingerprint (%s, this device %s):", x.c.b.Account(), deviceName(self.Device))
		x.say("  %s", self.Fingerprint)
		x.say("  %s", x.c.b.FingerprintURI())
		x.say("(/qr draws the URI as a QR code)")
		return nil
	}
	ct, _, err := x.contactArg(0)
	if err != nil {
		return err
	}
	ci, ok := x.c.b.Contact(ct)
	if !ok {
		return fmt.Errorf("%s is not in the roster", ct)
	}
	n := 0
	for _, d := range ci.Devices {
		if d.Fingerprint == "" {
			continue
		}
		n++
		x.say("%s %s (%s):", ct, deviceName(d.Device), trustWord(d.Trust))
		x.say("  %s", d.Fingerprint)
	}
	if n == 0 {
		x.say("no fingerprint of %s is known yet: start OTR first (/otr start)", ct)
	} else {
		x.say("compare through another channel, then /trust TAG (or verify with /smp)")
	}
	return nil
}

func cmdQR(x *call) error {
	uri := x.c.b.FingerprintURI()
	lines, err := qrLines(uri)
	if err != nil {
		return err
	}
	x.say("%s", uri)
	for _, l := range lines {
		x.c.f.Print(x.cur, KindQR, l)
	}
	return nil
}

// deviceByArg finds contact's device by tag or fingerprint.
func (x *call) deviceByArg(ct jid.JID, arg string) (session.DeviceInfo, error) {
	ci, ok := x.c.b.Contact(ct)
	if !ok {
		return session.DeviceInfo{}, fmt.Errorf("%s is not in the roster", ct)
	}
	want := normalizeFingerprint(arg)
	if tag, ok := parseTag(arg); ok && len(want) <= 8 {
		for _, d := range ci.Devices {
			if d.Tag == tag {
				return d, nil
			}
		}
		return session.DeviceInfo{}, fmt.Errorf("%s has no device %s; /devices lists them", ct, tagString(tag))
	}
	if len(want) < 16 {
		return session.DeviceInfo{}, fmt.Errorf("%w: %s (an instance tag or a whole fingerprint)", ErrUsage, x.cmd.usage)
	}
	for _, d := range ci.Devices {
		if normalizeFingerprint(d.Fingerprint) == want {
			return d, nil
		}
	}
	return session.DeviceInfo{}, fmt.Errorf("no device of %s has the fingerprint %s; /fingerprint %s shows theirs", ct, groupFingerprint(want), ct)
}

func setTrust(x *call, level session.TrustLevel) error {
	if len(x.args) == 0 {
		return x.usage()
	}
	ct, n, err := x.contactArg(0)
	if err != nil {
		return err
	}
	if n >= len(x.args) {
		return x.usage()
	}
	d, err := x.deviceByArg(ct, strings.Join(x.args[n:], " "))
	if err != nil {
		return err
	}
	if d.Fingerprint == "" {
		return fmt.Errorf("the fingerprint of %s is not known yet", deviceName(d.Device))
	}
	ctx, cancel := x.c.withTimeout(x.ctx)
	defer cancel()
	if err := x.c.b.SetTrust(ctx, ct, d.Fingerprint, level); err != nil {
		return err
	}
	x.c.f.Print(ct, KindInfo, fmt.Sprintf("%s %s is now %s (%s)", ct, deviceName(d.Device), trustWord(level), d.Fingerprint))
	return nil
}

func cmdTrust(x *call) error    { return setTrust(x, session.Verified) }
func cmdDistrust(x *call) error { return setTrust(x, session.Untrusted) }

func cmdSMP(x *call) error {
	if x.cur.Equal(jid.JID{}) {
		return errors.New("SMP runs in a conversation window: /win CONTACT first")
	}
	ct := x.cur
	sub := ""
	i := 0
	if len(x.args) > 0 && (x.args[0] == "ask" || x.args[0] == "answer" || x.args[0] == "abort") {
		sub, i = x.args[0], 1
	}
	var tag uint32
	if i < len(x.args) && strings.HasPrefix(x.args[i], "#") {
		t, ok := parseTag(x.args[i])
		if !ok {
			return fmt.Errorf("%q is not an instance tag", x.args[i])
		}
		tag, i = t, i+1
	}
	ctx, cancel := x.c.withTimeout(x.ctx)
	defer cancel()
	switch sub {
	case "abort":
		if i != len(x.args) {
			return x.usage()
		}
		if tag == 0 {
			x.c.mu.Lock()
			tag = x.c.smpAsker[ct.String()]
			x.c.mu.Unlock()
		}
		return x.c.b.AbortSMP(ctx, ct, tag)
	case "answer":
		secret := x.rest(i)
		if secret == "" {
			return x.usage()
		}
		if tag == 0 {
			x.c.mu.Lock()
			tag = x.c.smpAsker[ct.String()]
			x.c.mu.Unlock()
		}
		if err := x.c.b.AnswerSMP(ctx, ct, tag, secret); err != nil {
			return err
		}
		x.c.f.Print(ct, KindInfo, "SMP: answer sent, waiting for the result…")
		return nil
	}
	if sub != "ask" {
		return startSMP(x, ctx, ct, tag, "", x.rest(i))
	}
	if i >= len(x.args) {
		return x.usage()
	}
	r := x.rest(i)
	if strings.HasPrefix(r, "\"") || strings.HasPrefix(r, "'") {
		return startSMP(x, ctx, ct, tag, x.args[i], x.rest(i+1))
	}
	q, secret, ok := strings.Cut(r, "?")
	if !ok {
		return fmt.Errorf("%w: end the question with ? or quote it: /smp ask \"QUESTION\" SECRET", ErrUsage)
	}
	return startSMP(x, ctx, ct, tag, strings.TrimSpace(q)+"?", strings.TrimSpace(secret))
}

func startSMP(x *call, ctx context.Context, ct jid.JID, tag uint32, question, secret string) error {
	if secret == "" {
		return x.usage()
	}
	if err := x.c.b.StartSMP(ctx, ct, tag, question, secret); err != nil {
		return err
	}
	msg := "SMP started; waiting for " + ct.String() + " to answer…"
	if question != "" {
		msg = fmt.Sprintf("SMP started with the question %q; waiting for %s to answer…", question, ct)
	}
	x.c.f.Print(ct, KindInfo, msg)
	return nil
}

func cmdTrustMode(x *call) error {
	if len(x.args) > 1 {
		return x.usage()
	}
	if len(x.args) == 0 {
		x.say("trust mode: %s", x.c.b.TrustMode())
		return nil
	}
	m := session.TrustMode(strings.ToLower(x.args[0]))
	switch m {
	case session.TrustManual, session.TrustTOFU, session.TrustBlindBeforeVerification, session.TrustBlind:
	default:
		return x.usage()
	}
	x.c.b.SetTrustMode(m)
	x.say("trust mode is now %s", m)
	return nil
}

func cmdEncryption(x *call) error {
	args := x.args
	var target jid.JID
	global := false
	isPolicy := func(s string) bool {
		switch session.EncryptionPolicy(strings.ToLower(s)) {
		case session.EncryptManual, session.EncryptOpportunistic, session.EncryptAlways:
			return true
		}
		return false
	}
	if len(args) > 0 && args[0] == "global" {
		global, args = true, args[1:]
	} else if len(args) > 0 && (!isPolicy(args[0]) || len(args) == 2) {
		ct, err := x.c.parseContact(args[0])
		if err != nil {
			return err
		}
		target, args = ct, args[1:]
	}
	if !global && target.Equal(jid.JID{}) {
		target = x.cur
		global = target.Equal(jid.JID{})
	}
	if len(args) > 1 {
		return x.usage()
	}
	who := "default"
	if !global {
		who = target.String()
	}
	if len(args) == 0 {
		x.say("encryption policy for %s: %s", who, x.c.b.EncryptionPolicy(target))
		return nil
	}
	if !isPolicy(args[0]) {
		return x.usage()
	}
	p := session.EncryptionPolicy(strings.ToLower(args[0]))
	if err := x.c.b.SetEncryptionPolicy(target, p); err != nil {
		return err
	}
	x.say("encryption policy for %s is now %s", who, p)
	return nil
}

func cmdLog(x *call) error {
	if len(x.args) == 0 {
		m, p := x.c.log.Mode()
		x.say("message log: %s (%s)", m, p)
		return nil
	}
	if len(x.args) > 2 {
		return x.usage()
	}
	path := ""
	if len(x.args) == 2 {
		path = x.args[1]
	}
	if err := x.c.log.Set(LogMode(strings.ToLower(x.args[0])), path); err != nil {
		return err
	}
	m, p := x.c.log.Mode()
	switch m {
	case LogOff:
		x.say("message log off: decrypted messages are not written anywhere")
	case LogRedacted:
		x.say("message log redacted: who and when, without the text, in %s", p)
	default:
		x.say("message log on: decrypted messages are written to %s", p)
	}
	return nil
}

func cmdPrekeys(x *call) error {
	ctx, cancel := x.c.withTimeout(x.ctx)
	defer cancel()
	var (
		ev  session.PrekeyEvent
		err error
	)
	switch {
	case len(x.args) == 0:
		ev, err = x.c.b.PrekeyStatus(ctx)
	case len(x.args) == 1 && x.args[0] == "refill":
		ev, err = x.c.b.RefillPrekeys(ctx)
	default:
		return x.usage()
	}
	if err != nil {
		return err
	}
	if ev.Err != nil {
		return ev.Err
	}
	x.say("prekey server %s stores %d of our prekeys (%d published this session)", ev.Server, ev.Stored, ev.Published)
	return nil
}

func cmdContacts(x *call) error {
	cs := x.c.b.Contacts()
	if len(cs) == 0 {
		x.say("no contacts yet: /add JID")
	}
	for _, ci := range cs {
		x.say("%s", contactLine(ci))
	}
	return nil
}

func contactLine(ci session.ContactInfo) string {
	on := "offline"
	if ci.Online {
		on = "online"
	}
	name := ci.JID.String()
	if ci.Name != "" {
		name = ci.Name + " <" + ci.JID.String() + ">"
	}
	pend := ""
	if ci.Pending {
		pend = ", request pending"
	}
	return fmt.Sprintf("%s: %s, subscription %s%s, %d device(s), %s, %s", name, on, ci.Subscription, pend,
		len(ci.Devices), ci.State, trustWord(ci.Trust))
}

func cmdAdd(x *call) error {
	if len(x.args) < 1 {
		return x.usage()
	}
	j, err := jid.Parse(x.args[0])
	if err != nil || j.Localpart() == "" {
		return fmt.Errorf("%q is not a JID such as bob@example.org", x.args[0])
	}
	ctx, cancel := x.c.withTimeout(x.ctx)
	defer cancel()
	if err := x.c.b.AddContact(ctx, j.Bare(), x.rest(1)); err != nil {
		return err
	}
	x.say("added %s and asked to see its presence", j.Bare())
	return nil
}

func contactCmd(x *call, fn func(context.Context, jid.JID) error, done string) error {
	if len(x.args) != 1 {
		return x.usage()
	}
	ct, err := x.c.parseContact(x.args[0])
	if err != nil {
		return err
	}
	ctx, cancel := x.c.withTimeout(x.ctx)
	defer cancel()
	if err := fn(ctx, ct); err != nil {
		return err
	}
	x.c.mu.Lock()
	delete(x.c.requests, ct.String())
	x.c.mu.Unlock()
	x.say(done, ct)
	return nil
}

func cmdRemove(x *call) error { return contactCmd(x, x.c.b.RemoveContact, "removed %s") }
func cmdApprove(x *call) error {
	return contactCmd(x, x.c.b.ApproveSubscription, "%s may now see our presence")
}
func cmdDeny(x *call) error {
	return contactCmd(x, x.c.b.DenySubscription, "refused the subscription request of %s")
}

func cmdSubscriptions(x *call) error {
	x.c.mu.Lock()
	var rs []string
	for r := range x.c.requests {
		rs = append(rs, r)
	}
	x.c.mu.Unlock()
	sort.Strings(rs)
	if len(rs) == 0 {
		x.say("no pending subscription requests")
	}
	for _, r := range rs {
		x.say("%s asks to see our presence: /approve %s or /deny %s", r, r, r)
	}
	return nil
}

var shows = []string{"available", "chat", "away", "xa", "dnd"}

func cmdPresence(x *call) error {
	if len(x.args) == 0 || !slices.Contains(shows, x.args[0]) {
		return x.usage()
	}
	ctx, cancel := x.c.withTimeout(x.ctx)
	defer cancel()
	if err := x.c.b.SetPresence(ctx, x.args[0], x.rest(1)); err != nil {
		return err
	}
	x.say("presence: %s %s", x.args[0], x.rest(1))
	return nil
}

// Complete returns the completions of line at its end: command names after
// "/", then contacts, sub-commands and values by position. Each candidate is
// the whole line completed.
func (c *Core) Complete(line string) []string {
	if !strings.HasPrefix(line, "/") {
		// In text, complete a contact at the start (a nick to address).
		return nil
	}
	words := strings.Fields(line)
	trailing := strings.HasSuffix(line, " ")
	if len(words) == 1 && !trailing {
		var out []string
		for _, cmd := range commands {
			if strings.HasPrefix("/"+cmd.name, strings.ToLower(words[0])) {
				out = append(out, "/"+cmd.name+" ")
			}
		}
		return out
	}
	cmd := findCommand(strings.TrimPrefix(words[0], "/"))
	if cmd == nil {
		return nil
	}
	pos := len(words) - 1 // index of the word being completed among the args
	prefix := ""
	if !trailing {
		prefix = words[len(words)-1]
		pos--
	}
	base := line[:len(line)-len(prefix)]
	var cands []string
	kind := argNone
	if pos < len(cmd.complete) {
		kind = cmd.complete[pos]
	}
	if pos > 0 && cmd.complete != nil && cmd.complete[0] == argWords {
		kind = argContact
	}
	if kind == argContact && (cmd.name == "policy" || cmd.name == "encryption") && pos == 0 {
		cands = append(cands, "global")
	}
	switch kind {
	case argContact:
		for _, ci := range c.b.Contacts() {
			cands = append(cands, ci.JID.Bare().String())
		}
		if cmd.name == "approve" || cmd.name == "deny" {
			c.mu.Lock()
			for r := range c.requests {
				cands = append(cands, r)
			}
			c.mu.Unlock()
		}
		if cmd.name == "devices" || cmd.name == "fingerprint" {
			cands = append(cands, "own")
		}
		if cmd.name == "policy" && pos == 1 {
			cands = policyNames()
		}
		if cmd.name == "encryption" && pos == 1 {
			cands = []string{"manual", "opportunistic", "always"}
		}
	case argPolicy:
		cands = policyNames()
	case argTrustMode:
		cands = []string{"manual", "tofu", "blind-before-verification", "blind"}
	case argEncryption:
		cands = []string{"manual", "opportunistic", "always"}
	case argWords:
		cands = subWords[cmd.name]
	case argCommand:
		for _, cm := range commands {
			cands = append(cands, cm.name)
		}
	case argShow:
		cands = shows
	case argLogMode:
		cands = []string{"on", "off", "redacted"}
	}
	var out []string
	seen := map[string]bool{}
	for _, cand := range cands {
		if strings.HasPrefix(strings.ToLower(cand), strings.ToLower(prefix)) && !seen[cand] {
			seen[cand] = true
			out = append(out, base+cand+" ")
		}
	}
	return out
}

func policyNames() []string {
	var out []string
	for _, p := range instancetag.Policies {
		out = append(out, p.Short())
	}
	return out
}
