package xmppconn

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"mellium.im/xmpp/jid"
)

// Config describes one device's account and connection.
type Config struct {
	// JID is the account; its resourcepart, if any, is ignored.
	JID      jid.JID
	Password string
	// Resource is the resourcepart to request when binding; the server may
	// assign another one (empty: the server chooses). Devices are identified
	// by their instance tag, not by their resource.
	Resource string

	// Addr overrides the server address ("host:port"). Empty: the address is
	// found with DNS SRV records of the JID's domain (RFC 6120 §3.2).
	Addr string
	// Resolver looks up the SRV records when Addr is empty (nil: the
	// system resolver). Only _xmpp-client._tcp (STARTTLS) records are used.
	Resolver *net.Resolver
	// TLS is the STARTTLS configuration. Nil: certificates are verified
	// against RootCAs (nil: the system roots) for the JID's domain.
	TLS     *tls.Config
	RootCAs *x509.CertPool

	// InstanceTag is this device's OTRv4 instance tag. When not zero it is
	// announced in presence, and messages addressed (with the <device/>
	// element) to another instance tag are dropped.
	InstanceTag uint32
	// Priority is the presence priority (RFC 6121 §4.7.2.3); it should stay
	// non-negative so that the server delivers bare-JID messages and offline
	// storage to the device.
	Priority int8

	// QueueSize bounds the outgoing queue (DefaultQueueSize when zero).
	QueueSize int
	// Backoff bounds between reconnection attempts (defaults when zero).
	MinBackoff, MaxBackoff time.Duration
	// ConnectTimeout bounds dialing and stream negotiation; RequestTimeout
	// bounds each IQ round trip; PingInterval is the keepalive period
	// (defaults when zero; a negative PingInterval disables keepalives).
	ConnectTimeout, RequestTimeout, PingInterval time.Duration

	// Features are extra XEP-0030 features advertised through XEP-0115
	// capabilities, for example "<node>+notify" for PEP notifications.
	Features []string

	// ArchiveAfter is the archive id of the last message this device saw in
	// an earlier run (see Client.ArchivePosition); the first connection
	// catches up on everything after it. If empty, ArchiveSince (when not
	// zero) starts the catch-up at a time; with neither, only messages
	// archived after the first connection are caught up on later.
	ArchiveAfter string
	ArchiveSince time.Time

	// StopTimeout bounds a clean stop (Run's context done): how long it
	// waits for the server to acknowledge every message written, and then
	// for the server's end of the stream (DefaultStopTimeout when zero).
	StopTimeout time.Duration
	// DisableStreamManagement turns XEP-0198 off even when the server
	// offers it (for tests, and for servers whose implementation fails).
	DisableStreamManagement bool

	// Rand is the source for stanza ids and backoff jitter (crypto/rand when
	// nil).
	Rand io.Reader
	// Logger receives diagnostics (discarded when nil).
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.JID.Localpart() == "" || c.JID.Domainpart() == "" {
		return fmt.Errorf("%w: JID %q needs a localpart and a domainpart", ErrBadConfig, c.JID)
	}
	if c.Password == "" {
		return fmt.Errorf("%w: empty password", ErrBadConfig)
	}
	if c.Resource != "" {
		if _, err := c.JID.Bare().WithResource(c.Resource); err != nil {
			return fmt.Errorf("%w: resource %q: %v", ErrBadConfig, c.Resource, err)
		}
	}
	if c.InstanceTag != 0 && c.InstanceTag < MinInstanceTag {
		return fmt.Errorf("%w: instance tag %#x is reserved", ErrBadConfig, c.InstanceTag)
	}
	if c.QueueSize < 0 || c.MinBackoff < 0 || c.MaxBackoff < 0 || c.ConnectTimeout < 0 || c.RequestTimeout < 0 {
		return fmt.Errorf("%w: negative size or duration", ErrBadConfig)
	}
	if c.MinBackoff > 0 && c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff {
		return fmt.Errorf("%w: MinBackoff %v > MaxBackoff %v", ErrBadConfig, c.MinBackoff, c.MaxBackoff)
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MinBackoff > c.MaxBackoff {
		c.MinBackoff = c.MaxBackoff
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}
