package ui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/otrchat/otrchat/session"
)

// LogMode says whether decrypted messages are written to the message log.
type LogMode string

// Log modes.
const (
	LogOff      LogMode = "off"      // nothing is written (the default)
	LogOn       LogMode = "on"       // every message with its text
	LogRedacted LogMode = "redacted" // who, when, which device, encrypted or not; never the text
)

// ErrLogMode is returned for a log mode other than on, off or redacted.
var ErrLogMode = errors.New("ui: log mode must be on, off or redacted")

// MessageLog writes conversations to a file (mode 0600), one message a
// line. It is off until Set turns it on.
type MessageLog struct {
	mu   sync.Mutex
	mode LogMode
	path string
	f    *os.File
}

// NewMessageLog returns a log that is off and will write to path when
// turned on without another path.
func NewMessageLog(path string) *MessageLog { return &MessageLog{mode: LogOff, path: path} }

// Mode returns the mode and the file.
func (l *MessageLog) Mode() (LogMode, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mode, l.path
}

// Set changes the mode and, when path is not empty, the file.
func (l *MessageLog) Set(mode LogMode, path string) error {
	switch mode {
	case LogOff, LogOn, LogRedacted:
	default:
		return fmt.Errorf("%w, not %q", ErrLogMode, mode)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if path != "" && path != l.path {
		if l.f != nil {
			l.f.Close()
			l.f = nil
		}
		l.path = path
	}
	if mode == LogOff {
		if l.f != nil {
			l.f.Close()
			l.f = nil
		}
		l.mode = mode
		return nil
	}
	if l.path == "" {
		return errors.New("ui: no message log file configured; name one: /log on FILE")
	}
	if l.f == nil {
		if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
			return fmt.Errorf("ui: message log: %w", err)
		}
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("ui: message log: %w", err)
		}
		if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
			f.Close()
			return fmt.Errorf("ui: message log %s is readable by others; chmod 600 it first", l.path)
		}
		l.f = f
	}
	l.mode = mode
	return nil
}

// Write logs one message (dir is "in" or "out").
func (l *MessageLog) Write(t time.Time, contact jid.JID, dir string, dev session.Device, encrypted bool, trust session.TrustLevel, text string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mode == LogOff || l.f == nil {
		return nil
	}
	enc := "plaintext"
	if encrypted {
		enc = "encrypted"
	}
	body := strconv.Quote(text)
	if l.mode == LogRedacted {
		body = "[redacted]"
	}
	_, err := fmt.Fprintf(l.f, "%s %s %s %s %s %s %s\n", t.UTC().Format(time.RFC3339), dir, contact.Bare(),
		lineValue(deviceName(dev)), enc, trustToken(trust), body)
	return err
}

// Close closes the file.
func (l *MessageLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
