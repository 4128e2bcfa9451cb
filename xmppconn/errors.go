package xmppconn

import "errors"

// Errors callers can branch on with errors.Is.
var (
	// ErrQueueFull is returned by SendChat when the outgoing queue holds
	// Config.QueueSize messages that could not be written yet.
	ErrQueueFull = errors.New("xmppconn: outgoing queue full")
	// ErrNotConnected is returned by operations that need a live session.
	ErrNotConnected = errors.New("xmppconn: not connected")
	// ErrClosed is returned after Run has returned.
	ErrClosed = errors.New("xmppconn: client stopped")
	// ErrRunning is returned by a second concurrent call to Run.
	ErrRunning = errors.New("xmppconn: already running")
	// ErrBadConfig wraps every Config validation failure.
	ErrBadConfig = errors.New("xmppconn: bad configuration")
	// ErrBadTag is returned for an instance tag that is not 0x + 8 lowercase
	// hex digits with a value of at least 0x100.
	ErrBadTag = errors.New("xmppconn: bad instance tag")
	// ErrMalformed is wrapped by the stanza decoders for input they reject.
	ErrMalformed = errors.New("xmppconn: malformed stanza")
	// ErrBadArgument is returned for an invalid JID or body.
	ErrBadArgument = errors.New("xmppconn: bad argument")
)
