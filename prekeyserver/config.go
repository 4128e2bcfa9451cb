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
	// Domains are the XMPP domains whose accounts may publish and query
	// their storage (run a DAKE), and whose ensembles are handed out.
	// Empty means the domain Name is a subdomain of (prekeys.example.org
	// serves example.org), or Name itself when it has no dot. "*" serves
	// every domain, federated ones included.
	Domains []string
}

// Limits bound the resources one client can use.
type Limits struct {
	// MaxBodyBytes is the largest message body (encoded message or
	// fragment) accepted, and the largest reassembled message.
	MaxBodyBytes int
	// MaxStoredPerDevice is the most prekey messages stored per device.
	MaxStoredPerDevice int
	// MaxDevicesPerAccount is the most devices (instance tags) stored per
	// bare JID. When an account is full, a new device takes the slot of a
	// dead one: a device whose client or prekey profile has expired, or
	// that has had no prekey message left for DeviceIdleTimeout.
	MaxDevicesPerAccount int
	// DeviceIdleTimeout: a device without prekey messages whose last
	// publication is this old gives up its slot to a new device.
	DeviceIdleTimeout time.Duration
	// MaxStorageBytes bounds everything stored for all accounts together
	// (profiles and prekey messages, as encoded); a publication that would
	// pass it is refused.
	MaxStorageBytes int64
	// RetrievalBurst and RetrievalInterval rate-limit ensemble retrievals
	// per requester (bare JID): a bucket of RetrievalBurst tokens, one
	// more every RetrievalInterval.
	RetrievalBurst    int
	RetrievalInterval time.Duration
	// SessionTimeout forgets a DAKE left unfinished this long.
	SessionTimeout time.Duration
	// MaxSessions bounds the DAKEs in progress; the oldest is dropped.
	MaxSessions int
	// MaxFragmentBytes bounds the partial "?OTRP|" messages held for all
	// senders together (each sender holds at most 2 × MaxBodyBytes); past
	// it the sender that has been silent longest loses its partial
	// messages.
	MaxFragmentBytes int
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
		DeviceIdleTimeout:    30 * 24 * time.Hour,
		MaxStorageBytes:      1 << 30,
		MaxFragmentBytes:     16 << 20,
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
	if l.DeviceIdleTimeout <= 0 {
		l.DeviceIdleTimeout = d.DeviceIdleTimeout
	}
	if l.MaxStorageBytes <= 0 {
		l.MaxStorageBytes = d.MaxStorageBytes
	}
	if l.MaxFragmentBytes <= 0 {
		l.MaxFragmentBytes = d.MaxFragmentBytes
	}
	return l
}
