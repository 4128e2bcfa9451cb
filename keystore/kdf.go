package keystore

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// KDFParams are the argon2id parameters that stretch the passphrase (RFC 9106).
type KDFParams struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultKDF is used by Create and ChangePassphrase when no parameters are given, and Open
// moves a store with weaker parameters to it: RFC 9106's second recommended option (section
// 4), three passes over 64 MiB with 4 lanes. Measured figures for unlocking are in
// docs/keystore.md (BenchmarkOpen).
var DefaultKDF = KDFParams{Time: 3, Memory: 64 * 1024, Threads: 4}

// dominatedBy reports whether q costs an attacker more than p in passes or memory and less in
// neither: then a store with p is moved to q.
func (p KDFParams) dominatedBy(q KDFParams) bool {
	return p.Time <= q.Time && p.Memory <= q.Memory && (p.Time < q.Time || p.Memory < q.Memory)
}

const (
	saltSize   = 16
	kdfEncSize = saltSize + 4 + 4 + 1
	maxMemory  = 4 << 20 // 4 GiB in KiB: refuse stored parameters beyond this
	maxTime    = 64
)

func (p KDFParams) validate() error {
	if p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory {
		return fmt.Errorf("%w: argon2id parameters out of range (time %d, memory %d KiB, threads %d)",
			ErrInvalid, p.Time, p.Memory, p.Threads)
	}
	return nil
}

func encodeKDF(salt []byte, p KDFParams) []byte {
	b := append([]byte(nil), salt...)
	b = binary.BigEndian.AppendUint32(b, p.Time)
	b = binary.BigEndian.AppendUint32(b, p.Memory)
	return append(b, p.Threads)
}

func decodeKDF(b []byte) (salt []byte, p KDFParams, err error) {
	if len(b) != kdfEncSize {
		return nil, p, corrupt("bad KDF parameter record")
	}
	salt = b[:saltSize]
	p = KDFParams{
		Time:    binary.BigEndian.Uint32(b[saltSize:]),
		Memory:  binary.BigEndian.Uint32(b[saltSize+4:]),
		Threads: b[saltSize+8],
	}
	if err := p.validate(); err != nil {
		return nil, p, corrupt("stored KDF parameters out of range")
	}
	return salt, p, nil
}

// deriveKEK stretches the passphrase into the key-encryption key.
func deriveKEK(passphrase, salt []byte, p KDFParams) []byte {
	return argon2.IDKey(passphrase, salt, p.Time, p.Memory, p.Threads, keySize)
}
