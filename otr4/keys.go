package otr4

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/otrchat/otrchat/otr4/internal/curve"
	"github.com/otrchat/otrchat/otr4/internal/kdf"
)

// InstanceTag identifies one client (device) of an account (otrv4.md,
// "Instance Tags"). Valid tags are >= 0x100; 0 means "not known yet".
type InstanceTag uint32

// Valid reports whether t is a usable instance tag (>= 0x100).
func (t InstanceTag) Valid() bool { return t >= MinInstanceTag }

func (t InstanceTag) String() string { return fmt.Sprintf("0x%08x", uint32(t)) }

// NewInstanceTag draws a random valid instance tag.
func NewInstanceTag(r io.Reader) (InstanceTag, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("otr4: reading randomness: %w", err)
		}
		if t := InstanceTag(binary.BigEndian.Uint32(b[:])); t.Valid() {
			return t, nil
		}
	}
}

// Fingerprint is HWC(usage_fingerprint || byte(H) || byte(F), 56) over the
// long-term public key H and the forging key F.
type Fingerprint [fingerprintSize]byte

// String shows the fingerprint as 112 hex digits in groups of eight.
func (f Fingerprint) String() string {
	h := hex.EncodeToString(f[:])
	var sb strings.Builder
	for i := 0; i < len(h); i += 8 {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(h[i : i+8])
	}
	return sb.String()
}

// ParseFingerprint reads a fingerprint as written by String (spaces and
// case do not matter).
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	s = strings.Join(strings.Fields(s), "")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != fingerprintSize {
		return f, errors.New("otr4: a fingerprint is 112 hex digits")
	}
	copy(f[:], b)
	return f, nil
}

func fingerprintOf(h, f *curve.Point) Fingerprint {
	var fp Fingerprint
	kdf.OTRv4.SumInto(fp[:], kdf.UsageFingerprint, h.Bytes(), f.Bytes())
	return fp
}

// Identity is a device's long-term key material: the Ed448 long-term key
// (sym_h) used for profile signatures and the DAKEs, and the forging key.
// By default the forging key's secret is erased right after generation, as
// the spec recommends; keep it only if the user asks to.
type Identity struct {
	key           *curve.PrivateKey
	forging       *curve.Point
	forgingSecret *curve.PrivateKey
}

// GenerateIdentity creates a new long-term key and forging key.
func GenerateIdentity(r io.Reader, keepForgingSecret bool) (*Identity, error) {
	if r == nil {
		r = rand.Reader
	}
	k, err := curve.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("otr4: generating long-term key: %w", err)
	}
	f, err := curve.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("otr4: generating forging key: %w", err)
	}
	id := &Identity{key: k, forging: f.Public()}
	if keepForgingSecret {
		id.forgingSecret = f
	} else {
		f.Wipe()
	}
	return id, nil
}

// NewIdentity restores an identity from its stored parts: the 57-byte
// long-term symmetric key, the forging public key, and optionally the
// forging key's 57-byte symmetric key (nil if it was erased).
func NewIdentity(seed, forgingPublic, forgingSeed []byte) (*Identity, error) {
	k, err := curve.NewKeyFromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("otr4: long-term key: %w", err)
	}
	f, err := curve.NewIdentityPoint().SetBytes(forgingPublic)
	if err != nil {
		return nil, fmt.Errorf("otr4: forging key: %w", err)
	}
	id := &Identity{key: k, forging: f}
	if forgingSeed != nil {
		fs, err := curve.NewKeyFromSeed(forgingSeed)
		if err != nil {
			return nil, fmt.Errorf("otr4: forging secret: %w", err)
		}
		if fs.Public().Equal(f) != 1 {
			return nil, errors.New("otr4: forging secret does not match the forging key")
		}
		id.forgingSecret = fs
	}
	return id, nil
}

// Seed returns the long-term symmetric key sym_h, for storage.
func (id *Identity) Seed() []byte { return id.key.Seed() }

// PublicKey returns the long-term public key H, encoded as a POINT.
func (id *Identity) PublicKey() []byte { return id.key.PublicBytes() }

// ForgingKey returns the forging public key F, encoded as a POINT.
func (id *Identity) ForgingKey() []byte { return id.forging.Bytes() }

// ForgingSeed returns the forging key's symmetric key, or nil if erased.
func (id *Identity) ForgingSeed() []byte {
	if id.forgingSecret == nil {
		return nil
	}
	return id.forgingSecret.Seed()
}

// Fingerprint returns the identity's fingerprint.
func (id *Identity) Fingerprint() Fingerprint { return fingerprintOf(id.key.Public(), id.forging) }

// Wipe erases the secret keys. The identity cannot be used afterwards.
func (id *Identity) Wipe() {
	id.key.Wipe()
	if id.forgingSecret != nil {
		id.forgingSecret.Wipe()
	}
}
