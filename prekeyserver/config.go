package prekeyserver

import (
	"io"
	"log/slog"
	"time"
)

// Config configures a Server.
type Config struct {
	// Name is the component's JID (a domain such as prekeys.example.org):
	// the server's identity in its composite identity and in phi.
	Name string
	// DataDir holds the storage (prekeys.db) and the server's long-term
	// key (server.key). It is created if needed.
	DataDir string
	// Logger receives what the server does; nil discards it.
	Logger *slog.Logger
	// Rand is the source of randomness; nil means crypto/rand.
	Rand io.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Limits bound what clients may do; zero fields take DefaultLimits.
	Limits Limits
}

// Limits bound the resources one client can use.
type Limits struct {
	// MaxBodyBytes is the largest message body (encoded message or
	// fragment) accepted, and the largest reassembled message.
	MaxBodyBytes int
	// MaxStoredPerDevice is the most prekey messages stored per device.
	MaxStoredPerDevice int
	// MaxDevicesPerAccount is the most devices (instance tags) stored per
	// bare JID.
	MaxDevicesPerAccount int
	// RetrievalBurst and RetrievalInterval rate-limit ensemble retrievals
	// per requester (bare JID): a bucket of RetrievalBurst tokens, one
	// more every RetrievalInterval.
	RetrievalBurst    int
	RetrievalInterval time.Duration
	// SessionTimeout forgets a DAKE left unfinished this long.
	SessionTimeout time.Duration
	// MaxSessions bounds the DAKEs in progress; the oldest is dropped.
	MaxSessions int
	// FragmentSize, when positive, splits outgoing messages longer than
	// this into ?OTRP| fragments.
	FragmentSize int
}

// DefaultLimits returns the limits used for zero fields.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:         512 << 10,
		MaxStoredPerDevice:   1000,
		MaxDevicesPerAccount: 32,
		RetrievalBurst:       10,
		RetrievalInterval:    6 * time.Second,
		SessionTimeout:       5 * time.Minute,
		MaxSessions:          10000,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxStoredPerDevice <= 0 {
		l.MaxStoredPerDevice = d.MaxStoredPerDevice
	}
	if l.MaxDevicesPerAccount <= 0 {
		l.MaxDevicesPerAccount = d.MaxDevicesPerAccount
	}
	if l.RetrievalBurst <= 0 {
		l.RetrievalBurst = d.RetrievalBurst
	}
	if l.RetrievalInterval <= 0 {
		l.RetrievalInterval = d.RetrievalInterval
	}
	if l.SessionTimeout <= 0 {
		l.SessionTimeout = d.SessionTimeout
	}
	if l.MaxSessions <= 0 {
		l.MaxSessions = d.MaxSessions
	}
	return l
}
